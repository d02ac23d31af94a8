/**
 * How the CLI shows KCOMPAT_REMOTE's automatic sync (src/archive/remote.ts
 * `ensureRemote`): one line on stderr while the manifest is taken and when it is done,
 * on a terminal only (pipes and CI logs get nothing); a warning, always, when the
 * publisher cannot be reached and an older copy is used.
 */
import {onRemoteProgress} from '../archive/remote-events.js'

export function reportRemoteSync(stream: NodeJS.WriteStream = process.stderr): void {
  onRemoteProgress((e) => {
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
