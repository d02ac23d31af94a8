/**
 * Decompression with limits. Every compressed input kcompat reads (BTFHub's
 * `.btf.tar.xz`, `.btf.xz`, gzip'd BTF) goes through here, so a decompression bomb is
 * refused before it is expanded rather than after memory runs out.
 *
 * For xz the uncompressed size is known without decompressing: the stream footer
 * points back to the index, whose records list each block's uncompressed size
 * (https://tukaani.org/xz/xz-file-format.txt, sections 2.1.2 and 4).
 */
import {gunzipSync} from 'node:zlib'
import {spawnSync} from 'node:child_process'
import {createRequire} from 'node:module'
import {InputError} from '../errors.js'

// The xz binding (a native addon) is loaded on first use: most commands never need it,
// and loading it costs more start-up time than a small dump takes.
const require = createRequire(import.meta.url)
let lzma: typeof import('@napi-rs/lzma/xz') | undefined
function decompressSync(b: Buffer): Buffer {
  lzma ??= require('@napi-rs/lzma/xz') as typeof import('@napi-rs/lzma/xz')
  return lzma.decompressSync(b)
}

/** Default cap on what one decompression may produce (kernel BTF is ~5-10 MiB). */
export const DEFAULT_MAX_OUTPUT = 512 * 1024 * 1024

export const XZ_MAGIC = Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)
export const GZIP_MAGIC = Uint8Array.of(0x1f, 0x8b)

export function startsWith(bytes: Uint8Array, magic: Uint8Array, at = 0): boolean {
  if (bytes.length < at + magic.length) return false
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic[i]) return false
  return true
}

/**
 * One variable-length integer of an xz index (xz file format 1.0.4 §1.2: 7 bits per
 * byte, least significant first, at most 9 bytes), read at `pos.p` (advanced) before
 * `end`. `base` is added to error offsets, for an index read out of a larger file.
 * @throws InputError `INPUT_CORRUPT_XZ` for a number cut short or too long.
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

/**
 * Total uncompressed size of an xz file (all concatenated streams), read from the
 * stream indexes.
 * @throws InputError `INPUT_CORRUPT_XZ` when the footer or index is malformed.
 */
export function xzUncompressedSize(b: Uint8Array): number {
  let end = b.length
  let total = 0
  let streams = 0
  while (end > 0) {
    // skip stream padding (multiples of four NUL bytes)
    while (end >= 4 && b[end - 1] === 0 && b[end - 2] === 0 && b[end - 3] === 0 && b[end - 4] === 0) end -= 4
    if (end === 0) break
    if (end < 24 || b[end - 2] !== 0x59 || b[end - 1] !== 0x5a) {
      throw new InputError('INPUT_CORRUPT_XZ', 'xz data is truncated or has no stream footer', {offset: Math.max(0, end - 2)})
    }
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    const backward = (dv.getUint32(end - 8, true) + 1) * 4
    const indexStart = end - 12 - backward
    if (indexStart < 12 || b[indexStart] !== 0x00) {
      throw new InputError('INPUT_CORRUPT_XZ', 'xz index is missing or misplaced', {offset: Math.max(0, indexStart)})
    }
    const pos = {p: indexStart + 1}
    const records = readXzVarint(b, pos, end - 12)
    if (records > backward) throw new InputError('INPUT_CORRUPT_XZ', 'xz index has an impossible record count', {offset: indexStart})
    let unpadded = 0
    for (let i = 0; i < records; i++) {
      unpadded += Math.ceil(readXzVarint(b, pos, end - 12) / 4) * 4
      total += readXzVarint(b, pos, end - 12)
    }
    // The stream is: 12-byte header, blocks (padded), index, 12-byte footer.
    const streamStart = indexStart - unpadded - 12
    if (streamStart < 0 || !startsWith(b, XZ_MAGIC, streamStart)) {
      throw new InputError('INPUT_CORRUPT_XZ', 'xz stream header not where the index says', {offset: Math.max(0, streamStart)})
    }
    end = streamStart
    if (++streams > 1024) throw new InputError('INPUT_CORRUPT_XZ', 'too many concatenated xz streams', {offset: end})
  }
  return total
}

/**
 * Decompresses xz data after checking its declared size against `maxOutput`.
 * @throws InputError `INPUT_TOO_LARGE` (bomb), `INPUT_CORRUPT_XZ` (bad data).
 */
export function xzDecompress(b: Uint8Array, maxOutput = DEFAULT_MAX_OUTPUT): Buffer {
  const size = xzUncompressedSize(b)
  if (size > maxOutput) {
    throw new InputError('INPUT_TOO_LARGE', `xz data would expand to ${size} bytes, more than the limit of ${maxOutput}`)
  }
  try {
    const out = decompressSync(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
    if (out.length !== size) throw new Error(`expanded to ${out.length} bytes, index says ${size}`)
    return out
  } catch (e) {
    throw new InputError('INPUT_CORRUPT_XZ', `xz data is corrupt: ${(e as Error).message}`, {cause: e})
  }
}

/**
 * Compresses to xz with xz-utils (`xz -9 -T1`, CRC64): the npm xz bindings only store
 * data, while BTFHub archives are real xz. Single-threaded so output is deterministic.
 * @throws InputError `TOOL_MISSING` when xz is not installed.
 */
export function xzCompress(b: Uint8Array): Buffer {
  const r = spawnSync('xz', ['-9', '-T1', '--check=crc64', '-c'], {input: b, maxBuffer: 1 << 30})
  if (r.error) throw new InputError('TOOL_MISSING', `cannot run xz (install xz-utils): ${r.error.message}`, {cause: r.error})
  if (r.status !== 0) throw new InputError('TOOL_FAILED', `xz failed: ${r.stderr.toString().trim()}`)
  return r.stdout
}

/** Gunzips with an output cap. */
export function gzipDecompress(b: Uint8Array, maxOutput = DEFAULT_MAX_OUTPUT): Buffer {
  try {
    return gunzipSync(b, {maxOutputLength: maxOutput})
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InputError('INPUT_TOO_LARGE', `gzip data expands past the limit of ${maxOutput} bytes`, {cause: e})
    }
    throw new InputError('INPUT_CORRUPT_GZIP', `gzip data is corrupt: ${(e as Error).message}`, {cause: e})
  }
}
