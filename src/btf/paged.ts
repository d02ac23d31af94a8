/**
 * A file's bytes read on demand, for a lazy parse that touches a few places of a big BTF.
 *
 * `check` and `relocate` parse an archived kernel's 4-6 MB raw BTF lazily and then read
 * a few hundred type records and names of it. Reading the whole file cost them ~10 ms of
 * wall time on the VM these figures come from: not the disk (the file is in the page
 * cache) but the copy and, mostly, faulting ~1,200 fresh 4 KiB pages into the buffer.
 * So {@link readFilePaged} returns a buffer of the file's full length that holds nothing
 * yet: it is allocated zeroed (calloc, so the kernel maps its pages only when they are
 * written), and a chunk of the file is read into it (positioned read) the first time a
 * reader asks for a range inside it.
 *
 * Readers must ask: every place that reads such bytes calls {@link ensureLoaded} (or
 * {@link loadedStringEnd}, {@link indexOfLoaded}) for the range it is about to read.
 * For bytes that did not come from here (every other buffer) those calls are one
 * WeakMap lookup and return at once. The parser's readers of the type section and the
 * string table (decode.ts, strings.ts, name-index.ts) do so; anything that needs the
 * whole buffer (a full parse, the raw dump, encoding, hashing) calls
 * {@link ensureAllLoaded}.
 *
 * How much is read: chunks of `chunk` bytes (16 KiB for a BTF file, where names and
 * records are read in runs; 4 KiB for a scan file, where hash lookups land anywhere),
 * adjacent missing chunks in one read. After {@link MAX_READS} reads the rest of the file
 * is read at once, so a reader that walks the whole file (an index build, a matrix over
 * every type) pays at most that many extra system calls over one whole read. While no
 * such buffer exists, the calls return after one test of a counter: the readers that
 * never see one (`btf dump`, an index build) do not pay for a lookup per record. The file stays open until it is all read or
 * the buffer is collected. A file that turns out shorter than it was when opened (it was
 * truncated in place; the caches replace files by rename, which leaves the open file
 * whole) is an error, never zeros taken for data.
 */
import {closeSync, fstatSync, openSync, readSync} from 'node:fs'
import {BtfError} from '../errors.js'

/** Reads before the rest of the file is read whole. */
const MAX_READS = 128
/** Chunks of 16 KiB (log2) by default. */
const DEFAULT_SHIFT = 14
/** The longest window {@link indexOfLoaded} searches at a time. */
const SEARCH_WINDOW = 64 * 1024

interface Pager {
  fd: number
  /** log2 of the chunk size */
  shift: number
  file: string
  /** One byte per chunk: 1 once read. */
  loaded: Uint8Array
  missing: number
  reads: number
  bytes: Uint8Array
}

const pagers = new WeakMap<ArrayBufferLike, Pager>()
/** Buffers with parts not read yet: while 0, every call returns at once. */
let live = 0
/**
 * The last two buffers found not to be read on demand (or no longer: a buffer is never
 * paged again once it is whole), so that a reader walking every type of one (kindOf over
 * 100,000 ids) while another is still paged makes two comparisons per call instead of a
 * WeakMap lookup (15 M instructions of a `check --object`, callgrind).
 */
let wholeA: ArrayBufferLike | undefined
let wholeB: ArrayBufferLike | undefined

/** The pager of `buf`, or undefined for a buffer that is whole. */
function pagerOf(buf: ArrayBufferLike): Pager | undefined {
  if (live === 0 || buf === wholeA || buf === wholeB) return undefined
  const p = pagers.get(buf)
  if (p === undefined) {
    wholeB = wholeA
    wholeA = buf
  }
  return p
}
const closer = new FinalizationRegistry<number>((fd) => {
  live--
  try {
    closeSync(fd)
  } catch {
    // already closed
  }
})

/**
 * The content of `file` as a buffer whose chunks are read on first use (see the module
 * comment). `expectedSize`, when given, must be the file's size (else undefined is
 * returned, as for a file that cannot be opened).
 */
export function readFilePaged(file: string, expectedSize?: number, chunkShift = DEFAULT_SHIFT): Buffer | undefined {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return undefined
  }
  const size = fstatSync(fd).size
  if ((expectedSize !== undefined && size !== expectedSize) || size === 0) {
    closeSync(fd)
    return undefined
  }
  const bytes = Buffer.alloc(size) // zeroed by calloc: no page is touched until read into
  const chunks = Math.ceil(size / (1 << chunkShift))
  const pager: Pager = {fd, shift: chunkShift, file, loaded: new Uint8Array(chunks), missing: chunks, reads: 0, bytes}
  pagers.set(bytes.buffer, pager)
  closer.register(bytes.buffer, fd, pager)
  live++
  return bytes
}

