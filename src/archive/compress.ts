/**
 * Decompression with limits. Every compressed input kcompat reads (BTFHub's
 * `.btf.tar.xz`, `.btf.xz`, gzip'd BTF) goes through here, so a decompression bomb is
 * refused before it is expanded rather than after memory runs out.
 *
 * For xz the uncompressed size is known without decompressing: the stream footer
 * points back to the index, whose records list each block's uncompressed size
 * (xz.ts walks them).
 */
import {gunzipSync} from 'node:zlib'
import {spawnSync} from 'node:child_process'
import {InputError} from '../errors.js'
import {lzmaXz, xzUncompressedSize} from './xz.js'

export {XZ_MAGIC, xzUncompressedSize} from './xz.js'

/** Default cap on what one decompression may produce (kernel BTF is ~5-10 MiB). */
export const DEFAULT_MAX_OUTPUT = 512 * 1024 * 1024

export const GZIP_MAGIC = Uint8Array.of(0x1f, 0x8b)

export function startsWith(bytes: Uint8Array, magic: Uint8Array, at = 0): boolean {
  if (bytes.length < at + magic.length) return false
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic[i]) return false
  return true
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
    const out = lzmaXz().decompressSync(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
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
