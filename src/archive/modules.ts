/**
 * Kernel module BTF in the archive.
 *
 * A kernel built with `CONFIG_DEBUG_INFO_BTF_MODULES=y` gives every module a `.BTF`
 * section: *split* BTF whose type ids and string offsets continue after its vmlinux BTF
 * (the kernel exposes it as /sys/kernel/btf/<module>, libbpf reads it for attach targets
 * and CO-RE candidates). This file takes it out of a Debian `linux-image-*` package,
 * stores it beside the kernel's btfhub-layout `.btf.tar.xz` and reads it back.
 *
 * Layout, per kernel (beside `<os-id>/<version>/<arch>/<release>.btf.tar.xz`, which is
 * left exactly as btfhub-archive tools expect it):
 *
 *   <os-id>/<version>/<arch>/<release>.modules.tar.xz
 *
 * a deterministic tar (fixed mtime, owner and mode, tar.ts) compressed as one solid xz
 * stream (`xz -9 -T1`, compress.ts) holding, in this order:
 *
 * - `modules.tsv`: one line per module, sorted by name (byte order):
 *   `<name>\t<sha256 of its raw BTF>\t<size in bytes>\n`;
 * - `<name>.btf` for each module, in the same order: the module's raw `.BTF` section,
 *   byte for byte.
 *
 * `<name>` is the name the kernel knows the module by (`/sys/kernel/btf/<name>`, `lsmod`):
 * the `name=` of the module's `.modinfo`, which modpost sets to KBUILD_MODNAME, i.e. the
 * file name with `-` turned into `_` (the fallback when `.modinfo` has no name).
 *
 * The manifest entry pins the list, not each module: `entry.modules = {path, sha256,
 * count, size, withoutBtf}` where `sha256` is that of `modules.tsv`; every read checks the
 * list against it and each module against the list (`ARCHIVE_CHECKSUM` on a mismatch), so
 * the manifest, which every command reads at start-up, stays small.
 *
 * Why one solid xz: measured on Debian 12's 6.1.0-56-cloud-amd64 (1121 modules, 8.67 MB
 * of raw BTF), one solid `xz -9` of the tar is 1.50 MB, `xz -9e` 1.49 MB, a 64 MiB
 * dictionary no smaller (the input is smaller than the default 64 MiB of -9), ordering by
 * source path instead of name 0.3% smaller, grouping all type sections apart from all
 * string sections 6% smaller, a global string table 1.48 MB, and one xz per module 2.65 MB.
 * README ("Module BTF") has the figures of every shipped kernel.
 *
 * Error codes: `MODULE_BAD_KO` (a module file that cannot be decompressed or is not a
 * valid ELF file; the underlying code is in the message), `MODULE_WRONG_KERNEL` (its
 * vermagic names another kernel), `MODULE_BAD_BTF` (its `.BTF` is not valid split BTF on
 * the kernel's vmlinux BTF), `MODULE_DUPLICATE` (two files with one module name),
 * `MODULE_BAD_NAME`, `MODULE_NOT_FOUND` (with near names), and for the archive
 * `ARCHIVE_UNKNOWN_KERNEL`, `ARCHIVE_NO_BTF`, `ARCHIVE_MISSING_FILE`, `ARCHIVE_CHECKSUM`,
 * `ARCHIVE_BAD_TARBALL`. An ingestion that fails writes nothing.
 */
import {existsSync, mkdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {join, posix} from 'node:path'
import tarStream from 'tar-stream'
import type {Btf} from '../btf/btf.js'
import {parseBtf} from '../btf/decode.js'
import {ElfFile} from '../elf/elf.js'
import {InputError, KcompatError} from '../errors.js'
import {readKernelBtf, sha256} from './archive.js'
import {btfCacheDir} from './btf-cache.js'
import {type PackProgress, findGroup, loadPack, rebuildModules, writePackSegment} from './pack/pack.js'
import {fetchRemoteFile, rootOf} from './remote.js'
import {gzipDecompress, xzCompress, xzDecompress} from './compress.js'
import {decompressStream, feedTar, readDeb} from './deb.js'
import {dataPieces, readDebInfo} from './debug-deb.js'
import {decompressPrefix} from './kernel-image.js'
import {btfPath} from './layout.js'
import {type KernelEntry, type KernelModules, type Manifest, type ManifestSegment, kernelKey, readManifest, writeFileAtomic, writeManifest} from './manifest.js'
import {checkEntryName, readTar, writeTar} from './tar.js'

/** One module of a kernel, as `modules.tsv` lists it. */
export interface ModuleInfo {
  /** Name as the kernel knows it (/sys/kernel/btf/<name>; `-` already `_`). */
  name: string
  /** sha256 of the raw split BTF. */
  sha256: string
  /** Size of the raw split BTF in bytes. */
  size: number
}

export const MODULE_LIST = 'modules.tsv'

/** Module names: what KBUILD_MODNAME can be (MODULE_NAME_LEN is 56 with its NUL). */
const MODULE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_+.-]{0,54}$/

