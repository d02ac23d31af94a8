/**
 * Published kcompat archives: an archive served as static files, synced lazily.
 *
 * `publishArchive` (publish.ts) writes a directory any static HTTP server can serve:
 *
 *   manifest.json                               the archive's manifest, byte for byte
 *   index.sqlite                                the SQLite index, when one is given
 *   <os>/<version>/<arch>/<release>.btf.tar.xz   every kernel's BTF
 *   pack/NNNNNN.kcpack                          the BTF pack's segments (module BTF)
 *   <os>/<version>/<arch>/<release>.modules.tar.xz  module BTF of archives before the pack
 *   SHA256SUMS                                  `sha256sum` lines for every file above
 *
 * `SHA256SUMS` is what `sha256sum` prints (so `sha256sum -c SHA256SUMS` checks a copy),
 * and it lists the tree the way `archive sync btfhub --from URL` reads a static mirror,
 * so a published archive is also a BTFHub-style mirror.
 *
 * `syncRemote` makes a local directory a *lazy* copy of a published archive: it takes
 * `SHA256SUMS` first, then `manifest.json` and `index.sqlite`, each checked against it,
 * and records the source in `remote.json`. No BTF is fetched then. Later, when a command
 * needs a kernel's BTF (archive.ts `readKernelBtf`, modules.ts), `fetchRemoteFile`
 * downloads that one tarball (undici, resumable, into a temporary name), checks it
 * against `SHA256SUMS` and, for a `.btf.tar.xz`, checks the BTF inside against the
 * manifest's sha256 before renaming it into place: a file is either whole and checked, or
 * absent. Once fetched it stays (the directory is the cache).
 *
 * `KCOMPAT_REMOTE=URL`: every command reading the default archive also sees the kernels
 * of the lazy copy of URL (`remoteCacheDir(URL)`) that the default archive lacks.
 * `ensureRemote` takes that copy itself the first time a command needs it (no prior
 * `archive sync --from URL`), and takes the manifest again when the copy is older than
 * KCOMPAT_REMOTE_TTL seconds (default a day; `archive sync --from URL` always does);
 * `archiveKernels` then returns both archives' kernels and remembers which root each
 * remote entry belongs to (`rootOf`).
 */
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {KcompatError} from '../errors.js'
import {xzDecompress} from './compress.js'
import {type KernelEntry, MANIFEST_FILE, MANIFEST_VERSION, type Manifest, kernelKey, readManifest, writeFileAtomic} from './manifest.js'
import {readTar} from './tar.js'
import {reportRemoteProgress} from './remote-events.js'

export {type RemoteProgress, onRemoteProgress} from './remote-events.js'

export class RemoteError extends KcompatError {}

export const SUMS_FILE = 'SHA256SUMS'
export const REMOTE_FILE = 'remote.json'

/** A tarball's body is buffered whole (download.ts `highWaterMark`: servers closing the connection must not meet a paused parser). */
const BODY_BUFFER = 512 * 1024 * 1024

/** What `remote.json` records in a lazy copy. */
export interface RemoteState {
  format: 1
  url: string
  /** When the manifest was last taken (ISO time). */
  synced: string
  /** sha256 of every published file, from SHA256SUMS. */
  files: Record<string, string>
}

