/**
 * The release matrix: every program of some BPF objects against many kernels. Each
 * cell is exactly what `check --kernel K --object O` says for that program (same
 * kernel resolution, same rules, same CO-RE hook); the matrix only adds the iteration,
 * the summaries and an optional cache of cells per (object, kernel, kcompat).
 */
import {readFileSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {loadArchiveKernels, resolveArchiveDir, sha256} from '../archive/archive.js'
import {type KernelEntry, MANIFEST_FILE} from '../archive/manifest.js'
import {CheckUsageError} from '../check/errors.js'
import {type BpfObjectInfo, readBpfObject} from '../check/object.js'
import type {Reason, Suggestion, Verdict} from '../check/types.js'
import {CoreError} from '../core/errors.js'
import {loadFacts} from '../kernel/facts/index.js'
import {compareVersions, parseVersion} from '../kernel/facts/version.js'
import {KernelReleaseError, parseReleaseLenient} from '../kernel/release.js'
import {registerErrorClass, runJobs} from '../parallel/pool.js'
import type {KernelSpec, MatrixJob, MatrixJobResult, MatrixTaskInit} from './parallel.js'
import type {ObservedHash} from './file-hash.js'
import type {VerifyComparisonResult} from '../verify/compare.js'

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
  /** With `matrix --verify`: what the booted kernels did, beside each cell (src/verify/compare.ts). */
  verify?: VerifyComparisonResult
}

/** A cell without the kernel and object names, which the matrix sets. */
export type StoredCell = Omit<MatrixCell, 'kernel' | 'object'>

/**
 * What a --btf kernel's row shows (distro, version, flavor, arch, upstream version),
 * which takes resolving the kernel (parsing its whole BTF) to know; cached with its
 * cells so a fully cached kernel is not parsed just for its row.
 */
export interface KernelIdentity {
  upstream: string
  arch: string
  distro: string
  version: string
  flavor: string | null
}

/** What the cache holds for one kernel key. */
export interface CachedKernel {
  /** The cells of each object asked about that is cached, by object sha256, as {@link encodeCells} wrote them. */
  cells: Map<string, string>
  identity?: KernelIdentity
}

/**
 * Cells of one object on one kernel, cached by content keys (the object's sha256 and a
 * kernel key that also holds {@link toolKey}) as text the matrix encodes; read one
 * kernel at a time.
 */
export interface MatrixCache {
  /** The cached cells of these objects on this kernel, and the kernel's identity if recorded: one read. */
  getKernel(kernelKey: string, objectShas: readonly string[]): CachedKernel
  put(objectSha: string, kernelKey: string, info: {object: string; kernel: string}, cells: string): void
  putIdentity(kernelKey: string, kernelName: string, identity: KernelIdentity): void
}

/** The sha256 (hex) of a file's content; an implementation may answer from a memo of unchanged files. */
export type FileHasher = (path: string) => string

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
  /** How objects and --btf files are hashed (default: read and hash each). */
  hashFile?: FileHasher
  /**
   * A memo of file hashes: a --btf kernel whose hash it does not know is hashed on the
   * thread that checks it, from the bytes read for the check, and the hash handed back
   * here (its cache is then not consulted: a file not seen before has no cells yet).
   */
  fileHashMemo?: {known(path: string): string | undefined; remember(path: string, seen: ObservedHash): void}
  /** Threads for the kernels to compute, the calling one included (default: see src/parallel/pool.ts). */
  jobs?: number
  /** Called per kernel done: the fully cached ones as they are read, then the computed ones in order. */
  onProgress?: (done: number, total: number, kernel: string) => void
}

// Errors of kernels checked on a worker thread keep their class when they reach this
// thread (the command exits 2 on the usage ones), as they would inline.
registerErrorClass(CheckUsageError)
registerErrorClass(KernelReleaseError)
registerErrorClass(CoreError)

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
  toolKeyMemo = `kcompat ${version}; build ${build}; facts ${loadFacts().dataVersion}; matrix-cells 6`
  return toolKeyMemo
}

const hashFileContent: FileHasher = (path) => sha256(readFileSync(path))

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

