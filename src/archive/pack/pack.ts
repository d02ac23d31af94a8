/**
 * The BTF pack of an archive: a content-addressed, deduplicated, append-only store of
 * BTF units (record.ts, unit.ts) in segment files (segment.ts) under `pack/`.
 *
 * - Reading: every segment listed in the manifest (`manifest.pack.segments`, in order,
 *   each with its sha256 and size) is checked and decoded once per process, on the first
 *   read that needs the pack (its expanded body comes from the raw BTF cache after the
 *   first process: bodyCacheFile); the decoded tables stay in memory while the list is the
 *   same. A unit is rebuilt from them on demand (modules.ts caches rebuilt module BTF on
 *   disk, so later processes skip this).
 * - Writing: an ingestion decodes the existing segments, interns its units' strings, keys
 *   and records against them, and writes what is new as ONE new segment (temporary file,
 *   then rename). Before the file is written, the new segment is decoded again from its
 *   bytes, as a reader would, and every unit it holds is rebuilt and compared with the
 *   sha256 of the original bytes; any difference aborts the ingestion with nothing written.
 *   Old segments are never rewritten: git sees one new file per ingestion.
 *
 * A kernel's group holds its vmlinux unit and its modules' units: module BTF is split BTF
 * whose references into vmlinux are record references, which the reader resolves through
 * the vmlinux unit's list, so the vmlinux unit comes with the modules (and makes the
 * kernel's vmlinux BTF rebuildable from the pack alone).
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {parseBtf} from '../../btf/decode.js'
import {InputError} from '../../errors.js'
import {type KernelEntry, kernelKey, writeFileAtomic} from '../manifest.js'
import {fetchRemoteFile} from '../remote.js'
import {btfCacheDir} from '../btf-cache.js'
import {type SegmentGroup, decodeSegment, decodeSegmentBody, encodeSegment, markOf, segmentBody, withHeader, withoutHeader} from './segment.js'
import {PackTables} from './tables.js'
import {type BaseScope, type PackedUnit, baseScope, packUnit, rebuildUnit} from './unit.js'

export const PACK_DIR = 'pack'
export const SEGMENT_SUFFIX = '.kcpack'

/** A segment as the manifest lists it. */
export interface PackSegment {
  /** Relative to the archive root: `pack/NNNNNN.kcpack`. */
  path: string
  sha256: string
  size: number
}