/** Relative path of a kernel's module BTF tarball (beside its `.btf.tar.xz`). */
export function modulesPath(k: Pick<KernelEntry, 'distro' | 'version' | 'arch' | 'release'>): string {
  return `${btfPath(k).slice(0, -'.btf.tar.xz'.length)}.modules.tar.xz`
}

/** Whether the archive holds module BTF for this kernel (at least one module). */
export function kernelHasModules(entry: KernelEntry): boolean {
  return !!entry.modules && entry.modules.count > 0 && entry.modules.path !== null
}

/** Whether the kernel's config says its modules carry BTF (`CONFIG_DEBUG_INFO_BTF_MODULES=y`). */
export function configHasModuleBtf(entry: Pick<KernelEntry, 'config'>): boolean {
  return entry.config?.CONFIG_DEBUG_INFO_BTF_MODULES === 'y'
}

// ---------------------------------------------------------------------------------
// The list member.
// ---------------------------------------------------------------------------------

function formatList(list: ModuleInfo[]): string {
  return list.map((m) => `${m.name}\t${m.sha256}\t${m.size}\n`).join('')
}

function parseList(text: string, file: string): ModuleInfo[] {
  const out: ModuleInfo[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const [name, sha, size] = line.split('\t')
    if (!name || !MODULE_NAME.test(name) || !sha || !/^[0-9a-f]{64}$/.test(sha) || !size || !/^\d+$/.test(size)) {
      throw new InputError('ARCHIVE_BAD_TARBALL', `${file}: ${MODULE_LIST} has a malformed line ${JSON.stringify(line.slice(0, 100))}`)
    }
    out.push({name, sha256: sha, size: Number(size)})
  }
  return out
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

// ---------------------------------------------------------------------------------
// Validation.
// ---------------------------------------------------------------------------------

/**
 * Checks that every module's BTF is valid split BTF on `base` (the kernel's vmlinux BTF,
 * raw or parsed): the full validating parse of decode.ts, with type ids and string
 * offsets continuing after the base's.
 * @throws InputError `MODULE_BAD_BTF` naming the module and the BTF error.
 */
export function validateModuleBtfs(base: Uint8Array | Btf, modules: Map<string, Uint8Array>): void {
  const b = base instanceof Uint8Array ? parseBtf(base, {lazy: true}) : base
  for (const [name, btf] of modules) {
    try {
      parseBtf(btf, {base: b, lazy: true})
    } catch (e) {
      if (!(e instanceof KcompatError)) throw e
      throw new InputError('MODULE_BAD_BTF', `module ${name}: its .BTF is not valid split BTF on this kernel's vmlinux BTF: [${e.code}] ${e.message}`, {cause: e})
    }
  }
}

// ---------------------------------------------------------------------------------
// Writing.
// ---------------------------------------------------------------------------------

export interface AddModulesOptions {
  /** Module files of the package that had no `.BTF` (recorded, not stored). */
  withoutBtf?: number
  /** Check each module against the kernel's vmlinux BTF first (default true). */
  validate?: boolean
  /** `pack` (default): one new segment of the archive's BTF pack; `tar`: a `.modules.tar.xz` (the layout before the pack). */
  format?: 'pack' | 'tar'
  onProgress?: (p: PackProgress) => void
}

/**
 * Stores a kernel's module BTF (`name` → raw split BTF) and records it in the kernel's
 * manifest entry, which must exist and have BTF. Deterministic: the same modules give the
 * same file, byte for byte. An empty map records that the kernel has no module BTF (no
 * file). The tarball is written to a temporary file and renamed, then the manifest.
 * @returns the updated manifest entry.
 * @throws InputError `ARCHIVE_UNKNOWN_KERNEL`, `ARCHIVE_NO_BTF`, `MODULE_BAD_NAME`,
 *   `MODULE_BAD_BTF`.
 */
export async function addKernelModules(
  root: string,
  entry: KernelEntry,
  modules: Map<string, Uint8Array>,
  o: AddModulesOptions = {},
): Promise<KernelEntry> {
  const manifest = readManifest(root)
  const key = kernelKey(entry)
  const current = manifest.kernels.find((k) => kernelKey(k) === key)
  if (!current) throw new InputError('ARCHIVE_UNKNOWN_KERNEL', `${key} is not in the archive's manifest: add the kernel first`)
  if (!current.path) throw new InputError('ARCHIVE_NO_BTF', `${current.release} (${current.arch}) has no BTF in the archive, so its modules' split BTF has no base`)
  const names = [...modules.keys()].sort(byteOrder)
  for (const n of names) if (!MODULE_NAME.test(n)) throw new InputError('MODULE_BAD_NAME', `${JSON.stringify(n)} is not a kernel module name`)
  if (o.validate ?? true) validateModuleBtfs(await readKernelBtf(root, current), modules)

  const list: ModuleInfo[] = names.map((name) => {
    const b = modules.get(name)!
    return {name, sha256: sha256(b), size: b.length}
  })
  const listText = formatList(list)
  const pack = (o.format ?? 'pack') === 'pack'
  const record: KernelModules = {
    path: list.length > 0 && !pack ? modulesPath(current) : null,
    sha256: list.length > 0 ? sha256(listText) : null,
    count: list.length,
    size: list.reduce((s, m) => s + m.size, 0),
    withoutBtf: o.withoutBtf ?? current.modules?.withoutBtf ?? 0,
  }
  // The same modules already stored (in either layout) are kept as they are.
  const cur = current.modules
  const same = (a: KernelModules | undefined): boolean => !!a && a.sha256 === record.sha256 && a.count === record.count && a.size === record.size && a.withoutBtf === record.withoutBtf
  if (same(cur) && (!cur!.path || existsSync(join(root, cur!.path)))) return current
  const segments = manifest.pack?.segments ?? []
  let written: string | undefined
  let next: KernelEntry
  let nextPack: Manifest['pack'] = manifest.pack
  if (list.length > 0 && pack) {
    const w = await writePackSegment(root, segments, [{entry: current, vmlinux: () => readKernelBtf(root, current), modules: async () => modules}], o.onProgress)
    written = w.segment.path
    const group = {path: w.segment.path, unit: w.groups.get(key)!.unit}
    next = {...current, modules: {...record, ...group}, vmlinux: group}
    nextPack = {...manifest.pack, segments: [...segments, w.segment]}
  } else {
    if (record.path) {
      const tar = await writeTar([{name: MODULE_LIST, data: Buffer.from(listText)}, ...names.map((n) => ({name: `${n}.btf`, data: modules.get(n)!}))])
      writeFileAtomic(join(root, record.path), xzCompress(tar))
      written = record.path
    }
    next = {...current, modules: record}
  }
  try {
    writeManifest(root, {...manifest, pack: nextPack, kernels: manifest.kernels.map((k) => (kernelKey(k) === key ? next : k))})
  } catch (e) {
    if (written && written !== cur?.path) rmSync(join(root, written), {force: true})
    throw e
  }
  // a replaced tarball goes (a replaced pack group stays: segments are never rewritten)
  if (cur?.path && cur.unit === undefined && cur.path !== next.modules!.path) rmSync(join(root, cur.path), {force: true})
  // in an archive that keeps kernels in the pack only, the kernel's .btf.tar.xz was a
  // staging copy (archive.ts addKernel): its group now holds the vmlinux BTF
  if (next.vmlinux && manifest.pack?.tarballs === false && next.path) rmSync(join(root, next.path), {force: true})
  return next
}

/** The kernel order of a repack: x86_64, arm64, then other arches; series; flavor (so siblings sit together). */
export function packOrder(a: KernelEntry, b: KernelEntry): number {
  const arch = (k: KernelEntry): number => ((['x86_64', 'arm64'].indexOf(k.arch) + 99) % 99)
  const series = (k: KernelEntry): string => k.release.split('.').slice(0, 2).join('.')
  return arch(a) - arch(b) || byteOrder(a.arch, b.arch) || series(a).localeCompare(series(b), 'en', {numeric: true}) || byteOrder(a.flavor, b.flavor) || byteOrder(a.release, b.release)
}

export interface RepackResult {
  /** Kernels that got a group in the new segment (module BTF moved in, or vmlinux only). */
  kernels: number
  modules: number
  /** The new segment, when one was written. */
  segment?: {path: string; size: number}
  /** Tarballs removed (legacy module tarballs; in a pack-only archive, staged vmlinux tarballs), and their total size. */
  removed: string[]
  removedBytes: number
  rawUnits: number
  /** Whether the archive keeps new kernels in the pack only (manifest `pack.tarballs: false`). */
  packOnly: boolean
}

export interface RepackOptions {
  /** Also give every kernel with BTF that has no group in the pack one (its vmlinux BTF only; default: only in a pack-only archive). */
  vmlinux?: boolean
  /** From now on keep kernels added to this archive in the pack only (sets `pack.tarballs: false`; implies `vmlinux`). Tarballs already in the archive stay. */
  packOnly?: boolean
  onProgress?: (p: PackProgress) => void
}

/**
 * Moves what is staged outside the archive's BTF pack into it as ONE new segment, all or
 * nothing:
 * - every kernel's legacy `.modules.tar.xz` (with its vmlinux BTF, the modules' base);
 * - with `vmlinux` (always in a pack-only archive), every kernel with BTF that has no
 *   group in the pack yet, as a group of its vmlinux BTF alone.
 * The segment is verified (every vmlinux and module rebuilds to its sha256, pack.ts),
 * each kernel's module list must give the manifest's sha256, then the manifest is written
 * (each moved kernel's `vmlinux` names its group), and only then are tarballs deleted:
 * the legacy module tarballs, and in an archive that was pack-only before this call, the
 * `.btf.tar.xz` of the kernels moved (they were staging copies; `archive publish` writes
 * them back from the pack). Kernels whose modules were already packed get `vmlinux` set
 * to that group, at no cost.
 * @throws InputError the codes of reading tarballs and of the pack writer.
 */
export async function repackModules(root: string, o: RepackOptions = {}): Promise<RepackResult> {
  const manifest = readManifest(root)
  const wasPackOnly = manifest.pack?.tarballs === false
  const packOnly = wasPackOnly || !!o.packOnly
  const wantVmlinux = packOnly || !!o.vmlinux
  // a group that holds a kernel's modules holds its vmlinux too
  let kernels = manifest.kernels.map((k) => (!k.vmlinux && k.modules?.unit !== undefined && k.modules.path ? {...k, vmlinux: {path: k.modules.path, unit: k.modules.unit}} : k))
  const legacy = (k: KernelEntry): boolean => !!k.path && !!k.modules?.path && k.modules.unit === undefined
  const todo = kernels.filter((k) => legacy(k) || (wantVmlinux && !!k.path && k.btf !== 'none' && !k.vmlinux)).sort(packOrder)
  const segments = manifest.pack?.segments ?? []
  const nextPack = (extra: ManifestSegment[]): Manifest['pack'] => ({segments: [...segments, ...extra], ...(packOnly ? {tarballs: false as const} : {})})
  const done = (r: Omit<RepackResult, 'packOnly'>): RepackResult => ({...r, packOnly})
  if (todo.length === 0) {
    if (packOnly !== wasPackOnly || kernels.some((k, i) => k !== manifest.kernels[i])) writeManifest(root, {...manifest, pack: nextPack([]), kernels})
    return done({kernels: 0, modules: 0, removed: [], removedBytes: 0, rawUnits: 0})
  }
  const w = await writePackSegment(
    root,
    segments,
    todo.map((k) => ({entry: k, vmlinux: () => readKernelBtf(root, k), modules: async () => (legacy(k) ? new Map((await unpack(root, k)).btfs) : new Map())})),
    o.onProgress,
  )
  const drop = (): void => rmSync(join(root, w.segment.path), {force: true})
  const moved = new Map<string, KernelEntry>()
  let modules = 0
  for (const k of todo) {
    const g = w.groups.get(kernelKey(k))!
    const group = {path: w.segment.path, unit: g.unit}
    if (legacy(k)) {
      if (sha256(formatList(g.modules)) !== k.modules!.sha256) {
        drop()
        throw new InputError('ARCHIVE_CHECKSUM', `${k.release} (${k.arch}): the repacked module list does not match the manifest's sha256 (nothing changed)`)
      }
      modules += g.modules.length
      moved.set(kernelKey(k), {...k, modules: {...k.modules!, ...group}, vmlinux: group})
    } else moved.set(kernelKey(k), {...k, vmlinux: group})
  }
  kernels = kernels.map((k) => moved.get(kernelKey(k)) ?? k)
  try {
    writeManifest(root, {...manifest, pack: nextPack([w.segment]), kernels})
  } catch (e) {
    drop()
    throw e
  }
  const removed: string[] = []
  let removedBytes = 0
  const remove = (rel: string): void => {
    const f = join(root, rel)
    try {
      removedBytes += statSync(f).size
      rmSync(f, {force: true})
      removed.push(rel)
    } catch {
      // already gone
    }
  }
  for (const k of todo) {
    if (legacy(k)) remove(k.modules!.path!)
    if (wasPackOnly && k.path) remove(k.path)
  }
  return done({kernels: todo.length, modules, segment: {path: w.segment.path, size: w.segment.size}, removed, removedBytes, rawUnits: w.rawUnits})
}

// ---------------------------------------------------------------------------------
// Reading.
// ---------------------------------------------------------------------------------

interface Unpacked {
  list: ModuleInfo[]
  btfs: Map<string, Buffer>
}

// The last tarball unpacked, kept while its file is unchanged: a command that reads one
// module and then the list (or every module of a kernel twice) unpacks it once.
let last: {key: string; unpacked: Unpacked} | undefined

/**
 * Unpacks a kernel's module tarball and checks it: the list against the manifest's
 * sha256, each module's BTF against the list, and that the tarball holds exactly the
 * listed modules.
 */
async function unpack(root: string, entry: KernelEntry): Promise<Unpacked> {
  const m = entry.modules
  if (!m || !m.path || !m.sha256) return {list: [], btfs: new Map()}
  root = rootOf(entry) ?? root // an entry of KCOMPAT_REMOTE's archive (remote.ts)
  if (m.unit !== undefined) return unpackPacked(root, entry, m)
  const file = join(root, m.path)
  if (!existsSync(file)) await fetchRemoteFile(root, m.path) // a lazy copy of a published archive
  let st
  try {
    st = statSync(file)
  } catch {
    throw new InputError('ARCHIVE_MISSING_FILE', `${file} is listed in the manifest but missing`)
  }
  const key = `${file}\0${st.size}\0${st.mtimeMs}\0${m.sha256}`
  if (last?.key === key) return last.unpacked
  const files = (await readTar(xzDecompress(readFileSync(file), 4 * 1024 ** 3), TAR_LIMITS)).filter(
    (f) => f.type === 'file',
  )
  const unpacked = checkMembers(files, m, file)
  last = {key, unpacked}
  return unpacked
}

const TAR_LIMITS = {maxEntries: 100_000, maxTotalSize: 4 * 1024 ** 3}

/** A kernel's module files (the list, then `<name>.btf` each) checked against the manifest. */
function checkMembers(files: {name: string; data: Buffer}[], m: KernelModules, file: string): Unpacked {
  const listFile = files.find((f) => f.name === MODULE_LIST)
  if (!listFile) throw new InputError('ARCHIVE_BAD_TARBALL', `${file} has no ${MODULE_LIST}`)
  if (sha256(listFile.data) !== m.sha256) throw new InputError('ARCHIVE_CHECKSUM', `${file}: ${MODULE_LIST} sha256 does not match the manifest`)
  const list = parseList(listFile.data.toString('utf8'), file)
  const byName = new Map(files.filter((f) => f !== listFile).map((f) => [f.name, f.data]))
  const btfs = new Map<string, Buffer>()
  for (const mod of list) {
    const data = byName.get(`${mod.name}.btf`)
    if (!data) throw new InputError('ARCHIVE_BAD_TARBALL', `${file} does not hold ${mod.name}.btf, which its ${MODULE_LIST} lists`)
    if (data.length !== mod.size || sha256(data) !== mod.sha256) {
      throw new InputError('ARCHIVE_CHECKSUM', `${file}: ${mod.name}.btf sha256 does not match ${MODULE_LIST}`)
    }
    btfs.set(mod.name, data)
  }
  if (byName.size !== list.length) throw new InputError('ARCHIVE_BAD_TARBALL', `${file} holds files its ${MODULE_LIST} does not list`)
  return {list, btfs}
}

/**
 * A kernel's module BTF from the archive's pack: from the cache of rebuilt module BTF
 * when a good copy is there (`<cache>/<modules sha256>.modules.tar`, an uncompressed tar
 * with the members of a legacy tarball, checked like one), else rebuilt from the pack on
 * the kernel's vmlinux BTF, checked against the manifest's list sha256, and cached.
 */
async function unpackPacked(root: string, entry: KernelEntry, m: KernelModules): Promise<Unpacked> {
  const key = `pack\0${root}\0${kernelKey(entry)}\0${m.path}\0${m.unit}\0${m.sha256}`
  if (last?.key === key) return last.unpacked
  const dir = btfCacheDir(root)
  const cached = dir && join(dir, `${m.sha256}.modules.tar`)
  if (cached && existsSync(cached)) {
    try {
      const unpacked = checkMembers((await readTar(readFileSync(cached), TAR_LIMITS)).filter((f) => f.type === 'file'), m, cached)
      last = {key, unpacked}
      return unpacked
    } catch (e) {
      if (!(e instanceof KcompatError)) throw e // a damaged cache copy is rebuilt below
    }
  }
  const manifest = readManifest(root)
  const pack = await loadPack(root, manifest.pack?.segments ?? [])
  const rebuilt = rebuildModules(pack, findGroup(pack, entry, m.path!, m.unit!), await readKernelBtf(root, entry))
  // Buffers, as a tarball read gives (callers see one type whichever way the bytes came)
  const btfs = new Map([...rebuilt].map(([n, b]) => [n, Buffer.from(b.buffer, b.byteOffset, b.length)]))
  const list = [...btfs].map(([name, b]) => ({name, sha256: sha256(b), size: b.length}))
  const listText = formatList(list)
  if (sha256(listText) !== m.sha256) throw new InputError('ARCHIVE_CHECKSUM', `${m.path} group ${m.unit}: the rebuilt modules of ${entry.release} (${entry.arch}) do not match the manifest's sha256`)
  if (cached) {
    try {
      mkdirSync(dir, {recursive: true})
      writeFileAtomic(cached, await writeTar([{name: MODULE_LIST, data: Buffer.from(listText)}, ...list.map((x) => ({name: `${x.name}.btf`, data: btfs.get(x.name)!}))]))
    } catch {
      // only a cache
    }
  }
  const unpacked = {list, btfs}
  last = {key, unpacked}
  return unpacked
}

/** The modules of a kernel with BTF in the archive, sorted by name; [] when none. */
export async function listKernelModules(root: string, entry: KernelEntry): Promise<ModuleInfo[]> {
  return [...(await unpack(root, entry)).list]
}

/** Every module's raw split BTF, by name, sorted by name (checksums verified). */
export async function readModuleBtfs(root: string, entry: KernelEntry): Promise<Map<string, Uint8Array>> {
  return new Map((await unpack(root, entry)).btfs)
}

/**
 * One module's raw split BTF (checksum verified).
 * @throws InputError `MODULE_NOT_FOUND` with the nearest module names.
 */
export async function readModuleBtf(root: string, entry: KernelEntry, name: string): Promise<Uint8Array> {
  const {btfs} = await unpack(root, entry)
  const hit = btfs.get(name) ?? btfs.get(name.replaceAll('-', '_'))
  if (hit) return hit
  const near = nearNames(name, [...btfs.keys()])
  const where = `${entry.release} (${entry.arch})`
  if (!kernelHasModules(entry)) {
    throw new InputError('MODULE_NOT_FOUND', `${where} has no module BTF in the archive${entry.modules ? '' : ' (its modules were never added: run archive sync or archive add again)'}`)
  }
  throw new InputError('MODULE_NOT_FOUND', `${where} has no module ${JSON.stringify(name)}${near.length ? `; did you mean ${near.join(', ')}?` : ''}`)
}

/**
 * Up to `max` names nearest to `want`: those containing it (or contained in it) first,
 * then by edit distance (Levenshtein, at most a third of the name's length).
 */
export function nearNames(want: string, names: string[], max = 5): string[] {
  const w = want.replaceAll('-', '_').toLowerCase()
  const scored: {n: string; s: number}[] = []
  for (const n of names) {
    const l = n.toLowerCase()
    if (l.includes(w) || w.includes(l)) scored.push({n, s: Math.abs(l.length - w.length) / 100})
    else {
      const d = editDistance(w, l, Math.max(1, Math.floor(w.length / 3)))
      if (d !== undefined) scored.push({n, s: d})
    }
  }
  return scored.sort((a, b) => a.s - b.s || byteOrder(a.n, b.n)).slice(0, max).map((x) => x.n)
}

/** Levenshtein distance by the two-row dynamic programme; undefined once it must exceed `limit`. */
function editDistance(a: string, b: string, limit: number): number | undefined {
  if (Math.abs(a.length - b.length) > limit) return undefined
  let prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      cur.push(v)
      rowMin = Math.min(rowMin, v)
    }
    if (rowMin > limit) return undefined
    prev = cur
  }
  return prev[b.length]! <= limit ? prev[b.length] : undefined
}

