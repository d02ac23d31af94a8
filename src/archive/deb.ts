/**
 * Reading Debian binary packages (`.deb`) without dpkg and without unpacking them to disk.
 *
 * Format (deb(5)): an `ar` archive whose members are, in order,
 *
 * 1. `debian-binary`: the format version, `2.0\n` (dpkg accepts any 2.x);
 * 2. `control.tar`, `control.tar.gz`, `control.tar.xz` or `control.tar.zst`: the
 *    package's control file (deb-control(5)) and maintainer scripts;
 * 3. `data.tar` with no compression or `.gz`, `.xz`, `.zst`, `.bz2`, `.lzma`: the files.
 *
 * Members whose names start with `_` are reserved for local use and skipped, as dpkg
 * does.
 *
 * Memory: the compressed `.deb` is held in memory (the caller passes its bytes;
 * linux-image packages are 20-60 MiB, -dbg packages 0.3-0.8 GiB, which still fits), but
 * `data.tar` is *streamed*: it is decompressed piece by piece and fed through tar-stream,
 * and only the entries the caller's predicate selects are kept. Peak memory is about the
 * .deb + the kept files (twice, while one is being assembled) + a few xz blocks: measured
 * 1.6 GiB max RSS for linux-image-6.1.0-56-cloud-amd64-dbg (283 MB .deb, 1.7 GiB
 * data.tar, its 590 MB vmlinux kept); listing the whole of it stays at that level. For xz (what
 * Debian uses) the pieces are the xz blocks (dpkg-deb compresses with threads, so a
 * data.tar.xz has one block per ~24 MiB of tar), two decoded at a time on the thread pool
 * ahead of the tar reader; a single-block file is decompressed in one piece. gzip and zstd stream in 1 MiB input chunks; bzip2 and lzma (old packages
 * only) are decompressed in one piece, capped.
 *
 * Error codes: `INPUT_BAD_DEB` (with the byte offset of the bad ar header or member),
 * `INPUT_BAD_TAR_PATH` (an entry that is absolute or has a `..` component),
 * `INPUT_CORRUPT_TAR`, `INPUT_CORRUPT_<FORMAT>`, `INPUT_TOO_LARGE`.
 */
import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {createGunzip} from 'node:zlib'
import {Readable} from 'node:stream'
import {Decompress as ZstdDecompress} from 'fzstd'
import tarStream, {type Header as TarHeader} from 'tar-stream'
import {InputError, KcompatError} from '../errors.js'
import {DEFAULT_MAX_OUTPUT, GZIP_MAGIC, startsWith, xzDecompress as xzDecompressWhole} from './compress.js'
import {bpfConfigFacts, parseKernelConfig, type BpfConfigSymbol, type KernelConfig} from '../kernel/config.js'
import {bunzip2, decompressPrefix, extractKernelBtf, type KernelBtf, type KernelImageOptions} from './kernel-image.js'
import {checkEntryName, readTar} from './tar.js'
import {xzBlockPieces, xzBlocks} from './xz.js'

// ---------------------------------------------------------------------------------
// ar (the common "!<arch>" format; /usr/include/ar.h, deb(5)): an 8-byte global header
// "!<arch>\n", then members, each a 60-byte header
//   ar_name[16] ar_date[12] ar_uid[6] ar_gid[6] ar_mode[8] (octal) ar_size[10] ar_fmag[2] = "`\n"
// (ASCII, space padded, decimal unless noted) followed by ar_size bytes of data, padded
// with "\n" to an even offset. GNU ar ends names with "/"; deb members never use the
// long-name tables ("/", "//", BSD "#1/").
// ---------------------------------------------------------------------------------
export const AR_MAGIC = Uint8Array.of(0x21, 0x3c, 0x61, 0x72, 0x63, 0x68, 0x3e, 0x0a)
const AR_HEADER = 60

export interface ArMember {
  name: string
  /** Byte offset of the member's data in the archive. */
  offset: number
  size: number
  mtime: number
  uid: number
  gid: number
  mode: number
  data: Uint8Array
}

