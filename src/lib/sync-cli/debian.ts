/**
 * `kcompat archive sync debian`: the command-line side of src/archive/sync.ts. Each
 * `--suite` (repeatable, or comma-separated) is read from its own mirror: `--mirror` for
 * all of them, else the one apt's sources list for that suite.
 */
import type {Command} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {parseShard} from '../../archive/shard.js'
import {syncDebianSuites} from '../../archive/sync.js'
import {describeDebugProgress, describeTimings} from '../../generate/describe.js'
import {mirrorForSuite} from '../../kernel/apt.js'
import {ProgressLine, formatBytes} from '../progress.js'
import {writeStdout} from '../output.js'
import {list} from './flags.js'

export interface DebianSyncFlags {
  suite?: string[]
  arch?: string
  flavor?: string[]
  series?: string[]
  newest?: boolean
  mirror?: string
  'os-version'?: string
  'cache-dir'?: string
  keep?: boolean
  'dry-run'?: boolean
  archive?: string
  json?: boolean
  generate?: boolean
  pahole?: string
  libbpf?: string
  jobs?: number
  'backfill-only'?: boolean
  modules?: boolean
  shard?: string
  component?: string[]
  ddebs?: string
}

export async function runDebianSync(cmd: Command, flags: DebianSyncFlags): Promise<void> {
  const suites = [...new Set(list(flags.suite))]
  if (suites.length === 0 || !flags.arch) cmd.error('archive sync debian needs --suite and --arch', {exit: 2})
  // Debian's -dbg packages live in the suite itself, beside the images: there is no other root to name
  if (flags.ddebs) cmd.error('--ddebs is for ubuntu (its dbgsym packages are in a separate ddebs repository); debian --generate reads the -dbg packages from the suite itself', {exit: 2})
  const mirrors = suites.map((suite) => ({suite, mirror: flags.mirror ?? mirrorForSuite(suite)}))
  const unlisted = mirrors.filter((m) => !m.mirror).map((m) => m.suite)
  if (unlisted.length > 0) {
    cmd.error(`no apt source lists suite${unlisted.length > 1 ? 's' : ''} ${unlisted.map((s) => `'${s}'`).join(', ')}; give --mirror URL`, {exit: 2})
  }
  const root = resolveArchiveDir(flags.archive)
  const progress = new ProgressLine(process.stderr, !flags.json)
  const say = (s: string): void => (flags.json ? undefined : progress.log(s))
  let suite = suites[0]!
  const r = await syncDebianSuites(root, mirrors as {suite: string; mirror: string}[], {
    arches: list([flags.arch!]),
    components: list(flags.component),
    flavors: list(flags.flavor),
    series: list(flags.series),
    newest: flags.newest,
    cacheDir: flags['cache-dir'],
    keep: flags.keep,
    osVersion: flags['os-version'],
    dryRun: flags['dry-run'],
    generate: flags.generate,
    pahole: flags.pahole,
    libbpf: flags.libbpf,
    jobs: flags.jobs,
    backfillOnly: flags['backfill-only'],
    modules: flags.modules,
    shard: flags.shard ? parseShard(flags.shard) : undefined,
    onSuite: (s) => {
      suite = s
    },
    onEvent: (e) => {
      if (e.type === 'index') say(`${e.arch}: ${e.packages} kernel packages in ${suite}, ${e.selected} selected`)
      else if (e.type === 'unavailable') say(`skipped ${e.arch} ${e.component} in ${suite}: [${e.code}] ${e.reason}`)
      else if (e.type === 'download') progress.update(`${e.arch} ${e.release}: ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ''}`)
      else if (e.type === 'added') say(`${e.changed ? 'added' : 'unchanged'} ${e.arch} ${e.release} (BTF: ${e.btf}${e.modules === undefined ? '' : `, ${e.modules} modules`})`)
      else if (e.type === 'modules') progress.update(`${e.arch} ${e.release}: modules ${e.files} read, ${e.withBtf} with BTF`)
      else if (e.type === 'skip') say(`skipped ${e.arch} ${e.release}: ${e.reason}`)
      else if (e.type === 'failed') say(`FAILED ${e.arch} ${e.release}: [${e.code}] ${e.message}`)
      else if (e.type === 'generate') progress.update(`${e.arch} ${e.release}: ${describeDebugProgress(e.progress)}`)
      else if (e.type === 'image-download') progress.update(`${e.arch} ${e.release} (image provenance): ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ''}`)
      else if (e.type === 'image') say(`recorded image of ${e.arch} ${e.release}: ${e.member}${e.downloaded ? '' : ' (package already in the cache directory)'}`)
      else if (e.type === 'generated') say(`generated ${e.arch} ${e.release}: ${describeTimings(e.timings)}; pahole ${e.flags.join(' ')}`)
    },
  })
  progress.clear()
  if (flags.json) {
    await writeStdout(`${JSON.stringify(r, null, 2)}\n`)
  } else if (flags['dry-run']) {
    for (const p of r.planned) cmd.log(`would add ${p.arch} ${p.release} (${p.package} ${p.version} from ${p.suite}, ${formatBytes(p.size)})`)
  } else {
    const unavailable = r.unavailable.length > 0 ? `, ${r.unavailable.length} arch/component index${r.unavailable.length > 1 ? 'es' : ''} not in a suite` : ''
    cmd.log(`${r.added.length} added, ${r.skipped.length} skipped, ${r.failed.length} failed${r.imaged.length > 0 ? `, ${r.imaged.length} image sources recorded` : ''}${unavailable}`)
  }
  if (r.failed.length > 0) cmd.exit(1)
}