export interface LoadedPack {
  tables: PackTables
  segments: PackSegment[]
  /** Per segment, its groups in file order (a kernel's `modules.unit` indexes them). */
  groups: SegmentGroup[][]
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** A segment's bytes, fetched from a published archive when missing, checked against the manifest. */
async function segmentBytes(root: string, s: PackSegment): Promise<Buffer> {
  const file = join(root, s.path)
  if (!existsSync(file)) await fetchRemoteFile(root, s.path)
  let data: Buffer
  try {
    data = readFileSync(file)
  } catch {
    throw new InputError('ARCHIVE_MISSING_FILE', `${file} is listed in the manifest's pack but missing`)
  }
  if (data.length !== s.size || sha256(data) !== s.sha256) throw new InputError('ARCHIVE_CHECKSUM', `${file}: size or sha256 does not match the manifest's pack list`)
  return data
}

/**
 * Where a segment's expanded body is cached: `<raw BTF cache>/<segment sha256>.kcbody`
 * (btf-cache.ts; none when caching is off). Expanding the xz stream is most of the cost
 * of reading the pack (about 1.5 s for the shipped archive's first segment, on an idle
 * 2-core VM), so each process after the first reads the body from here. The name pins
 * the segment's content; a body that does not decode is deleted and expanded again, and
 * what is rebuilt from it is still checked against the manifest's sha256.
 */
function bodyCacheFile(root: string, s: PackSegment): string | undefined {
  // the body follows a copy of the segment's 12-byte header (magic, version)
  const dir = btfCacheDir(root)
  return dir && /^[0-9a-f]{64}$/.test(s.sha256) ? join(dir, `${s.sha256}.kcbody`) : undefined
}

async function decodeOnce(root: string, segments: readonly PackSegment[], extra: readonly Uint8Array[], readCache: boolean): Promise<LoadedPack> {
  const tables = new PackTables()
  const groups: SegmentGroup[][] = []
  for (const s of segments) {
    const cached = bodyCacheFile(root, s)
    let got: {version: number; body: Uint8Array} | undefined
    if (readCache && cached && existsSync(cached)) {
      try {
        got = withoutHeader(readFileSync(cached), cached)
      } catch {
        got = undefined
      }
    }
    if (!got) {
      got = segmentBody(await segmentBytes(root, s), s.path)
      if (cached) {
        try {
          writeFileAtomic(cached, withHeader(got.version, got.body))
        } catch {
          // only a cache
        }
      }
    }
    groups.push(decodeSegmentBody(got.body, got.version, tables, s.path))
  }
  extra.forEach((b, i) => groups.push(decodeSegment(b, tables, `new segment ${i + 1}`)))
  return {tables, segments: [...segments], groups}
}

/**
 * Decodes segments (from `root`, checked against their sha256, or their cached bodies)
 * and then `extra` (bytes not written yet) into fresh tables.
 * @throws InputError `ARCHIVE_MISSING_FILE`, `ARCHIVE_CHECKSUM`, `ARCHIVE_BAD_PACK`, `ARCHIVE_PACK_VERSION`.
 */
export async function decodePack(root: string, segments: readonly PackSegment[], extra: readonly Uint8Array[] = []): Promise<LoadedPack> {
  try {
    return await decodeOnce(root, segments, extra, true)
  } catch (e) {
    const cached = segments.map((s) => bodyCacheFile(root, s)).filter((f): f is string => !!f && existsSync(f))
    if (!(e instanceof InputError) || e.code !== 'ARCHIVE_BAD_PACK' || cached.length === 0) throw e
    // a damaged cached body: drop the bodies and decode from the segments themselves
    for (const f of cached) rmSync(f, {force: true})
    return decodeOnce(root, segments, extra, false)
  }
}

const loaded = new Map<string, LoadedPack>()

/** The decoded pack of `root`, decoded once per process while its segment list is unchanged. */
export async function loadPack(root: string, segments: readonly PackSegment[]): Promise<LoadedPack> {
  const key = `${root}\0${segments.map((s) => `${s.path}:${s.sha256}`).join(',')}`
  let p = loaded.get(key)
  if (!p) {
    p = await decodePack(root, segments)
    for (const k of loaded.keys()) if (k.startsWith(`${root}\0`)) loaded.delete(k)
    loaded.set(key, p)
  }
  return p
}

/** A kernel's group in the pack: the segment `path` and the group's index in it. */
export function findGroup(pack: LoadedPack, entry: KernelEntry, path: string, unit: number): SegmentGroup {
  const si = pack.segments.findIndex((s) => s.path === path)
  const g = si < 0 ? undefined : pack.groups[si]![unit]
  if (!g) throw new InputError('ARCHIVE_BAD_PACK', `${path} group ${unit} (for ${kernelKey(entry)}) is not in the manifest's pack`)
  if (g.kernel !== kernelKey(entry)) throw new InputError('ARCHIVE_BAD_PACK', `${path} group ${unit} holds ${g.kernel}, not ${kernelKey(entry)}`)
  return g
}

/**
 * Rebuilds a group's modules (raw split BTF by name, sorted) on `vmlinux`, the kernel's
 * raw vmlinux BTF. Callers check the result against the manifest.
 */
export function rebuildModules(pack: LoadedPack, g: SegmentGroup, vmlinux: Uint8Array): Map<string, Uint8Array> {
  const scope = baseScope(pack.tables, g.vmlinux.rec, vmlinux)
  return new Map(g.modules.map(([name, u]) => [name, rebuildUnit(pack.tables, u, `${g.kernel} module ${name}`, scope)]))
}

/** Rebuilds a group's vmlinux BTF. */
export function rebuildVmlinux(pack: LoadedPack, g: SegmentGroup): Uint8Array {
  return rebuildUnit(pack.tables, g.vmlinux, `${g.kernel} vmlinux`)
}

/** One kernel to add: its manifest entry and loaders for its vmlinux and module BTF. */
export interface PackInput {
  entry: KernelEntry
  vmlinux: () => Promise<Uint8Array>
  /** Raw split BTF by module name. */
  modules: () => Promise<Map<string, Uint8Array>>
}

export interface PackedModule {
  name: string
  sha256: string
  size: number
}

export interface WrittenSegment {
  segment: PackSegment
  /** Per kernel key: its group's index in the segment and its modules (sorted by name). */
  groups: Map<string, {unit: number; modules: PackedModule[]}>
  /** Units kept raw (not rebuildable from records; see unit.ts). */
  rawUnits: number
  /** Units written, vmlinux and modules. */
  units: number
}

export type PackProgress = {phase: 'decode' | 'vmlinux' | 'modules' | 'compress' | 'verify' | 'write'; kernel?: string; done?: number; total?: number}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The next segment's path after `segments`. */
export function nextSegmentPath(segments: readonly PackSegment[]): string {
  return `${PACK_DIR}/${String(segments.length + 1).padStart(6, '0')}${SEGMENT_SUFFIX}`
}

/**
 * Adds kernels (vmlinux and module BTF) to the pack of `root` as one new segment after
 * `segments`, verified as described above, and returns it; the caller records it in
 * the manifest. Deterministic: the same segments and inputs give the same bytes.
 * @throws InputError `ARCHIVE_BAD_PACK` (an existing segment is corrupt, or a unit does
 *   not rebuild to its sha256: nothing is written), and the codes of decodePack.
 */
export async function writePackSegment(
  root: string,
  segments: readonly PackSegment[],
  inputs: readonly PackInput[],
  onProgress?: (p: PackProgress) => void,
): Promise<WrittenSegment> {
  onProgress?.({phase: 'decode'})
  const pack = await decodePack(root, segments)
  const t = pack.tables
  const mark = markOf(t)
  // vmlinux units first (they are every module's base), then each kernel's modules
  const vmlinux: {raw: Uint8Array; unit: PackedUnit; sha: string}[] = []
  for (const input of inputs) {
    onProgress?.({phase: 'vmlinux', kernel: kernelKey(input.entry)})
    const raw = await input.vmlinux()
    const btf = parseBtf(raw)
    const unit = packUnit(t, btf, raw)
    if (unit.rec.length !== btf.ownCount) throw new InputError('ARCHIVE_BAD_PACK', `${kernelKey(input.entry)}: its vmlinux BTF has a reference cycle and cannot be a base in the pack`)
    vmlinux.push({raw, unit, sha: sha256(raw)})
  }
  const groups: SegmentGroup[] = []
  const lists = new Map<string, {unit: number; modules: PackedModule[]}>()
  let rawUnits = vmlinux.filter((v) => v.unit.raw).length
  let units = inputs.length
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!
    const key = kernelKey(input.entry)
    const v = vmlinux[i]!
    const base = parseBtf(v.raw, {lazy: true})
    const scope: BaseScope = baseScope(t, v.unit.rec, v.raw)
    const mods = await input.modules()
    const names = [...mods.keys()].sort(byteOrder)
    const out: [string, PackedUnit][] = []
    const list: PackedModule[] = []
    for (const name of names) {
      const bytes = mods.get(name)!
      const u = packUnit(t, parseBtf(bytes, {base}), bytes, scope)
      if (u.raw) rawUnits++
      out.push([name, u])
      list.push({name, sha256: sha256(bytes), size: bytes.length})
      if (out.length % 500 === 0) onProgress?.({phase: 'modules', kernel: key, done: out.length, total: names.length})
    }
    units += names.length
    groups.push({kernel: key, vmlinux: v.unit, modules: out})
    lists.set(key, {unit: i, modules: list})
    onProgress?.({phase: 'modules', kernel: key, done: names.length, total: names.length})
  }
  onProgress?.({phase: 'compress'})
  const file = encodeSegment(t, mark, groups)

