/**
 * The xz container, read from its end: the one walker of stream footers and indexes
 * behind the size check before a whole-buffer decompression (compress.ts), the block
 * reader of an in-memory data.tar.xz (deb.ts) and that of a -dbg package's data.tar.xz
 * on disk (debug-deb.ts); and the single-block streams through which those blocks are
 * decompressed one at a time.
 *
 * What the code relies on, from the format specification
 * (https://tukaani.org/xz/xz-file-format.txt; its section numbers are the same in every
 * version from 1.0.0 to 1.2.1):
 *
 * - §1.2: every variable-length integer (index counts and sizes) stores 7 bits per byte,
 *   low bits first; a set top bit means another byte follows; at most 9 bytes, so at
 *   most 63 bits.
 * - §2: a file is one or more streams; between and after them may sit stream padding
 *   (§2.2), NUL bytes in groups of four, so every stream starts 4-byte aligned.
 * - §2.1: a stream is a 12-byte header, its blocks, an index and a 12-byte footer; each
 *   of these is a multiple of four bytes long.
 * - §2.1.1: the header is the magic FD 37 7A 58 5A 00, two bytes of stream flags (the
 *   second names the check every block carries: none, CRC32, CRC64 or SHA-256), and a
 *   CRC32 of those two flag bytes.
 * - §2.1.2: the footer is a CRC32 of the six bytes after it, the backward size (32-bit
 *   little-endian: the index is (value + 1) * 4 bytes long and ends where the footer
 *   starts), a copy of the header's flags (must be equal), and "YZ". So a stream can be
 *   found from its end without reading any of its blocks.
 * - §3: a block is its header (its first byte, the header size, is never 0x00), the
 *   compressed data and the check; padding after the data makes the block a multiple of
 *   four (§3.3). Blocks are back to back right after the stream header.
 * - §4: the index starts with a 0x00 byte (which tells it from a block header, §4.1),
 *   then the number of records (§4.2), one record per block (§4.3: unpadded size, i.e.
 *   the block without its padding, §4.3.1; uncompressed size, §4.3.2), 0-3 NUL bytes of
 *   padding (§4.4) and a CRC32 of all that (§4.5). A record is at least two bytes, which
 *   bounds the count by the index size.
 *
 * Hence the walk, per stream from the last: skip the padding, check the footer, read the
 * index it points to, add up the blocks' padded sizes to find where the stream header
 * must be, check that header against the footer. The uncompressed sizes in the records
 * give the size of the data before anything is decompressed (a decompression bomb is
 * refused up front), and the block positions let a multi-block stream (what a threaded
 * `xz`, e.g. dpkg-deb's, writes: one block per ~24 MiB of input) be decompressed block by
 * block: each block, behind its stream's header and followed by a one-record index and a
 * footer built here, is a complete stream the binding (lzma-rs) decodes on its own,
 * checking the block's sizes against that record and its CRC32 or CRC64 check (it does
 * not implement SHA-256 checks: such blocks fail as corrupt).
 *
 * The walk is written once, as a generator that asks for the bytes it needs ("n bytes at
 * offset o") and is handed them: run synchronously over a buffer (views, no copies) and
 * asynchronously over a file (positioned reads of the footers, indexes and headers only),
 * so both give the same answers, the same errors and the same offsets.
 *
 * Error code: `INPUT_CORRUPT_XZ`, with the byte offset of the bad structure.
 */
import type {FileHandle} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {crc32} from 'node:zlib'
import {InputError} from '../errors.js'

export const XZ_MAGIC = Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)

// The xz binding (a native addon around lzma-rs) is loaded on first use: most commands
// never need it, and loading it costs more start-up time than a small dump takes.
const require = createRequire(import.meta.url)
let binding: typeof import('@napi-rs/lzma/xz') | undefined
/** @napi-rs/lzma's xz functions, loaded on first call. */
export function lzmaXz(): typeof import('@napi-rs/lzma/xz') {
  binding ??= require('@napi-rs/lzma/xz') as typeof import('@napi-rs/lzma/xz')
  return binding
}

