/**
 * Finding the BTF of a kernel in the image a distribution ships (`/boot/vmlinuz-*`).
 *
 * A kernel built with CONFIG_DEBUG_INFO_BTF carries its BTF in the `.BTF` section of
 * vmlinux; what the package ships is one of:
 *
 * - a plain ELF vmlinux (Debian ppc64el `/boot/vmlinux-*`): the `.BTF` section;
 * - an x86 bzImage (amd64, i386): a boot sector and real-mode setup code, then the
 *   protected-mode decompressor, whose payload is the compressed ELF vmlinux;
 * - an arm64 `Image` (Debian 12 ships it uncompressed and EFI-signed): the raw memory
 *   image, no section table, so the BTF blob is found by its header;
 * - a RISC-V `Image` (Debian 13 ships it uncompressed, as `/boot/vmlinux-*` with a PE/EFI
 *   header): like the arm64 Image, a raw memory image whose BTF blob is found by its header;
 * - an EFI zboot image (arm64/riscv with CONFIG_EFI_ZBOOT): a PE stub with a
 *   compressed `Image` inside;
 * - a whole-file compressed image (a gzip'd arm64 `Image`, as some distributions ship);
 * - anything else in which a compressed kernel is embedded (s390 images, older
 *   formats): like the kernel's `scripts/extract-vmlinux`, every compression magic is
 *   tried and the first output that is a kernel is used.
 *
 * Every decompression is capped (`maxOutput`, default {@link DEFAULT_MAX_OUTPUT}); a
 * payload that would expand past it is refused with `INPUT_TOO_LARGE` before or while it
 * is expanded, never after memory runs out.
 *
 * Error codes: `INPUT_UNKNOWN_IMAGE_FORMAT` (nothing kernel-like found),
 * `INPUT_BAD_BZIMAGE` / `INPUT_BAD_ZBOOT` (a header whose fields point outside the file),
 * `INPUT_CORRUPT_<FORMAT>` for a payload that does not decompress, `INPUT_TOO_LARGE`,
 * `TOOL_MISSING` (lzma and lzo payloads need `xz` / `lzop`, see below), plus `ELF_*`
 * from a corrupt vmlinux.
 */
import {spawnSync} from 'node:child_process'
import {crc32, inflateRawSync} from 'node:zlib'
import {createRequire} from 'node:module'
import {Decompress as ZstdDecompress, decompress as zstdDecompressOneShot} from 'fzstd'
import {parseBtf, parseHeader} from '../btf/decode.js'
import {ElfFile, isElf} from '../elf/elf.js'
import {InputError, KcompatError} from '../errors.js'
import {DEFAULT_MAX_OUTPUT, XZ_MAGIC, startsWith, xzDecompress} from './compress.js'
import {xzUncompressedSize} from './xz.js'

export type KernelCompression = 'gzip' | 'xz' | 'zstd' | 'lz4' | 'bzip2' | 'lzma' | 'lzo'

/** What an image was recognised as. */
export type KernelImageFormat =
  /** an ELF vmlinux */
  | 'elf'
  /** x86 bzImage (Documentation/arch/x86/boot.rst) */
  | 'bzImage'
  /** arm64 Image (Documentation/arch/arm64/booting.rst) */
  | 'arm64-Image'
  /** RISC-V Image (Documentation/arch/riscv/boot-image-header.rst) */
  | 'riscv-Image'
  /** EFI zboot PE image (drivers/firmware/efi/libstub/zboot-header.S) */
  | 'efi-zboot'
  /** s390 image (arch/s390/boot) */
  | 's390'
  /** the whole file is one compressed stream */
  | 'compressed'
  /** raw BTF, not a kernel image at all */
  | 'btf'
  /** not recognised; a compressed kernel or BTF blob was found by scanning */
  | 'unknown'

export interface KernelBtf {
  /** The raw `.BTF` bytes (a view into `vmlinux`), or undefined when the kernel has no BTF. */
  btf: Uint8Array | undefined
  /** What the input was recognised as (the outermost layer). */
  format: KernelImageFormat
  /** Compression of the payload that held the kernel, when there was one. */
  compression?: KernelCompression
  /** Byte offset of that compressed payload in the input. */
  payloadOffset?: number
  /** The decompressed layer, when the input held a compressed kernel. */
  inner?: KernelBtf
  /** The innermost kernel: an ELF vmlinux or a raw image (the input itself when uncompressed). */
  vmlinux: Uint8Array
  /** The parsed ELF file, when the innermost kernel is ELF. */
  elf?: ElfFile
  /** Byte offset of the BTF blob in `vmlinux` (the `.BTF` section offset for ELF). */
  btfOffset?: number
  /** One line per layer, outermost first, e.g. `bzImage: lz4 payload at byte offset 21196`. */
  steps: string[]
}

export interface KernelImageOptions {
  /** Cap on what any one decompression may produce. */
  maxOutput?: number
}

// ---------------------------------------------------------------------------------
// Compression formats and their magics (what the kernel's scripts/extract-vmlinux and
// scripts/Makefile.lib use):
//   gzip  1f 8b 08              RFC 1952
//   xz    fd 37 7a 58 5a 00     https://tukaani.org/xz/xz-file-format.txt
//   zstd  28 b5 2f fd           RFC 8878 (frame magic 0xFD2FB528, little-endian)
//   lz4   02 21 4c 18           lz4 legacy frame (lz4 -l), doc/lz4_Frame_format.md "Legacy frame"
//   bzip2 "BZh" [1-9] 31 41 59 26 53 59   (stream header + first block magic)
//   lzma  5d 00 00              .lzma ("LZMA_Alone"): properties byte 0x5d = lc3 lp0 pb2
//   lzo   89 "LZO" 00 0d 0a 1a 0a   lzop file format
// ---------------------------------------------------------------------------------
const MAGICS: {format: KernelCompression; magic: Uint8Array}[] = [
  {format: 'gzip', magic: Uint8Array.of(0x1f, 0x8b, 0x08)},
  {format: 'xz', magic: XZ_MAGIC},
  {format: 'zstd', magic: Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd)},
  {format: 'lz4', magic: Uint8Array.of(0x02, 0x21, 0x4c, 0x18)},
  {format: 'bzip2', magic: Uint8Array.of(0x42, 0x5a, 0x68)},
  {format: 'lzma', magic: Uint8Array.of(0x5d, 0x00, 0x00)},
  {format: 'lzo', magic: Uint8Array.of(0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a)},
]