/**
 * One object for equal reasons (and suggestions, and lists of them) across the cells
 * of a matrix. Most reasons are the same on many kernels (the config, program-type and
 * CO-RE findings of a program), and a matrix of a thousand kernels holds hundreds of
 * thousands of cells: sharing them keeps the matrix's memory, and the garbage
 * collector's work, a fraction of what one copy per cell takes.
 *
 * Equal means the same JSON text (which also fixes the key order), so any rendering of
 * a shared object is what the cell's own would be. A list is shared when it holds the
 * same shared objects in the same order. Nothing changes cells once they are made, so
 * sharing is safe. The JSON texts are also how the cache stores reasons and
 * suggestions ({@link encodeCells}): a cached reason already seen is not parsed again.
 */
class CellInterner {
  private readonly byJson = new Map<string, {id: number; value: unknown}>()
  private readonly lists = new Map<string, unknown[]>()

  /** The shared object of JSON text `json`. */
  private one(json: string): {id: number; value: unknown} {
    let hit = this.byJson.get(json)
    if (!hit) this.byJson.set(ownCopy(json), (hit = {id: this.byJson.size, value: JSON.parse(json)}))
    return hit
  }

  private list<T>(items: Array<{id: number; value: unknown}>): T[] {
    if (items.length === 0) return []
    const key = items.map((i) => i.id).join(',')
    let hit = this.lists.get(key)
    if (!hit) this.lists.set(key, (hit = items.map((i) => i.value)))
    return hit as T[]
  }

  /** Cells of one object on one kernel from their cache text ({@link encodeCells}), in the cell's own key order (the JSON output's). */
  cells(kernel: string, object: string, text: string): MatrixCell[] {
    const lines = text === '' ? [] : text.split('\n')
    const out: MatrixCell[] = []
    for (let at = 0; at < lines.length; ) {
      const [program, section, verdict, nReasons, nSuggestions] = JSON.parse(lines[at++]!) as [string, string, Verdict, number, number]
      const reasons = this.list<Reason>(lines.slice(at, (at += nReasons)).map((j) => this.one(j)))
      const suggestions = this.list<Suggestion>(lines.slice(at, (at += nSuggestions)).map((j) => this.one(j)))
      out.push({kernel, object, program, section, verdict, reasons, suggestions})
    }
    return out
  }
}

/**
 * Cells name their object's path in evidence (`/path/x.bpf.o: prog`), as `check` does,
 * but the cache keys cells by the object's content: two files with the same bytes (as
 * libbpf-tools' fsdist copies are) share cached cells. So the cache text holds a token
 * where the path was, and each object gets its own path back when its cells are read.
 *
 * The same goes for the kernel's BTF path (a --btf file as given, or the archive's
 * path): a --btf kernel is keyed by its name and content, not by where the file is,
 * and the cache stores equal texts once (src/store/matrix-cache.ts), which kernels
 * that give an object the same results share only without their own paths in them.
 * Only where the path stands alone, though (see {@link PATH_BOUNDARY}): a --btf file
 * is usually named like the archive's own BTF of that release (`6.1.0-9-amd64.btf`,
 * `debian/12/x86_64/6.1.0-9-amd64.btf.tar.xz`), and the archive's path must not take
 * the --btf file's new place when it moves.
 */
const OBJECT_PATH_TOKEN = '<kcompat:object-path>'
const KERNEL_PATH_TOKEN = '<kcompat:kernel-path>'

/** The path as it appears inside the cache text's JSON strings. */
const jsonInner = (path: string): string => JSON.stringify(path).slice(1, -1)

/**
 * The characters a path named in a cell's text stands between (`--btf PATH"`, `(PATH)`,
 * `in PATH;`, a JSON escape after it). A path next to any other character is part of
 * something longer (a relative object path `a.o` inside `data.o`, a kernel's `.btf` inside
 * the archive's `.btf.tar.xz`).
 */
const PATH_BOUNDARY = new Set([...' \t\n"\'(),:;<>=[]{}\\'])

