/**
 * A writer for cpio archives in the "newc" format (the SVR4 portable format without
 * checksums, magic `070701`), the format the Linux kernel unpacks an initramfs from
 * (Documentation/driver-api/early-userspace/buffer-format.rst).
 *
 * Layout, per entry: a 110-byte ASCII header (the magic, then 13 fields as 8 hex
 * digits: ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
 * rdevminor, namesize including the terminating NUL, check = 0), the NUL-terminated name
 * padded with NULs so that header + name is a multiple of 4, then the data padded to a
 * multiple of 4. The archive ends with an entry named `TRAILER!!!`.
 *
 * The output is deterministic: entries are written in the order given (callers sort),
 * inode numbers count up from 1 in that order, and mtime, uid and gid are 0, so the same
 * inputs always give the same bytes. Hard links are not written (every file has nlink 1,
 * directories 2).
 */

export type CpioEntry =
  | {type: 'dir'; path: string; mode?: number}
  | {type: 'file'; path: string; data: Uint8Array; mode?: number}
  | {type: 'symlink'; path: string; target: string}
  | {type: 'char'; path: string; major: number; minor: number; mode?: number}

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`)
  return n.toString(16).padStart(8, '0').toUpperCase()
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4

/** Writes the entries, in the order given, as one newc archive. Paths are relative (no leading `/`). */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = []
  let ino = 0
  const push = (name: string, mode: number, nlink: number, data: Uint8Array, rdev: [number, number] = [0, 0], inode = ++ino): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8')
    const header =
      '070701' +
      [inode, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex8).join('')
    chunks.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)))
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.length)))
  }
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '')
    if (path === '' || path.split('/').some((p) => p === '..' || p === '')) throw new RangeError(`bad cpio path: ${e.path}`)
    switch (e.type) {
      case 'dir':
        push(path, S_IFDIR | (e.mode ?? 0o755), 2, new Uint8Array(0))
        break
      case 'file':
        push(path, S_IFREG | (e.mode ?? 0o644), 1, e.data)
        break
      case 'symlink':
        push(path, S_IFLNK | 0o777, 1, Buffer.from(e.target, 'utf8'))
        break
      case 'char':
        push(path, S_IFCHR | (e.mode ?? 0o600), 1, new Uint8Array(0), [e.major, e.minor])
        break
    }
  }
  push('TRAILER!!!', 0, 1, new Uint8Array(0), [0, 0], 0)
  return Buffer.concat(chunks)
}