// ---------------------------------------------------------------------------------
// Variable-length integers (§1.2).
// ---------------------------------------------------------------------------------

/**
 * One variable-length integer of an xz index, read at `pos.p` (advanced) before `end`.
 * `base` is added to error offsets, for an index read out of a larger file.
 * @throws InputError `INPUT_CORRUPT_XZ` for a number cut short or longer than 9 bytes.
 */
export function readXzVarint(b: Uint8Array, pos: {p: number}, end: number, base = 0): number {
  let value = 0
  let mul = 1
  for (let i = 0; i < 9; i++) {
    if (pos.p >= end) throw new InputError('INPUT_CORRUPT_XZ', 'xz index ends inside a number', {offset: base + pos.p})
    const byte = b[pos.p++]!
    value += (byte & 0x7f) * mul
    if ((byte & 0x80) === 0) return value
    mul *= 128
  }
  throw new InputError('INPUT_CORRUPT_XZ', 'xz index number is too long', {offset: base + pos.p})
}

/** The §1.2 encoding of a non-negative integer (the shortest one, as the spec requires). */
export function encodeXzVarint(n: number): number[] {
  const out: number[] = []
  // % and / rather than bit operations: sizes may pass 2^32
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return out
}

// ---------------------------------------------------------------------------------
// The walk from the end (§2.1.2 → §4 → §2.1.1).
// ---------------------------------------------------------------------------------

/** One block of an xz file, as its stream's index describes it. */
export interface XzBlock {
  /** The 12-byte header of the block's stream (the check type is in its flags). */
  streamHeader: Uint8Array
  /** Where the block starts: its position in the xz data plus the caller's base (a file offset for {@link xzBlocksFromFile}). */
  offset: number
  /** The block with its padding (§3.3): `unpadded` rounded up to four. */
  length: number
  /** Block header + compressed data + check (§4.3.1). */
  unpadded: number
  /** What the block expands to (§4.3.2). */
  uncompressed: number
}

/** A read the walk asks for: `length` bytes at `at`, relative to the start of the xz data. */
interface XzRead {
  at: number
  length: number
}

/** Largest index read: 64 MiB holds millions of records, far more than any real file (the format allows 16 GiB). */
const MAX_INDEX = 64 * 1024 * 1024
/** Most concatenated streams walked; more is taken for a crafted file. */
const MAX_STREAMS = 1024
/** Stream padding is read back in pieces of this size (a multiple of four). */
const PADDING_READ = 4096

const u32le = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0

/**
 * The walk over `length` bytes of xz data, from the end: yields the reads it needs and
 * returns every block of every stream, first to last. Offsets (in errors and blocks)
 * are positions in the data plus `base`; an error before the data's start is reported
 * at its start.
 */
