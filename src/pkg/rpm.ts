/**
 * Reading RPM packages (`.rpm`) without rpm, streamed: the headers are read with
 * positioned reads, the payload is decompressed and walked as it streams by, and only
 * the members the caller asks for are held.
 *
 * Format (rpm's docs/manual/format.md and lib/header.c, "RPM file format"):
 *
 * 1. The lead, 96 bytes: magic `ed ab ee db`, major and minor format version (3.0 or
 *    4.0), type (0 binary, 1 source), arch number, a 66-byte name, OS number, signature
 *    type (5: a header structure follows), 16 reserved bytes. Only the magic and the
 *    signature type matter today; rpm itself ignores the rest.
 * 2. The signature header, padded with zeros to a multiple of 8 bytes.
 * 3. The main header.
 * 4. The payload: a cpio archive (cpio.ts), compressed as PAYLOADCOMPRESSOR says.
 *
 * A header is: magic `8e ad e8 01`, 4 reserved bytes, the number of index entries
 * (nindex) and the size of the data store (hsize) as big-endian 32-bit numbers; then
 * nindex entries of 16 bytes (tag, type, offset into the store, count; big-endian 32-bit
 * each); then the store. Types: 0 NULL, 1 CHAR, 2 INT8, 3 INT16, 4 INT32, 5 INT64
 * (big-endian integers, `count` of them), 6 STRING (one NUL-terminated string), 7 BIN
 * (`count` bytes), 8 STRING_ARRAY and 9 I18NSTRING (`count` NUL-terminated strings).
 * Limits as rpm's: at most 0xffff entries and a 256 MiB store (HEADER_TAGS_MAX,
 * HEADER_DATA_MAX in lib/header_internal.h).
 *
 * Checks, all before any member is handed out:
 * - the signature header's SIZE (1000) or LONGSIZE (270), the size of main header +
 *   payload, against the file: a shorter file is `RPM_TRUNCATED`;
 * - its SHA256 (273), the hex sha256 of the main header's bytes: `RPM_CHECKSUM`;
 * - while the payload streams: the main header's PAYLOADDIGEST (5092, sha256 per
 *   PAYLOADDIGESTALGO 5093 = 8) over the compressed payload, when it is read to its end;
 *   and each member the caller reads against FILEDIGESTS (1035, sha256 when
 *   FILEDIGESTALGO 5011 is 8; md5 when absent, as RPM 4.x before 4.14 wrote it).
 *
 * File names come from DIRNAMES[DIRINDEXES[i]] + BASENAMES[i] (or OLDFILENAMES in old
 * packages); sizes from LONGFILESIZES (5008) when present, else FILESIZES (1028); modes
 * from FILEMODES (1030); FILEFLAGS (1037) marks %ghost files (bit 64), which are listed
 * in the header but absent from the payload (RHEL 8's kernel-core lists
 * /boot/vmlinuz-<release> as a ghost, created at install time from
 * /lib/modules/<release>/vmlinuz).
 *
 * Payload compression: gzip (zlib, streamed), zstd (the `zstd -dc` tool as a subprocess
 * when installed, else fzstd in JavaScript; both streamed), xz and lzma (`xz -dc`,
 * streamed), bzip2 (`bzip2 -dc`). Node 20's zlib has no zstd (it came in Node 22.15). Memory is the header,
 * one input chunk, the decompressor's window and the members kept.
 *
 * Error codes: `RPM_BAD_LEAD`, `RPM_BAD_HEADER` (with the byte offset), `RPM_TRUNCATED`,
 * `RPM_CHECKSUM`, `RPM_UNSUPPORTED` (payload format other than cpio, unknown
 * compressor), `TOOL_MISSING` (xz/bzip2 absent), `INPUT_CORRUPT_<FORMAT>` (the payload
 * does not decompress), and cpio.ts's codes.
 */
