/**
 * The release matrix: every program of some BPF objects against many kernels. Each
 * cell is exactly what `check --kernel K --object O` says for that program (same
 * kernel resolution, same rules, same CO-RE hook); the matrix only adds the iteration,
 * the summaries and an optional cache of cells per (object, kernel, kcompat).
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {basename, dirname, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {resolveArchiveDir} from '../archive/archive.js'
import {type KernelEntry, readManifest} from '../archive/manifest.js'
import {checkObject} from '../check/check.js'
import {CheckUsageError} from '../check/errors.js'
import {type KernelProfile, resolveKernel} from '../check/kernel.js'
import {type BpfObjectInfo, readBpfObject} from '../check/object.js'
import type {ProgramResult, Reason, Suggestion, Verdict} from '../check/types.js'
import {loadFacts} from '../kernel/facts/index.js'
import {compareVersions, parseVersion} from '../kernel/facts/version.js'
import {parseReleaseLenient} from '../kernel/release.js'

export interface MatrixKernel {
  /** The cell's `kernel`: the release (or, for --btf, the file name without extensions). */
  name: string
  release: string
  distro: string
  version: string
  arch: string
  flavor: string | null
  /** Upstream base version (`6.1.0`). */
  upstream: string
  btf: 'in-kernel' | 'generated' | 'none' | 'file'
  origin: 'archive' | 'btf-file'
  /** Archive path of the BTF, or the --btf file. */
  path: string | null
}

export interface MatrixObject {
  /** File name, as cells name it. */
  name: string
  path: string
  sha256: string
  programs: Array<{program: string; section: string}>
}

export interface MatrixCell {
  kernel: string
  object: string
  program: string
  section: string
  verdict: Verdict
  reasons: Reason[]
  suggestions: Suggestion[]
}

export interface FailureGroup {
  verdict: Verdict
  rule: string
  message: string
  kernels: string[]
}

export interface ProgramSummary {
  object: string
  program: string
  section: string
  total: number
  counts: Record<Verdict, number>
  /** Lowest upstream version from which the program is supported on every kernel of the matrix; null when there is none. */
  firstVersion: string | null
  failures: FailureGroup[]
}

export interface MatrixResult {
  kernels: MatrixKernel[]
  objects: MatrixObject[]
  cells: MatrixCell[]
  summary: ProgramSummary[]
  /** How many (object, kernel) pairs came from the cache. */
  cache?: {hits: number; misses: number}
}

/** Cells of one object on one kernel, cached by content keys. */
export interface MatrixCache {
  get(objectSha: string, kernelKey: string): MatrixCell[] | undefined
  put(objectSha: string, kernelKey: string, info: {object: string; kernel: string}, cells: MatrixCell[]): void
}

export interface MatrixOptions {
  objects: string[]
  archive?: string
  /** Filter on kernels of the archive (see {@link kernelFilter}); default all. */
  kernels?: string
  /** Extra kernels given by BTF files. */
  btf?: string[]
  /** Leave out archived kernels (only --btf kernels). */
  noArchive?: boolean
  cache?: MatrixCache
  onProgress?: (done: number, total: number, kernel: string) => void
}

let toolKeyMemo: string | undefined
/** kcompat's version and build id, the facts data version and the cell format: a cached cell is reused only under the same. */
export function toolKey(): string {
  if (toolKeyMemo) return toolKeyMemo
  let version = '0'
  try {
    version = (JSON.parse(readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as {version: string}).version
  } catch {
    // not in a package layout: the facts version still keys the cache
  }
  let build = 'dev'
  try {
    // written by scripts/build-assets.mjs: a hash of the compiled code
    build = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '..', 'build-id.txt'), 'utf8').trim()
  } catch {
    // running from sources (tests): no build id
  }
  toolKeyMemo = `kcompat ${version}; build ${build}; facts ${loadFacts().dataVersion}; matrix-cells 1`
  return toolKeyMemo
}

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex')

/** A kernel named by a BTF file: the file name without its extensions. */
export function btfFileKernelName(path: string): string {
  let n = basename(path)
  for (;;) {
    const m = /\.(xz|gz|zst|bz2|lz4|tar|btf|raw|bin|elf|vmlinux)$/i.exec(n)
    if (!m || m.index === 0) break
    n = n.slice(0, m.index)
  }
  return n
}

/**
 * `--kernels FILTER`: comma-separated globs (`*`, `?`), each matched against the
 * release, `<distro>/<version>/<arch>/<release>`, the distro, the arch and
 * `<distro>/<version>`; `!GLOB` excludes. Examples: `debian/12/x86_64/*`, `6.12*`,
 * `arm64`, `*cloud*,!*rt*`.
 */
