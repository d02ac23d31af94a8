/**
 * One file out of an `.rpm` on disk, streamed, as deb-member.ts does for a `.deb`: the
 * headers are read (src/pkg/rpm.ts), the payload is decompressed as it streams through
 * the cpio reader (src/pkg/cpio.ts), and only the wanted member's bytes are hashed
 * (sha256) and, when a destination is given, written to a temporary sibling the caller
 * renames into place once it has checked the hash. The member's bytes are also checked
 * against the digest the RPM header lists for that file (`RPM_CHECKSUM`, rpm.ts). Reading
 * stops right after that member.
 *
 * Error codes: `IMAGE_MEMBER_MISSING` (no such regular file in the payload), and those
 * of the RPM reader (`RPM_BAD_LEAD`, `RPM_BAD_HEADER`, `RPM_TRUNCATED`, `RPM_CHECKSUM`,
 * `RPM_UNSUPPORTED`, `INPUT_CORRUPT_CPIO`, …).
 */
import {createHash, randomBytes} from 'node:crypto'
import {createWriteStream, rmSync} from 'node:fs'
import {basename} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {KcompatError} from '../errors.js'
import {readRpmHeaders, rpmMembers} from '../pkg/rpm.js'

export interface RpmMemberData {
  /** Path in the payload without a leading `/`, e.g. `lib/modules/5.14.0-427.el9.x86_64/vmlinuz`. */
  path: string
  sha256: string
  size: number
  /** When a destination was given: the written temporary sibling, to check and rename (or delete). */
  file?: string
}

/**
 * Streams member `want` (a path without the leading `/`; a hard link's name counts) of
 * the RPM at `rpmPath` into a temporary sibling of `dest`, or only hashes it.
 * @throws KcompatError `IMAGE_MEMBER_MISSING`; the RPM reader's codes.
 */
export async function readRpmMember(rpmPath: string, want: string, o: {dest?: string; onProgress?: (p: {written: number; total: number}) => void} = {}): Promise<RpmMemberData> {
  const pkg = await readRpmHeaders(rpmPath)
  for await (const m of rpmMembers(rpmPath, pkg)) {
    if (m.type !== 'file' || (m.path !== want && !m.links.includes(want))) continue
    const hash = createHash('sha256')
    let written = 0
    const total = m.size
    const counted = async function* (): AsyncGenerator<Buffer> {
      for await (const c of m.stream()) {
        hash.update(c)
        written += c.length
        o.onProgress?.({written, total})
        // each chunk is valid only until the next is asked for (cpio.ts): hand the writer a copy
        yield Buffer.from(c)
      }
    }
    if (!o.dest) {
      for await (const _ of counted()) void _
      return {path: want, sha256: hash.digest('hex'), size: written}
    }
    const tmp = `${o.dest}.part-${process.pid}-${randomBytes(4).toString('hex')}`
    try {
      await pipeline(counted(), createWriteStream(tmp))
    } catch (e) {
      rmSync(tmp, {force: true})
      throw e
    }
    return {path: want, sha256: hash.digest('hex'), size: written, file: tmp}
  }
  throw new KcompatError('IMAGE_MEMBER_MISSING', `${basename(rpmPath)} has no regular file /${want}`)
}