import {spawn, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {type FileHandle, open} from 'node:fs/promises'
import {createGunzip} from 'node:zlib'
import {Decompress as ZstdDecompress} from 'fzstd'
import {InputError, KcompatError} from '../errors.js'
import {type CpioEntry, type CpioHeaderFile, cpioEntries} from './cpio.js'

export const RPM_LEAD_MAGIC = Uint8Array.of(0xed, 0xab, 0xee, 0xdb)
export const RPM_HEADER_MAGIC = Uint8Array.of(0x8e, 0xad, 0xe8, 0x01)
const LEAD_SIZE = 96
const HEADER_TAGS_MAX = 0xffff
const HEADER_DATA_MAX = 0x0fffffff

/** Header tags this reader uses (rpm's include/rpm/rpmtag.h). */
export const RPMTAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  OS: 1021,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  FILESIZES: 1028,
  FILEMODES: 1030,
  FILEDIGESTS: 1035,
  FILELINKTOS: 1036,
  FILEFLAGS: 1037,
  SOURCERPM: 1044,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  PAYLOADFLAGS: 1126,
  LONGFILESIZES: 5008,
  FILEDIGESTALGO: 5011,
  PAYLOADDIGEST: 5092,
  PAYLOADDIGESTALGO: 5093,
} as const

/** Signature header tags (rpm's RPMSIGTAG_*). */
export const RPMSIGTAG = {SIZE: 1000, MD5: 1004, PAYLOADSIZE: 1007, LONGSIZE: 270, SHA1: 269, SHA256: 273} as const

/** RPMFILE_GHOST: listed in the header, not in the payload. */
const RPMFILE_GHOST = 64
/** PGPHASHALGO_* (rpm's include/rpm/rpmpgp.h) → node's hash names. */
const HASH_ALGO: Record<number, string> = {1: 'md5', 2: 'sha1', 8: 'sha256', 9: 'sha384', 10: 'sha512', 11: 'sha224'}

export type RpmValue = string | string[] | number[] | bigint[] | Uint8Array

/** One parsed header: its tags' values, and its bytes (for digests). */
export interface RpmHeader {
  tags: Map<number, RpmValue>
  /** Byte offset of the header in the file, and its length (intro + index + store). */
  offset: number
  length: number
}

export interface RpmFile extends CpioHeaderFile {
  /** Hex digest from FILEDIGESTS (empty for directories, symlinks). */
  digest: string
  /** Target of a symlink. */
  linkTo: string
  /** %ghost: listed, not in the payload. */
  ghost: boolean
}

export type RpmCompressor = 'gzip' | 'xz' | 'lzma' | 'zstd' | 'bzip2' | 'none'

export interface RpmPackage {
  name: string
  version: string
  release: string
  /** Epoch, when the package has one. */
  epoch?: number
  arch: string
  sourceRpm?: string
  /** `[epoch:]version-release`. */
  evr: string
  payloadFormat: string
  payloadCompressor: RpmCompressor
  /** Where the payload starts in the file, and its compressed size. */
  payloadOffset: number
  payloadSize: number
  /** sha256 of the compressed payload from PAYLOADDIGEST, when the package has one. */
  payloadSha256?: string
  /** Hash algorithm of the file digests (node's name, e.g. `sha256`). */
  fileDigestAlgo: string
  /** Files in header order (paths without a leading `/`). */
  files: RpmFile[]
  signature: RpmHeader
  header: RpmHeader
}

// ---------------------------------------------------------------------------------
// Headers.
// ---------------------------------------------------------------------------------

async function readAt(fh: FileHandle, offset: number, length: number, fileSize: number, what: string): Promise<Buffer> {
  if (offset + length > fileSize) {
    throw new InputError('RPM_TRUNCATED', `the file ends inside the ${what} (needs ${offset + length} bytes, has ${fileSize})`, {offset: fileSize})
  }
  const b = Buffer.alloc(length)
  const {bytesRead} = await fh.read(b, 0, length, offset)
  if (bytesRead !== length) throw new InputError('RPM_TRUNCATED', `short read of the ${what}`, {offset: offset + bytesRead})
  return b
}