/** Whether `bytes` (or the buffer it views) still has parts not read. */
export function isPaged(bytes: ArrayBufferView): boolean {
  return pagerOf(bytes.buffer) !== undefined
}

/** `a[i]`, read first when `a` views bytes read on demand. */
export function elementAt(a: Uint32Array | Int32Array | Uint8Array, i: number): number {
  if (live > 0 && a.buffer !== wholeA && a.buffer !== wholeB) ensureLoaded(a, i * a.BYTES_PER_ELEMENT, (i + 1) * a.BYTES_PER_ELEMENT)
  return a[i]!
}

/** Makes bytes `from`..`to` (offsets within the view `bytes`, `to` exclusive) hold the file's content. */
export function ensureLoaded(bytes: ArrayBufferView, from: number, to: number): void {
  const p = pagerOf(bytes.buffer)
  if (p === undefined) return
  const start = Math.max(0, bytes.byteOffset + from)
  const end = Math.min(p.bytes.length, bytes.byteOffset + to)
  if (end <= start) return
  const last = (end - 1) >>> p.shift
  for (let c = start >>> p.shift; c <= last; c++) {
    if (p.loaded[c]) continue
    if (p.reads >= MAX_READS) {
      loadAll(p)
      return
    }
    let e = c + 1
    while (e <= last && !p.loaded[e]) e++
    read(p, c, e)
    c = e - 1
  }
}

/** Reads the whole buffer now (for readers of all of it). */
export function ensureAllLoaded(bytes: ArrayBufferView): void {
  const p = pagerOf(bytes.buffer)
  if (p !== undefined) loadAll(p)
}

/**
 * The offset of the NUL that ends the string starting at `at` in `bytes` (a string
 * section), loading chunks up to it; -1 when there is none. `buf`: `bytes` as a Buffer,
 * when the caller has one (making one per call cost ~5,000 instructions: 7 M of a
 * `check --object`, which reads ~1,500 names).
 */
export function loadedStringEnd(bytes: Uint8Array, at: number, buf?: Buffer): number {
  buf ??= Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const p = pagerOf(bytes.buffer)
  if (p === undefined) return buf.indexOf(0, at)
  const mask = (1 << p.shift) - 1
  for (let from = at; from < bytes.length; ) {
    const to = Math.min(bytes.length, ((bytes.byteOffset + from) | mask) + 1 - bytes.byteOffset)
    ensureLoaded(bytes, from, to)
    const nul = buf.indexOf(0, from)
    if (nul >= 0 && nul < to) return nul
    if (!pagers.has(bytes.buffer)) return nul // all read now
    from = to
  }
  return -1
}

/**
 * `Buffer.indexOf(needle, from)` over `bytes` (ASCII needle), loading the buffer chunk
 * by chunk only as far as the first hit.
 */
export function indexOfLoaded(bytes: Uint8Array, needle: string, from: number, buf?: Buffer): number {
  buf ??= Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (!isPaged(bytes)) return buf.indexOf(needle, from, 'latin1')
  for (let at = from; at < bytes.length; ) {
    const to = Math.min(bytes.length, at + SEARCH_WINDOW)
    // the window reaches needle.length - 1 bytes past `to`, so a hit across its edge is found
    ensureLoaded(bytes, at, to + needle.length - 1)
    const hit = buf.subarray(0, Math.min(bytes.length, to + needle.length - 1)).indexOf(needle, at, 'latin1')
    if (hit >= 0) return hit
    if (!pagers.has(bytes.buffer)) return buf.indexOf(needle, at, 'latin1')
    at = to
  }
  return -1
}

function read(p: Pager, first: number, end: number): void {
  const pos = first * (1 << p.shift)
  const len = Math.min(p.bytes.length, end * (1 << p.shift)) - pos
  let got = 0
  while (got < len) {
    const n = readSync(p.fd, p.bytes, pos + got, len - got, pos + got)
    if (n === 0) throw new BtfError('BTF_TRUNCATED', `${p.file} became shorter (${pos + got} bytes) while it was being read (${p.bytes.length} bytes when opened)`)
    got += n
  }
  p.reads++
  p.loaded.fill(1, first, end)
  p.missing -= end - first
  if (p.missing === 0) done(p)
}

function loadAll(p: Pager): void {
  for (let c = 0; c < p.loaded.length; c++) {
    if (p.loaded[c]) continue
    let e = c + 1
    while (e < p.loaded.length && !p.loaded[e]) e++
    read(p, c, e)
    if (p.missing === 0) return
    c = e - 1
  }
}

function done(p: Pager): void {
  pagers.delete(p.bytes.buffer)
  closer.unregister(p)
  live--
  closeSync(p.fd)
}