/** download.ts (and undici with it) is loaded on first transfer: archive.ts imports this module on every command's path. */
const transfers = (): Promise<typeof import('./download.js')> => import('./download.js')

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.split('/').map(encodeURIComponent).join('/')}`
}

/** `sha256sum` lines (`<hex>  <path>`) into a path → sha256 map. */
export function parseSums(text: string, where: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trimEnd())
    if (!m || m[2]!.split('/').some((p) => p === '..' || p === '') || m[2]!.startsWith('/')) {
      throw new RemoteError('REMOTE_BAD_SUMS', `${where}: line ${i + 1} is not '<sha256>  <relative path>'`)
    }
    files[m[2]!] = m[1]!
  }
  return files
}

// --------------------------------------------------------------------------- sync

/** The lazy copy of `url` used for KCOMPAT_REMOTE and `sync --from` without --archive. */
export function remoteCacheDir(url: string): string {
  const tag = sha256(url.replace(/\/+$/, '')).slice(0, 16)
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kcompat', `remote-${tag}`)
}

export function readRemoteState(root: string): RemoteState | undefined {
  const file = join(root, REMOTE_FILE)
  if (!existsSync(file)) return undefined
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as RemoteState
    if (s.format !== 1 || typeof s.url !== 'string' || typeof s.files !== 'object' || s.files === null) throw new Error('not a remote.json')
    return s
  } catch (e) {
    throw new RemoteError('REMOTE_BAD_STATE', `${file}: ${(e as Error).message}`)
  }
}

export interface RemoteSyncOptions {
  /** The directory the lazy copy lives in (default remoteCacheDir(url)). */
  dir?: string
  retryDelayMs?: number
  onEvent?: (e: {type: 'fetched'; file: string; bytes: number} | {type: 'dropped'; file: string}) => void
}

export interface RemoteSyncResult {
  url: string
  dir: string
  kernels: number
  /** Kernels whose BTF is already local. */
  local: number
  index: boolean
  /** Local files removed because the publisher's copy changed. */
  dropped: string[]
}

/**
 * Takes the manifest (and the index, when published) of the archive published at `url`
 * into a lazy copy; BTF is fetched later, on first use.
 * @throws RemoteError `REMOTE_NOT_PUBLISHED` (no SHA256SUMS or manifest at url),
 *   `REMOTE_BAD_SUMS`, `REMOTE_CHECKSUM` (manifest or index differ from SHA256SUMS),
 *   `REMOTE_BAD_MANIFEST`, `REMOTE_TARGET_NOT_EMPTY` (dir is an archive of its own);
 *   DownloadError codes for the transfer.
 */
export async function syncRemote(url: string, o: RemoteSyncOptions = {}): Promise<RemoteSyncResult> {
  const base = url.replace(/\/+$/, '')
  const dir = resolve(o.dir ?? remoteCacheDir(base))
  const old = readRemoteState(dir)
  if (!old && existsSync(join(dir, MANIFEST_FILE))) {
    throw new RemoteError('REMOTE_TARGET_NOT_EMPTY', `${dir} holds an archive of its own; sync a published archive into an empty directory`)
  }
  const {download, fetchBytes} = await transfers()
  const get = async (file: string, max: number): Promise<Buffer> => {
    try {
      return await fetchBytes(joinUrl(base, file), {retryDelayMs: o.retryDelayMs, maxBytes: max})
    } catch (e) {
      if (e instanceof KcompatError && e.code === 'DOWNLOAD_NOT_FOUND') throw new RemoteError('REMOTE_NOT_PUBLISHED', `${base} has no ${file}: not a published kcompat archive (kcompat archive publish)`)
      throw e
    }
  }
  const sumsText = (await get(SUMS_FILE, 256 * 1024 * 1024)).toString('utf8')
  const files = parseSums(sumsText, joinUrl(base, SUMS_FILE))
  if (!files[MANIFEST_FILE]) throw new RemoteError('REMOTE_NOT_PUBLISHED', `${joinUrl(base, SUMS_FILE)} does not list ${MANIFEST_FILE}`)
  const manifestBytes = await get(MANIFEST_FILE, 256 * 1024 * 1024)
  if (sha256(manifestBytes) !== files[MANIFEST_FILE]) {
    throw new RemoteError('REMOTE_CHECKSUM', `${joinUrl(base, MANIFEST_FILE)}: sha256 ${sha256(manifestBytes)} does not match ${SUMS_FILE} (${files[MANIFEST_FILE]})`)
  }
  let manifest: Manifest
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest
  } catch (e) {
    throw new RemoteError('REMOTE_BAD_MANIFEST', `${joinUrl(base, MANIFEST_FILE)} is not JSON: ${(e as Error).message}`)
  }
  if (typeof manifest !== 'object' || manifest === null || !Array.isArray(manifest.kernels) || typeof manifest.version !== 'number') {
    throw new RemoteError('REMOTE_BAD_MANIFEST', `${joinUrl(base, MANIFEST_FILE)} is not a kcompat manifest`)
  }
  if (manifest.version > MANIFEST_VERSION) throw new RemoteError('ARCHIVE_TOO_NEW', `${joinUrl(base, MANIFEST_FILE)} has version ${manifest.version}; upgrade kcompat`)
  for (const p of manifest.pack?.segments.map((x) => x.path) ?? []) {
    if (!files[p]) throw new RemoteError('REMOTE_BAD_MANIFEST', `${p} is in the manifest's pack but not in ${SUMS_FILE}`)
  }
  for (const k of manifest.kernels) {
    for (const p of [k.path, k.modules?.path]) {
      if (p && !files[p]) throw new RemoteError('REMOTE_BAD_MANIFEST', `${p} is in the manifest but not in ${SUMS_FILE}`)
    }
  }
  mkdirSync(dir, {recursive: true})
  let index = false
  // The index taken earlier is kept while the publisher's is the same (remote.json records
  // its sha256): queries open it and write their own bookkeeping into it (store/build.ts
  // ensureIndex), so the local file's bytes are no test of whether it is current.
  if (files['index.sqlite'] && old?.files['index.sqlite'] === files['index.sqlite'] && existsSync(join(dir, 'index.sqlite'))) {
    index = true
  } else if (files['index.sqlite']) {
    // a write-ahead log left by a query of the old index must not be replayed onto the new one
    for (const f of ['index.sqlite-wal', 'index.sqlite-shm']) rmSync(join(dir, f), {force: true})
    await download(joinUrl(base, 'index.sqlite'), join(dir, 'index.sqlite'), {sha256: files['index.sqlite'], retryDelayMs: o.retryDelayMs, highWaterMark: BODY_BUFFER}).catch((e: unknown) => {
      throw e instanceof KcompatError && e.code === 'DOWNLOAD_CHECKSUM' ? new RemoteError('REMOTE_CHECKSUM', e.message) : e
    })
    index = true
    o.onEvent?.({type: 'fetched', file: 'index.sqlite', bytes: statSync(join(dir, 'index.sqlite')).size})
  }
  // a tarball fetched earlier whose published copy changed (or went) is dropped: fetched again on use
  const dropped: string[] = []
  for (const [p, sum] of Object.entries(old?.files ?? {})) {
    if (p === MANIFEST_FILE || p === 'index.sqlite' || files[p] === sum) continue
    if (existsSync(join(dir, p))) {
      rmSync(join(dir, p), {force: true})
      dropped.push(p)
      o.onEvent?.({type: 'dropped', file: p})
    }
  }
  const state: RemoteState = {format: 1, url: base, synced: new Date().toISOString(), files}
  writeFileAtomic(join(dir, REMOTE_FILE), `${JSON.stringify(state, null, 1)}\n`)
  // the manifest byte for byte, so the published index (which records its sha256) stays fresh
  writeFileAtomic(join(dir, MANIFEST_FILE), manifestBytes)
  o.onEvent?.({type: 'fetched', file: MANIFEST_FILE, bytes: manifestBytes.length})
  const local = manifest.kernels.filter((k) => k.path && existsSync(join(dir, k.path))).length
  return {url: base, dir, kernels: manifest.kernels.length, local, index, dropped}
}