/**
 * Decodes one header's index and store (rpm's headerImport): every entry's offset and
 * count must lie within the store, strings must end with NUL inside it.
 */
function parseHeader(intro: Buffer, rest: Buffer, offset: number, what: string): RpmHeader {
  const nindex = intro.readUInt32BE(8)
  const hsize = intro.readUInt32BE(12)
  const index = rest.subarray(0, nindex * 16)
  const store = rest.subarray(nindex * 16)
  const storeAt = offset + 16 + nindex * 16
  const tags = new Map<number, RpmValue>()
  const bad = (msg: string, at: number): InputError => new InputError('RPM_BAD_HEADER', `${what}: ${msg}`, {offset: at})
  for (let i = 0; i < nindex; i++) {
    const at = offset + 16 + i * 16
    const tag = index.readUInt32BE(i * 16)
    const type = index.readUInt32BE(i * 16 + 4)
    const off = index.readInt32BE(i * 16 + 8)
    const count = index.readUInt32BE(i * 16 + 12)
    if (off < 0 || off > hsize) throw bad(`tag ${tag} points outside the store (offset ${off}, store ${hsize} bytes)`, at)
    const width = ({1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1} as Record<number, number>)[type]
    if (width !== undefined) {
      if (count * width > hsize - off) throw bad(`tag ${tag}: ${count} values of ${width} bytes run past the store`, at)
      if (off % width !== 0 && type !== 7) throw bad(`tag ${tag}: offset ${off} is not aligned to ${width}`, at)
    }
    switch (type) {
      case 0:
        break
      case 1:
      case 2:
      case 7:
        tags.set(tag, Uint8Array.from(store.subarray(off, off + count)))
        break
      case 3:
        tags.set(tag, Array.from({length: count}, (_, k) => store.readUInt16BE(off + 2 * k)))
        break
      case 4:
        tags.set(tag, Array.from({length: count}, (_, k) => store.readUInt32BE(off + 4 * k)))
        break
      case 5:
        tags.set(tag, Array.from({length: count}, (_, k) => store.readBigUInt64BE(off + 8 * k)))
        break
      case 6:
      case 8:
      case 9: {
        const n = type === 6 ? 1 : count
        const out: string[] = []
        let p = off
        for (let k = 0; k < n; k++) {
          const end = store.indexOf(0, p)
          if (end < 0 || end >= hsize) throw bad(`tag ${tag}: string ${k} has no NUL inside the store`, storeAt + p)
          out.push(store.subarray(p, end).toString('utf8'))
          p = end + 1
        }
        tags.set(tag, type === 6 ? out[0]! : out)
        break
      }
      default:
        throw bad(`tag ${tag} has unknown type ${type}`, at + 4)
    }
  }
  return {tags, offset, length: 16 + nindex * 16 + hsize}
}

async function readHeader(fh: FileHandle, offset: number, fileSize: number, what: string): Promise<RpmHeader & {bytes: Buffer}> {
  const intro = await readAt(fh, offset, 16, fileSize, what)
  if (!intro.subarray(0, 4).equals(RPM_HEADER_MAGIC)) throw new InputError('RPM_BAD_HEADER', `${what} has no header magic 8e ad e8 01`, {offset})
  const nindex = intro.readUInt32BE(8)
  const hsize = intro.readUInt32BE(12)
  if (nindex < 1 || nindex > HEADER_TAGS_MAX) throw new InputError('RPM_BAD_HEADER', `${what} has ${nindex} index entries (1..${HEADER_TAGS_MAX} allowed)`, {offset: offset + 8})
  if (hsize > HEADER_DATA_MAX) throw new InputError('RPM_BAD_HEADER', `${what} has a ${hsize}-byte store (at most ${HEADER_DATA_MAX})`, {offset: offset + 12})
  const rest = await readAt(fh, offset + 16, nindex * 16 + hsize, fileSize, what)
  return {...parseHeader(intro, rest, offset, what), bytes: Buffer.concat([intro, rest])}
}

