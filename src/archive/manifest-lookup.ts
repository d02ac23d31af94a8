/**
 * Finding a few kernels of the manifest by release without parsing all of it.
 *
 * `check` and `relocate` look one release up in the manifest (141 kernels, 378 KB of
 * JSON): parsing all of it was ~4-6 ms of their start, and its garbage a scavenge. So
 * the first full read of a manifest also writes `manifest.lookup` into the raw-BTF cache
 * directory (btf-cache.ts: `.cache/btf/` in the archive, or the user's cache), and later
 * lookups read from it only its small table of releases and the entries they want:
 *
 *     line 1: `KCML1 <stat of manifest.json> <file length> <hash of line 2>`
 *     line 2: JSON [[release, offset, length, hash], ...], offsets counted from line 3
 *     line 3 on: each kernel entry as compact JSON, one per line
 *
 * Staleness: the stat is the manifest's size, modification and change times (ns) and
 * inode when it was read. Any write of the file changes its ctime, and writeManifest
 * renames a new file into place (a new inode), so a changed manifest never matches; then
 * the manifest is read and validated whole (readManifest: the same errors as before),
 * and the lookup file rewritten (temp + rename) when the manifest did not change while
 * it was read. Damage: line 1 must match the file's length, and every line used must
 * match its FNV-1a hash (32-bit) before it is parsed; a file that does not is ignored
 * and rewritten. Only the lines a lookup uses are hashed (a few KB).
 */
import {closeSync, fstatSync, openSync, readSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {btfCacheDir} from './btf-cache.js'
import {type KernelEntry, MANIFEST_FILE, readManifest, writeFileAtomic} from './manifest.js'

const MAGIC = 'KCML1'
const LOOKUP_FILE = 'manifest.lookup'

/** FNV-1a, 32 bits, of bytes `from`..`to` of `b`. */
function fnv(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return h >>> 0
}

/** The identity of manifest.json now ('' when it cannot be read). */
function manifestStat(root: string): string {
  try {
    const s = statSync(join(root, MANIFEST_FILE), {bigint: true})
    return `${s.size}-${s.mtimeNs}-${s.ctimeNs}-${s.ino}`
  } catch {
    return ''
  }
}

/**
 * The entries of `root`'s manifest whose release starts with `prefix` (in manifest
 * order), read through the lookup file when it matches the manifest (see the module
 * comment), else from the whole manifest, which also rewrites the lookup file.
 * @throws InputError as readManifest does, for a manifest it has not read before.
 */
export function manifestKernelsNamed(root: string, prefix: string): KernelEntry[] {
  const dir = btfCacheDir(root)
  const stat = manifestStat(root)
  if (dir && stat !== '') {
    const hit = readLookup(join(dir, LOOKUP_FILE), stat, prefix)
    if (hit) return hit
  }
  const m = readManifest(root)
  // the stat taken before reading still holds after it: the lookup describes the bytes read
  if (dir && stat !== '' && manifestStat(root) === stat) writeLookup(dir, stat, m.kernels)
  return m.kernels.filter((k) => k.release.startsWith(prefix))
}

/** The entries for `prefix` from the lookup file, or undefined when it is missing, stale or damaged. */
function readLookup(file: string, stat: string, prefix: string): KernelEntry[] | undefined {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return undefined
  }
  try {
    const size = fstatSync(fd).size
    // positioned reads of the lines used: the table (line 2) is ~60 bytes per kernel
    const read = (pos: number, len: number): Buffer => {
      const b = Buffer.allocUnsafe(len)
      let got = 0
      while (got < len) {
        const n = readSync(fd, b, got, len - got, pos + got)
        if (n === 0) break
        got += n
      }
      return b.subarray(0, got)
    }
    let head = read(0, Math.min(size, 16384))
    let nl1 = head.indexOf(10)
    if (nl1 < 0) return undefined
    const [magic, fileStat, length, tableHash] = head.toString('latin1', 0, nl1).split(' ')
    if (magic !== MAGIC || fileStat !== stat || Number(length) !== size) return undefined
    let nl2 = head.indexOf(10, nl1 + 1)
    if (nl2 < 0 && head.length < size) {
      head = read(0, size)
      nl1 = head.indexOf(10)
      nl2 = head.indexOf(10, nl1 + 1)
    }
    if (nl2 < 0 || String(fnv(head, nl1 + 1, nl2)) !== tableHash) return undefined
    const table = JSON.parse(head.toString('utf8', nl1 + 1, nl2)) as Array<[string, number, number, number]>
    const body = nl2 + 1
    const out: KernelEntry[] = []
    for (const [release, off, len, hash] of table) {
      if (!release.startsWith(prefix)) continue
      const line = read(body + off, len)
      if (line.length !== len || fnv(line, 0, len) !== hash) return undefined
      const e = JSON.parse(line.toString('utf8')) as KernelEntry
      if (e.release !== release) return undefined
      out.push(e)
    }
    return out
  } catch {
    return undefined // unparseable: read the manifest, and write the file again
  } finally {
    closeSync(fd)
  }
}

/** Writes the lookup file of a manifest whose identity is `stat`; a cache that cannot be written is skipped. */
function writeLookup(dir: string, stat: string, kernels: readonly KernelEntry[]): void {
  try {
    const lines = kernels.map((k) => Buffer.from(`${JSON.stringify(k)}\n`, 'utf8'))
    const table: Array<[string, number, number, number]> = []
    let off = 0
    for (let i = 0; i < lines.length; i++) {
      const len = lines[i]!.length - 1 // without its newline
      table.push([kernels[i]!.release, off, len, fnv(lines[i]!, 0, len)])
      off += lines[i]!.length
    }
    const tableLine = Buffer.from(`${JSON.stringify(table)}\n`, 'utf8')
    const tail = Buffer.concat([tableLine, ...lines])
    const hash = fnv(tableLine, 0, tableLine.length - 1)
    // line 1 holds the file's total length, which depends on line 1's own length
    let first = ''
    for (let guess = 0; ; ) {
      first = `${MAGIC} ${stat} ${guess} ${hash}\n`
      const total = first.length + tail.length
      if (total === guess) break
      guess = total
    }
    writeFileAtomic(join(dir, LOOKUP_FILE), Buffer.concat([Buffer.from(first, 'latin1'), tail]))
  } catch {
    // read-only, disk full: the next lookup reads the manifest again
  }
}