/**
 * Fetches `rel` of a lazy copy from its publisher when it is not there yet; returns
 * false when `root` is not a lazy copy (the caller reports the missing file). For a
 * kernel's `.btf.tar.xz`, `entry` gives the manifest's sha256 of the BTF inside.
 * @throws RemoteError `REMOTE_NOT_LISTED`, `REMOTE_CHECKSUM` (the download differs from
 *   SHA256SUMS, or its BTF from the manifest: nothing is kept); DownloadError codes.
 */
export async function fetchRemoteFile(root: string, rel: string, entry?: KernelEntry): Promise<boolean> {
  const state = readRemoteState(root)
  if (!state) return false
  const dest = join(root, rel)
  if (existsSync(dest)) return true
  const sum = state.files[rel]
  if (!sum) throw new RemoteError('REMOTE_NOT_LISTED', `${rel} is not in ${state.url}/${SUMS_FILE}`)
  mkdirSync(dirname(dest), {recursive: true})
  const tmp = `${dest}.fetch`
  const {download} = await transfers()
  try {
    await download(joinUrl(state.url, rel), tmp, {sha256: sum, highWaterMark: BODY_BUFFER})
  } catch (e) {
    if (e instanceof KcompatError && e.code === 'DOWNLOAD_CHECKSUM') throw new RemoteError('REMOTE_CHECKSUM', e.message)
    throw e
  }
  if (entry?.sha256 && rel === entry.path) {
    try {
      const files = (await readTar(xzDecompress(readFileSync(tmp)))).filter((f) => f.type === 'file')
      const btf = files.find((f) => f.name === `${entry.release}.btf`) ?? (files.length === 1 ? files[0] : undefined)
      if (!btf || sha256(btf.data) !== entry.sha256) throw new RemoteError('REMOTE_CHECKSUM', `${joinUrl(state.url, rel)}: the BTF inside does not match the manifest's sha256`)
    } catch (e) {
      rmSync(tmp, {force: true})
      throw e
    }
  }
  renameSync(tmp, dest)
  return true
}

// ----------------------------------------------------------------- KCOMPAT_REMOTE

/** How long KCOMPAT_REMOTE's lazy copy is used before its manifest is taken again, by default (seconds). */
export const DEFAULT_REMOTE_TTL = 24 * 3600

