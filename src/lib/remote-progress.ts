/**
 * How the CLI shows KCOMPAT_REMOTE's automatic sync (src/archive/remote.ts
 * `ensureRemote`): one line on stderr while the manifest is taken and when it is done,
 * on a terminal only (pipes and CI logs get nothing); a warning, always, when the
 * publisher cannot be reached and an older copy is used.
 */
import {onRemoteProgress} from '../archive/remote-events.js'

export function reportRemoteSync(to?: NodeJS.WriteStream): void {
  onRemoteProgress((e) => {
    // process.stderr is read only when there is something to say: creating it loads
    // Node's stream modules (~4-5 ms of every fast-path command's start-up, CPU profile)
    const stream = to ?? process.stderr
    if (e.type === 'stale') {
      stream.write(`kcompat: warning: cannot refresh KCOMPAT_REMOTE ${e.url} (${e.error}); using the copy taken ${e.synced}\n`)
    } else if (stream.isTTY) {
      stream.write(
        e.type === 'syncing'
          ? `kcompat: taking the manifest of ${e.url} (KCOMPAT_REMOTE${e.reason === 'stale' ? ', refresh' : ''})\n`
          : `kcompat: ${e.kernels} kernels published at ${e.url}, BTF fetched on use into ${e.dir}\n`,
      )
    }
  })
}