// ---------------------------------------------------------------------------------
// Extraction from a linux-image package.
// ---------------------------------------------------------------------------------

export interface ModuleExtraction {
  /** Raw split BTF by module name, sorted by name. */
  modules: Map<string, Uint8Array>
  /** Module files seen (`.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`). */
  files: number
  /** Names of the modules without a `.BTF` section. */
  withoutBtf: string[]
  /** Total size of the module files as stored in the package. */
  packedBytes: number
}

export type ModuleProgress = {files: number; withBtf: number; entry: string}

export interface ExtractModulesOptions {
  /** Only modules under lib/modules/<release>/ (default: any release), and their vermagic must name it. */
  release?: string
  /** The kernel's vmlinux BTF: when given, every module is validated against it (MODULE_BAD_BTF). */
  base?: Uint8Array | Btf
  /** Largest module file, compressed or not (default 512 MiB). */
  maxModuleSize?: number
  onProgress?: (p: ModuleProgress) => void
}

/** `[usr/]lib/modules/<release>/…/<file>.ko[.xz|.zst|.gz]` */
const MODULE_ENTRY = /^(?:usr\/)?lib\/modules\/([^/]+)\/.+\.ko(\.xz|\.zst|\.gz)?$/

function normalizeEntry(name: string): string {
  let p = name
  while (p.startsWith('./')) p = p.slice(2)
  return p.endsWith('/') ? p.slice(0, -1) : p
}

