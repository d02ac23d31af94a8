/**
 * Keeping the parser's per-type work on a kernel's BTF across processes.
 *
 * A lazy parse of a 100,000-type kernel still makes one validating pass over every
 * record ({@link scanTypes}: offsets, kinds, name offsets) and, on the first name
 * lookup, hashes every name into two {@link NameIndex}es (FUNCs, everything else).
 * That is 60–80 ms of a `check` or `relocate` that then decodes a few hundred types,
 * and it gives the same typed arrays every time for the same bytes. So for BTF whose
 * bytes have a stable identity (an archived kernel's raw-BTF cache file, named by its
 * sha256; see archive/btf-cache.ts) the arrays are written once, beside the bytes, and
 * read back by later parses instead of being recomputed.
 *
 * Who holds the file is the caller's business: it attaches a {@link ScanStore} to the
 * exact Uint8Array it will hand to parseBtf ({@link attachScanStore}), and parseBtf
 * asks for the store of the bytes it is given. Bytes without a store are parsed as
 * before. Only base BTF parsed lazily uses a store.
 *
 * The file (all integers little-endian, host order checked by the magic):
 *
 *     u32[16] header: magic, version, BTF byte length, type_len, str_len, count,
 *                     funcs heads/members/flavored lengths, types heads/members/
 *                     flavored lengths, 4 reserved
 *     u32[count] offsets   u32[count] name offsets   i32[count] shared chain
 *     i32[...] funcs heads, members, flavored   i32[...] types heads, members, flavored
 *     u8[count] kinds (padded to 4)
 *
 * Both indexes share one chain: a type is in one of them only, so each entry belongs
 * to one index. A file whose header does not match the bytes' length and section sizes,
 * or whose length does not match its header, is ignored (the scan is recomputed and
 * rewritten). The file is named after the bytes' sha256 and written whole (temp +
 * rename) from a scan the validating parser made of those bytes, so a scan read back
 * is not validated again: hashing its 2–3 MB to detect damage would cost ~10 ms, a
 * sixth of what the file saves (measured, bench/startup.mjs, this VM).
 */
import {NameIndex} from './name-index.js'
import {ensureAllLoaded, ensureLoaded} from './paged.js'
import type {StringTable} from './strings.js'

/** A scan (decode.ts's TypeScan) and the two name indexes, as parseBtf produces and uses them. */
export interface StoredScan {
  scan: {count: number; offsets: Uint32Array; kinds: Uint8Array; nameOffs: Uint32Array}
  funcs: NameIndex
  types: NameIndex
}

/** Reads and writes the stored scan of one BTF's bytes. Either may fail: it is only a cache. */
export interface ScanStore {
  /** The stored file's bytes, or undefined when there is none. */
  read(): Uint8Array | undefined
  /** Stores the encoded scan (temp + rename); errors are the store's to swallow. */
  write(data: Uint8Array): void
}

const stores = new WeakMap<Uint8Array, ScanStore>()

/** Makes parseBtf keep the scan of exactly these bytes in `store`. */
export function attachScanStore(bytes: Uint8Array, store: ScanStore): void {
  stores.set(bytes, store)
}

/** The store attached to these bytes, if any. */
export function scanStoreOf(bytes: Uint8Array): ScanStore | undefined {
  return stores.get(bytes)
}

const MAGIC = 0x4e43534b // 'KSCN' read as a little-endian u32
const VERSION = 1
const HEADER_WORDS = 16

/** Encodes a scan of BTF `btfLength` bytes long with section sizes `typeLen`, `strLen`. */
export function encodeScan(s: StoredScan, btfLength: number, typeLen: number, strLen: number): Uint8Array {
  const n = s.scan.count
  const f = s.funcs.parts()
  const t = s.types.parts()
  // one chain: each type's entry from the index that holds it (the other's is 0)
  const chain = new Int32Array(n)
  for (let i = 0; i < n; i++) chain[i] = f.chain[i]! | t.chain[i]!
  const kindWords = (n + 3) >>> 2
  const total = HEADER_WORDS + 3 * n + f.heads.length + f.members.length + f.flavored.length + t.heads.length + t.members.length + t.flavored.length + kindWords
  const words = new Uint32Array(total)
  words.set([MAGIC, VERSION, btfLength, typeLen, strLen, n, f.heads.length, f.members.length, f.flavored.length, t.heads.length, t.members.length, t.flavored.length])
  let at = HEADER_WORDS
  const put = (a: Uint32Array | Int32Array): void => {
    words.set(a instanceof Int32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a, at)
    at += a.length
  }
  put(s.scan.offsets)
  put(s.scan.nameOffs)
  put(chain)
  for (const p of [f, t]) {
    put(p.heads)
    put(p.members)
    put(p.flavored)
  }
  new Uint8Array(words.buffer, at * 4, n).set(s.scan.kinds)
  return new Uint8Array(words.buffer)
}

/**
 * Decodes a stored scan for BTF of `btfLength` bytes with these section sizes, or
 * undefined when the file is not one, is for other bytes, or is damaged. The arrays are
 * views over `file` (copied first when it is not 4-byte aligned).
 */
export function decodeScan(file: Uint8Array, btfLength: number, typeLen: number, strLen: number, strings: StringTable): StoredScan | undefined {
  if (file.length < HEADER_WORDS * 4 || file.length % 4 !== 0) return undefined
  // a file read on demand (paged.ts): its header now, the arrays as they are read
  if (file.byteOffset % 4 !== 0) ensureAllLoaded(file)
  ensureLoaded(file, 0, HEADER_WORDS * 4)
  const aligned = file.byteOffset % 4 === 0 ? file : file.slice()
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length >>> 2)
  if (words[0] !== MAGIC || words[1] !== VERSION || words[2] !== btfLength || words[3] !== typeLen || words[4] !== strLen) return undefined
  const n = words[5]!
  const lens = [words[6]!, words[7]!, words[8]!, words[9]!, words[10]!, words[11]!]
  const total = HEADER_WORDS + 3 * n + lens.reduce((a, b) => a + b, 0) + ((n + 3) >>> 2)
  if (words.length !== total) return undefined
  // both heads tables are powers of two (the index masks hashes with size - 1)
  if (lens[0]! === 0 || (lens[0]! & (lens[0]! - 1)) !== 0 || lens[3]! === 0 || (lens[3]! & (lens[3]! - 1)) !== 0) return undefined
  const buf = words.buffer
  const base = words.byteOffset
  let at = HEADER_WORDS
  const u32 = (len: number): Uint32Array => {
    const a = new Uint32Array(buf, base + at * 4, len)
    at += len
    return a
  }
  const i32 = (len: number): Int32Array => {
    const a = new Int32Array(buf, base + at * 4, len)
    at += len
    return a
  }
  const offsets = u32(n)
  const nameOffs = u32(n)
  const chain = i32(n)
  const parts = [0, 3].map((k) => ({heads: i32(lens[k]!), chain, members: i32(lens[k + 1]!), flavored: i32(lens[k + 2]!)}))
  const kinds = new Uint8Array(buf, base + at * 4, n)
  return {
    scan: {count: n, offsets, kinds, nameOffs},
    funcs: new NameIndex(nameOffs, strings, undefined, parts[0]),
    types: new NameIndex(nameOffs, strings, undefined, parts[1]),
  }
}
