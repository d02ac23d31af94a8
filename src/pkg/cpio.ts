/**
 * Streaming reader of the cpio archives inside RPM packages.
 *
 * An RPM payload is a cpio archive in the "new ASCII" (SVR4, `newc`) format, cpio(5):
 * each member is a 110-byte header of ASCII text
 *
 *   c_magic[6] = "070701" (or "070702" with a checksum)
 *   c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize
 *   c_devmajor c_devminor c_rdevmajor c_rdevminor c_namesize c_check   (8 hex digits each)
 *
 * followed by the path name (c_namesize bytes, with its NUL) padded so that header + name
 * end on a multiple of 4, then c_filesize bytes of data padded to a multiple of 4. The
 * member named `TRAILER!!!` ends the archive. Hard links share c_ino: every link but the
 * last has size 0 and the last carries the data (what rpm and GNU cpio write).
 *
 * RPM 4.12 and later also write a "stripped" member when a package holds a file of 4 GiB
 * or more (the newc size field has 32 bits): magic "07070X", then the index of the file
 * in the package header's file list (8 hex digits), padded to 4, then the file's data
 * padded to 4. Name, mode and size come from the header (rpm's lib/cpio.c). The reader
 * therefore takes the header's file list to resolve such members.
 *
 * The archive is read as it streams by: {@link cpioEntries} yields one member at a time;
 * the caller reads its data (`read()`) or leaves it, in which case it is skipped without
 * being held. Memory is one member's data, when read, plus one input chunk.
 *
 * Error codes: `INPUT_CORRUPT_CPIO` (a bad magic, a header field that is not hex, a name
 * without its NUL, a stripped member whose index is not in the header, an archive that
 * ends without its trailer), `INPUT_BAD_TAR_PATH` (a name that is absolute after its
 * `./` or has a `..` component), `INPUT_TOO_LARGE` (more members than the limit, or a
 * member larger than the reader may hold).
 */
import {InputError} from '../errors.js'
import {checkEntryName} from '../archive/tar.js'

/**
 * Exact-length reads over a stream of chunks. `read(n)` returns n bytes or throws
 * `INPUT_CORRUPT_CPIO` at a premature end (the payload was cut short), `skip(n)` drops n
 * bytes without keeping them.
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Uint8Array>
  private buf: Buffer = Buffer.alloc(0)
  private done = false
  /** Bytes consumed so far (the offset in the decompressed stream). */
  offset = 0

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]()
  }

  /** The next chunk of the source, or undefined at its end. */
  private async next(): Promise<Buffer | undefined> {
    if (this.done) return undefined
    const r = await this.it.next()
    if (r.done) {
      this.done = true
      return undefined
    }
    return Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength)
  }

  private async fill(): Promise<boolean> {
    const c = await this.next()
    if (!c) return false
    this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c])
    return true
  }

  async read(n: number, what: string): Promise<Buffer> {
    if (this.buf.length < n) {
      // gather the chunks and join them once (a large member is many chunks)
      const parts = [this.buf]
      let have = this.buf.length
      while (have < n) {
        const c = await this.next()
        if (!c) throw new InputError('INPUT_CORRUPT_CPIO', `cpio payload ends inside ${what} (${have} of ${n} bytes)`, {offset: this.offset})
        parts.push(c)
        have += c.length
      }
      this.buf = Buffer.concat(parts, have)
    }
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    this.offset += n
    return out
  }

  async skip(n: number, what: string): Promise<void> {
    let left = n
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) {
        throw new InputError('INPUT_CORRUPT_CPIO', `cpio payload ends inside ${what} (${n - left} of ${n} bytes)`, {offset: this.offset})
      }
      const k = Math.min(left, this.buf.length)
      this.buf = this.buf.subarray(k)
      left -= k
      this.offset += k
    }
  }

  /** Yields the next n bytes chunk by chunk, as they arrive (nothing is gathered). */
  async *stream(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) {
        throw new InputError('INPUT_CORRUPT_CPIO', `cpio payload ends inside ${what} (${n - left} of ${n} bytes)`, {offset: this.offset})
      }
      const k = Math.min(left, this.buf.length)
      const out = this.buf.subarray(0, k)
      this.buf = this.buf.subarray(k)
      left -= k
      this.offset += k
      yield out
    }
  }

  /** Reads the source to its end, dropping it (what follows the trailer: padding). */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0)
    while (await this.fill()) this.buf = Buffer.alloc(0)
  }

  /** Closes the source (stops a decompressor that is still producing). */
  async close(): Promise<void> {
    await this.it.return?.()
  }
}

/** A file of the package header, for resolving stripped members. */
export interface CpioHeaderFile {
  /** Path without a leading `/`. */
  path: string
  size: number
  mode: number
}

export interface CpioEntry {
  /** Path without the leading `./` (or `/`), e.g. `lib/modules/6.1.0/vmlinuz`. */
  path: string
  mode: number
  /** `file`, `directory`, `symlink` or `other` (from the mode's S_IFMT bits). */
  type: 'file' | 'directory' | 'symlink' | 'other'
  size: number
  /** Earlier names of this file (hard links that carried no data). */
  links: string[]
  /** For stripped members: the index into the header's file list. */
  headerIndex?: number
  /** Reads the member's data (once; at most `maxSize` bytes, else `INPUT_TOO_LARGE`). */
  read(): Promise<Buffer>
  /**
   * The member's data as it streams by, for members too large to hold (a debug vmlinux):
   * either this or read(), once. Each chunk is valid until the next is asked for.
   */
  stream(): AsyncIterable<Buffer>
}

export interface CpioOptions {
  /** Most members (default 1,000,000). */
  maxEntries?: number
  /** Largest member `read()` may return (default 2 GiB). */
  maxSize?: number
}