  // Verify as a reader would: decode from the bytes, rebuild every unit, compare sha256.
  onProgress?.({phase: 'verify'})
  const check = await decodePack(root, segments, [file])
  const fresh = check.groups[check.groups.length - 1]!
  for (let i = 0; i < fresh.length; i++) {
    const g = fresh[i]!
    const v = vmlinux[i]!
    if (sha256(rebuildVmlinux(check, g)) !== v.sha) throw new InputError('ARCHIVE_BAD_PACK', `${g.kernel}: vmlinux BTF does not rebuild from the new segment byte for byte (nothing written)`)
    const want = lists.get(g.kernel)!.modules
    const got = rebuildModules(check, g, v.raw)
    for (const m of want) {
      const b = got.get(m.name)
      if (!b || sha256(b) !== m.sha256) throw new InputError('ARCHIVE_BAD_PACK', `${g.kernel} module ${m.name} does not rebuild from the new segment byte for byte (nothing written)`)
    }
    onProgress?.({phase: 'verify', kernel: g.kernel, done: i + 1, total: fresh.length})
  }
  const path = nextSegmentPath(segments)
  onProgress?.({phase: 'write'})
  writeFileAtomic(join(root, path), file)
  return {segment: {path, sha256: sha256(file), size: file.length}, groups: lists, rawUnits, units}
}