const str = (h: RpmHeader, tag: number): string | undefined => {
  const v = h.tags.get(tag)
  return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? (v[0] as string) : undefined
}
const strs = (h: RpmHeader, tag: number): string[] => {
  const v = h.tags.get(tag)
  return Array.isArray(v) && (v.length === 0 || typeof v[0] === 'string') ? (v as string[]) : typeof v === 'string' ? [v] : []
}
const nums = (h: RpmHeader, tag: number): number[] => {
  const v = h.tags.get(tag)
  if (!Array.isArray(v)) return []
  return (v as (number | bigint | string)[]).map((x) => (typeof x === 'bigint' ? Number(x) : typeof x === 'number' ? x : NaN))
}

/** The header's file list (see the module comment). */
function fileList(h: RpmHeader, at: number): RpmFile[] {
  let paths: string[]
  const basenames = strs(h, RPMTAG.BASENAMES)
  if (basenames.length > 0) {
    const dirnames = strs(h, RPMTAG.DIRNAMES)
    const dirindexes = nums(h, RPMTAG.DIRINDEXES)
    if (dirindexes.length !== basenames.length) throw new InputError('RPM_BAD_HEADER', `main header: ${basenames.length} BASENAMES but ${dirindexes.length} DIRINDEXES`, {offset: at})
    paths = basenames.map((b, i) => {
      const d = dirnames[dirindexes[i]!]
      if (d === undefined) throw new InputError('RPM_BAD_HEADER', `main header: DIRINDEXES[${i}] = ${dirindexes[i]} is not a DIRNAMES index`, {offset: at})
      return d + b
    })
  } else {
    paths = strs(h, RPMTAG.OLDFILENAMES)
  }
  const long = nums(h, RPMTAG.LONGFILESIZES)
  const sizes = long.length > 0 ? long : nums(h, RPMTAG.FILESIZES)
  const modes = nums(h, RPMTAG.FILEMODES)
  const digests = strs(h, RPMTAG.FILEDIGESTS)
  const links = strs(h, RPMTAG.FILELINKTOS)
  const flags = nums(h, RPMTAG.FILEFLAGS)
  if (sizes.length !== paths.length || modes.length !== paths.length) {
    throw new InputError('RPM_BAD_HEADER', `main header: ${paths.length} files but ${sizes.length} sizes and ${modes.length} modes`, {offset: at})
  }
  return paths.map((p, i) => ({
    path: p.replace(/^\/+/, ''),
    size: sizes[i]!,
    mode: modes[i]!,
    digest: digests[i] ?? '',
    linkTo: links[i] ?? '',
    ghost: ((flags[i] ?? 0) & RPMFILE_GHOST) !== 0,
  }))
}

const COMPRESSORS: Record<string, RpmCompressor> = {gzip: 'gzip', xz: 'xz', lzma: 'lzma', zstd: 'zstd', bzip2: 'bzip2'}

/**
 * Reads an RPM's lead, signature and main header (not the payload), and checks the
 * size and header digest the signature records.
 * @throws InputError (see the module comment).
 */