/** `text` with every occurrence of `inner` that stands alone (see {@link PATH_BOUNDARY}) replaced by `token`. */
function tokenStandalone(text: string, inner: string, token: string): string {
  let at = text.indexOf(inner)
  if (at < 0) return text
  let out = ''
  let from = 0
  for (; at >= 0; at = text.indexOf(inner, at + 1)) {
    const end = at + inner.length
    if (at < from || (at > 0 && !PATH_BOUNDARY.has(text[at - 1]!)) || (end < text.length && !PATH_BOUNDARY.has(text[end]!))) continue
    out += text.slice(from, at) + token
    from = end
  }
  return out + text.slice(from)
}

/** The cache text of computed cells: the object's path, then the kernel's, where each stands alone, made tokens. */
export function withoutPaths(text: string, object: string, kernel: string | null): string {
  const out = tokenStandalone(text, jsonInner(object), OBJECT_PATH_TOKEN)
  return kernel ? tokenStandalone(out, jsonInner(kernel), KERNEL_PATH_TOKEN) : out
}

/**
 * The cells text of cached cells: {@link withoutPaths} undone, in the reverse order,
 * which gives back the text exactly (unless it held a token itself); with other paths,
 * they take the tokens' places.
 */
export function withPaths(text: string, object: string, kernel: string | null): string {
  const out = kernel && text.includes(KERNEL_PATH_TOKEN) ? text.split(KERNEL_PATH_TOKEN).join(jsonInner(kernel)) : text
  return out.includes(OBJECT_PATH_TOKEN) ? out.split(OBJECT_PATH_TOKEN).join(jsonInner(object)) : out
}

/**
 * A copy of `s` that does not keep alive a larger string it may be a slice of (a line
 * of a cached row keeps the whole row): concatenating forces a new flat string.
 */
function ownCopy(s: string): string {
  return ` ${s}`.slice(1)
}

/**
 * The cache text of the cells of one object on one kernel: for each cell, a line
 * `JSON [program, section, verdict, number of reasons, number of suggestions]`, then one
 * line per reason and one per suggestion, each its JSON text (JSON text never holds a
 * raw newline). Reasons stay separate texts so that a reader can share equal ones
 * without parsing them again. Computed cells take the same way into a matrix as cached
 * ones (see parallel.ts).
 */
export function encodeCells(cells: StoredCell[]): string {
  const lines: string[] = []
  for (const c of cells) {
    lines.push(JSON.stringify([c.program, c.section, c.verdict, c.reasons.length, c.suggestions.length]))
    for (const r of c.reasons) lines.push(JSON.stringify(r))
    for (const x of c.suggestions) lines.push(JSON.stringify(x))
  }
  return lines.join('\n')
}

/** The cells of {@link encodeCells}' text (with the given kernel and object names). */
export function decodeCells(kernel: string, object: string, text: string): MatrixCell[] {
  return new CellInterner().cells(kernel, object, text)
}

/**
 * The cache key of a --btf kernel: its name and content, and the archive's manifest
 * (`manifest`: its hash), since a kernel given by file still takes its config facts and
 * identity from an archive entry of the same release when there is one.
 */
function btfKernelKey(name: string, sha: string, manifest: string): string {
  return `btf:${name}:${sha}; archive ${manifest}`
}

/** The hash of the archive's manifest, or `none`. */
function manifestHash(root: string): string {
  try {
    return sha256(readFileSync(join(root, MANIFEST_FILE)))
  } catch {
    return 'none'
  }
}

interface KernelJob {
  kernel: MatrixKernel
  /** Content key: the manifest entry (which holds the BTF's sha256) or the BTF file's hash; '' until a --btf file is hashed. */
  key: string
  spec: KernelSpec
}

/**
 * Builds the matrix.
 *
 * First, per kernel in order, one cache read answers for every object. A kernel is
 * resolved (its BTF read and parsed) only when a cell must be computed, or, for a --btf
 * kernel, when the cache has not recorded its row's identity. Those kernels are then
 * checked on the worker pool (src/parallel: `jobs` threads, the calling one included;
 * by default one per core but one per 32 such kernels at most), their results taken in
 * kernel order and cached (one transaction per kernel). Computed and cached cells are
 * read from the same cache text, sharing equal reasons. Cells are gathered in blocks of
 * one (kernel, object) and the blocks put in row order at the end.
 * @throws CheckUsageError `MATRIX_NO_OBJECTS`, `MATRIX_NO_KERNELS`, `MATRIX_BAD_BTF_NAME`
 *   and what `check` throws for unreadable objects, kernels and BTF files (for the
 *   first failing kernel in order; the kernels before it are cached).
 */