function ascii(b: Uint8Array, at: number, len: number): string {
  let s = ''
  for (let i = at; i < at + len; i++) s += String.fromCharCode(b[i]!)
  return s
}

function arNumber(b: Uint8Array, at: number, len: number, radix: 8 | 10, what: string, header: number): number {
  const s = ascii(b, at, len).trimEnd()
  const re = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/
  if (s === '' && what !== 'size') return 0
  if (!re.test(s)) throw new InputError('INPUT_BAD_DEB', `ar member header has a bad ${what} field ${JSON.stringify(s)}`, {offset: at})
  void header
  return parseInt(s, radix)
}

/**
 * Lists the members of an ar archive (data as views of `bytes`).
 * @throws InputError `INPUT_BAD_DEB` with the offset of the bad header.
 */
export function readAr(bytes: Uint8Array, maxMembers = 1000): ArMember[] {
  if (!startsWith(bytes, AR_MAGIC)) throw new InputError('INPUT_BAD_DEB', 'not an ar archive (no "!<arch>" header)', {offset: 0})
  const members: ArMember[] = []
  let p = AR_MAGIC.length
  while (p < bytes.length) {
    if (bytes.length - p === 1 && bytes[p] === 0x0a) break // padding of the last member
    if (p + AR_HEADER > bytes.length) {
      throw new InputError('INPUT_BAD_DEB', `ar member header is cut short (${bytes.length - p} of ${AR_HEADER} bytes)`, {offset: p})
    }
    if (bytes[p + 58] !== 0x60 || bytes[p + 59] !== 0x0a) {
      throw new InputError('INPUT_BAD_DEB', 'ar member header does not end with "`\\n"', {offset: p + 58})
    }
    let name = ascii(bytes, p, 16).trimEnd()
    if (name.endsWith('/') && name.length > 1) name = name.slice(0, -1)
    if (name === '' || name.startsWith('#1/') || name === '/' || name === '//' || /[^\x21-\x7e]/.test(name)) {
      throw new InputError('INPUT_BAD_DEB', `ar member name ${JSON.stringify(name)} is not supported`, {offset: p})
    }
    const size = arNumber(bytes, p + 48, 10, 10, 'size', p)
    const member: ArMember = {
      name,
      offset: p + AR_HEADER,
      size,
      mtime: arNumber(bytes, p + 16, 12, 10, 'date', p),
      uid: arNumber(bytes, p + 28, 6, 10, 'uid', p),
      gid: arNumber(bytes, p + 34, 6, 10, 'gid', p),
      mode: arNumber(bytes, p + 40, 8, 8, 'mode', p),
      data: new Uint8Array(0),
    }
    if (member.offset + size > bytes.length) {
      throw new InputError('INPUT_BAD_DEB', `ar member ${name} (${size} bytes) runs past the end of the archive (${bytes.length} bytes)`, {
        offset: p + 48,
      })
    }
    member.data = bytes.subarray(member.offset, member.offset + size)
    members.push(member)
    if (members.length > maxMembers) throw new InputError('INPUT_BAD_DEB', `ar archive has more than ${maxMembers} members`, {offset: p})
    p = member.offset + size + (size & 1)
  }
  return members
}

// ---------------------------------------------------------------------------------
// Control file (deb-control(5), deb822(5)): "Field: value" lines; a line starting with
// a space or tab continues the previous field (kept with that first blank removed, joined
// by "\n"); field names are case-insensitive and must not repeat; a blank line ends the
// paragraph (a binary package has one).
// ---------------------------------------------------------------------------------
export function parseControl(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  const seen = new Set<string>()
  let last: string | undefined
  let lineNo = 0
  for (const line of text.split('\n')) {
    lineNo++
    if (line.trim() === '') {
      if (last !== undefined) break
      continue
    }
    if (line.startsWith('#')) continue
    if (line[0] === ' ' || line[0] === '\t') {
      if (last === undefined) throw new InputError('INPUT_BAD_DEB', `control file line ${lineNo} continues no field`)
      fields[last] += `\n${line.slice(1)}`
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0) throw new InputError('INPUT_BAD_DEB', `control file line ${lineNo} is not "Field: value"`)
    const name = line.slice(0, colon)
    if (seen.has(name.toLowerCase())) throw new InputError('INPUT_BAD_DEB', `control file repeats field ${name}`)
    seen.add(name.toLowerCase())
    fields[name] = line.slice(colon + 1).trim()
    last = name
  }
  return fields
}