const NEWC = '070701'
const NEWC_CRC = '070702'
const STRIPPED = '07070X'
const HEADER = 110
const TRAILER = 'TRAILER!!!'

const pad4 = (n: number): number => (4 - (n % 4)) % 4

function typeOf(mode: number): CpioEntry['type'] {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file'
    case 0o040000:
      return 'directory'
    case 0o120000:
      return 'symlink'
    default:
      return 'other'
  }
}

function normalize(name: string): string {
  let p = name
  while (p.startsWith('./')) p = p.slice(2)
  if (p.startsWith('/')) p = p.slice(1)
  return p.endsWith('/') ? p.slice(0, -1) : p
}

/**
 * The members of a cpio (newc) archive, in order, as the decompressed payload streams by.
 * A member whose data the caller did not read is skipped when the next one is asked for.
 * `files` is the package header's file list (needed only for stripped members).
 * @throws InputError (see the module comment).
 */
export async function* cpioEntries(source: AsyncIterable<Uint8Array>, files: CpioHeaderFile[] = [], o: CpioOptions = {}): AsyncGenerator<CpioEntry> {
  const r = new ChunkReader(source)
  const maxEntries = o.maxEntries ?? 1_000_000
  const maxSize = o.maxSize ?? 2 * 1024 ** 3
  // hard-link names seen without data, by inode
  const pendingLinks = new Map<number, string[]>()
  let count = 0
  try {
    for (;;) {
      const at = r.offset
      const magic = (await r.read(6, 'a member header')).toString('latin1')
      let path: string
      let mode: number
      let size: number
      let headerIndex: number | undefined
      let links: string[] = []
      if (magic === STRIPPED) {
        const hex = (await r.read(8, 'a stripped member header')).toString('latin1')
        if (!/^[0-9a-fA-F]{8}$/.test(hex)) throw new InputError('INPUT_CORRUPT_CPIO', `stripped cpio member has a bad file index ${JSON.stringify(hex)}`, {offset: at})
        headerIndex = parseInt(hex, 16)
        const f = files[headerIndex]
        if (!f) throw new InputError('INPUT_CORRUPT_CPIO', `stripped cpio member names file ${headerIndex}, but the header lists ${files.length}`, {offset: at})
        await r.skip(pad4(14), 'member padding')
        path = f.path
        mode = f.mode
        size = f.size
      } else if (magic === NEWC || magic === NEWC_CRC) {
        const text = (await r.read(HEADER - 6, 'a member header')).toString('latin1')
        if (!/^[0-9a-fA-F]{104}$/.test(text)) throw new InputError('INPUT_CORRUPT_CPIO', 'cpio member header has a field that is not 8 hex digits', {offset: at})
        const field = (i: number): number => parseInt(text.slice(i * 8, i * 8 + 8), 16)
        const ino = field(0)
        mode = field(1)
        const nlink = field(4)
        size = field(6)
        const namesize = field(11)
        if (namesize < 1 || namesize > 65536) throw new InputError('INPUT_CORRUPT_CPIO', `cpio member name size ${namesize} is out of range`, {offset: at})
        const name = await r.read(namesize, 'a member name')
        if (name[namesize - 1] !== 0) throw new InputError('INPUT_CORRUPT_CPIO', 'cpio member name does not end with NUL', {offset: at + HEADER})
        await r.skip(pad4(HEADER + namesize), 'member padding')
        const raw = name.subarray(0, namesize - 1).toString('utf8')
        if (raw === TRAILER) {
          // read the source to its end, so that a digest over it sees every byte
          await r.drain()
          return
        }
        path = normalize(raw)
        if (path !== '' && path !== '.') checkEntryName(path)
        if (typeOf(mode) === 'file' && nlink > 1) {
          const earlier = pendingLinks.get(ino) ?? []
          if (size === 0) {
            pendingLinks.set(ino, [...earlier, path])
            continue
          }
          links = earlier
          pendingLinks.delete(ino)
        }
      } else {
        throw new InputError('INPUT_CORRUPT_CPIO', `not a cpio newc member (magic ${JSON.stringify(magic)})`, {offset: at})
      }
      if (++count > maxEntries) throw new InputError('INPUT_TOO_LARGE', `cpio payload has more than ${maxEntries} members`)
      let consumed = false
      // data bytes not yet consumed by stream(), and whether its padding was
      const left = {data: size, padded: false}
      const entry: CpioEntry = {
        path,
        mode,
        type: typeOf(mode),
        size,
        links,
        ...(headerIndex === undefined ? {} : {headerIndex}),
        read: async () => {
          if (consumed) throw new Error(`cpio member ${path} was already read`)
          if (size > maxSize) throw new InputError('INPUT_TOO_LARGE', `${path} is ${size} bytes, more than the limit of ${maxSize}`)
          consumed = true
          const data = Buffer.from(await r.read(size, path)) // a copy: the reader's buffer moves on
          await r.skip(pad4(size), 'data padding')
          left.data = 0
          left.padded = true
          return data
        },
        stream: () => {
          if (consumed) throw new Error(`cpio member ${path} was already read`)
          consumed = true
          return (async function* () {
            for await (const c of r.stream(size, path)) {
              left.data -= c.length
              yield c
            }
            await r.skip(pad4(size), 'data padding')
            left.padded = true
          })()
        },
      }
      yield entry
      if (!consumed) {
        consumed = true
        await r.skip(size + pad4(size), path)
      } else if (!left.padded) {
        // a stream() the caller left before its end
        await r.skip(left.data + pad4(size), path)
      }
    }
  } finally {
    await r.close()
  }
}