export function kernelFilter(filter: string | undefined): (e: KernelEntry) => boolean {
  if (!filter || filter.trim() === '') return () => true
  const terms = filter.split(',').map((t) => t.trim()).filter((t) => t !== '')
  const re = (g: string): RegExp => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
  const inc = terms.filter((t) => !t.startsWith('!')).map(re)
  const exc = terms.filter((t) => t.startsWith('!')).map((t) => re(t.slice(1)))
  return (e) => {
    const keys = [e.release, `${e.distro}/${e.version}/${e.arch}/${e.release}`, e.distro, e.arch, `${e.distro}/${e.version}`, `${e.distro}/${e.version}/${e.arch}`]
    const hit = (r: RegExp): boolean => keys.some((k) => r.test(k))
    return (inc.length === 0 || inc.some(hit)) && !exc.some(hit)
  }
}

function versionKey(v: string): number[] {
  try {
    return parseVersion(v.replace(/[^0-9.].*$/, ''))
  } catch {
    return [0]
  }
}

function releaseCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', {numeric: true})
}

/** Rows grouped by distro, version, arch, then upstream version and release. */
export function sortKernels(ks: MatrixKernel[]): MatrixKernel[] {
  return [...ks].sort(
    (a, b) =>
      a.distro.localeCompare(b.distro) ||
      compareVersions(versionKey(a.version), versionKey(b.version)) ||
      a.arch.localeCompare(b.arch) ||
      compareVersions(versionKey(a.upstream), versionKey(b.upstream)) ||
      releaseCompare(a.release, b.release),
  )
}

function cellOf(kernel: string, object: string, p: ProgramResult): MatrixCell {
  return {kernel, object, program: p.program ?? p.section, section: p.section, verdict: p.verdict, reasons: p.reasons, suggestions: p.suggestions}
}

interface KernelJob {
  kernel: MatrixKernel
  /** Content key: the manifest entry (which holds the BTF's sha256) or the BTF file's hash. */
  key: string
  resolve(): Promise<KernelProfile>
}

/**
 * Builds the matrix.
 * @throws CheckUsageError `MATRIX_NO_OBJECTS`, `MATRIX_NO_KERNELS`, `MATRIX_BAD_BTF_NAME`
 *   and what `check` throws for unreadable objects, kernels and BTF files.
 */
export async function buildMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  if (opts.objects.length === 0) throw new CheckUsageError('MATRIX_NO_OBJECTS', 'nothing to check: give --object FILE.bpf.o')
  const objects: Array<MatrixObject & {info: BpfObjectInfo}> = []
  for (const path of opts.objects) {
    const info = await readBpfObject(path)
    const bytes = readFileSync(path)
    objects.push({name: basename(path), path, sha256: sha256(bytes), programs: info.programs.map((p) => ({program: p.name, section: p.section})), info})
  }
  const jobs: KernelJob[] = []
  const root = resolveArchiveDir(opts.archive)
  if (!opts.noArchive) {
    const keep = kernelFilter(opts.kernels)
    const entries = readManifest(root).kernels.filter(keep)
    const dup = new Set(entries.map((e) => e.release).filter((r, i, a) => a.indexOf(r) !== i))
    for (const e of entries) {
      const name = dup.has(e.release) ? `${e.release} (${e.arch})` : e.release
      jobs.push({
        kernel: {
          name,
          release: e.release,
          distro: e.distro,
          version: e.version,
          arch: e.arch,
          flavor: e.flavor || null,
          upstream: '',
          btf: e.btf,
          origin: 'archive',
          path: e.path,
        },
        key: `archive:${sha256(JSON.stringify(e))}`,
        resolve: () => resolveKernel({kernel: e.release, archive: root, arch: e.arch}),
      })
    }
  }
  for (const file of opts.btf ?? []) {
    const name = btfFileKernelName(file)
    if (name === '') throw new CheckUsageError('MATRIX_BAD_BTF_NAME', `${file}: cannot name a kernel after this file`)
    const key = `btf:${name}:${sha256(readFileSync(file))}`
    jobs.push({
      kernel: {name, release: name, distro: '', version: '', arch: '', flavor: null, upstream: '', btf: 'file', origin: 'btf-file', path: file},
      key,
      resolve: async () => {
        try {
          return await resolveKernel({kernel: name, archive: root, btf: file})
        } catch (e) {
          if (e instanceof Error && 'code' in e && (e as {code: string}).code === 'RELEASE_UNKNOWN') {
            throw new CheckUsageError('MATRIX_BAD_BTF_NAME', `${file}: kernels given by --btf are named by the file name, which must be a kernel release (uname -r), e.g. 5.15.0-91-generic.btf: ${(e as Error).message}`)
          }
          throw e
        }
      },
    })
  }
  if (jobs.length === 0) throw new CheckUsageError('MATRIX_NO_KERNELS', `no kernel matches${opts.kernels ? ` --kernels ${opts.kernels}` : ''} in the archive at ${root}`)

  const cells: MatrixCell[] = []
  const tool = toolKey()
  let hits = 0
  let misses = 0
  let done = 0
  for (const job of jobs) {
    const kkey = `${job.key}; ${tool}`
    let profile: KernelProfile | undefined
    const pending: typeof objects = []
    const got = new Map<string, MatrixCell[]>()
    for (const o of objects) {
      const c = opts.cache?.get(o.sha256, kkey)
      if (c) {
        hits++
        got.set(o.path, c.map((x) => ({...x, kernel: job.kernel.name, object: o.name})))
      } else pending.push(o)
    }
    // Kernel facts for the row: identity from the release (cheap), profile only when a cell is computed.
    profile = pending.length > 0 || job.kernel.origin === 'btf-file' ? await job.resolve() : undefined
    fillIdentity(job.kernel, profile)
    for (const o of pending) {
      misses++
      const results = await checkObject(o.path, profile!, {}, o.info)
      const cs = results.map((p) => cellOf(job.kernel.name, o.name, p))
      opts.cache?.put(o.sha256, kkey, {object: o.name, kernel: job.kernel.name}, cs)
      got.set(o.path, cs)
    }
    for (const o of objects) cells.push(...got.get(o.path)!)
    opts.onProgress?.(++done, jobs.length, job.kernel.name)
  }
  const kernels = sortKernels(jobs.map((j) => j.kernel))
  const order = new Map(kernels.map((k, i) => [k.name, i]))
  const objOrder = new Map(objects.map((o, i) => [o.name, i]))
  cells.sort((a, b) => order.get(a.kernel)! - order.get(b.kernel)! || objOrder.get(a.object)! - objOrder.get(b.object)!)
  return {
    kernels,
    objects: objects.map(({info: _info, ...o}) => o),
    cells,
    summary: summarize(kernels, objects, cells),
    ...(opts.cache ? {cache: {hits, misses}} : {}),
  }
}