/** The compression whose magic `bytes` starts with (bzip2 and lzma checked more strictly). */
export function detectCompression(bytes: Uint8Array, at = 0): KernelCompression | undefined {
  for (const {format, magic} of MAGICS) {
    if (!startsWith(bytes, magic, at)) continue
    if (format === 'bzip2' && !looksLikeBzip2(bytes, at)) continue
    if (format === 'lzma' && !looksLikeLzma(bytes, at)) continue
    return format
  }
  return undefined
}

function looksLikeBzip2(b: Uint8Array, at: number): boolean {
  // "BZh" + block size digit + the block header magic 0x314159265359 (pi)
  return (
    b.length >= at + 10 &&
    b[at + 3]! >= 0x31 && b[at + 3]! <= 0x39 &&
    b[at + 4] === 0x31 && b[at + 5] === 0x41 && b[at + 6] === 0x59 &&
    b[at + 7] === 0x26 && b[at + 8] === 0x53 && b[at + 9] === 0x59
  )
}

function looksLikeLzma(b: Uint8Array, at: number): boolean {
  // .lzma header: props (1), dictionary size (4, LE), uncompressed size (8, LE; all ones = unknown).
  // xz-utils writes a dictionary size of 2^n or 2^n + 2^(n-1); require that and >= 4 KiB.
  if (b.length < at + 13) return false
  const dict = (b[at + 1]! | (b[at + 2]! << 8) | (b[at + 3]! << 16) | (b[at + 4]! << 24)) >>> 0
  if (dict < 4096) return false
  const hi = 2 ** Math.floor(Math.log2(dict))
  return dict === hi || dict === hi + hi / 2
}

const u32le = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0
const u16le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8)

function tooLarge(format: string, max: number, cause?: unknown): InputError {
  return new InputError('INPUT_TOO_LARGE', `${format} data expands past the limit of ${max} bytes`, {cause})
}

function corrupt(format: KernelCompression, message: string, offset?: number, cause?: unknown): InputError {
  return new InputError(`INPUT_CORRUPT_${format.toUpperCase()}`, `${format} data is corrupt: ${message}`, {offset, cause})
}

/** Concatenates chunks into one buffer. */
function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

// ---------------------------------------------------------------------------------
// gzip (RFC 1952): 10-byte header (1f 8b, CM=8, FLG, MTIME, XFL, OS), then optional
// FEXTRA (2-byte length + data), FNAME and FCOMMENT (NUL-terminated), FHCRC (2 bytes);
// a raw deflate stream (RFC 1951); an 8-byte trailer with CRC32 and ISIZE (size mod 2^32).
// The header is parsed here and the deflate stream inflated raw, so data following the
// member (the rest of a kernel image) is ignored rather than an error.
// ---------------------------------------------------------------------------------
function gunzipMember(b: Uint8Array, max: number): {data: Uint8Array; end: number} {
  if (b.length < 18 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) throw corrupt('gzip', 'bad header', 0)
  const flg = b[3]!
  if (flg & 0xe0) throw corrupt('gzip', 'reserved header flags set', 3)
  let p = 10
  if (flg & 4) {
    p += 2 + u16le(b, p)
  }
  for (const bit of [8, 16]) {
    if (flg & bit) {
      while (p < b.length && b[p] !== 0) p++
      p++
    }
  }
  if (flg & 2) p += 2
  if (p >= b.length) throw corrupt('gzip', 'header runs past the end of the data', 0)
  let data: Buffer
  let consumed: number
  try {
    const r = inflateRawSync(b.subarray(p), {maxOutputLength: max, info: true}) as unknown as {
      buffer: Buffer
      engine: {bytesWritten: number}
    }
    data = r.buffer
    consumed = r.engine.bytesWritten
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('gzip', max, e)
    throw corrupt('gzip', (e as Error).message, p, e)
  }
  const t = p + consumed
  if (t + 8 > b.length) throw corrupt('gzip', 'trailer is missing', t)
  if (u32le(b, t) !== crc32(data)) throw corrupt('gzip', 'CRC32 mismatch', t)
  if (u32le(b, t + 4) !== data.length % 2 ** 32) throw corrupt('gzip', 'ISIZE mismatch', t + 4)
  return {data, end: t + 8}
}

// ---------------------------------------------------------------------------------
// xz (xz-file-format.txt): a stream is a 12-byte header (magic, 2 flag bytes, CRC32),
// blocks, an index and a 12-byte footer (CRC32, backward size, the same 2 flag bytes,
// "YZ"). The end of an embedded stream is found by its footer: 4-byte aligned, "YZ",
// flags equal to the header's and a matching CRC32 (a cheap filter; xz.ts's walk back
// from that footer through the index to the header decides). Then compress.ts's
// xzDecompress (size checked against the index first) does the work.
// ---------------------------------------------------------------------------------
function xzStreamEnd(b: Uint8Array): number | undefined {
  if (!startsWith(b, XZ_MAGIC) || b.length < 32) return undefined
  const f0 = b[6]
  const f1 = b[7]
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  let q = buf.indexOf('YZ', 22, 'latin1')
  for (let tries = 0; q >= 0 && tries < 100_000; tries++) {
    const end = q + 2
    if (end % 4 === 0 && b[q - 2] === f0 && b[q - 1] === f1 && u32le(b, q - 10) === crc32(b.subarray(q - 6, q))) {
      try {
        xzUncompressedSize(b.subarray(0, end))
        return end
      } catch {
        // not this footer
      }
    }
    q = buf.indexOf('YZ', q + 1, 'latin1')
  }
  return undefined
}