/** A field of a parsed control file, looked up case-insensitively. */
export function controlField(control: Record<string, string>, name: string): string | undefined {
  const want = name.toLowerCase()
  for (const k of Object.keys(control)) if (k.toLowerCase() === want) return control[k]
  return undefined
}

// ---------------------------------------------------------------------------------
// Streaming decompression of data.tar.
// ---------------------------------------------------------------------------------
export type DebCompression = 'none' | 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'lzma'

const SUFFIXES: Record<string, DebCompression> = {'': 'none', '.gz': 'gzip', '.xz': 'xz', '.zst': 'zstd', '.bz2': 'bzip2', '.lzma': 'lzma'}

function chunked(b: Uint8Array, size = 1 << 20): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < b.length; at += size) out.push(b.subarray(at, Math.min(b.length, at + size)))
  return out
}

function capCheck(total: number, max: number, format: string): void {
  if (total > max) throw new InputError('INPUT_TOO_LARGE', `${format} data expands past the limit of ${max} bytes`)
}

/**
 * data.tar.xz block by block (xz.ts): the indexes give every block and its size, so the
 * cap is checked before anything is decompressed.
 */
async function* xzPieces(b: Uint8Array, max: number, base: number): AsyncGenerator<Uint8Array> {
  const blocks = xzBlocks(b, base)
  capCheck(
    blocks.reduce((s, x) => s + x.uncompressed, 0),
    max,
    'xz',
  )
  yield* xzBlockPieces(blocks, (x) => b.subarray(x.offset - base, x.offset - base + x.length))
}

/** Compressed bytes as they arrive: chunks of a buffer, or reads of a file range. */
export type ByteSource = Iterable<Uint8Array> | AsyncIterable<Uint8Array>

/**
 * gunzips `source` as it arrives (deb.ts: the member in memory; debug-deb.ts: a file
 * range), at most `max` bytes of output.
 * @throws InputError `INPUT_CORRUPT_GZIP`, `INPUT_TOO_LARGE`.
 */
export async function* gzipPieces(source: ByteSource, max = Infinity): AsyncGenerator<Uint8Array> {
  const input = Readable.from(source)
  const gunzip = createGunzip()
  // pipe() does not pass on a source error (a failed file read): without this the loop
  // below would wait for data that never comes
  input.on('error', (e) => gunzip.destroy(e))
  input.pipe(gunzip)
  let total = 0
  try {
    for await (const c of gunzip) {
      total += (c as Buffer).length
      capCheck(total, max, 'gzip')
      yield c as Buffer
    }
  } catch (e) {
    if (e instanceof KcompatError) throw e
    throw new InputError('INPUT_CORRUPT_GZIP', `gzip data is corrupt: ${(e as Error).message}`, {cause: e})
  } finally {
    input.destroy()
    gunzip.destroy()
  }
}

/**
 * Decompresses the zstd frames of `source` (`size` bytes in all: the chunk that reaches
 * it is pushed as the last) as they arrive, at most `max` bytes of output.
 * @throws InputError `INPUT_CORRUPT_ZSTD`, `INPUT_TOO_LARGE`.
 */
export async function* zstdPieces(source: ByteSource, size: number, max = Infinity): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = []
  let total = 0
  const d = new ZstdDecompress((chunk) => {
    total += chunk.length
    capCheck(total, max, 'zstd')
    pending.push(chunk)
  })
  let read = 0
  for await (const c of source) {
    read += c.length
    try {
      d.push(c, read >= size)
    } catch (e) {
      if (e instanceof KcompatError) throw e
      throw new InputError('INPUT_CORRUPT_ZSTD', `zstd data is corrupt: ${(e as Error).message}`, {cause: e})
    }
    const out = pending
    pending = []
    yield* out
  }
}