export async function readRpmHeaders(path: string): Promise<RpmPackage> {
  const fh = await open(path, 'r')
  try {
    const fileSize = (await fh.stat()).size
    const lead = await readAt(fh, 0, LEAD_SIZE, fileSize, 'lead')
    if (!lead.subarray(0, 4).equals(RPM_LEAD_MAGIC)) throw new InputError('RPM_BAD_LEAD', 'not an RPM package (no lead magic ed ab ee db)', {offset: 0})
    if (lead[4] !== 3 && lead[4] !== 4) throw new InputError('RPM_BAD_LEAD', `unsupported RPM format version ${lead[4]}.${lead[5]}`, {offset: 4})
    if (lead.readUInt16BE(78) !== 5) throw new InputError('RPM_BAD_LEAD', `signature type ${lead.readUInt16BE(78)} is not 5 (a header)`, {offset: 78})
    const sig = await readHeader(fh, LEAD_SIZE, fileSize, 'signature header')
    const mainAt = LEAD_SIZE + sig.length + ((8 - (sig.length % 8)) % 8)
    const main = await readHeader(fh, mainAt, fileSize, 'main header')
    // the signature's size of header + payload: the file must hold all of it
    const longSize = nums(sig, RPMSIGTAG.LONGSIZE)[0]
    const size = longSize ?? nums(sig, RPMSIGTAG.SIZE)[0]
    if (size !== undefined && fileSize - mainAt !== size) {
      if (fileSize - mainAt < size) {
        throw new InputError('RPM_TRUNCATED', `the package is cut short: header + payload should be ${size} bytes, the file has ${fileSize - mainAt}`, {offset: fileSize})
      }
      throw new InputError('RPM_BAD_HEADER', `the file has ${fileSize - mainAt - size} bytes after the payload the signature describes`, {offset: mainAt + size})
    }
    const headerSha = str(sig, RPMSIGTAG.SHA256)
    if (headerSha && createHash('sha256').update(main.bytes).digest('hex') !== headerSha.toLowerCase()) {
      throw new InputError('RPM_CHECKSUM', `the main header's sha256 does not match the signature header's (${headerSha})`, {offset: mainAt})
    }
    const name = str(main, RPMTAG.NAME)
    const version = str(main, RPMTAG.VERSION)
    const release = str(main, RPMTAG.RELEASE)
    if (!name || !version || !release) throw new InputError('RPM_BAD_HEADER', 'main header lacks NAME, VERSION or RELEASE', {offset: mainAt})
    const epoch = nums(main, RPMTAG.EPOCH)[0]
    const arch = str(main, RPMTAG.ARCH) ?? 'noarch'
    const payloadFormat = str(main, RPMTAG.PAYLOADFORMAT) ?? 'cpio'
    if (payloadFormat !== 'cpio') throw new InputError('RPM_UNSUPPORTED', `payload format ${JSON.stringify(payloadFormat)} is not cpio`, {offset: mainAt})
    const compName = str(main, RPMTAG.PAYLOADCOMPRESSOR) ?? 'gzip'
    const payloadCompressor = COMPRESSORS[compName]
    if (!payloadCompressor) throw new InputError('RPM_UNSUPPORTED', `payload compressor ${JSON.stringify(compName)} is not supported`, {offset: mainAt})
    const digestAlgo = nums(main, RPMTAG.PAYLOADDIGESTALGO)[0]
    const payloadDigest = strs(main, RPMTAG.PAYLOADDIGEST)[0]
    const fileAlgo = nums(main, RPMTAG.FILEDIGESTALGO)[0] ?? 1
    const payloadOffset = mainAt + main.length
    const evr = `${epoch ? `${epoch}:` : ''}${version}-${release}`
    const source = str(main, RPMTAG.SOURCERPM)
    return {
      name,
      version,
      release,
      ...(epoch !== undefined ? {epoch} : {}),
      arch,
      ...(source ? {sourceRpm: source} : {}),
      evr,
      payloadFormat,
      payloadCompressor,
      payloadOffset,
      payloadSize: fileSize - payloadOffset,
      ...(payloadDigest && (digestAlgo ?? 8) === 8 ? {payloadSha256: payloadDigest.toLowerCase()} : {}),
      fileDigestAlgo: HASH_ALGO[fileAlgo] ?? 'md5',
      files: fileList(main, mainAt),
      signature: {tags: sig.tags, offset: sig.offset, length: sig.length},
      header: {tags: main.tags, offset: main.offset, length: main.length},
    }
  } finally {
    await fh.close()
  }
}

// ---------------------------------------------------------------------------------
// Payload.
// ---------------------------------------------------------------------------------