function unxz(b: Uint8Array, max: number): {data: Uint8Array; end: number} {
  const end = xzStreamEnd(b)
  if (end === undefined) throw corrupt('xz', 'no valid stream footer', 0)
  const stream = b.subarray(0, end)
  try {
    return {data: xzDecompress(stream, max), end}
  } catch (e) {
    // The x86 kernel is compressed with a BCJ filter (`xz --x86`, filter id 4), which
    // @napi-rs/lzma does not implement: hand such streams to xz-utils. The size was
    // already checked against the index by xzDecompress; maxBuffer enforces it again.
    if (!(e instanceof InputError && e.code === 'INPUT_CORRUPT_XZ' && /filter/i.test(e.message))) throw e
    return {data: viaTool('xz', 'xz', ['--decompress', '--stdout', '--quiet'], 'xz-utils', stream, max, [0]).data, end}
  }
}

// ---------------------------------------------------------------------------------
// zstd (RFC 8878, section 3.1.1): a frame is magic 0xFD2FB528, a Frame_Header_Descriptor
// (bits 7-6 Frame_Content_Size_flag, 5 Single_Segment_flag, 3 reserved, 2
// Content_Checksum_flag, 1-0 Dictionary_ID_flag), an optional Window_Descriptor, a
// Dictionary_ID (0/1/2/4 bytes) and a Frame_Content_Size (0/1/2/4/8 bytes; the 2-byte form
// has 256 added), then blocks with a 3-byte header (bit 0 Last_Block, bits 1-2 type: raw,
// RLE, compressed, reserved; bits 3-23 Block_Size; an RLE block has 1 byte of content),
// then an optional 4-byte checksum. Skippable frames (magic 0x184D2A5?) carry a 4-byte
// size. Walking the frames gives the exact end of the data and the declared sizes, so
// trailing data is cut off and a bomb is refused before decompressing.
// ---------------------------------------------------------------------------------
const ZSTD_MAGIC = 0xfd2fb528

interface ZstdFrame {
  start: number
  end: number
  /** Frame_Content_Size, when the frame declares it. */
  contentSize: number | undefined
  /** Content_Checksum (low 32 bits of XXH64 of the content), when the frame has one. */
  checksum: number | undefined
}

interface ZstdLayout {
  end: number
  frames: ZstdFrame[]
  /** Sum of the frames' declared content sizes, undefined when a frame does not declare it. */
  contentSize: number | undefined
  maxWindow: number
}

export function zstdLayout(b: Uint8Array): ZstdLayout {
  let p = 0
  let contentSize: number | undefined = 0
  let maxWindow = 0
  const frames: ZstdFrame[] = []
  while (p + 4 <= b.length) {
    const magic = u32le(b, p)
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (p + 8 > b.length) break
      p += 8 + u32le(b, p + 4)
      if (p > b.length) throw corrupt('zstd', 'skippable frame runs past the end of the data', p)
      continue
    }
    if (magic !== ZSTD_MAGIC) break
    const start = p
    if (p + 6 > b.length) throw corrupt('zstd', 'frame header is cut short', p)
    const fhd = b[p + 4]!
    if (fhd & 0x08) throw corrupt('zstd', 'reserved frame header bit set', p + 4)
    const fcsFlag = fhd >>> 6
    const single = (fhd >>> 5) & 1
    const checksum = (fhd >>> 2) & 1
    p += 5
    let window = 0
    if (!single) {
      const wd = b[p++]!
      const base = 2 ** (10 + (wd >>> 3))
      window = base + (base / 8) * (wd & 7)
    }
    p += [0, 1, 2, 4][fhd & 3]!
    const fcsSize = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag]!
    if (p + fcsSize > b.length) throw corrupt('zstd', 'frame header is cut short', start)
    let fcs: number | undefined
    if (fcsSize === 1) fcs = b[p]!
    else if (fcsSize === 2) fcs = u16le(b, p) + 256
    else if (fcsSize === 4) fcs = u32le(b, p)
    else if (fcsSize === 8) fcs = u32le(b, p) + u32le(b, p + 4) * 2 ** 32
    p += fcsSize
    if (single) window = fcs ?? 0
    maxWindow = Math.max(maxWindow, window)
    contentSize = fcs === undefined || contentSize === undefined ? undefined : contentSize + fcs
    for (;;) {
      if (p + 3 > b.length) throw corrupt('zstd', 'block header runs past the end of the data', p)
      const h = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)
      const type = (h >>> 1) & 3
      if (type === 3) throw corrupt('zstd', 'reserved block type', p)
      p += 3 + (type === 1 ? 1 : h >>> 3)
      if (p > b.length) throw corrupt('zstd', 'block runs past the end of the data', p)
      if (h & 1) break
    }
    if (checksum) p += 4
    if (p > b.length) throw corrupt('zstd', 'checksum runs past the end of the data', p)
    frames.push({start, end: p, contentSize: fcs, checksum: checksum ? u32le(b, p - 4) : undefined})
    if (frames.length > 10_000) throw corrupt('zstd', 'too many frames', p)
  }
  if (frames.length === 0) throw corrupt('zstd', 'no zstd frame', 0)
  return {end: p, frames, contentSize, maxWindow}
}

// XXH64 (xxHash doc/xxhash_spec.md), needed for zstd's Content_Checksum: the low 32
// bits of XXH64(content, seed 0). 64-bit arithmetic on (hi, lo) pairs of uint32.
const P1H = 0x9e3779b1, P1L = 0x85ebca87
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f
const P3H = 0x165667b1, P3L = 0x9e3779f9
const P4H = 0x85ebca77, P4L = 0xc2b2ae63
const P5H = 0x27d4eb2f, P5L = 0x165667c5
let rh = 0
let rl = 0
/** (ah,al) * (bh,bl) mod 2^64 into (rh, rl): 16-bit limbs for the low words' full product. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
  rl = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0
  rh = (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0
}
function add64(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl
  rl = lo >>> 0
  rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0
}
function rotl64(h: number, l: number, r: number): void {
  rh = ((h << r) | (l >>> (32 - r))) >>> 0
  rl = ((l << r) | (h >>> (32 - r))) >>> 0
}
/** round(acc, lane) = rotl(acc + lane * P2, 31) * P1 */
function xxRound(ah: number, al: number, lh: number, ll: number): void {
  mul64(lh, ll, P2H, P2L)
  add64(ah, al, rh, rl)
  rotl64(rh, rl, 31)
  mul64(rh, rl, P1H, P1L)
}