export function decompressStream(format: DebCompression, b: Uint8Array, max: number, base: number): AsyncIterable<Uint8Array> {
  switch (format) {
    case 'none':
      return Readable.from(chunked(b))
    case 'xz':
      return xzPieces(b, max, base)
    case 'gzip':
      return gzipPieces(chunked(b), max)
    case 'zstd':
      return zstdPieces(chunked(b), b.length, max)
    case 'bzip2':
      return Readable.from(chunked(bunzip2(b, Math.min(max, DEFAULT_MAX_OUTPUT * 4)).data))
    case 'lzma':
      return Readable.from(chunked(decompressPrefix('lzma', b, Math.min(max, DEFAULT_MAX_OUTPUT * 4))))
  }
}

function decompressWhole(format: DebCompression, b: Uint8Array, max: number): Uint8Array {
  switch (format) {
    case 'none':
      return b
    case 'gzip':
      if (!startsWith(b, GZIP_MAGIC)) throw new InputError('INPUT_CORRUPT_GZIP', 'gzip data has no gzip header', {offset: 0})
      return decompressPrefix('gzip', b, max)
    case 'xz':
      return xzDecompressWhole(b, max)
    default:
      return decompressPrefix(format, b, max)
  }
}

// ---------------------------------------------------------------------------------
// The package.
// ---------------------------------------------------------------------------------
export interface DebEntry {
  /** Path without the leading "./", e.g. `boot/vmlinuz-6.1.0-56-cloud-amd64`; directories end without "/". */
  path: string
  /** tar entry type: `file`, `directory`, `symlink`, `link`, ... */
  type: string
  size: number
  mode: number
  /** Target of a symlink or hard link (never followed; nothing is written to disk). */
  linkname?: string
}

export interface DebFile extends DebEntry {
  data: Buffer
}

export interface DebLimits {
  /** Most bytes data.tar may expand to (it is streamed, so this bounds time, not memory). Default 16 GiB. */
  maxDataSize?: number
  /** Most bytes one kept file may have. Default 1 GiB (a -dbg package's vmlinux is ~0.6 GiB). */
  maxFileSize?: number
  /** Most bytes all kept files together may have. Default 2 GiB. */
  maxKeptSize?: number
  /** Most tar entries. Default 1,000,000. */
  maxEntries?: number
}

export interface FilesOptions extends DebLimits {
  /**
   * Called after each kept file; returning true stops reading data.tar there (the rest
   * is not decompressed). E.g. a kernel package's `boot/` comes first in its data.tar.
   */
  stopWhen?: (kept: DebFile[]) => boolean
}

export interface Deb {
  /** Content of `debian-binary`, e.g. `2.0`. */
  formatVersion: string
  /** Fields of the control file (`Package`, `Version`, `Architecture`, `Source`, ...). */
  control: Record<string, string>
  /** Names of the control and data members, e.g. `control.tar.xz`, `data.tar.xz`. */
  controlMember: string
  dataMember: string
  dataCompression: DebCompression
  /** All ar members. */
  members: ArMember[]
  /** Streams data.tar and returns the entries `want` selects, with their content. */
  files(want: (entry: DebEntry) => boolean, options?: FilesOptions): Promise<DebFile[]>
  /** Streams data.tar and lists every entry (no content kept). */
  list(limits?: DebLimits): Promise<DebEntry[]>
}

function memberCompression(name: string, prefix: string, offset: number): DebCompression {
  const suffix = name.slice(prefix.length)
  const c = SUFFIXES[suffix]
  if (c === undefined) throw new InputError('INPUT_BAD_DEB', `${name}: unsupported compression ${JSON.stringify(suffix)}`, {offset})
  return c
}

