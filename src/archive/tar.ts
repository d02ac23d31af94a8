/**
 * Reading and writing the small tar files of a BTFHub archive (`<release>.btf.tar.xz`
 * holds one `<release>.btf`). Reading refuses entries that could escape a directory
 * (absolute paths, `..` components) and caps entry count and total size, so a hostile
 * archive cannot write outside its target or exhaust memory.
 */
import {createRequire} from 'node:module'
import {Readable} from 'node:stream'
import {InputError} from '../errors.js'

// tar-stream is loaded on first use (it and its dependencies take tens of milliseconds
// to load, which `btf dump` of a plain file should not pay).
const require = createRequire(import.meta.url)
let tarStreamModule: typeof import('tar-stream') | undefined
function tarStream(): typeof import('tar-stream') {
  tarStreamModule ??= require('tar-stream') as typeof import('tar-stream')
  return tarStreamModule
}

export interface TarEntry {
  name: string
  type: string
  data: Buffer
}

export interface TarLimits {
  maxEntries?: number
  maxTotalSize?: number
}

/** Whether `bytes` has the ustar/GNU tar magic of its first header. */
export function looksLikeTar(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 512 &&
    bytes[257] === 0x75 && // u
    bytes[258] === 0x73 && // s
    bytes[259] === 0x74 && // t
    bytes[260] === 0x61 && // a
    bytes[261] === 0x72 // r
  )
}

/** Rejects names that are absolute or walk up out of the extraction directory. */
export function checkEntryName(name: string): void {
  if (name.startsWith('/') || name.split('/').includes('..') || name.includes('\0')) {
    throw new InputError('INPUT_BAD_TAR_PATH', `tar entry ${JSON.stringify(name)} has an unsafe path`)
  }
}

/**
 * Reads every entry of an in-memory tar.
 * @throws InputError `INPUT_BAD_TAR_PATH`, `INPUT_TOO_LARGE`, `INPUT_CORRUPT_TAR`.
 */
export async function readTar(bytes: Uint8Array, limits: TarLimits = {}): Promise<TarEntry[]> {
  const maxEntries = limits.maxEntries ?? 10_000
  const maxTotal = limits.maxTotalSize ?? 512 * 1024 * 1024
  const extract = tarStream().extract()
  const entries: TarEntry[] = []
  let total = 0
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      // errors of the entry stream also reach `extract`; this keeps them from being unhandled
      stream.on('error', () => {})
      try {
        checkEntryName(header.name)
        if (entries.length >= maxEntries) throw new InputError('INPUT_TOO_LARGE', `tar has more than ${maxEntries} entries`)
        total += header.size ?? 0
        if (total > maxTotal) throw new InputError('INPUT_TOO_LARGE', `tar contents exceed ${maxTotal} bytes`)
      } catch (e) {
        stream.resume()
        extract.destroy(e as Error)
        return
      }
      const chunks: Buffer[] = []
      stream.on('data', (c: unknown) => chunks.push(c as Buffer))
      stream.on('end', () => {
        entries.push({name: header.name, type: header.type ?? 'file', data: Buffer.concat(chunks)})
        next()
      })
    })
    extract.on('finish', resolve)
    extract.on('error', (e: Error) =>
      reject(e instanceof InputError ? e : new InputError('INPUT_CORRUPT_TAR', `tar data is corrupt: ${e.message}`, {cause: e})),
    )
  })
  Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]).pipe(extract)
  await done
  return entries
}

/**
 * Writes a deterministic tar holding `files` (fixed mtime, owner, mode), so the same
 * BTF always gives the same archive bytes.
 */
export async function writeTar(files: {name: string; data: Uint8Array}[]): Promise<Buffer> {
  const pack = tarStream().pack()
  const chunks: Buffer[] = []
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer))
    pack.on('end', resolve)
    pack.on('error', reject)
  })
  for (const f of files) {
    checkEntryName(f.name)
    pack.entry(
      {name: f.name, size: f.data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: 'root', gname: 'root', type: 'file'},
      Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength),
    )
  }
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}