/** The NUL-separated `key=value` strings of a module's `.modinfo`. */
function modinfo(elf: ElfFile): Map<string, string> {
  const out = new Map<string, string>()
  const s = elf.section('.modinfo')
  if (!s) return out
  for (const kv of Buffer.from(elf.sectionData(s)).toString('latin1').split('\0')) {
    const eq = kv.indexOf('=')
    if (eq > 0 && !out.has(kv.slice(0, eq))) out.set(kv.slice(0, eq), kv.slice(eq + 1))
  }
  return out
}

/**
 * One module file: decompresses it (by its suffix), parses the ELF, takes its name
 * (`.modinfo` name=, else the file name with `-` → `_`) and its `.BTF` (a copy; undefined
 * when it has none), and checks its vermagic's first word against `release`.
 * @throws InputError `MODULE_BAD_KO`, `MODULE_WRONG_KERNEL`, `MODULE_BAD_NAME`.
 */
export function moduleBtfOf(path: string, data: Uint8Array, release?: string, max = 1024 ** 3): {name: string; btf: Uint8Array | undefined} {
  const suffix = MODULE_ENTRY.exec(path)?.[2] ?? /\.ko(\.xz|\.zst|\.gz)?$/.exec(path)?.[1] ?? ''
  let elf: ElfFile
  try {
    const raw = suffix === '.xz' ? xzDecompress(data, max) : suffix === '.zst' ? decompressPrefix('zstd', data, max) : suffix === '.gz' ? gzipDecompress(data, max) : data
    elf = ElfFile.parse(raw)
  } catch (e) {
    if (!(e instanceof KcompatError)) throw e
    throw new InputError('MODULE_BAD_KO', `${path}: [${e.code}] ${e.message}`, {cause: e})
  }
  let info: Map<string, string>
  let btf: Uint8Array | undefined
  try {
    info = modinfo(elf)
    const s = elf.section('.BTF')
    btf = s ? Uint8Array.from(elf.sectionData(s)) : undefined
  } catch (e) {
    if (!(e instanceof KcompatError)) throw e
    throw new InputError('MODULE_BAD_KO', `${path}: [${e.code}] ${e.message}`, {cause: e})
  }
  const vermagic = info.get('vermagic')?.split(' ')[0]
  if (release !== undefined && vermagic !== undefined && vermagic !== release) {
    throw new InputError('MODULE_WRONG_KERNEL', `${path} was built for ${vermagic}, not ${release}`)
  }
  const file = posix.basename(path).replace(/\.ko(\.xz|\.zst|\.gz)?$/, '')
  const name = info.get('name') || file.replaceAll('-', '_')
  if (!MODULE_NAME.test(name)) throw new InputError('MODULE_BAD_NAME', `${path}: module name ${JSON.stringify(name)} is not a kernel module name`)
  return {name, btf}
}