function entryOf(header: TarHeader): DebEntry | undefined {
  let path = header.name
  while (path.startsWith('./')) path = path.slice(2)
  if (path === '.' || path === '') return undefined
  checkEntryName(path)
  if (path.endsWith('/')) path = path.slice(0, -1)
  return {
    path,
    type: header.type ?? 'file',
    size: header.size ?? 0,
    mode: header.mode ?? 0,
    ...(header.linkname ? {linkname: header.linkname} : {}),
  }
}

/**
 * Writes the chunks of `source` into a tar-stream extractor, waiting for it to drain
 * (backpressure), and ends it at the end of the input. A failure of the source is
 * handed to `onError` and destroys the extractor. Resolves when the input is consumed
 * or the extractor was destroyed.
 */
export async function feedTar(
  extract: ReturnType<typeof tarStream.extract>,
  source: AsyncIterable<Uint8Array>,
  onError: (e: unknown) => void,
): Promise<void> {
  try {
    for await (const chunk of source) {
      if (extract.destroyed) return
      if (!extract.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            extract.off('drain', done)
            extract.off('close', done)
            resolve()
          }
          extract.on('drain', done)
          extract.on('close', done)
        })
      }
    }
    if (!extract.destroyed) extract.end(undefined)
  } catch (e) {
    onError(e)
    extract.destroy(e as Error)
  }
}

/**
 * Streams a tar through tar-stream; `onEntry` decides per entry whether to keep its data.
 * Only kept entries are buffered.
 */
async function scanTar(
  source: AsyncIterable<Uint8Array>,
  want: (e: DebEntry) => boolean,
  limits: FilesOptions,
  keep: boolean,
): Promise<{entries: DebEntry[]; files: DebFile[]}> {
  const maxEntries = limits.maxEntries ?? 1_000_000
  const maxFile = limits.maxFileSize ?? 1024 * 1024 * 1024
  const maxKept = limits.maxKeptSize ?? 2 * 1024 * 1024 * 1024
  const extract = tarStream.extract()
  let feedError: unknown
  const feed = feedTar(extract, source, (e) => {
    feedError = e
  })
  const entries: DebEntry[] = []
  const files: DebFile[] = []
  let kept = 0
  try {
    for await (const stream of extract) {
      const entry = entryOf(stream.header)
      if (entries.length >= maxEntries) throw new InputError('INPUT_TOO_LARGE', `data.tar has more than ${maxEntries} entries`)
      if (!entry) {
        stream.resume()
        continue
      }
      entries.push(entry)
      if (!keep || entry.type !== 'file' || !want(entry)) {
        stream.resume()
        continue
      }
      if (entry.size > maxFile) throw new InputError('INPUT_TOO_LARGE', `${entry.path} is ${entry.size} bytes, more than the limit of ${maxFile}`)
      kept += entry.size
      if (kept > maxKept) throw new InputError('INPUT_TOO_LARGE', `selected files exceed the limit of ${maxKept} bytes`)
      const chunks: Buffer[] = []
      for await (const c of stream) chunks.push(c as Buffer)
      files.push({...entry, data: Buffer.concat(chunks)})
      if (limits.stopWhen?.(files)) {
        extract.destroy()
        break
      }
    }
  } catch (e) {
    extract.destroy()
    await feed
    const err = feedError ?? e
    if (err instanceof KcompatError) throw err
    throw new InputError('INPUT_CORRUPT_TAR', `data.tar is corrupt: ${(err as Error).message}`, {cause: err})
  }
  await feed
  if (feedError) throw feedError
  return {entries, files}
}

/**
 * Opens a `.deb` held in memory: checks the ar structure and member order, reads the
 * control file. data.tar is only read when `files()` or `list()` is called.
 * @throws InputError `INPUT_BAD_DEB` and decompression/tar codes (see the module comment).
 */