export async function buildMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  if (opts.objects.length === 0) throw new CheckUsageError('MATRIX_NO_OBJECTS', 'nothing to check: give --object FILE.bpf.o')
  const hashFile = opts.hashFile ?? hashFileContent
  const objects: Array<MatrixObject & {info: BpfObjectInfo}> = []
  for (const path of opts.objects) {
    const info = await readBpfObject(path)
    objects.push({name: basename(path), path, sha256: hashFile(path), programs: info.programs.map((p) => ({program: p.name, section: p.section})), info})
  }
  const jobs: KernelJob[] = []
  const root = resolveArchiveDir(opts.archive)
  if (!opts.noArchive) {
    const keep = kernelFilter(opts.kernels)
    // with KCOMPAT_REMOTE, the published archive's kernels too (each checked where its BTF is: remote.ts)
    const entries = (await loadArchiveKernels(root)).filter(keep)
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
        spec: {origin: 'archive', release: e.release, arch: e.arch},
      })
    }
  }
  let manifest: string | undefined
  for (const file of opts.btf ?? []) {
    const name = btfFileKernelName(file)
    if (name === '') throw new CheckUsageError('MATRIX_BAD_BTF_NAME', `${file}: cannot name a kernel after this file`)
    // Without a cache the key is never used: the file is not hashed at all. With a memo,
    // a file it does not know is hashed where it is checked (key filled in then).
    let key: string
    if (!opts.cache) key = `btf:${name}`
    else {
      const known = opts.fileHashMemo ? opts.fileHashMemo.known(file) : hashFile(file)
      key = known === undefined ? '' : btfKernelKey(name, known, (manifest ??= manifestHash(root)))
    }
    jobs.push({
      kernel: {name, release: name, distro: '', version: '', arch: '', flavor: null, upstream: '', btf: 'file', origin: 'btf-file', path: file},
      key,
      spec: {origin: 'btf-file', name, file},
    })
  }
  if (jobs.length === 0) throw new CheckUsageError('MATRIX_NO_KERNELS', `no kernel matches${opts.kernels ? ` --kernels ${opts.kernels}` : ''} in the archive at ${root}`)

  const tool = toolKey()
  const shas = objects.map((o) => o.sha256)
  const interner = new CellInterner()
  let hits = 0
  let misses = 0
  let done = 0
  /** blocks[job][object]: that object's cells on that kernel. */
  const blocks: MatrixCell[][][] = []
  const work: Array<{job: number; task: MatrixJob}> = []
  jobs.forEach((job, j) => {
    if (job.key === '') {
      // a --btf file not hashed yet: every object is computed, and the file hashed there
      blocks.push(new Array(objects.length))
      work.push({job: j, task: {kernel: job.spec, objects: objects.map((_o, i) => i), hash: true}})
      return
    }
    const kkey = `${job.key}; ${tool}`
    const cached = opts.cache?.getKernel(kkey, shas)
    const row: MatrixCell[][] = new Array(objects.length)
    const pending: number[] = []
    objects.forEach((o, i) => {
      const c = cached?.cells.get(o.sha256)
      if (c !== undefined) {
        hits++
        row[i] = interner.cells(job.kernel.name, o.name, withPaths(c, o.path, job.kernel.path))
      } else pending.push(i)
    })
    blocks.push(row)
    // The row's identity: from the release (cheap) or the cache, unless the kernel is resolved anyway.
    const fileIdentity = job.kernel.origin === 'btf-file' ? cached?.identity : undefined
    if (pending.length > 0 || (job.kernel.origin === 'btf-file' && !fileIdentity)) {
      work.push({job: j, task: {kernel: job.spec, objects: pending}})
      return
    }
    if (fileIdentity) Object.assign(job.kernel, fileIdentity)
    else fillIdentity(job.kernel, undefined)
    opts.onProgress?.(++done, jobs.length, job.kernel.name)
  })
  if (work.length > 0) {
    const init: MatrixTaskInit = {archive: root, objects: objects.map((o) => o.path)}
    let w = 0
    for await (const result of runJobs<MatrixTaskInit, MatrixJob, MatrixJobResult>(
      work.map((x) => x.task),
      {task: 'matrix/parallel', init, jobs: opts.jobs},
    )) {
      const {job: j, task} = work[w++]!
      const job = jobs[j]!
      if (job.key === '' && job.spec.origin === 'btf-file') {
        const file = job.spec.file
        const sha = result.fileHash?.sha256 ?? hashFile(file)
        if (result.fileHash) opts.fileHashMemo?.remember(file, result.fileHash)
        job.key = btfKernelKey(job.kernel.name, sha, (manifest ??= manifestHash(root)))
      }
      const kkey = `${job.key}; ${tool}`
      fillIdentity(job.kernel, result.identity)
      if (job.kernel.origin === 'btf-file') {
        const {upstream, arch, distro, version, flavor} = job.kernel
        opts.cache?.putIdentity(kkey, job.kernel.name, {upstream, arch, distro, version, flavor})
      }
      task.objects.forEach((i, n) => {
        const o = objects[i]!
        misses++
        opts.cache?.put(o.sha256, kkey, {object: o.name, kernel: job.kernel.name}, withoutPaths(result.cells[n]!, o.path, job.kernel.path))
        blocks[j]![i] = interner.cells(job.kernel.name, o.name, result.cells[n]!)
      })
      opts.onProgress?.(++done, jobs.length, job.kernel.name)
    }
  }
  const kernels = sortKernels(jobs.map((j) => j.kernel))
  const cells = orderCells(kernels, jobs, objects, blocks)
  return {
    kernels,
    objects: objects.map(({info: _info, ...o}) => o),
    cells,
    summary: summarize(kernels, objects, cells),
    ...(opts.cache ? {cache: {hits, misses}} : {}),
  }
}

