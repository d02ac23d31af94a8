/**
 * The per-kernel job of `kcompat matrix` for the worker pool (src/parallel): resolve one
 * kernel (read and parse its BTF) and check the objects whose cells are not cached
 * against it, exactly as `check --kernel K --object O` does. Each thread reads the
 * objects once. A job's cells come back as cache text ({@link encodeCells}): strings
 * cross threads cheaply, and the matrix reads computed and cached cells the same way.
 */
import {readFile} from 'node:fs/promises'
import {CheckUsageError} from '../check/errors.js'
import {checkObject} from '../check/check.js'
import {type KernelProfile, resolveKernel} from '../check/kernel.js'
import {type BpfObjectInfo, readBpfObject} from '../check/object.js'
import {type ObservedHash, observedHash, statKey} from './file-hash.js'
import {type KernelIdentity, encodeCells} from './matrix.js'

export interface MatrixTaskInit {
  /** Archive root, already resolved. */
  archive: string
  /** Object paths, in the matrix's order; jobs name them by index. */
  objects: string[]
}

/** Which kernel: an archived one (by release and arch) or a --btf file named `name`. */
export type KernelSpec = {origin: 'archive'; release: string; arch: string} | {origin: 'btf-file'; name: string; file: string}

export interface MatrixJob {
  kernel: KernelSpec
  /** Indexes of the objects to check (those not cached). */
  objects: number[]
  /**
   * A --btf kernel whose file hash is not known yet: hash the bytes read for the check
   * (one read, on this thread) and return the hash with what a memo needs to keep it.
   */
  hash?: boolean
}

export interface MatrixJobResult {
  identity: KernelIdentity
  /** Cache text of each checked object's cells, in the order of the job's `objects`. */
  cells: string[]
  /** With `hash`: the --btf file's content hash. */
  fileHash?: ObservedHash
}

/** What a row shows of a resolved kernel (the archive entry's distro and version win). */
export function identityOf(p: KernelProfile): KernelIdentity {
  return {
    upstream: p.release.upstream,
    arch: p.arch,
    distro: p.archive?.entry.distro ?? p.release.distro,
    version: p.archive?.entry.version ?? p.release.distroRelease ?? '',
    flavor: p.release.flavor,
  }
}

/**
 * The kernel's profile, as `check` builds it.
 * @throws CheckUsageError `MATRIX_BAD_BTF_NAME` for a --btf file whose name is not a
 *   kernel release, and what resolveKernel throws.
 */
export async function resolveSpec(archive: string, k: KernelSpec, btfBytes?: Uint8Array): Promise<KernelProfile> {
  if (k.origin === 'archive') return resolveKernel({kernel: k.release, archive, arch: k.arch})
  try {
    return await resolveKernel({kernel: k.name, archive, btf: k.file, btfBytes})
  } catch (e) {
    if (e instanceof Error && 'code' in e && (e as {code: string}).code === 'RELEASE_UNKNOWN') {
      throw new CheckUsageError('MATRIX_BAD_BTF_NAME', `${k.file}: kernels given by --btf are named by the file name, which must be a kernel release (uname -r), e.g. 5.15.0-91-generic.btf: ${(e as Error).message}`)
    }
    throw e
  }
}

export async function createTask(init: MatrixTaskInit): Promise<(job: MatrixJob) => Promise<MatrixJobResult>> {
  const infos: BpfObjectInfo[] = []
  for (const path of init.objects) infos.push(await readBpfObject(path))
  return async (job) => {
    let fileHash: ObservedHash | undefined
    let bytes: Uint8Array | undefined
    if (job.hash && job.kernel.origin === 'btf-file') {
      try {
        const started = BigInt(Date.now()) * 1_000_000n
        const before = statKey(job.kernel.file)
        bytes = await readFile(job.kernel.file)
        fileHash = observedHash(bytes, before, started)
      } catch {
        // unreadable: resolveSpec reports it with its own error code
        bytes = undefined
      }
    }
    const profile = await resolveSpec(init.archive, job.kernel, bytes)
    const cells: string[] = []
    for (const i of job.objects) {
      const results = await checkObject(init.objects[i]!, profile, {}, infos[i])
      cells.push(encodeCells(results.map((p) => ({program: p.program ?? p.section, section: p.section, verdict: p.verdict, reasons: p.reasons, suggestions: p.suggestions}))))
    }
    return {identity: identityOf(profile), cells, ...(fileHash ? {fileHash} : {})}
  }
}
