/**
 * A cache of archived kernels' BTF, uncompressed.
 *
 * The archive keeps each kernel's BTF as `.btf.tar.xz` (btfhub's layout, ~1 MB), and
 * xz needs 60–90 ms to unpack a 5 MB kernel BTF: more than everything else `btfgen
 * --all` or a matrix does with that kernel. So the first read of a kernel also writes
 * its raw BTF here, and later reads take it from here (a few milliseconds).
 *
 * - Files are named by the BTF's sha256 from the manifest, so a kernel whose BTF
 *   changed gets a new file and a stale one is never read; files are written to a
 *   temporary name and renamed, so a reader sees a whole file or none.
 * - A copy is used only while the tarball it came from exists and has not been modified
 *   since the copy was written, and its size matches the manifest's; the content was
 *   checked against the sha256 when it was unpacked.
 * - Beside each copy, `<sha256>.scan` keeps what the BTF parser's validating scan and
 *   name indexes computed from it (../btf/scan-cache.ts), written by the first lazy
 *   parse of those bytes and read by the later ones instead of scanning again; the
 *   bytes read here carry that file with them (attachScanStore). It is checked against
 *   the BTF's length and section sizes and its own checksum, and rewritten when it does
 *   not match. A copy without a scan file is validated by the parser, as before.
 * - Where: `$KCOMPAT_BTF_CACHE` (a directory, or `off` to disable); else `.cache/btf/`
 *   inside the archive when that is writable; else
 *   `~/.cache/kcompat/btf-<hash of the archive path>/`. Deleting it is always safe.
 */
import {createHash} from 'node:crypto'
import {accessSync, constants, mkdirSync, readFileSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {readFilePaged} from '../btf/paged.js'
import {attachScanStore} from '../btf/scan-cache.js'
import type {KernelEntry} from './manifest.js'
import {writeFileAtomic} from './manifest.js'

/** The cache directory for archive `root`, or undefined when caching is off. */
export function btfCacheDir(root: string): string | undefined {
  const env = process.env.KCOMPAT_BTF_CACHE
  if (env === 'off' || env === '0') return undefined
  if (env) return env
  try {
    accessSync(root, constants.W_OK)
    return join(root, '.cache', 'btf')
  } catch {
    const tag = createHash('sha256').update(root).digest('hex').slice(0, 16)
    return join(homedir(), '.cache', 'kcompat', `btf-${tag}`)
  }
}

function cacheFile(dir: string, entry: KernelEntry): string | undefined {
  return entry.sha256 && /^[0-9a-f]{64}$/.test(entry.sha256) ? join(dir, `${entry.sha256}.btf`) : undefined
}

/** Keeps the parser's scan of `btf` (the content of cache file `file`) in `<sha256>.scan` beside it. */
function withScanStore<T extends Uint8Array>(btf: T, file: string, paged = false): T {
  const scanFile = `${file.slice(0, -'.btf'.length)}.scan`
  attachScanStore(btf, {
    read: () => {
      try {
        // read on demand like the bytes (4 KiB chunks: hash lookups land anywhere in it)
        if (paged) return readFilePaged(scanFile, undefined, 12)
        return readFileSync(scanFile)
      } catch {
        return undefined
      }
    },
    write: (data) => {
      try {
        writeFileAtomic(scanFile, data)
      } catch {
        // only a cache (as for the raw BTF)
      }
    },
  })
  return btf
}

/**
 * The cached raw BTF of `entry`, or undefined: not cached, caching off, the size differs
 * from the manifest's, or the tarball `source` changed after the copy was made (then
 * the tarball is read again, and checked, as if there were no copy).
 */
export function readCachedBtf(root: string, entry: KernelEntry, source: string, options: {paged?: boolean} = {}): Buffer | undefined {
  const dir = btfCacheDir(root)
  const file = dir && cacheFile(dir, entry)
  if (!file) return undefined
  try {
    const st = statSync(file, {bigint: true})
    if (entry.size !== null && st.size !== BigInt(entry.size)) return undefined
    if (statSync(source, {bigint: true}).mtimeNs > st.mtimeNs) return undefined
    const bytes = options.paged ? readFilePaged(file, entry.size ?? undefined) : readFileSync(file)
    return bytes && withScanStore(bytes, file, options.paged)
  } catch {
    return undefined
  }
}

/** Stores verified raw BTF; a cache that cannot be written is skipped silently (it is only a cache). */
export function writeCachedBtf(root: string, entry: KernelEntry, btf: Uint8Array): void {
  const dir = btfCacheDir(root)
  const file = dir && cacheFile(dir, entry)
  if (!file) return
  try {
    mkdirSync(dir, {recursive: true})
    writeFileAtomic(file, btf)
    withScanStore(btf, file)
  } catch {
    // read-only file system, no home directory, disk full: read from the tarball next time
  }
}
