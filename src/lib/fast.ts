/**
 * Start-up fast path. Loading oclif and its command machinery costs more than a query's
 * own work, so the commands listed in {@link COMMANDS} are served without it: argv is
 * parsed from the oclif commands' own declarations (./argv.ts) and the command's action
 * (./actions/*.ts, the same function its oclif command calls) runs directly. Anything
 * the parser does not accept as plain, valid argv (--help, usage errors, unknown flags)
 * and every command not listed goes to oclif. bin/run.js loads this module from a
 * bundled file, dist/fast.cjs (scripts/bundle-fast.mjs), which loads the one bundle of
 * the command that runs (dist/fast-<action>.cjs) with V8's code cache (./code-cache.ts). KCOMPAT_NO_FASTPATH=1 turns the fast
 * path off (tests compare both paths).
 *
 * Adding a command: move its run() body into an action under ./actions (taking the
 * parsed flags and args, returning the exit status), call that from the oclif command,
 * and add one line here; test/cli/fast-path.test.ts then must list its argv forms.
 */
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {KcompatError} from '../errors.js'
import {type CommandSpec, parseArgv} from './argv.js'
import {requireWithCodeCache} from './code-cache.js'
import {EXIT_INPUT_ERROR} from './exit.js'
import {printKcompatError} from './output.js'
import {reportRemoteSync} from './remote-progress.js'

type Flags = Record<string, string | string[] | boolean>
type Args = Record<string, string>

interface FastCommand {
  /** the command's action: what its oclif run() does after parsing */
  run: (flags: Flags, args: Args) => Promise<number>
  /** checks the oclif command makes in run() before its action, beyond its flag declarations: argv failing them goes to oclif */
  serves?: (flags: Flags, args: Record<string, string | undefined>) => boolean
}

/** Set (to true) in the bundle, dist/fast.cjs, by scripts/bundle-fast.mjs. */
declare const __KCOMPAT_BUNDLED: boolean | undefined

/**
 * The action module `name` (./actions/<name>.js): in the bundle, its own bundle
 * dist/fast-<name>.cjs, loaded through V8's code cache (./code-cache.ts); from the
 * modules (a `tsc` build), `load`, its dynamic import.
 */
async function action<T>(name: string, load: () => Promise<T>): Promise<T> {
  if (typeof __KCOMPAT_BUNDLED !== 'undefined') return requireWithCodeCache(fileURLToPath(new URL(`../fast-${name}.cjs`, import.meta.url))) as T
  return load()
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the parsed flags match each action's flag type by construction (they come from the same oclif declarations) */
const COMMANDS: Record<string, () => Promise<FastCommand>> = {
  'btf:dump': async () => ({
    run: (await action('btf-dump', () => import('./actions/btf-dump.js'))).runBtfDump as any,
    // the plain FILE form only: --kernel/--module and their usage errors go to oclif
    serves: (f, a) => !(f.json === true && f.format === 'c') && a.file !== undefined && ['kernel', 'arch', 'module', 'archive'].every((k) => f[k] === undefined),
  }),
  check: async () => ({run: (await action('check', () => import('./actions/check.js'))).runCheck as any}),
  'find:func': async () => ({run: (await action('find', () => import('./actions/find.js'))).runFindFunc as any}),
  'find:field': async () => ({run: (await action('find', () => import('./actions/find.js'))).runFindField as any}),
  kernels: async () => ({run: (await action('kernels', () => import('./actions/kernels.js'))).runKernels as any}),
  'archive:list': async () => ({run: (await action('archive-list', () => import('./actions/archive-list.js'))).runArchiveList as any}),
  // --module NAME=FILE is checked by the oclif command: leave it to oclif
  relocate: async () => ({run: (await action('relocate', () => import('./actions/relocate.js'))).runRelocate as any, serves: (f) => f.module === undefined}),
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The commands' declarations; in the bundle, inlined at build time (no file to read and parse at start). */
declare const __KCOMPAT_FAST_SPECS: Record<string, CommandSpec> | undefined

function commandSpecs(): Record<string, CommandSpec> | undefined {
  if (typeof __KCOMPAT_FAST_SPECS !== 'undefined') return __KCOMPAT_FAST_SPECS
  try {
    return JSON.parse(readFileSync(new URL('../fast-specs.json', import.meta.url), 'utf8')) as Record<string, CommandSpec>
  } catch {
    return undefined // a build without the specs (tsc alone): everything goes to oclif
  }
}

/**
 * The error classes, for the per-command bundles (scripts/bundle-fast.mjs): each takes
 * them from this module's bundle, so a KcompatError thrown by a command's code is one of
 * the class the catch below tests.
 */
export * from '../errors.js'

/** The ids of the commands the fast path serves (for tests). */
export const FAST_COMMANDS: readonly string[] = Object.keys(COMMANDS)

/** Runs argv if it is a fast-path form; returns false when oclif should take it. */
export async function tryFastPath(argv: readonly string[]): Promise<boolean> {
  if (process.env.KCOMPAT_NO_FASTPATH === '1') return false
  // oclif's command ids: `btf dump` is btf:dump (topic separator ' ')
  const id = argv.length >= 2 && `${argv[0]}:${argv[1]}` in COMMANDS ? `${argv[0]}:${argv[1]}` : argv[0]
  if (id === undefined || !(id in COMMANDS)) return false
  const spec = commandSpecs()?.[id]
  if (!spec) return false
  const parsed = parseArgv(spec, argv.slice(id.split(':').length))
  if (!parsed) return false
  const command = await COMMANDS[id]!()
  if (command.serves && !command.serves(parsed.flags, parsed.args as Record<string, string | undefined>)) return false
  reportRemoteSync()
  let code: number
  try {
    code = await command.run(parsed.flags, parsed.args)
  } catch (e) {
    // as BaseCommand.catch does for oclif commands
    if (!(e instanceof KcompatError)) throw e
    printKcompatError(e, argv.includes('--json'))
    code = EXIT_INPUT_ERROR
  }
  if (code !== 0) process.exitCode = code
  return true
}