function* walkXz(length: number, base: number): Generator<XzRead, XzBlock[], Uint8Array> {
  const bad = (msg: string, at: number): never => {
    throw new InputError('INPUT_CORRUPT_XZ', msg, {offset: base + Math.max(0, at)})
  }
  const streams: XzBlock[][] = []
  let end = length
  while (end > 0) {
    // §2.2: stream padding, whole groups of four NUL bytes counted back from the end
    padding: while (end >= 4) {
      const n = Math.min(end - (end % 4), PADDING_READ)
      const tail = yield {at: end - n, length: n}
      for (let i = n; i > 0; i -= 4) {
        if (tail[i - 1] !== 0 || tail[i - 2] !== 0 || tail[i - 3] !== 0 || tail[i - 4] !== 0) break padding
        end -= 4
      }
    }
    if (end === 0) break

    // §2.1.2: the footer
    if (end < 24) bad('xz data is truncated or has no stream footer', end - 2)
    const footer = yield {at: end - 12, length: 12}
    if (footer[10] !== 0x59 || footer[11] !== 0x5a) bad('xz data is truncated or has no stream footer', end - 2)
    if (u32le(footer, 0) !== crc32(footer.subarray(4, 10))) bad('xz stream footer CRC32 mismatch', end - 12)
    const backward = (u32le(footer, 4) + 1) * 4
    const indexStart = end - 12 - backward

    // §4: the index, which ends where the footer starts
    if (indexStart < 12 || backward > MAX_INDEX) bad('xz index is missing or misplaced', indexStart)
    const index = yield {at: indexStart, length: backward}
    if (index[0] !== 0x00) bad('xz index is missing or misplaced', indexStart)
    if (u32le(index, backward - 4) !== crc32(index.subarray(0, backward - 4))) bad('xz index CRC32 mismatch', end - 16)
    const pos = {p: 1}
    const count = readXzVarint(index, pos, backward - 4, base + indexStart)
    if (count > backward / 2) bad('xz index has an impossible record count', indexStart)
    const records: {unpadded: number; uncompressed: number}[] = []
    let padded = 0
    for (let i = 0; i < count; i++) {
      const unpadded = readXzVarint(index, pos, backward - 4, base + indexStart)
      const uncompressed = readXzVarint(index, pos, backward - 4, base + indexStart)
      records.push({unpadded, uncompressed})
      padded += Math.ceil(unpadded / 4) * 4
    }

    // §2.1.1: the header, right before the blocks the records add up to
    const streamStart = indexStart - padded - 12
    if (streamStart < 0) bad('xz stream header not where the index says', streamStart)
    const header = yield {at: streamStart, length: 12}
    for (let i = 0; i < XZ_MAGIC.length; i++) if (header[i] !== XZ_MAGIC[i]) bad('xz stream header not where the index says', streamStart)
    if (header[6] !== footer[8] || header[7] !== footer[9]) bad('xz stream header and footer flags differ', streamStart + 6)
    if (u32le(header, 8) !== crc32(header.subarray(6, 8))) bad('xz stream header CRC32 mismatch', streamStart + 8)

    const blocks: XzBlock[] = []
    let at = streamStart + 12
    for (const r of records) {
      const len = Math.ceil(r.unpadded / 4) * 4
      blocks.push({streamHeader: header, offset: base + at, length: len, unpadded: r.unpadded, uncompressed: r.uncompressed})
      at += len
    }
    streams.unshift(blocks)
    end = streamStart
    if (streams.length > MAX_STREAMS) bad('too many concatenated xz streams', end)
  }
  return streams.flat()
}

/**
 * Every block of every stream of in-memory xz data (stream headers are views of `b`).
 * `base` is added to block and error offsets, e.g. where `b` sits in a .deb.
 * @throws InputError `INPUT_CORRUPT_XZ` when a footer, index or header is malformed.
 */
export function xzBlocks(b: Uint8Array, base = 0): XzBlock[] {
  const walk = walkXz(b.length, base)
  let step = walk.next()
  while (!step.done) step = walk.next(b.subarray(step.value.at, step.value.at + step.value.length))
  return step.value
}

/** Positioned read of exactly `length` bytes at file offset `offset`. */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>

/**
 * {@link xzBlocks} of the xz data at [start, start + length) of a file, reading only
 * footers, indexes and headers. `source` is an open file or a reader of file ranges
 * (which may throw its own errors for a short read). Offsets are file offsets.
 * @throws InputError `INPUT_CORRUPT_XZ` as for {@link xzBlocks}, at the same offsets.
 */
export async function xzBlocksFromFile(source: FileHandle | ReadAt, start: number, length: number): Promise<XzBlock[]> {
  const read: ReadAt = typeof source === 'function' ? source : (offset, n) => readRange(source, offset, n)
  const walk = walkXz(length, start)
  let step = walk.next()
  while (!step.done) step = walk.next(await read(start + step.value.at, step.value.length))
  return step.value
}

async function readRange(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const {bytesRead} = await fh.read(b, done, length - done, offset + done)
    if (bytesRead === 0) throw new InputError('INPUT_CORRUPT_XZ', `file ends at byte ${offset + done}, inside the xz data`, {offset: offset + done})
    done += bytesRead
  }
  return b
}

/**
 * Total uncompressed size of xz data (all concatenated streams), from the indexes.
 * @throws InputError `INPUT_CORRUPT_XZ` when a footer, index or header is malformed.
 */
export function xzUncompressedSize(b: Uint8Array): number {
  let total = 0
  for (const x of xzBlocks(b)) total += x.uncompressed
  return total
}