/** Low 32 bits of XXH64(data, seed 0). */
export function xxh64Low32(d: Uint8Array): number {
  const len = d.length
  let p = 0
  let ah: number, al: number
  if (len >= 32) {
    add64(P1H, P1L, P2H, P2L)
    let v1h = rh, v1l = rl
    let v2h = P2H, v2l = P2L
    let v3h = 0, v3l = 0
    let v4h = ~P1H >>> 0, v4l = (-P1L) >>> 0 // -P1 (two's complement; P1's low word is not 0)
    for (; p + 32 <= len; p += 32) {
      xxRound(v1h, v1l, u32le(d, p + 4), u32le(d, p))
      v1h = rh; v1l = rl
      xxRound(v2h, v2l, u32le(d, p + 12), u32le(d, p + 8))
      v2h = rh; v2l = rl
      xxRound(v3h, v3l, u32le(d, p + 20), u32le(d, p + 16))
      v3h = rh; v3l = rl
      xxRound(v4h, v4l, u32le(d, p + 28), u32le(d, p + 24))
      v4h = rh; v4l = rl
    }
    rotl64(v1h, v1l, 1); ah = rh; al = rl
    rotl64(v2h, v2l, 7); add64(ah, al, rh, rl); ah = rh; al = rl
    rotl64(v3h, v3l, 12); add64(ah, al, rh, rl); ah = rh; al = rl
    rotl64(v4h, v4l, 18); add64(ah, al, rh, rl); ah = rh; al = rl
    for (const [vh, vl] of [[v1h, v1l], [v2h, v2l], [v3h, v3l], [v4h, v4l]] as const) {
      xxRound(0, 0, vh, vl)
      ah = (ah ^ rh) >>> 0; al = (al ^ rl) >>> 0
      mul64(ah, al, P1H, P1L)
      add64(rh, rl, P4H, P4L); ah = rh; al = rl
    }
  } else {
    ah = P5H; al = P5L
  }
  add64(ah, al, Math.floor(len / 2 ** 32), len >>> 0); ah = rh; al = rl
  for (; p + 8 <= len; p += 8) {
    xxRound(0, 0, u32le(d, p + 4), u32le(d, p))
    ah = (ah ^ rh) >>> 0; al = (al ^ rl) >>> 0
    rotl64(ah, al, 27)
    mul64(rh, rl, P1H, P1L)
    add64(rh, rl, P4H, P4L); ah = rh; al = rl
  }
  if (p + 4 <= len) {
    mul64(0, u32le(d, p), P1H, P1L)
    ah = (ah ^ rh) >>> 0; al = (al ^ rl) >>> 0
    rotl64(ah, al, 23)
    mul64(rh, rl, P2H, P2L)
    add64(rh, rl, P3H, P3L); ah = rh; al = rl
    p += 4
  }
  for (; p < len; p++) {
    mul64(0, d[p]!, P5H, P5L)
    ah = (ah ^ rh) >>> 0; al = (al ^ rl) >>> 0
    rotl64(ah, al, 11)
    mul64(rh, rl, P1H, P1L); ah = rh; al = rl
  }
  // avalanche: ^= >>33, *= P2, ^= >>29, *= P3, ^= >>32
  al = (al ^ (ah >>> 1)) >>> 0
  mul64(ah, al, P2H, P2L); ah = rh; al = rl
  al = (al ^ ((al >>> 29) | (ah << 3))) >>> 0
  ah = (ah ^ (ah >>> 29)) >>> 0
  mul64(ah, al, P3H, P3L); ah = rh; al = rl
  al = (al ^ ah) >>> 0
  return al
}

/**
 * Decompresses the zstd frames at the start of `b` (trailing data ignored), capped at
 * `max`, frame by frame:
 *
 * - a frame that declares its size is decoded by fzstd into an exactly sized buffer;
 * - the kernel build compresses from a pipe, so its one frame does not declare a size,
 *   and `zstd -22 --ultra` gives it a 128 MiB window. fzstd's streaming decoder moves its
 *   whole window for every 128 KiB block (10+ s for a kernel), so such a frame is decoded
 *   one-shot into a buffer of `expected` bytes when the caller knows the size (the
 *   bzImage trailer), else by the system's `zstd` (output capped), else, slowly but
 *   correctly, by fzstd's streaming decoder with a running count.
 *
 * fzstd does not check sizes or checksums when it writes into a given buffer (a frame
 * that decodes to fewer or more bytes goes unnoticed), so every frame with a
 * Content_Checksum (the zstd CLI's default; the kernel's frames have one) is verified
 * here with XXH64.
 */
export function unzstd(b: Uint8Array, max: number, expected?: number): {data: Uint8Array; end: number} {
  const {end, frames, contentSize, maxWindow} = zstdLayout(b)
  if (contentSize !== undefined && contentSize > max) throw tooLarge('zstd', max)
  if (maxWindow > Math.max(max, 1 << 27)) {
    throw new InputError('INPUT_TOO_LARGE', `zstd window of ${maxWindow} bytes is larger than allowed`, {offset: 0})
  }
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (const f of frames) {
      const input = b.subarray(f.start, f.end)
      const size = f.contentSize ?? (frames.length === 1 ? expected : undefined)
      let out: Uint8Array | undefined
      if (size !== undefined) {
        if (total + size > max) throw tooLarge('zstd', max)
        out = zstdDecompressOneShot(input, new Uint8Array(size))
        if (out.length !== size) throw new Error(`frame expanded to ${out.length} bytes, expected ${size}`)
      } else {
        try {
          out = viaTool('zstd', 'zstd', ['--decompress', '--stdout', '--quiet'], 'zstd', input, max - total, [0]).data
        } catch (e) {
          if (!(e instanceof InputError && e.code === 'TOOL_MISSING')) throw e
        }
        if (!out) {
          const parts: Uint8Array[] = []
          let n = 0
          const d = new ZstdDecompress((chunk) => {
            n += chunk.length
            if (total + n > max) throw tooLarge('zstd', max)
            parts.push(chunk)
          })
          for (let at = 0; at < input.length; at += 1 << 20) {
            d.push(input.subarray(at, Math.min(input.length, at + (1 << 20))), at + (1 << 20) >= input.length)
          }
          out = concat(parts, n)
        }
      }
      if (f.checksum !== undefined && xxh64Low32(out) !== f.checksum) {
        throw new Error(
          `content checksum mismatch in the frame at byte ${f.start}${f.contentSize === undefined && size !== undefined ? ` (or it does not expand to the ${size} bytes expected)` : ''}`,
        )
      }
      chunks.push(out)
      total += out.length
    }
  } catch (e) {
    if (e instanceof KcompatError) throw e
    throw corrupt('zstd', (e as Error).message, undefined, e)
  }
  return {data: chunks.length === 1 ? chunks[0]! : concat(chunks, total), end}
}