/** Streams a file range, hashing it on the way (for PAYLOADDIGEST). */
async function* fileRange(path: string, start: number, hash: ReturnType<typeof createHash>, state: {read: number}): AsyncGenerator<Buffer> {
  for await (const c of createReadStream(path, {start, highWaterMark: 1 << 20})) {
    hash.update(c as Buffer)
    state.read += (c as Buffer).length
    yield c as Buffer
  }
}

/** Waits until a writable stream drains or closes (listeners removed either way). */
function drained(w: NodeJS.WritableStream & {once: NodeJS.EventEmitter['once']; off: NodeJS.EventEmitter['off']}): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      w.off('drain', done)
      w.off('close', done)
      w.off('error', done)
      resolve()
    }
    w.once('drain', done)
    w.once('close', done)
    w.once('error', done)
  })
}

/** Decompresses by piping through a tool (`xz -dc`, `bzip2 -dc`), streamed. */
async function* throughTool(tool: string, pkg: string, format: string, input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const child = spawn(tool, ['-dc'], {stdio: ['pipe', 'pipe', 'pipe']})
  let spawnError: Error | undefined
  let stderr = ''
  child.on('error', (e) => {
    spawnError = e
  })
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  let stopped = false
  const feed = (async () => {
    try {
      for await (const c of input) {
        if (stopped) break
        if (!child.stdin.write(c)) await drained(child.stdin)
      }
    } catch {
      // EPIPE after an early stop, or a read error: the exit status tells
    } finally {
      child.stdin.end()
    }
  })()
  child.stdin.on('error', () => {})
  let complete = false
  try {
    for await (const c of child.stdout) yield c as Buffer
    complete = true
  } finally {
    if (!complete) {
      stopped = true
      child.kill()
    }
    await feed
    const code = await exited
    if (spawnError) {
      const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT'
      // eslint-disable-next-line no-unsafe-finally
      throw missing
        ? new InputError('TOOL_MISSING', `${format} payloads need '${tool}' (install ${pkg}), which is not installed`, {cause: spawnError})
        : new InputError(`INPUT_CORRUPT_${format.toUpperCase()}`, `${tool}: ${spawnError.message}`, {cause: spawnError})
    }
    // eslint-disable-next-line no-unsafe-finally
    if (complete && code !== 0) throw new InputError(`INPUT_CORRUPT_${format.toUpperCase()}`, `${format} payload does not decompress: ${tool} -dc exited ${code}: ${stderr.trim()}`)
  }
}

async function* gunzip(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const z = createGunzip()
  z.on('error', () => {}) // surfaced by the iteration below; none after an early stop
  const feed = (async () => {
    try {
      for await (const c of input) {
        if (z.destroyed) return
        if (!z.write(c)) await drained(z)
      }
      if (!z.destroyed) z.end()
    } catch (e) {
      z.destroy(e as Error)
    }
  })()
  try {
    for await (const c of z) yield c as Buffer
  } catch (e) {
    if (e instanceof KcompatError) throw e
    throw new InputError('INPUT_CORRUPT_GZIP', `gzip payload is corrupt: ${(e as Error).message}`, {cause: e})
  } finally {
    z.destroy()
    await feed
  }
}

async function* unzstd(input: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = []
  const d = new ZstdDecompress((chunk) => {
    pending.push(chunk)
  })
  let read = 0
  for await (const c of input) {
    read += c.length
    try {
      d.push(c, read >= size)
    } catch (e) {
      throw new InputError('INPUT_CORRUPT_ZSTD', `zstd payload is corrupt: ${(e as Error).message}`, {cause: e})
    }
    const out = pending
    pending = []
    yield* out
  }
}

let zstdTool: boolean | undefined
/** Whether the `zstd` tool runs here (it decodes ~5x faster than fzstd, which is used otherwise). */
function haveZstdTool(): boolean {
  zstdTool ??= spawnSync('zstd', ['--version'], {stdio: 'ignore'}).status === 0
  return zstdTool
}

