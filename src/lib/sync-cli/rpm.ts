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
import type {KernelEntry} from '../../archive/manifest.js'
import {download} from '../../archive/download.js'
import {parseShard} from '../../archive/shard.js'
import {syncRpm} from '../../archive/sync-rpm.js'
import {addDebugRpm} from '../../archive/debug-rpm.js'
import {describeDebugProgress, describeTimings} from '../../generate/describe.js'
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
  generate?: boolean
  'debuginfo-repo'?: string
  pahole?: string
  libbpf?: string
  jobs?: number
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
    generate: flags.generate,
    debugRepo: flags['debuginfo-repo'],
    pahole: flags.pahole,
    libbpf: flags.libbpf,
    jobs: flags.jobs,
    onEvent: (e) => {
      if (e.type === 'index') say(`${e.packages} kernel-family packages in the repository, ${e.kernels} kernel builds, ${e.selected} selected${flags.shard ? ` for shard ${flags.shard}` : ''}`)
      else if (e.type === 'download') progress.update(`${e.package}: ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ''}`)
      else if (e.type === 'modules') progress.update(`${e.package}: modules ${e.files} read, ${e.withBtf} with BTF`)
      else if (e.type === 'added') say(`${e.changed ? 'added' : 'unchanged'} ${e.arch} ${e.release} from ${e.package} (BTF: ${e.btf}${e.modules === undefined ? '' : `, ${e.modules} modules`})`)
      else if (e.type === 'skip') say(`skipped ${e.package}: ${e.reason}`)
      else if (e.type === 'failed') say(`FAILED ${e.package}: [${e.code}] ${e.message}`)
      else if (e.type === 'generate') progress.update(`${e.package}: ${describeDebugProgress(e.progress)}`)
      else if (e.type === 'generated') say(`generated BTF of ${e.package} from ${e.debuginfo}: ${describeTimings(e.timings)}; pahole ${e.flags.join(' ')}`)
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
  rpm?: string
  'debuginfo-rpm'?: string
  pahole?: string
  libbpf?: string
  'rpm-modules'?: string[]
  distro?: string
  'os-version'?: string
  archive?: string
  modules?: boolean
  json?: boolean
}

/**
 * `kcompat archive add --rpm FILE|URL [--rpm-modules FILE|URL…] [--debuginfo-rpm FILE|URL]`:
 * packages given by URL are downloaded to a temporary directory first. The kernel
 * package is added first; then, when it has no BTF, the debug-info package's BTF is
 * generated (a --debuginfo-rpm alone generates for a kernel archived before, or adds it
 * without config).
 */
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
    let entry: KernelEntry | undefined
    const lines: string[] = []
    if (flags.rpm) {
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
      entry = r.entry
      const e = r.entry
      lines.push(`${r.changed ? 'added' : 'unchanged'}: ${e.distro} ${e.version} ${e.arch} ${e.release} (${e.flavor}), BTF: ${e.btf}${e.path ? ` -> ${e.path}` : ''}`)
      lines.push(...r.steps.map((s) => `  ${s}`))
      if (r.modules) lines.push(`  modules: ${r.modules.files} files, ${r.modules.count} with BTF${e.modules?.path ? ` -> ${e.modules.path}` : ''}, ${r.modules.withoutBtf} without`)
    }
    const dbg = flags['debuginfo-rpm']
    if (dbg && (!entry || entry.btf !== 'in-kernel')) {
      const file = await local(dbg)
      const g = await addDebugRpm(resolveArchiveDir(flags.archive), file, {
        distro: flags.distro ?? entry?.distro,
        version: flags['os-version'] ?? entry?.version,
        pahole: flags.pahole,
        libbpf: flags.libbpf,
        onProgress: (p) => progress.update(describeDebugProgress(p)),
      })
      progress.clear()
      entry = g.entry
      const e = g.entry
      lines.push(...[`generated: ${e.distro} ${e.version} ${e.arch} ${e.release}, BTF: ${e.btf} -> ${e.path} (from /${g.entryPath}: ${describeTimings(g.timings)}; pahole ${e.source.generator?.flags.join(' ') ?? ''})`, ...g.warnings.map((w) => `  warning: ${w}`)])
    } else if (dbg) lines.push(`  ${flags['debuginfo-rpm']} not used: the kernel ships its own BTF`)
    if (flags.json) {
      await writeStdout(`${JSON.stringify(entry, null, 2)}\n`)
      return
    }
    for (const l of lines) cmd.log(l)
  } finally {
    rmSync(tmp, {recursive: true, force: true})
  }
}