// ---------------------------------------------------------------------------------
// lz4 legacy frame (lz4 doc/lz4_Frame_format.md, "Legacy frame"; what the kernel's
// `lz4 -l` build step writes and lib/decompress_unlz4.c reads): magic 0x184C2102, then
// blocks of [4-byte LE compressed size][lz4 block]; every block decompresses on its own
// to 8 MiB except the last, which is shorter. The frame ends at the end of the data, at a
// size that cannot be a block (the kernel's 4-byte length trailer, other data), or after
// a short block; a repeated magic starts another frame.
//
// An lz4 block (doc/lz4_Block_format.md) is a series of sequences: a token (high nibble
// literal length, low nibble match length - 4; 15 means more length bytes follow, each
// added, until one is not 255), the literals, a 2-byte LE offset back into the output
// (0 is invalid), then the match is copied (it may overlap its own output). The last
// sequence has literals only.
// ---------------------------------------------------------------------------------
const LZ4_LEGACY_MAGIC = 0x184c2102
const LZ4_LEGACY_BLOCK = 8 << 20
const LZ4_MAX_COMPRESSED_BLOCK = LZ4_LEGACY_BLOCK + Math.floor(LZ4_LEGACY_BLOCK / 255) + 16

/** Decodes one lz4 block `src[sp, send)` into `dst` at `dp` (at most up to `dend`); returns the new output end. */
function lz4Block(src: Uint8Array, sp: number, send: number, dst: Uint8Array, dp: number, dend: number): number {
  const dstart = dp
  const bad = (what: string): never => {
    throw corrupt('lz4', what, sp)
  }
  for (;;) {
    if (sp >= send) bad('block ends inside a sequence')
    const token = src[sp++]!
    let lit = token >>> 4
    if (lit === 15) {
      let x: number
      do {
        if (sp >= send) bad('literal length runs past the block')
        x = src[sp++]!
        lit += x
      } while (x === 255)
    }
    if (sp + lit > send) bad('literals run past the block')
    if (dp + lit > dend) bad('block decompresses to more than its maximum size')
    if (lit < 32) for (let i = 0; i < lit; i++) dst[dp++] = src[sp++]!
    else {
      dst.set(src.subarray(sp, sp + lit), dp)
      sp += lit
      dp += lit
    }
    if (sp === send) return dp
    if (sp + 2 > send) bad('match offset runs past the block')
    const off = src[sp]! | (src[sp + 1]! << 8)
    sp += 2
    if (off === 0 || off > dp - dstart) bad(`match offset ${off} points before the block`)
    let len = token & 15
    if (len === 15) {
      let x: number
      do {
        if (sp >= send) bad('match length runs past the block')
        x = src[sp++]!
        len += x
      } while (x === 255)
    }
    len += 4
    if (dp + len > dend) bad('block decompresses to more than its maximum size')
    let m = dp - off
    if (off >= len && len >= 32) {
      dst.copyWithin(dp, m, m + len)
      dp += len
    } else {
      for (let i = 0; i < len; i++) dst[dp++] = dst[m++]!
    }
  }
}

/** Decompresses an lz4 legacy frame at the start of `b`; `expected` (if known) presizes the output. */
export function unlz4Legacy(b: Uint8Array, max: number, expected?: number): {data: Uint8Array; end: number} {
  if (b.length < 4 || u32le(b, 0) !== LZ4_LEGACY_MAGIC) throw corrupt('lz4', 'not an lz4 legacy frame', 0)
  let out = new Uint8Array(Math.min(max, expected ?? 16 << 20) + 0)
  let total = 0
  let p = 4
  let blocks = 0
  while (p + 4 <= b.length) {
    const size = u32le(b, p)
    if (size === LZ4_LEGACY_MAGIC) {
      p += 4
      continue
    }
    if (size === 0 || size > LZ4_MAX_COMPRESSED_BLOCK || p + 4 + size > b.length) break
    const room = Math.min(LZ4_LEGACY_BLOCK, max - total)
    if (room <= 0) throw tooLarge('lz4', max)
    if (out.length < total + room) {
      const bigger = new Uint8Array(Math.min(max, Math.max(out.length * 2, total + LZ4_LEGACY_BLOCK)))
      bigger.set(out.subarray(0, total))
      out = bigger
    }
    let end: number
    try {
      end = lz4Block(b, p + 4, p + 4 + size, out, total, total + room)
    } catch (e) {
      // a block that fills the remaining room exactly and still has input left is a bomb
      if (room < LZ4_LEGACY_BLOCK && e instanceof InputError && /maximum size/.test(e.message)) throw tooLarge('lz4', max, e)
      throw e
    }
    const n = end - total
    total = end
    p += 4 + size
    blocks++
    if (n < LZ4_LEGACY_BLOCK) break
  }
  if (blocks === 0) throw corrupt('lz4', 'frame has no block', 4)
  return {data: out.subarray(0, total), end: p}
}

// ---------------------------------------------------------------------------------
// bzip2: decoded by the pure-JS `seek-bzip` package (first stream only, so trailing data is
// ignored). Its output goes through a writer that enforces the cap, and its input through
// a reader that throws at the end of the data instead of returning undefined.
// ---------------------------------------------------------------------------------
interface SeekBzip {
  decode(
    input: {readByte(): number; read(buf: Uint8Array, off: number, len: number): number; seek(pos: number): void; eof(): boolean},
    output: {writeByte(b: number): void},
    multistream?: boolean,
  ): void
}
const requireCjs = createRequire(import.meta.url)
let seekBzip: SeekBzip | undefined