/** Decompresses a stream of `size` compressed bytes (an RPM payload, a repodata file). */
export function decompressRpmStream(c: RpmCompressor, input: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  switch (c) {
    case 'none':
      return input
    case 'gzip':
      return gunzip(input)
    case 'zstd':
      return haveZstdTool() ? throughTool('zstd', 'zstd', c, input) : unzstd(input, size)
    case 'xz':
    case 'lzma':
      return throughTool('xz', 'xz-utils', c, input)
    case 'bzip2':
      return throughTool('bzip2', 'bzip2', c, input)
  }
}

export interface RpmMember extends CpioEntry {
  /** The header's record of this file (digest, ghost, symlink target), when listed. */
  file?: RpmFile
}

/**
 * The payload's members, in order, as it streams by (cpio.ts). Reading a member's data
 * checks it against the header's file digest (`RPM_CHECKSUM`). When the payload is read
 * to its end, its compressed bytes are checked against PAYLOADDIGEST (`RPM_CHECKSUM`);
 * stopping early (breaking out of the loop) stops the decompression.
 */
export async function* rpmMembers(path: string, pkg: RpmPackage, o: {maxSize?: number} = {}): AsyncGenerator<RpmMember> {
  const hash = createHash('sha256')
  const state = {read: 0}
  const byPath = new Map(pkg.files.map((f) => [f.path, f]))
  const raw = fileRange(path, pkg.payloadOffset, hash, state)
  const entries = cpioEntries(decompressRpmStream(pkg.payloadCompressor, raw, pkg.payloadSize), pkg.files, {maxSize: o.maxSize})
  for await (const e of entries) {
    const file = e.headerIndex !== undefined ? pkg.files[e.headerIndex] : byPath.get(e.path)
    const read = e.read
    const stream = e.stream
    const member: RpmMember = {
      ...e,
      ...(file ? {file} : {}),
      stream: () =>
        (async function* () {
          const h = file?.digest && e.type === 'file' ? createHash(pkg.fileDigestAlgo) : undefined
          for await (const c of stream()) {
            h?.update(c)
            yield c
          }
          const got = h?.digest('hex')
          if (h && got !== file!.digest.toLowerCase()) {
            throw new InputError('RPM_CHECKSUM', `${e.path}: ${pkg.fileDigestAlgo} ${got} does not match the header's ${file!.digest}`)
          }
        })(),
      read: async () => {
        const data = await read()
        if (file?.digest && e.type === 'file') {
          const got = createHash(pkg.fileDigestAlgo).update(data).digest('hex')
          if (got !== file.digest.toLowerCase()) {
            throw new InputError('RPM_CHECKSUM', `${e.path}: ${pkg.fileDigestAlgo} ${got} does not match the header's ${file.digest}`)
          }
        }
        return data
      },
    }
    yield member
  }
  // the trailer was reached and the stream read to its end (cpio.ts): check the digest
  if (pkg.payloadSha256 && state.read === pkg.payloadSize) {
    const got = hash.digest('hex')
    if (got !== pkg.payloadSha256) throw new InputError('RPM_CHECKSUM', `payload sha256 ${got} does not match the header's PAYLOADDIGEST ${pkg.payloadSha256}`)
  }
}

export interface RpmFileData extends RpmMember {
  data: Buffer
}

/**
 * Reads the regular files `want` selects from the payload, stopping as soon as every
 * selected file listed in the header (and not a ghost) has been read.
 */
export async function readRpmFiles(path: string, pkg: RpmPackage, want: (path: string) => boolean): Promise<RpmFileData[]> {
  const expected = new Set(pkg.files.filter((f) => !f.ghost && (f.mode & 0o170000) === 0o100000 && want(f.path)).map((f) => f.path))
  const out: RpmFileData[] = []
  if (expected.size === 0) return out
  for await (const m of rpmMembers(path, pkg)) {
    if (m.type !== 'file' || !want(m.path)) continue
    out.push({...m, data: await m.read()})
    expected.delete(m.path)
    for (const l of m.links) expected.delete(l)
    if (expected.size === 0) break
  }
  return out
}
