/**
 * `kcompat archive sync rpm` and `kcompat archive add --rpm`: the terminal side of
 * syncRpm (src/archive/sync-rpm.ts) and addKernelRpm (src/archive/add-rpm.ts): progress
 * on stderr, one line per kernel, a summary or the result as JSON.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {addKernelRpm} from '../../archive/add-rpm.js'
import {resolveArchiveDir} from '../../archive/archive.js'
import {download} from '../../archive/download.js'
import {parseShard} from '../../archive/shard.js'
import {syncRpm} from '../../archive/sync-rpm.js'
import {ProgressLine, formatBytes} from '../progress.js'
import {writeStdout} from '../output.js'

export interface RpmSyncFlags {
  repo?: string
  distro?: string
  version?: string
  arch?: string
  newest?: boolean
  'dry-run'?: boolean
  json?: boolean
  'cache-dir'?: string
  keep?: boolean
  archive?: string
  modules?: boolean
  shard?: string
}

/** What the adapter needs of the oclif command. */
export interface CommandLike {
  log(s: string): void
  error(msg: string, options: {exit: number}): never
  exit(code: number): never
}

export async function runRpmSync(cmd: CommandLike, flags: RpmSyncFlags): Promise<void> {
  if (!flags.repo || !flags.distro || !flags.version) cmd.error('archive sync rpm needs --repo URL, --distro D and --version V', {exit: 2})
  const progress = new ProgressLine(process.stderr, !flags.json)
  const say = (s: string): void => (flags.json ? undefined : progress.log(s))
  const r = await syncRpm(resolveArchiveDir(flags.archive), {
    repo: flags.repo,
    distro: flags.distro,
    version: flags.version,
    arches: (flags.arch ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    newest: flags.newest,
    shard: flags.shard ? parseShard(flags.shard) : undefined,
    dryRun: flags['dry-run'],
    cacheDir: flags['cache-dir'],
    keep: flags.keep,
    modules: flags.modules,
    onEvent: (e) => {
      if (e.type === 'index') say(`${e.packages} kernel-family packages in the repository, ${e.kernels} kernel builds, ${e.selected} selected${flags.shard ? ` for shard ${flags.shard}` : ''}`)
      else if (e.type === 'download') progress.update(`${e.package}: ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ''}`)
      else if (e.type === 'modules') progress.update(`${e.package}: modules ${e.files} read, ${e.withBtf} with BTF`)
      else if (e.type === 'added') say(`${e.changed ? 'added' : 'unchanged'} ${e.arch} ${e.release} from ${e.package} (BTF: ${e.btf}${e.modules === undefined ? '' : `, ${e.modules} modules`})`)
      else if (e.type === 'skip') say(`skipped ${e.package}: ${e.reason}`)
      else if (e.type === 'failed') say(`FAILED ${e.package}: [${e.code}] ${e.message}`)
    },
  })
  progress.clear()
  if (flags.json) await writeStdout(`${JSON.stringify(r, null, 2)}\n`)
  else if (flags['dry-run']) {
    for (const p of r.planned) cmd.log(`would add ${p.package}-${p.version}.${p.arch}${p.modulePackages.length ? ` with ${p.modulePackages.join(', ')}` : ''} (${formatBytes(p.size)})`)
  } else cmd.log(`${r.added.length} added, ${r.skipped.length} skipped, ${r.failed.length} failed`)
  if (r.failed.length > 0) cmd.exit(1)
}

export interface RpmAddFlags {
  rpm: string
  'rpm-modules'?: string[]
  distro?: string
  'os-version'?: string
  archive?: string
  modules?: boolean
  json?: boolean
}

/** `kcompat archive add --rpm FILE|URL [--rpm-modules FILE|URL…]`: packages given by URL are downloaded to a temporary directory first. */
export async function runRpmAdd(cmd: CommandLike, flags: RpmAddFlags): Promise<void> {
  const progress = new ProgressLine(process.stderr, !flags.json)
  const tmp = mkdtempSync(join(tmpdir(), 'kcompat-add-rpm-'))
  try {
    const local = async (src: string): Promise<string> => {
      if (!/^https?:\/\//.test(src)) return src
      const file = join(tmp, decodeURIComponent(src.split(/[?#]/)[0]!.split('/').pop() || 'package.rpm'))
      await download(src, file, {onProgress: (e) => progress.update(`downloading ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ''}`)})
      return file
    }
    const file = await local(flags.rpm)
    const mods: string[] = []
    for (const m of flags['rpm-modules'] ?? []) mods.push(await local(m))
    progress.clear()
    const r = await addKernelRpm(resolveArchiveDir(flags.archive), file, mods, {
      distro: flags.distro,
      version: flags['os-version'],
      origin: /^https?:\/\//.test(flags.rpm) ? {url: flags.rpm} : undefined,
      modules: flags.modules,
      onModuleProgress: (m) => progress.update(`modules: ${m.files} read, ${m.withBtf} with BTF`),
    })
    progress.clear()
    if (flags.json) {
      await writeStdout(`${JSON.stringify(r.entry, null, 2)}\n`)
      return
    }
    const e = r.entry
    cmd.log(`${r.changed ? 'added' : 'unchanged'}: ${e.distro} ${e.version} ${e.arch} ${e.release} (${e.flavor}), BTF: ${e.btf}${e.path ? ` -> ${e.path}` : ''}`)
    for (const s of r.steps) cmd.log(`  ${s}`)
    if (r.modules) cmd.log(`  modules: ${r.modules.files} files, ${r.modules.count} with BTF${e.modules?.path ? ` -> ${e.modules.path}` : ''}, ${r.modules.withoutBtf} without`)
  } finally {
    rmSync(tmp, {recursive: true, force: true})
  }
}
