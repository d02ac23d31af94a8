/**
 * `archive sync btfhub` and `archive sync --from URL` (no distro): the command's side
 * (flags to options, progress, output); the work is in src/archive/btfhub.ts and
 * src/archive/remote.ts.
 */
import type {Command} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {syncBtfhub} from '../../archive/btfhub.js'
import {syncRemote} from '../../archive/remote.js'
import {writeStdout} from '../output.js'
import {ProgressLine, formatBytes} from '../progress.js'

export interface BtfhubSyncFlags {
  from?: string
  distro?: string
  version?: string
  arch?: string
  transport?: string
  listing?: string
  'cache-dir'?: string
  'dry-run'?: boolean
  archive?: string
  json?: boolean
}

export async function runBtfhubSync(cmd: Command, distro: string | undefined, flags: BtfhubSyncFlags): Promise<void> {
  if (distro === undefined) return runRemoteSync(cmd, flags)
  // no built-in default: the source (btfhub-archive's git URL, a mirror of it, a local clone) is the user's choice
  if (!flags.from) cmd.error('archive sync btfhub needs --from URL|GIT (the btfhub-archive git repository, a clone of it, or a static HTTP mirror of its tree)', {exit: 2})
  const progress = new ProgressLine(process.stderr, !flags.json)
  const say = (s: string): void => (flags.json ? undefined : progress.log(s))
  const r = await syncBtfhub(resolveArchiveDir(flags.archive), {
    from: flags.from,
    transport: flags.transport as 'git' | 'http' | undefined,
    listing: flags.listing,
    distro: flags.distro,
    version: flags.version,
    arch: flags.arch,
    cacheDir: flags['cache-dir'],
    dryRun: flags['dry-run'],
    onEvent: (e) => {
      if (e.type === 'git') progress.update(`git: ${e.line}`)
      else if (e.type === 'listed') say(`${e.files} files in the tree, ${e.selected} selected`)
      else if (e.type === 'download') progress.update(`${e.file}: ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ''}`)
      else if (e.type === 'imported') progress.update(`${e.changed ? 'added' : 'unchanged'} ${e.file}`)
      else if (e.type === 'failed') say(`FAILED ${e.file}: [${e.code}] ${e.message}`)
    },
  })
  progress.clear()
  if (flags.json) await writeStdout(`${JSON.stringify(r, null, 2)}\n`)
  else if (flags['dry-run']) for (const f of r.selected) cmd.log(`would import ${f.path}${f.size === undefined ? '' : ` (${formatBytes(f.size)})`}`)
  else cmd.log(`${r.added.length} added, ${r.unchanged.length} unchanged, ${r.failed.length} failed (${r.selected.length} selected, ${r.fetched} fetched, identity checked by ${r.verifiedBy}${r.commit ? `, commit ${r.commit.slice(0, 12)}` : ''})`)
  if (r.failed.length > 0) cmd.exit(1)
}

async function runRemoteSync(cmd: Command, flags: BtfhubSyncFlags): Promise<void> {
  if (!flags.from) cmd.error('give a distro (debian, btfhub) or --from URL of a published archive', {exit: 2})
  const r = await syncRemote(flags.from, {
    dir: flags.archive,
    onEvent: (e) => {
      if (!flags.json) process.stderr.write(e.type === 'fetched' ? `took ${e.file} (${formatBytes(e.bytes)})\n` : `dropped ${e.file} (changed upstream)\n`)
    },
  })
  if (flags.json) await writeStdout(`${JSON.stringify(r, null, 2)}\n`)
  else cmd.log(`${r.kernels} kernels in ${r.dir} (${r.local} with BTF here; the rest is fetched on first use)${r.index ? ', index taken' : ''}`)
}