/**
 * KCOMPAT_REMOTE_TTL in milliseconds (seconds in the variable; 0 takes the manifest on
 * every command that needs it).
 * @throws RemoteError `REMOTE_BAD_TTL` when it is not a whole number of seconds.
 */
export function remoteTtlMs(): number {
  const v = process.env.KCOMPAT_REMOTE_TTL
  if (v === undefined || v === '') return DEFAULT_REMOTE_TTL * 1000
  if (!/^\d+$/.test(v.trim())) throw new RemoteError('REMOTE_BAD_TTL', `KCOMPAT_REMOTE_TTL is '${v}': give a number of seconds`)
  return Number(v.trim()) * 1000
}

const pending = new Map<string, Promise<string>>()

/** true when KCOMPAT_REMOTE widens `root` (it is the default archive) and `release`, if given, is not the default archive's own. */
function remoteApplies(root: string, defaultRoot: string, release?: string): string | undefined {
  const url = process.env.KCOMPAT_REMOTE
  if (!url || resolve(root) !== resolve(defaultRoot)) return undefined
  // a release the default archive has is answered from it, without the remote
  if (release !== undefined && readManifest(root).kernels.some((k) => k.release.startsWith(release))) return undefined
  return url.replace(/\/+$/, '')
}

/**
 * Makes KCOMPAT_REMOTE's lazy copy usable for a command reading `root`, and returns its
 * directory (undefined when KCOMPAT_REMOTE does not apply: unset, `root` is not the
 * default archive, or `release` is one of the default archive's).
 *
 * The copy is taken (`syncRemote`: SHA256SUMS, manifest, index; no BTF) when it was
 * never taken or is older than KCOMPAT_REMOTE_TTL. When that refresh fails and an older
 * copy exists, the older copy is used and a `stale` event says so (a command keeps
 * working offline); without any copy the failure is thrown. One process takes a copy
 * once however many callers ask at the same time.
 * @throws what `syncRemote` throws, when there is no copy to fall back on; `REMOTE_BAD_TTL`.
 */
export async function ensureRemote(root: string, defaultRoot: string, release?: string): Promise<string | undefined> {
  const url = remoteApplies(root, defaultRoot, release)
  if (!url) return undefined
  const dir = remoteCacheDir(url)
  const state = readRemoteState(dir)
  const ttl = remoteTtlMs()
  if (state && Date.now() - Date.parse(state.synced) < ttl) return dir
  let p = pending.get(url)
  if (!p) {
    p = (async () => {
      reportRemoteProgress({type: 'syncing', url, reason: state ? 'stale' : 'first'})
      try {
        const r = await syncRemote(url, {dir})
        reportRemoteProgress({type: 'synced', url, kernels: r.kernels, dir})
      } catch (e) {
        if (!state || !(e instanceof KcompatError)) throw e
        reportRemoteProgress({type: 'stale', url, synced: state.synced, error: e.message})
      }
      return dir
    })().finally(() => pending.delete(url))
    pending.set(url, p)
  }
  return p
}

const remoteRoots = new WeakMap<KernelEntry, string>()

/** The root an entry returned by {@link archiveKernels} belongs to, when it is a remote one. */
export function rootOf(entry: KernelEntry): string | undefined {
  return remoteRoots.get(entry)
}

/**
 * The kernels a command resolving releases in `root` sees: the archive's own, then, when
 * `root` is the default archive and KCOMPAT_REMOTE names a published archive, that
 * archive's kernels the default one lacks (not consulted when `release` is given and the
 * default archive has a release starting with it) (from its lazy copy; BTF fetched on use).
 * Synchronous: the caller has made the copy usable with {@link ensureRemote} first.
 * @throws RemoteError `REMOTE_NOT_SYNCED` when KCOMPAT_REMOTE's copy was never taken.
 */
export function archiveKernels(root: string, defaultRoot: string, release?: string): KernelEntry[] {
  const own = readManifest(root).kernels
  const url = remoteApplies(root, defaultRoot, release)
  if (!url) return own
  const dir = remoteCacheDir(url)
  if (!readRemoteState(dir)) {
    throw new RemoteError('REMOTE_NOT_SYNCED', `KCOMPAT_REMOTE is ${url} but its manifest was never taken: run \`kcompat archive sync --from ${url}\``)
  }
  const have = new Set(own.map(kernelKey))
  const extra = readManifest(dir).kernels.filter((k) => !have.has(kernelKey(k)))
  for (const k of extra) remoteRoots.set(k, dir)
  return [...own, ...extra]
}