export function bunzip2(b: Uint8Array, max: number): {data: Uint8Array} {
  seekBzip ??= requireCjs('seek-bzip') as SeekBzip
  let out = new Uint8Array(1 << 20)
  let n = 0
  let pos = 0
  const input = {
    readByte(): number {
      if (pos >= b.length) throw corrupt('bzip2', 'data ends inside the stream', b.length)
      return b[pos++]!
    },
    read(buf: Uint8Array, off: number, len: number): number {
      const n = Math.min(len, b.length - pos)
      if (n <= 0) return -1
      buf.set(b.subarray(pos, pos + n), off)
      pos += n
      return n
    },
    seek(p: number): void {
      pos = p
    },
    eof(): boolean {
      return pos >= b.length
    },
  }
  const output = {
    writeByte(x: number): void {
      if (n >= out.length) {
        if (n >= max) throw tooLarge('bzip2', max)
        const bigger = new Uint8Array(Math.min(max, out.length * 2))
        bigger.set(out)
        out = bigger
      }
      out[n++] = x
    },
  }
  try {
    seekBzip.decode(input, output, false)
  } catch (e) {
    if (e instanceof KcompatError) throw e
    throw corrupt('bzip2', (e as Error).message, undefined, e)
  }
  return {data: out.subarray(0, n)}
}

// ---------------------------------------------------------------------------------
// lzma (.lzma / LZMA_Alone, as `lzma -9` writes it for the kernel: 13-byte header with the
// uncompressed size usually "unknown", end-of-payload marker) and lzo (the lzop file
// format) go to the system tools: @napi-rs/lzma's lzma decoder runs to the stream's end
// even past the size it was told, so it cannot enforce a cap, and there is no maintained
// pure-JS lzop decoder. `xz --single-stream` ignores data after the stream; the output is
// capped by spawnSync's maxBuffer (the child is killed when it is exceeded).
// ---------------------------------------------------------------------------------
function viaTool(
  format: KernelCompression,
  tool: string,
  args: string[],
  pkg: string,
  b: Uint8Array,
  max: number,
  okStatus: number[],
): {data: Uint8Array} {
  const r = spawnSync(tool, args, {input: b, maxBuffer: max + 1})
  const err = r.error as NodeJS.ErrnoException | undefined
  if (err?.code === 'ENOENT') {
    throw new InputError('TOOL_MISSING', `${format} data needs '${tool}' (install ${pkg}), which is not installed`, {cause: err})
  }
  if (err?.code === 'ENOBUFS' || (r.stdout && r.stdout.length > max)) throw tooLarge(format, max, err)
  if (r.status !== null && r.status !== 0 && r.stdout && r.stdout.length >= max) throw tooLarge(format, max)
  if (err) throw corrupt(format, err.message, undefined, err)
  if (r.status === null || !okStatus.includes(r.status) || r.stdout.length === 0) {
    throw corrupt(format, `${tool} failed: ${r.stderr.toString().trim() || `exit ${r.status}`}`)
  }
  return {data: r.stdout}
}

function unlzma(b: Uint8Array, max: number): {data: Uint8Array} {
  if (b.length >= 13) {
    const lo = u32le(b, 5)
    const hi = u32le(b, 9)
    if (!(lo === 0xffffffff && hi === 0xffffffff) && lo + hi * 2 ** 32 > max) throw tooLarge('lzma', max)
  }
  return viaTool('lzma', 'xz', ['--format=lzma', '--decompress', '--stdout', '--single-stream', '--quiet'], 'xz-utils', b, max, [0])
}

function unlzo(b: Uint8Array, max: number): {data: Uint8Array} {
  // lzop exits 2 (warning) on trailing garbage after the file
  return viaTool('lzo', 'lzop', ['--decompress', '--stdout', '--quiet'], 'lzop', b, max, [0, 2])
}

/**
 * Decompresses the stream of `format` at the start of `bytes`, ignoring whatever
 * follows it.
 * @throws InputError `INPUT_CORRUPT_<FORMAT>`, `INPUT_TOO_LARGE`, `TOOL_MISSING`.
 */
export function decompressPrefix(
  format: KernelCompression,
  bytes: Uint8Array,
  maxOutput = DEFAULT_MAX_OUTPUT,
  expectedSize?: number,
): Uint8Array {
  switch (format) {
    case 'gzip':
      return gunzipMember(bytes, maxOutput).data
    case 'xz':
      return unxz(bytes, maxOutput).data
    case 'zstd':
      return unzstd(bytes, maxOutput, expectedSize).data
    case 'lz4':
      return unlz4Legacy(bytes, maxOutput, expectedSize).data
    case 'bzip2':
      return bunzip2(bytes, maxOutput).data
    case 'lzma':
      return unlzma(bytes, maxOutput).data
    case 'lzo':
      return unlzo(bytes, maxOutput).data
  }
}

// ---------------------------------------------------------------------------------
// BTF in a raw image. The kernel links `.BTF` into its read-only data; an image without a
// section table (arm64 Image, an s390 or objcopy'd binary) still holds the blob verbatim.
// A candidate is every occurrence of the magic 0xeB9F (either byte order) followed by
// version 1 and flags 0 (include/uapi/linux/btf.h, Documentation/bpf/btf.rst section 2)
// whose header describes type and string sections inside the image, with a string
// section that starts and ends with NUL. Its length is hdr_len plus the end of the later
// section. Candidates that decode completely with parseBtf win; the largest is kept.
// ---------------------------------------------------------------------------------
export interface BtfBlob {
  offset: number
  length: number
}

export function findBtfBlob(image: Uint8Array, maxCandidates = 64): BtfBlob | undefined {
  const buf = Buffer.from(image.buffer, image.byteOffset, image.byteLength)
  const hits: number[] = []
  for (const pat of [Buffer.of(0x9f, 0xeb, 0x01, 0x00), Buffer.of(0xeb, 0x9f, 0x01, 0x00)]) {
    for (let at = buf.indexOf(pat); at >= 0 && hits.length < 100_000; at = buf.indexOf(pat, at + 1)) hits.push(at)
  }
  hits.sort((a, b) => a - b)
  let best: BtfBlob | undefined
  let tried = 0
  for (const at of hits) {
    let length: number
    try {
      const {header} = parseHeader(image.subarray(at))
      if (header.typeLen === 0 || header.strLen === 0) continue
      length = header.hdrLen + Math.max(header.typeOff + header.typeLen, header.strOff + header.strLen)
      const s = at + header.hdrLen + header.strOff
      if (image[s] !== 0 || image[s + header.strLen - 1] !== 0) continue
    } catch {
      continue
    }
    if (best && length <= best.length) continue
    if (++tried > maxCandidates) break
    try {
      parseBtf(image.subarray(at, at + length))
      best = {offset: at, length}
    } catch {
      // a chance match or a damaged blob
    }
  }
  return best
}