// ---------------------------------------------------------------------------------
// Block by block.
// ---------------------------------------------------------------------------------

/**
 * One block (`block`: its `length` bytes, padding included) as a complete single-block
 * stream: its stream's header, the block, an index of one record (§4: 0x00, count 1, the
 * block's unpadded and uncompressed sizes, padding to four, CRC32) and a footer (§2.1.2:
 * CRC32, backward size = index size / 4 - 1, the header's flags, "YZ").
 */
export function xzSingleBlockStream(x: Pick<XzBlock, 'streamHeader' | 'unpadded' | 'uncompressed'>, block: Uint8Array): Buffer {
  const records = [0x00, ...encodeXzVarint(1), ...encodeXzVarint(x.unpadded), ...encodeXzVarint(x.uncompressed)]
  while (records.length % 4 !== 0) records.push(0)
  const index = Buffer.alloc(records.length + 4)
  index.set(records)
  index.writeUInt32LE(crc32(index.subarray(0, records.length)), records.length)
  const footer = Buffer.alloc(12)
  footer.writeUInt32LE(index.length / 4 - 1, 4)
  footer[8] = x.streamHeader[6]!
  footer[9] = x.streamHeader[7]!
  footer.writeUInt32LE(crc32(footer.subarray(4, 10)), 0)
  footer[10] = 0x59
  footer[11] = 0x5a
  return Buffer.concat([x.streamHeader, block, index, footer])
}

/**
 * Decompresses one block (on libuv's thread pool). The binding checks the block's check
 * and its sizes against the record; the output length is checked again here.
 * @throws InputError `INPUT_CORRUPT_XZ` at the block's offset.
 */
export async function decodeXzBlock(x: XzBlock, block: Uint8Array): Promise<Buffer> {
  let out: Buffer
  try {
    // (No AbortSignal: @napi-rs/lzma rejects one from another realm, e.g. under vitest.)
    out = await lzmaXz().decompress(xzSingleBlockStream(x, block))
  } catch (e) {
    throw new InputError('INPUT_CORRUPT_XZ', `xz block is corrupt: ${e instanceof Error ? e.message : String(e)}`, {offset: x.offset, cause: e})
  }
  if (out.length !== x.uncompressed) {
    throw new InputError('INPUT_CORRUPT_XZ', `xz block expanded to ${out.length} bytes, its index says ${x.uncompressed}`, {offset: x.offset})
  }
  return out
}

/** How many xz blocks are decoded at once, ahead of the consumer. */
export const XZ_BLOCKS_IN_FLIGHT = 2
/** Decoded blocks are handed on in views of this size, so the consumer's backpressure works at a finer grain than a block. */
const PIECE = 1 << 20

/**
 * The decompressed content of `blocks`, in order, in pieces of up to 1 MiB. `read` gives
 * a block's bytes (a view of a buffer, or a file read); up to `inFlight` blocks are read
 * and decoded at once, so the next decodes while the current one is consumed. A consumer
 * that stops early leaves at most `inFlight` blocks finishing unseen.
 * @throws InputError `INPUT_CORRUPT_XZ` at the offset of a bad block, and what `read` throws.
 */
export async function* xzBlockPieces(
  blocks: readonly XzBlock[],
  read: (x: XzBlock) => Uint8Array | Promise<Uint8Array>,
  inFlight = XZ_BLOCKS_IN_FLIGHT,
): AsyncGenerator<Uint8Array> {
  const start = (x: XzBlock): Promise<Buffer> => {
    const p = (async () => decodeXzBlock(x, await read(x)))()
    p.catch(() => undefined) // surfaced when its turn comes (or never, if the consumer stops first)
    return p
  }
  const queue: Promise<Buffer>[] = []
  let next = 0
  for (let i = 0; i < blocks.length; i++) {
    while (queue.length < inFlight && next < blocks.length) queue.push(start(blocks[next++]!))
    const out = await queue.shift()!
    for (let at = 0; at < out.length; at += PIECE) yield out.subarray(at, Math.min(out.length, at + PIECE))
  }
}