export async function readDeb(bytes: Uint8Array): Promise<Deb> {
  const members = readAr(bytes)
  const real = members.filter((m) => !m.name.startsWith('_'))
  const first = members[0]
  if (!first || first.name !== 'debian-binary') {
    throw new InputError('INPUT_BAD_DEB', `first ar member is ${first ? JSON.stringify(first.name) : 'missing'}, not debian-binary`, {
      offset: first ? first.offset - AR_HEADER : AR_MAGIC.length,
    })
  }
  const formatVersion = Buffer.from(first.data).toString('latin1').split('\n')[0]!.trim()
  if (!/^2\.\d+$/.test(formatVersion)) {
    throw new InputError('INPUT_BAD_DEB', `unsupported .deb format version ${JSON.stringify(formatVersion)}`, {offset: first.offset})
  }
  const control = real[1]
  const data = real[2]
  if (!control || !control.name.startsWith('control.tar')) {
    throw new InputError('INPUT_BAD_DEB', `second member is ${control ? JSON.stringify(control.name) : 'missing'}, not control.tar*`, {
      offset: control ? control.offset - AR_HEADER : bytes.length,
    })
  }
  if (!data || !data.name.startsWith('data.tar')) {
    throw new InputError('INPUT_BAD_DEB', `third member is ${data ? JSON.stringify(data.name) : 'missing'}, not data.tar*`, {
      offset: data ? data.offset - AR_HEADER : bytes.length,
    })
  }
  const controlCompression = memberCompression(control.name, 'control.tar', control.offset - AR_HEADER)
  if (controlCompression === 'bzip2' || controlCompression === 'lzma') {
    throw new InputError('INPUT_BAD_DEB', `${control.name}: control.tar may only be uncompressed, .gz, .xz or .zst`, {
      offset: control.offset - AR_HEADER,
    })
  }
  const dataCompression = memberCompression(data.name, 'data.tar', data.offset - AR_HEADER)
  const controlTar = decompressWhole(controlCompression, control.data, 64 * 1024 * 1024)
  const controlEntries = await readTar(controlTar, {maxEntries: 1000, maxTotalSize: 64 * 1024 * 1024})
  const controlFile = controlEntries.find((e) => e.name.replace(/^(\.\/)+/, '') === 'control' && e.type === 'file')
  if (!controlFile) throw new InputError('INPUT_BAD_DEB', `${control.name} has no control file`, {offset: control.offset})
  const fields = parseControl(controlFile.data.toString('utf8'))

  const run = (want: (e: DebEntry) => boolean, limits: FilesOptions, keep: boolean) =>
    scanTar(decompressStream(dataCompression, data.data, limits.maxDataSize ?? 16 * 1024 ** 3, data.offset), want, limits, keep)
  return {
    formatVersion,
    control: fields,
    controlMember: control.name,
    dataMember: data.name,
    dataCompression,
    members,
    files: async (want, limits = {}) => (await run(want, limits, true)).files,
    list: async (limits = {}) => (await run(() => false, limits, false)).entries,
  }
}

/** {@link readDeb} on a file. */
export async function readDebFile(path: string): Promise<Deb> {
  return readDeb(await readFile(path))
}

// ---------------------------------------------------------------------------------
// Kernel packages (linux-image-*): the image is /boot/vmlinuz-<release> (or
// /boot/vmlinux-<release> where the architecture boots an ELF, e.g. ppc64el) and the
// build configuration /boot/config-<release>. Both come first in data.tar, so reading
// stops as soon as they are found.
// ---------------------------------------------------------------------------------
export interface KernelPackage {
  control: Record<string, string>
  package: string | undefined
  version: string | undefined
  architecture: string | undefined
  /** The source package (`Source:` without a version in parentheses), or `Package` when absent. */
  source: string | undefined
  /** `uname -r` of the kernel, from the image file name. */
  release: string
  imagePath: string
  /** sha256 and size of the image file as stored in the package. */
  imageSha256: string
  imageSize: number
  /** The BTF and what the image was (`kernel.btf` is undefined for a kernel without BTF). */
  kernel: KernelBtf
  configPath: string | undefined
  config: KernelConfig | undefined
  /** {@link bpfConfigFacts} of the config, when the package has one. */
  facts: Record<BpfConfigSymbol, string | null> | undefined
}

