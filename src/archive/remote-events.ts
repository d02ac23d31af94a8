/**
 * What KCOMPAT_REMOTE's automatic sync (remote.ts `ensureRemote`) reports, and where.
 * A module of its own, without imports, so the CLI's start-up path can set the listener
 * without loading remote.ts and what it imports.
 *
 * The listener lives on `globalThis` under a registered symbol because the fast path's
 * bundles (scripts/bundle-fast.mjs) each hold their own copy of the library's modules.
 */

/** The copy being taken, taken, or (when the publisher cannot be reached) used as it is. */
export type RemoteProgress =
  | {type: 'syncing'; url: string; reason: 'first' | 'stale'}
  | {type: 'synced'; url: string; kernels: number; dir: string}
  | {type: 'stale'; url: string; synced: string; error: string}

type Listener = (e: RemoteProgress) => void
const LISTENER = Symbol.for('kcompat.remoteProgress')
const slot = globalThis as {[LISTENER]?: Listener}

/** Sets (or clears) the one listener of KCOMPAT_REMOTE's sync. */
export function onRemoteProgress(fn: Listener | undefined): void {
  slot[LISTENER] = fn
}

export function reportRemoteProgress(e: RemoteProgress): void {
  slot[LISTENER]?.(e)
}