// ---------------------------------------------------------------------------------
// Container formats.
// ---------------------------------------------------------------------------------

/**
 * x86 boot protocol (Documentation/arch/x86/boot.rst): the real-mode header at 0x1f1
 * has setup_sects (1 byte; 0 means 4), and "HdrS" at 0x202 followed by the protocol
 * version (u16 at 0x206). From protocol 2.08 on, payload_offset (u32 at 0x248) and
 * payload_length (u32 at 0x24c) locate the compressed vmlinux relative to the start of
 * the protected-mode code, which follows the (setup_sects + 1) * 512 bytes of boot
 * sector and setup. The x86 build appends the uncompressed size as a 4-byte LE number
 * to every format but gzip (whose trailer has it), which arch/x86/boot/compressed/mkpiggy.c
 * reads as the payload's last 4 bytes.
 */
export interface BzImageHeader {
  version: number
  setupSects: number
  payloadOffset: number
  payloadLength: number
}

export function parseBzImageHeader(b: Uint8Array): BzImageHeader | undefined {
  if (b.length < 0x250 || b[0x202] !== 0x48 || b[0x203] !== 0x64 || b[0x204] !== 0x72 || b[0x205] !== 0x53) return undefined
  const version = u16le(b, 0x206)
  const setupSects = b[0x1f1]! || 4
  if (version < 0x208) {
    throw new InputError('INPUT_BAD_BZIMAGE', `bzImage boot protocol ${version >> 8}.${version & 0xff} has no payload fields (2.08+)`, {
      offset: 0x206,
    })
  }
  const pm = (setupSects + 1) * 512
  const payloadOffset = pm + u32le(b, 0x248)
  const payloadLength = u32le(b, 0x24c)
  if (payloadLength === 0 || payloadOffset + payloadLength > b.length) {
    throw new InputError(
      'INPUT_BAD_BZIMAGE',
      `bzImage payload (${payloadOffset}+${payloadLength}) lies outside the ${b.length}-byte image`,
      {offset: 0x248},
    )
  }
  return {version, setupSects, payloadOffset, payloadLength}
}

/** arm64 Image header (Documentation/arch/arm64/booting.rst): magic "ARM\x64" at 0x38. */
export function isArm64Image(b: Uint8Array): boolean {
  return b.length >= 64 && b[0x38] === 0x41 && b[0x39] === 0x52 && b[0x3a] === 0x4d && b[0x3b] === 0x64
}

/**
 * RISC-V Image header (Documentation/arch/riscv/boot-image-header.rst): `magic2`, the
 * bytes "RSC\x05", at 56 (the older `magic` "RISCV\0\0\0" at 48 is deprecated there).
 */
export function isRiscvImage(b: Uint8Array): boolean {
  return b.length >= 64 && b[56] === 0x52 && b[57] === 0x53 && b[58] === 0x43 && b[59] === 0x05
}

/**
 * EFI zboot (drivers/firmware/efi/libstub/zboot-header.S): "MZ", then "zimg" at 4, the
 * payload offset (u32 at 8) and size (u32 at 12), and the compression name (NUL-padded,
 * at 24). The payload is the compressed Image.
 */
function parseZboot(b: Uint8Array): {offset: number; length: number; type: string} | undefined {
  if (b.length < 64 || b[0] !== 0x4d || b[1] !== 0x5a || !startsWith(b, Uint8Array.of(0x7a, 0x69, 0x6d, 0x67), 4)) return undefined
  const offset = u32le(b, 8)
  const length = u32le(b, 12)
  let type = ''
  for (let i = 24; i < 56 && b[i] !== 0; i++) type += String.fromCharCode(b[i]!)
  if (length === 0 || offset + length > b.length) {
    throw new InputError('INPUT_BAD_ZBOOT', `zboot payload (${offset}+${length}) lies outside the ${b.length}-byte image`, {offset: 8})
  }
  return {offset, length, type}
}

/** s390 image (arch/s390/boot/head.S): "S390EP" at 0x10008. */
function isS390Image(b: Uint8Array): boolean {
  return startsWith(b, Uint8Array.of(0x53, 0x33, 0x39, 0x30, 0x45, 0x50), 0x10008)
}

function fromElf(bytes: Uint8Array): KernelBtf {
  const elf = ElfFile.parse(bytes)
  const sec = elf.section('.BTF')
  const btf = sec && sec.size > 0 ? elf.sectionData(sec) : undefined
  const bits = bytes[4] === 2 ? 64 : 32
  return {
    btf,
    format: 'elf',
    vmlinux: bytes,
    elf,
    btfOffset: btf ? sec!.offset : undefined,
    steps: [`ELF${bits} vmlinux: ${btf ? `.BTF section (${btf.length} bytes at ${sec!.offset})` : 'no .BTF section'}`],
  }
}

function fromRawImage(bytes: Uint8Array, format: KernelImageFormat, what: string): KernelBtf {
  const blob = findBtfBlob(bytes)
  return {
    btf: blob ? bytes.subarray(blob.offset, blob.offset + blob.length) : undefined,
    format,
    vmlinux: bytes,
    btfOffset: blob?.offset,
    steps: [`${what}: ${blob ? `BTF blob (${blob.length} bytes) at byte offset ${blob.offset}` : 'no BTF blob'}`],
  }
}

function wrap(
  format: KernelImageFormat,
  compression: KernelCompression,
  payloadOffset: number,
  inner: KernelBtf,
  what: string,
): KernelBtf {
  return {
    btf: inner.btf,
    format,
    compression,
    payloadOffset,
    inner,
    vmlinux: inner.vmlinux,
    elf: inner.elf,
    btfOffset: inner.btfOffset,
    steps: [`${what}: ${compression} payload at byte offset ${payloadOffset}`, ...inner.steps],
  }
}