/**
 * The cells in row order: by kernel row, then object column, each (kernel, object)
 * block kept whole. This is the order a stable sort of all cells by (row of the cell's
 * kernel name, column of its object name) gives: every cell of a block has the same
 * sort key, and blocks with equal keys (a --btf kernel named like an archived one, an
 * object file name given twice) stay in the order they were computed in (job, then
 * object). Sorting the few blocks instead of the many cells is what makes it cheap.
 */
function orderCells(kernels: MatrixKernel[], jobs: KernelJob[], objects: Array<{name: string}>, blocks: MatrixCell[][][]): MatrixCell[] {
  const order = new Map(kernels.map((k, i) => [k.name, i]))
  const objOrder = new Map(objects.map((o, i) => [o.name, i]))
  const rowOf = jobs.map((j) => order.get(j.kernel.name)!)
  const colOf = objects.map((o) => objOrder.get(o.name)!)
  const refs: Array<[job: number, object: number]> = []
  for (let j = 0; j < jobs.length; j++) for (let o = 0; o < objects.length; o++) refs.push([j, o])
  refs.sort((a, b) => rowOf[a[0]]! - rowOf[b[0]]! || colOf[a[1]]! - colOf[b[1]]! || a[0] - b[0] || a[1] - b[1])
  const cells: MatrixCell[] = []
  for (const [j, o] of refs) for (const c of blocks[j]![o]!) cells.push(c)
  return cells
}

/** The row's identity: a resolved kernel's (upstream version and arch; for a --btf kernel also distro, version, flavor), else from the release string. */
function fillIdentity(k: MatrixKernel, id: KernelIdentity | undefined): void {
  if (id) {
    k.upstream = id.upstream
    k.arch = id.arch
    if (k.origin === 'btf-file') {
      k.distro = id.distro
      k.version = id.version
      k.flavor = id.flavor
    }
    return
  }
  try {
    k.upstream = parseReleaseLenient(k.release).upstream
  } catch {
    k.upstream = k.release
  }
}

