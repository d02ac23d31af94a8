/**
 * Content hashes of input files, and what it takes to remember one safely: the file's
 * stat (size, mtime and ctime in ns, inode, device) seen before it was read. A hash is
 * trusted later only while the stat is unchanged, and remembered only when the file did
 * not change while it was read and was not changed too recently to trust its times
 * (see RACY_MS in src/store/matrix-cache.ts).
 */
import {statSync} from 'node:fs'
import {sha256} from '../archive/archive.js'

export interface StatKey {
  key: string
  /** The later of mtime and ctime, ns since the epoch, as a decimal string. */
  newest: string
}

export function statKey(path: string): StatKey {
  const st = statSync(path, {bigint: true})
  return {key: `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`, newest: String(st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs)}
}

/** A hash of bytes read from `path`, with what a memo needs to decide whether to keep it. */
export interface ObservedHash {
  sha256: string
  /** The stat before the read. */
  before: StatKey
  /** When the read started, ns since the epoch, as a decimal string. */
  started: string
}

/** Hashes bytes just read from `path`; `before` and `started` must be taken before the read. */
export function observedHash(bytes: Uint8Array, before: StatKey, started: bigint): ObservedHash {
  return {sha256: sha256(bytes), before, started: String(started)}
}