function fillIdentity(k: MatrixKernel, p: KernelProfile | undefined): void {
  if (p) {
    k.upstream = p.release.upstream
    k.arch = p.arch
    if (k.origin === 'btf-file') {
      k.distro = p.archive?.entry.distro ?? p.release.distro
      k.version = p.archive?.entry.version ?? p.release.distroRelease ?? ''
      k.flavor = p.release.flavor
    }
    return
  }
  try {
    k.upstream = parseReleaseLenient(k.release).upstream
  } catch {
    k.upstream = k.release
  }
}

function firstFailing(c: MatrixCell): Reason | undefined {
  const rank: Record<string, number> = {fail: 0, unknown: 1, possible: 2}
  return [...c.reasons].filter((r) => r.status in rank).sort((a, b) => rank[a.status]! - rank[b.status]!)[0]
}

/** Per program: counts, the first version it needs, failing kernels grouped by reason. */
export function summarize(kernels: MatrixKernel[], objects: Array<Pick<MatrixObject, 'name' | 'programs'>>, cells: MatrixCell[]): ProgramSummary[] {
  const out: ProgramSummary[] = []
  const kOf = new Map(kernels.map((k) => [k.name, k]))
  for (const o of objects) {
    for (const p of o.programs) {
      const mine = cells.filter((c) => c.object === o.name && c.program === p.program && c.section === p.section)
      const counts: Record<Verdict, number> = {supported: 0, possible: 0, unknown: 0, unsupported: 0}
      for (const c of mine) counts[c.verdict]++
      // Lowest version V with every kernel at >= V supported.
      const byVersion = [...new Set(mine.map((c) => kOf.get(c.kernel)!.upstream))].sort((a, b) => compareVersions(versionKey(a), versionKey(b)))
      let firstVersion: string | null = null
      for (let i = byVersion.length - 1; i >= 0; i--) {
        const v = byVersion[i]!
        const atOrAbove = mine.filter((c) => compareVersions(versionKey(kOf.get(c.kernel)!.upstream), versionKey(v)) >= 0)
        if (atOrAbove.every((c) => c.verdict === 'supported')) firstVersion = v
        else break
      }
      const groups = new Map<string, FailureGroup>()
      for (const c of mine) {
        if (c.verdict === 'supported') continue
        const r = firstFailing(c)
        const rule = r?.rule ?? '?'
        const message = r?.message ?? c.verdict
        const key = `${c.verdict}\u0000${rule}\u0000${message}`
        let g = groups.get(key)
        if (!g) groups.set(key, (g = {verdict: c.verdict, rule, message, kernels: []}))
        g.kernels.push(c.kernel)
      }
      const vr: Record<Verdict, number> = {unsupported: 0, unknown: 1, possible: 2, supported: 3}
      out.push({
        object: o.name,
        program: p.program,
        section: p.section,
        total: mine.length,
        counts,
        firstVersion,
        failures: [...groups.values()].sort((a, b) => vr[a.verdict] - vr[b.verdict] || b.kernels.length - a.kernels.length),
      })
    }
  }
  return out
}

/**
 * Exit status for `--fail-on`: like `check` (1 any unsupported, 3 none unsupported but
 * some possible or unknown, 0 all supported), limited to what is asked for:
 * `unsupported` exits 1 only for unsupported cells; `possible` also exits 3 for
 * possible and unknown ones. Without --fail-on the matrix is a report: 0.
 */
export function matrixExitCode(cells: readonly MatrixCell[], failOn: 'unsupported' | 'possible' | undefined): 0 | 1 | 3 {
  if (!failOn) return 0
  if (cells.some((c) => c.verdict === 'unsupported')) return 1
  if (failOn === 'possible' && cells.some((c) => c.verdict !== 'supported')) return 3
  return 0
}