const FAIL_RANK: Record<string, number> = {fail: 0, unknown: 1, possible: 2}

/** The cell's first reason of the worst failing status (fail, then unknown, then possible), in the cell's order. */
function firstFailing(c: MatrixCell): Reason | undefined {
  let best: Reason | undefined
  let bestRank = Infinity
  for (const r of c.reasons) {
    const rank = FAIL_RANK[r.status]
    if (rank !== undefined && rank < bestRank) {
      best = r
      bestRank = rank
    }
  }
  return best
}

const VERDICT_RANK: Record<Verdict, number> = {unsupported: 0, unknown: 1, possible: 2, supported: 3}

/**
 * Per program: counts, the first version it needs, failing kernels grouped by reason.
 *
 * The cells are grouped by (object, program, section) in one pass, keeping their order,
 * so each program reads only its own cells. The first version: the distinct upstream
 * versions of a program's kernels, in ascending order (ties — strings that compare
 * equal, like `6.1` and `6.1.0` — in order of first appearance), are cut into classes
 * of equal versions; going down from the newest class, the first version is the
 * earliest-listed string of the lowest class such that every cell of it and of every
 * class above it is supported. That is the lowest version V with every kernel at >= V
 * supported, computed with one count per class instead of a scan of the cells per
 * version.
 */
export function summarize(kernels: MatrixKernel[], objects: Array<Pick<MatrixObject, 'name' | 'programs'>>, cells: MatrixCell[]): ProgramSummary[] {
  const out: ProgramSummary[] = []
  const kOf = new Map(kernels.map((k) => [k.name, k]))
  const keyOfVersion = new Map<string, number[]>()
  const versionKeyOf = (v: string): number[] => {
    let k = keyOfVersion.get(v)
    if (!k) keyOfVersion.set(v, (k = versionKey(v)))
    return k
  }
  const groups = new Map<string, MatrixCell[]>()
  for (const c of cells) {
    const key = `${c.object}\u0000${c.program}\u0000${c.section}`
    let g = groups.get(key)
    if (!g) groups.set(key, (g = []))
    g.push(c)
  }
  for (const o of objects) {
    for (const p of o.programs) {
      const mine = groups.get(`${o.name}\u0000${p.program}\u0000${p.section}`) ?? []
      const counts: Record<Verdict, number> = {supported: 0, possible: 0, unknown: 0, unsupported: 0}
      // per distinct upstream version: whether every cell of it is supported
      const allSupported = new Map<string, boolean>()
      for (const c of mine) {
        counts[c.verdict]++
        const v = kOf.get(c.kernel)!.upstream
        allSupported.set(v, (allSupported.get(v) ?? true) && c.verdict === 'supported')
      }
      const byVersion = [...allSupported.keys()].sort((a, b) => compareVersions(versionKeyOf(a), versionKeyOf(b)))
      let firstVersion: string | null = null
      for (let hi = byVersion.length - 1; hi >= 0; ) {
        let lo = hi
        while (lo > 0 && compareVersions(versionKeyOf(byVersion[lo - 1]!), versionKeyOf(byVersion[hi]!)) === 0) lo--
        let ok = true
        for (let i = lo; i <= hi; i++) ok &&= allSupported.get(byVersion[i]!)!
        if (!ok) break
        firstVersion = byVersion[lo]!
        hi = lo - 1
      }
      const failures = new Map<string, FailureGroup>()
      for (const c of mine) {
        if (c.verdict === 'supported') continue
        const r = firstFailing(c)
        const rule = r?.rule ?? '?'
        const message = r?.message ?? c.verdict
        const key = `${c.verdict}\u0000${rule}\u0000${message}`
        let g = failures.get(key)
        if (!g) failures.set(key, (g = {verdict: c.verdict, rule, message, kernels: []}))
        g.kernels.push(c.kernel)
      }
      out.push({
        object: o.name,
        program: p.program,
        section: p.section,
        total: mine.length,
        counts,
        firstVersion,
        failures: [...failures.values()].sort((a, b) => VERDICT_RANK[a.verdict] - VERDICT_RANK[b.verdict] || b.kernels.length - a.kernels.length),
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