/**
 * Streams a Debian kernel image package's data.tar and takes the BTF of every module
 * under lib/modules/<release>/ (or usr/lib/modules/…). A package on disk is read with
 * positioned reads and decompressed block by block (debug-deb.ts), one in memory through
 * deb.ts's streaming decoders; either way only one module file at a time and the
 * extracted BTF are held. Symlinks and hard links are not followed (a module appears as
 * a regular file once).
 * @throws InputError the codes of moduleBtfOf, `MODULE_DUPLICATE`, `MODULE_BAD_BTF`
 *   (with `base`), and those of the .deb readers.
 */
export async function extractDebModuleBtfs(deb: string | Uint8Array, o: ExtractModulesOptions = {}): Promise<ModuleExtraction> {
  const max = o.maxModuleSize ?? 512 * 1024 * 1024
  let source: AsyncIterable<Uint8Array>
  let close = async (): Promise<void> => {}
  if (typeof deb === 'string') {
    const info = await readDebInfo(deb)
    const fh = await open(deb, 'r')
    close = () => fh.close()
    source = await dataPieces(deb, fh, info.dataMember)
  } else {
    const d = await readDeb(deb)
    const member = d.members.find((m) => m.name === d.dataMember)!
    source = decompressStream(d.dataCompression, member.data, 16 * 1024 ** 3, member.offset)
  }
  const found = new Map<string, {btf: Uint8Array; path: string}>()
  const seen = new Map<string, string>()
  const withoutBtf: string[] = []
  let files = 0
  let packedBytes = 0
  const extract = tarStream.extract()
  let feedError: unknown
  const feed = feedTar(extract, source, (e) => {
    feedError = e
  })
  try {
    for await (const stream of extract) {
      const path = normalizeEntry(stream.header.name)
      checkEntryName(path)
      const m = MODULE_ENTRY.exec(path)
      if (!m || (stream.header.type ?? 'file') !== 'file' || (o.release !== undefined && m[1] !== o.release)) {
        stream.resume()
        continue
      }
      const size = stream.header.size ?? 0
      if (size > max) throw new InputError('INPUT_TOO_LARGE', `${path} is ${size} bytes, more than the limit of ${max}`)
      const chunks: Buffer[] = []
      for await (const c of stream) chunks.push(c as Buffer)
      const data = Buffer.concat(chunks)
      files++
      packedBytes += data.length
      const {name, btf} = moduleBtfOf(path, data, o.release)
      const other = seen.get(name)
      if (other !== undefined) throw new InputError('MODULE_DUPLICATE', `${path} and ${other} are both module ${name}`)
      seen.set(name, path)
      if (btf) found.set(name, {btf, path})
      else withoutBtf.push(name)
      o.onProgress?.({files, withBtf: found.size, entry: path})
    }
  } catch (e) {
    extract.destroy()
    await feed
    await close()
    const err = feedError ?? e
    if (err instanceof KcompatError) throw err
    throw new InputError('INPUT_CORRUPT_TAR', `data.tar is corrupt: ${(err as Error).message}`, {cause: err})
  }
  await feed
  await close()
  if (feedError) throw feedError
  const modules = new Map([...found.keys()].sort(byteOrder).map((n) => [n, found.get(n)!.btf]))
  if (o.base) validateModuleBtfs(o.base, modules)
  return {modules, files, withoutBtf: withoutBtf.sort(byteOrder), packedBytes}
}
