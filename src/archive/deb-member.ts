/**
 * One file out of a `.deb` on disk, streamed: the package is never held in memory.
 *
 * The ar headers and control member are read with positioned reads (debug-deb.ts), the
 * data member is decompressed piece by piece (xz block by block, gzip/zstd in 1 MiB reads,
 * bzip2/lzma through the tools), the tar is walked with tar-stream, and only the wanted
 * entry's bytes are hashed (sha256) and, when a destination is given, written to a
 * temporary sibling that the caller renames into place once it has checked the hash. Reading stops right after
 * that entry (a kernel package's `boot/` comes first in its data.tar, so little of the
 * package is decompressed).
 *
 * Error codes: `IMAGE_MEMBER_MISSING` (no such regular file in the package), and those of
 * debug-deb.ts's readers (`INPUT_BAD_DEB`, `INPUT_CORRUPT_XZ`, `INPUT_CORRUPT_TAR`, …).
 */
import {createHash, randomBytes} from 'node:crypto'
import {createWriteStream, rmSync} from 'node:fs'
import {basename} from 'node:path'
import {pipeline} from 'node:stream/promises'
import tarStream from 'tar-stream'
import {InputError, KcompatError} from '../errors.js'
import {feedTar} from './deb.js'
import {type DebugDebInfo, dataPieces, openInput, readArMembersFromFile, readControl} from './debug-deb.js'
import {checkEntryName} from './tar.js'

export interface DebMember {
  /** Path in data.tar without a leading `./`, e.g. `boot/vmlinuz-6.1.0-56-cloud-amd64`. */
  path: string
  sha256: string
  size: number
  /** When a destination was given: the written temporary sibling (`<dest>.part-…`), which
   *  the caller checks and renames into place (or deletes). */
  file?: string
  /** The package's control fields. */
  info: DebugDebInfo
}

export interface DebMemberOptions {
  /** Write the member here (atomically); without it the member is only hashed. */
  dest?: string
  onProgress?: (p: {written: number; total: number; entry: string}) => void
}

function normalize(name: string): string {
  let p = name
  while (p.startsWith('./')) p = p.slice(2)
  return p.endsWith('/') ? p.slice(0, -1) : p
}

/**
 * Streams the first regular file of `debPath`'s data.tar that `want` selects (an exact
 * path, or a predicate on paths), hashing it and optionally writing it to `dest`.
 * @throws InputError `IMAGE_MEMBER_MISSING` and the codes of the module comment.
 */
export async function readDebMember(debPath: string, want: string | ((path: string) => boolean), options: DebMemberOptions = {}): Promise<DebMember> {
  const match = typeof want === 'string' ? (p: string): boolean => p === normalize(want) : want
  const fh = await openInput(debPath)
  const extract = tarStream.extract()
  let feedError: unknown
  let feed: Promise<void> | undefined
  try {
    const fileSize = (await fh.stat()).size
    const info = await readControl(fh, await readArMembersFromFile(fh, fileSize), fileSize)
    feed = feedTar(extract, await dataPieces(debPath, fh, info.dataMember), (e) => {
      feedError = e
    })
    const notFile: string[] = []
    for await (const stream of extract) {
      const path = normalize(stream.header.name)
      checkEntryName(path)
      const type = stream.header.type ?? 'file'
      if (!match(path)) {
        stream.resume()
        continue
      }
      if (type !== 'file') {
        notFile.push(`${path} (${type})`)
        stream.resume()
        continue
      }
      const total = stream.header.size ?? 0
      const hash = createHash('sha256')
      const part = options.dest ? `${options.dest}.part-${randomBytes(4).toString('hex')}` : undefined
      let written = 0
      let last = 0
      try {
        await pipeline(
          stream,
          async function* (src: AsyncIterable<unknown>) {
            for await (const x of src) {
              const c = x as Buffer
              hash.update(c)
              written += c.length
              const now = Date.now()
              if (now - last > 100) {
                last = now
                options.onProgress?.({written, total, entry: path})
              }
              yield c
            }
          },
          part ? createWriteStream(part) : async (src: AsyncIterable<unknown>) => {
            for await (const _ of src) void _
          },
        )
      } catch (e) {
        if (part) rmSync(part, {force: true})
        throw e
      }
      if (written !== total) {
        if (part) rmSync(part, {force: true})
        throw new InputError('INPUT_CORRUPT_TAR', `${path}: read ${written} bytes, the tar header says ${total}`)
      }
      options.onProgress?.({written, total, entry: path})
      extract.destroy()
      return {path, sha256: hash.digest('hex'), size: total, ...(part ? {file: part} : {}), info}
    }
    if (feedError) throw feedError
    throw new InputError(
      'IMAGE_MEMBER_MISSING',
      `${basename(debPath)} (${info.package} ${info.version}) has no ${typeof want === 'string' ? normalize(want) : 'kernel image'}${notFile.length > 0 ? ` as a regular file (it has ${notFile.join(', ')})` : ''}`,
    )
  } catch (e) {
    extract.destroy()
    await feed
    const err = feedError ?? e
    if (err instanceof KcompatError) throw err
    throw new InputError('INPUT_CORRUPT_TAR', `${basename(debPath)}: data.tar is corrupt: ${(err as Error).message}`, {cause: err})
  } finally {
    extract.destroy()
    await feed
    await fh.close()
  }
}
