/**
 * `kcompat archive sync ubuntu`: the command-line side of src/archive/ubuntu-sync.ts
 * (flags to options, progress lines on stderr, the summary or --json on stdout).
 */
import type {Command} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {parseShard} from '../../archive/shard.js'
import {syncUbuntu} from '../../archive/ubuntu-sync.js'
import {list} from './flags.js'
import {describeDebugProgress, describeTimings} from '../../generate/describe.js'
import {writeStdout} from '../output.js'
import {ProgressLine, formatBytes} from '../progress.js'

export interface UbuntuSyncFlags {
  suite?: string
  arch?: string
  flavor?: string[]
  series?: string[]
  component?: string[]
  newest?: boolean
  mirror?: string
  ddebs?: string
  shard?: string
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
  modules?: boolean
}


export async function runUbuntuSync(cmd: Command, flags: UbuntuSyncFlags): Promise<void> {
  const suite = flags.suite
  if (!suite) cmd.error('ubuntu needs --suite (e.g. jammy-updates)', {exit: 2})
  if (!flags.arch) cmd.error('ubuntu needs --arch (e.g. amd64 or arm64,s390x)', {exit: 2})
  // Ubuntu's mirrors are not this machine's apt sources (a Debian machine has none): the URL is always given
  if (!flags.mirror) cmd.error('ubuntu needs --mirror URL: the repository root (the archive for amd64/i386, ports for arm64, ppc64el, s390x, riscv64)', {exit: 2})
  const root = resolveArchiveDir(flags.archive)
  const progress = new ProgressLine(process.stderr, !flags.json)
  const say = (s: string): void => (flags.json ? undefined : progress.log(s))
  const r = await syncUbuntu(root, {
    mirror: flags.mirror,
    suite,
    arches: list([flags.arch]),
    components: list(flags.component),
    flavors: list(flags.flavor),
    series: list(flags.series),
    newest: flags.newest,
    osVersion: flags['os-version'],
    shard: flags.shard ? parseShard(flags.shard) : undefined,
    cacheDir: flags['cache-dir'],
    keep: flags.keep,
    dryRun: flags['dry-run'],
    modules: flags.modules,
    generate: flags.generate,
    ddebs: flags.ddebs,
    pahole: flags.pahole,
    libbpf: flags.libbpf,
    jobs: flags.jobs,
    onEvent: (e) => {
      if (e.type === 'index') say(`${e.arch}: ${e.packages} kernels in ${suite}, ${e.selected} selected${flags.shard ? ` for shard ${flags.shard}` : ''}`)
      else if (e.type === 'download') progress.update(`${e.arch} ${e.release}: ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ''}`)
      else if (e.type === 'added') say(`added ${e.arch} ${e.release} (BTF: ${e.btf}${e.modules === undefined ? '' : `, ${e.modules} modules`})`)
      else if (e.type === 'modules') progress.update(`${e.arch} ${e.release}: modules ${e.files} read, ${e.withBtf} with BTF`)
      else if (e.type === 'skip') say(`skipped ${e.arch} ${e.release}: ${e.reason}`)
      else if (e.type === 'failed') say(`FAILED ${e.arch} ${e.release}: [${e.code}] ${e.message}`)
      else if (e.type === 'generate') progress.update(`${e.arch} ${e.release}: ${describeDebugProgress(e.progress)}`)
      else if (e.type === 'generated') say(`generated ${e.arch} ${e.release}: ${describeTimings(e.timings)}; pahole ${e.flags.join(' ')}`)
    },
  })
  progress.clear()
  if (flags.json) await writeStdout(`${JSON.stringify(r, null, 2)}\n`)
  else if (flags['dry-run']) for (const p of r.planned) cmd.log(`would add ${p.arch} ${p.release} (${p.package} ${p.version}, ${formatBytes(p.size)})`)
  else cmd.log(`${r.added.length} added, ${r.skipped.length} skipped, ${r.failed.length} failed`)
  if (r.failed.length > 0) cmd.exit(1)
}