/** Whether decompressed bytes are a kernel this module can look into. */
function isKernelLike(b: Uint8Array): boolean {
  return isElf(b) || isArm64Image(b) || isRiscvImage(b) || parseZbootSafe(b) !== undefined
}

function parseZbootSafe(b: Uint8Array): ReturnType<typeof parseZboot> {
  try {
    return parseZboot(b)
  } catch {
    return undefined
  }
}

const MAX_SCAN_TRIES = 16

function analyze(bytes: Uint8Array, max: number, depth: number): KernelBtf {
  if (depth > 4) throw new InputError('INPUT_UNKNOWN_IMAGE_FORMAT', 'too many nested compressed layers')
  if (isElf(bytes)) return fromElf(bytes)

  const bz = parseBzImageHeader(bytes)
  if (bz) {
    const payload = bytes.subarray(bz.payloadOffset, bz.payloadOffset + bz.payloadLength)
    const compression = detectCompression(payload)
    if (!compression) {
      throw new InputError('INPUT_UNKNOWN_IMAGE_FORMAT', 'bzImage payload is in no known compression format', {offset: bz.payloadOffset})
    }
    const expected = compression !== 'gzip' && payload.length >= 4 ? u32le(payload, payload.length - 4) : undefined
    const body = compression !== 'gzip' && payload.length >= 4 ? payload.subarray(0, payload.length - 4) : payload
    const out = decompressPrefix(compression, body, max, expected)
    if (expected !== undefined && out.length % 2 ** 32 !== expected) {
      throw corrupt(compression, `bzImage payload expanded to ${out.length} bytes, its trailer says ${expected}`, bz.payloadOffset)
    }
    return wrap('bzImage', compression, bz.payloadOffset, analyze(out, max, depth + 1), 'bzImage')
  }

  const zb = parseZboot(bytes)
  if (zb) {
    const payload = bytes.subarray(zb.offset, zb.offset + zb.length)
    const compression = detectCompression(payload)
    if (!compression) {
      throw new InputError('INPUT_UNKNOWN_IMAGE_FORMAT', `zboot payload (${zb.type}) is in no known compression format`, {offset: zb.offset})
    }
    return wrap('efi-zboot', compression, zb.offset, analyze(decompressPrefix(compression, payload, max), max, depth + 1), `EFI zboot (${zb.type})`)
  }

  if (isArm64Image(bytes)) return fromRawImage(bytes, 'arm64-Image', 'arm64 Image')
  if (isRiscvImage(bytes)) return fromRawImage(bytes, 'riscv-Image', 'RISC-V Image')

  const whole = detectCompression(bytes)
  if (whole) {
    return wrap('compressed', whole, 0, analyze(decompressPrefix(whole, bytes, max), max, depth + 1), 'compressed file')
  }

  const s390 = isS390Image(bytes)
  if (!s390 && bytes.length >= 24 && (bytes[0] === 0x9f || bytes[0] === 0xeb)) {
    const blob = findBtfBlob(bytes, 1)
    if (blob?.offset === 0) {
      return {btf: bytes.subarray(0, blob.length), format: 'btf', vmlinux: bytes, btfOffset: 0, steps: ['raw BTF']}
    }
  }

  // Generic scan (scripts/extract-vmlinux): every compression magic at every offset, in
  // a fixed order; the first output that is a kernel wins. Outputs that decompress but
  // are not recognised (an s390 payload is a raw binary) are kept as the fallback.
  const format: KernelImageFormat = s390 ? 's390' : 'unknown'
  const what = s390 ? 's390 image' : 'image'
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let fallback: {compression: KernelCompression; offset: number; data: Uint8Array} | undefined
  // A candidate that is too large or needs a missing tool is skipped (a chance match in
  // the image must not end the scan), but reported if nothing else is found.
  let blocked: InputError | undefined
  for (const {format: compression, magic} of MAGICS) {
    let tries = 0
    for (let at = buf.indexOf(magic); at >= 0 && tries < MAX_SCAN_TRIES; at = buf.indexOf(magic, at + 1)) {
      if (detectCompression(bytes, at) !== compression) continue
      tries++
      let out: Uint8Array
      try {
        out = decompressPrefix(compression, bytes.subarray(at), max)
      } catch (e) {
        if (e instanceof InputError && (e.code === 'TOOL_MISSING' || (e.code === 'INPUT_TOO_LARGE' && blocked?.code !== 'TOOL_MISSING'))) {
          blocked ??= e
          if (e.code === 'TOOL_MISSING') blocked = e
        }
        continue
      }
      if (isKernelLike(out)) return wrap(format, compression, at, analyze(out, max, depth + 1), what)
      if (!fallback || out.length > fallback.data.length) fallback = {compression, offset: at, data: out}
    }
  }
  // An uncompressed image can hold compressed data that is not the kernel (an initramfs,
  // firmware, a chance match): a BTF blob in the input itself wins over a decompressed
  // fallback without one.
  const raw = fromRawImage(bytes, format, what)
  if (fallback) {
    const inner = fromRawImage(fallback.data, 'unknown', 'raw kernel binary')
    if (inner.btf || !raw.btf) return wrap(format, fallback.compression, fallback.offset, inner, what)
  }
  if (raw.btf) return raw
  if (blocked) throw blocked
  if (s390) return raw
  throw new InputError(
    'INPUT_UNKNOWN_IMAGE_FORMAT',
    'not a kernel image: no ELF, bzImage, arm64 Image or zboot header, no compressed kernel and no BTF inside',
    {offset: 0},
  )
}

/**
 * Finds the kernel BTF in a kernel image (`/boot/vmlinuz-*`, a vmlinux, ...), see the
 * module comment for the formats. `btf` is undefined for a kernel built without BTF.
 * @throws InputError `INPUT_UNKNOWN_IMAGE_FORMAT`, `INPUT_BAD_BZIMAGE`,
 *   `INPUT_BAD_ZBOOT`, `INPUT_CORRUPT_*`, `INPUT_TOO_LARGE`, `TOOL_MISSING`; ElfError.
 */
export function extractKernelBtf(image: Uint8Array, options: KernelImageOptions = {}): KernelBtf {
  return analyze(image, options.maxOutput ?? DEFAULT_MAX_OUTPUT, 0)
}