/**
 * The image and config of a kernel package: `/boot/vmlinuz-<R>` and `/boot/config-<R>`, or,
 * in Debian's split packages from Linux 7.x (debian.ts, SplitParts), `/usr/lib/modules/<R>/
 * vmlinuz` in linux-binary-<R> and `/usr/lib/modules/<R>/config` in linux-base-<R>.
 * Groups: 1 and 2 the /boot form's kind and release, 3 and 4 the modules-directory form's
 * release and kind.
 */
const KERNEL_FILE = /^(?:boot\/(vmlinu[xz]|config)-([^/]+)|(?:usr\/)?lib\/modules\/([^/]+)\/(vmlinu[xz]|config))$/

function kernelFileOf(path: string): {kind: string; release: string} | undefined {
  const m = KERNEL_FILE.exec(path)
  if (!m) return undefined
  return m[1] ? {kind: m[1], release: m[2]!} : {kind: m[4]!, release: m[3]!}
}
const isImage = (path: string): boolean => kernelFileOf(path)?.kind.startsWith('vmlinu') ?? false
const isConfig = (path: string): boolean => kernelFileOf(path)?.kind === 'config'

/**
 * The kernel config a package holds for `release` (`/boot/config-<R>`, or
 * `/usr/lib/modules/<R>/config` in Debian's split `linux-base-<R>` and Ubuntu's
 * `linux-modules-<R>`), or undefined; reading stops at it.
 */
export async function kernelConfigOfDeb(bytes: Uint8Array, release: string): Promise<Uint8Array | undefined> {
  const deb = await readDeb(bytes)
  const want = (path: string): boolean => isConfig(path) && kernelFileOf(path)!.release === release
  const found = await deb.files((e) => want(e.path), {stopWhen: (kept) => kept.length > 0})
  return found[0]?.data
}

/**
 * Reads a Debian kernel image package: control fields, the kernel's BTF and its config.
 * @throws InputError `INPUT_NO_KERNEL_IMAGE` when there is no /boot/vmlinu[xz]-*, plus
 *   the codes of {@link readDeb} and {@link extractKernelBtf}.
 */
export async function readKernelDeb(
  bytes: Uint8Array,
  options: KernelImageOptions & DebLimits & {config?: (release: string) => Promise<Uint8Array | undefined>} = {},
): Promise<KernelPackage> {
  const deb = await readDeb(bytes)
  const found = await deb.files((e) => KERNEL_FILE.test(e.path), {
    ...options,
    stopWhen: (kept) => kept.some((f) => isImage(f.path)) && kept.some((f) => isConfig(f.path)),
  })
  const image = found.find((f) => isImage(f.path))
  if (!image) {
    throw new InputError(
      'INPUT_NO_KERNEL_IMAGE',
      `${controlField(deb.control, 'Package') ?? 'package'} has no /boot/vmlinuz-*, /boot/vmlinux-* or /usr/lib/modules/*/vmlinuz (in Debian's split kernel packages the image is in linux-binary-<release>)`,
    )
  }
  const release = kernelFileOf(image.path)!.release
  const configs = found.filter((f) => isConfig(f.path))
  const cfgFile = configs.find((f) => kernelFileOf(f.path)!.release === release) ?? configs[0]
  // a split kernel's config is in another package (linux-base-<R>): the caller passes it
  const configBytes = cfgFile?.data ?? (await options.config?.(release))
  const config = configBytes ? parseKernelConfig(configBytes) : undefined
  const pkg = controlField(deb.control, 'Package')
  return {
    control: deb.control,
    package: pkg,
    version: controlField(deb.control, 'Version'),
    architecture: controlField(deb.control, 'Architecture'),
    source: controlField(deb.control, 'Source')?.replace(/\s*\(.*\)\s*$/, '') ?? pkg,
    release,
    imagePath: image.path,
    imageSha256: createHash('sha256').update(image.data).digest('hex'),
    imageSize: image.data.length,
    kernel: extractKernelBtf(image.data, options),
    configPath: cfgFile?.path,
    config,
    facts: config ? bpfConfigFacts(config) : undefined,
  }
}
