/**
 * The archive as a whole: a directory holding `manifest.json` and BTF tarballs in
 * btfhub-archive's layout (see layout.ts). This module adds kernels to it and reads
 * their BTF back; it never talks to the network (sync.ts does) or to SQLite (src/store).
 *
 * The default archive is the `archive/` directory shipped in the package; `--archive DIR`
 * or the KCOMPAT_ARCHIVE environment variable choose another.
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {InputError} from '../errors.js'
import {readCachedBtf, writeCachedBtf} from './btf-cache.js'
import {REMOTE_FILE, ensureRemote, archiveKernels as withRemote, fetchRemoteFile, rootOf} from './remote.js'
import {xzCompress, xzDecompress} from './compress.js'
import {btfPath} from './layout.js'
import {manifestKernelsNamed} from './manifest-lookup.js'
import {type KernelEntry, type Manifest, type PackedGroup, kernelKey, readManifest, writeFileAtomic, writeManifest} from './manifest.js'
import {readTar, writeTar} from './tar.js'

/** The archive shipped with kcompat (`archive/` at the package root). */
export function defaultArchiveDir(): string {
  // dist/archive/archive.js or src/archive/archive.ts → package root
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'archive')
}

/** --archive DIR, else KCOMPAT_ARCHIVE, else the shipped archive. */
export function resolveArchiveDir(flag?: string): string {
  return resolve(flag ?? process.env.KCOMPAT_ARCHIVE ?? defaultArchiveDir())
}

/**
 * The kernels a command looking releases up in `root` sees: the archive's own and, when
 * `root` is the default archive and KCOMPAT_REMOTE is set, the published archive's
 * kernels it lacks (remote.ts).
 */
export function archiveKernels(root: string, release?: string): KernelEntry[] {
  return withRemote(root, resolveArchiveDir(), release)
}

/**
 * The kernels of {@link archiveKernels} whose release starts with `release`: what a
 * command looking one kernel up needs. Without KCOMPAT_REMOTE they come from the
 * manifest's lookup file (manifest-lookup.ts), not a parse of the whole manifest.
 */
export function archiveKernelsNamed(root: string, release: string): KernelEntry[] {
  if (process.env.KCOMPAT_REMOTE) return archiveKernels(root, release).filter((k) => k.release.startsWith(release))
  return manifestKernelsNamed(root, release)
}

/**
 * Makes KCOMPAT_REMOTE's lazy copy usable for a command reading `root` (taking its
 * manifest when never taken or stale; remote.ts `ensureRemote`) and returns its
 * directory, or undefined when KCOMPAT_REMOTE does not widen `root` (or `release` is
 * `root`'s own). Call before {@link archiveKernels}.
 */
export function prepareRemote(root: string, release?: string): Promise<string | undefined> {
  return ensureRemote(root, resolveArchiveDir(), release)
}

/** {@link prepareRemote}, then {@link archiveKernels}. */
export async function loadArchiveKernels(root: string, release?: string): Promise<KernelEntry[]> {
  await prepareRemote(root, release)
  return archiveKernels(root, release)
}

/** The sha256 of bytes or of a string's UTF-8, in hex. */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

export type NewKernel = Omit<KernelEntry, 'sha256' | 'size' | 'path' | 'added'> & {added?: string}

export interface AddResult {
  entry: KernelEntry
  /** false when an identical entry was already there (nothing written). */
  changed: boolean
}

/**
 * Adds (or replaces) one kernel: writes `<release>.btf.tar.xz` (deterministic tar, xz)
 * atomically when there is BTF, then the manifest. Re-adding the same BTF with the same
 * facts changes nothing. In an archive that keeps new kernels in the pack only, the
 * tarball is a staging copy until the pack takes it (modules.ts `repackModules`).
 */
export async function addKernel(root: string, k: NewKernel, btf: Uint8Array | undefined): Promise<AddResult> {
  const manifest = readManifest(root)
  const hasBtf = btf !== undefined
  if (hasBtf !== (k.btf !== 'none')) {
    throw new InputError('ARCHIVE_BAD_ENTRY', `${k.release}: btf is '${k.btf}' but ${hasBtf ? 'BTF data was' : 'no BTF data was'} given`)
  }
  const path = hasBtf ? btfPath(k) : null
  const entry: KernelEntry = {
    release: k.release,
    distro: k.distro,
    version: k.version,
    arch: k.arch,
    flavor: k.flavor,
    btf: k.btf,
    sha256: hasBtf ? sha256(btf) : null,
    size: hasBtf ? btf.length : null,
    path,
    config: k.config,
    source: k.source,
    added: k.added ?? new Date().toISOString().slice(0, 10),
  }
  const key = kernelKey(entry)
  const old = manifest.kernels.find((e) => kernelKey(e) === key)
  // module BTF (modules.ts) is split on this BTF: it stays while the BTF is the same one
  const modules = k.modules ?? (old?.modules && old.sha256 === entry.sha256 ? old.modules : undefined)
  if (modules) entry.modules = modules
  // so does its vmlinux group in the pack; an archive that keeps new kernels in the pack
  // only (pack.tarballs false) then needs no tarball for it
  const vmlinux = old?.vmlinux && old.sha256 === entry.sha256 ? old.vmlinux : undefined
  if (vmlinux) entry.vmlinux = vmlinux
  const packOnly = !!vmlinux && manifest.pack?.tarballs === false
  if (old && sameEntry(old, entry) && (!path || packOnly || existsSync(join(root, path)))) return {entry: old, changed: false}
  if (hasBtf && path && !packOnly) {
    writeFileAtomic(join(root, path), await btfTarball(k.release, btf))
  }
  const next: Manifest = {...manifest, kernels: [...manifest.kernels.filter((e) => kernelKey(e) !== key), entry]}
  writeManifest(root, next)
  return {entry, changed: true}
}

function sameEntry(a: KernelEntry, b: KernelEntry): boolean {
  const strip = (e: KernelEntry): unknown => ({...e, added: undefined})
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b))
}

/**
 * Reads a kernel's raw BTF from the archive and checks it against the manifest's sha256.
 *
 * Where from: its btfhub-layout tarball (`entry.path`) when the archive has that file;
 * else, for a kernel whose vmlinux BTF is in the archive's BTF pack (`entry.vmlinux`, an
 * archive that keeps new kernels in the pack only), rebuilt from the pack; else, in a lazy
 * copy of a published archive, the tarball is fetched (remote.ts). The raw BTF is kept in
 * the raw BTF cache (btf-cache.ts), which later reads use instead of unpacking or
 * rebuilding again; `cache: false` reads the source only. `paged`: a cached copy is
 * returned as bytes read on demand (../btf/paged.ts), for a lazy parse that reads a few
 * types of it (only parseBtf's readers may read such bytes).
 * @throws InputError `ARCHIVE_NO_BTF` (kernel has none), `ARCHIVE_MISSING_FILE`,
 *   `ARCHIVE_CHECKSUM` (file does not match the manifest), decompression/tar errors,
 *   and the pack's codes (`ARCHIVE_BAD_PACK`, …).
 */
export async function readKernelBtf(root: string, entry: KernelEntry, options: {cache?: boolean; paged?: boolean} = {}): Promise<Uint8Array> {
  if (!entry.path) throw new InputError('ARCHIVE_NO_BTF', `${entry.release} (${entry.arch}) has no BTF in the archive`)
  root = rootOf(entry) ?? root // an entry of KCOMPAT_REMOTE's archive (remote.ts)
  const useCache = options.cache ?? true
  const file = join(root, entry.path)
  // no tarball: the pack, unless this is a lazy copy of a published archive without the
  // segment yet (then the published tarball is the smaller fetch)
  const lazy = !!entry.vmlinux && !existsSync(join(root, entry.vmlinux.path)) && existsSync(join(root, REMOTE_FILE))
  const packed = entry.vmlinux && !lazy && !existsSync(file) ? entry.vmlinux : undefined
  // the tarball (or pack segment) stays the source of truth: a cached copy is used only while it exists, unchanged
  if (useCache) {
    const cached = readCachedBtf(root, entry, packed ? join(root, packed.path) : file, {paged: options.paged})
    if (cached) return cached
  }
  if (packed) {
    const btf = await readPackedVmlinux(root, entry, packed)
    if (useCache) writeCachedBtf(root, entry, btf)
    return btf
  }
  // a lazy copy of a published archive fetches the tarball on first use (remote.ts)
  if (!existsSync(file)) await fetchRemoteFile(root, entry.path, entry)
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch {
    throw new InputError('ARCHIVE_MISSING_FILE', `${file} is listed in the manifest but missing`)
  }
  const files = (await readTar(xzDecompress(bytes))).filter((f) => f.type === 'file')
  const btf = files.find((f) => f.name === `${entry.release}.btf`) ?? (files.length === 1 ? files[0] : undefined)
  if (!btf) throw new InputError('ARCHIVE_BAD_TARBALL', `${file} does not hold ${entry.release}.btf`)
  if (entry.sha256 && sha256(btf.data) !== entry.sha256) {
    throw new InputError('ARCHIVE_CHECKSUM', `${file}: BTF sha256 does not match the manifest`)
  }
  if (useCache && entry.sha256) writeCachedBtf(root, entry, btf.data)
  return btf.data
}

/**
 * Where a kernel's BTF is read from, for messages: its tarball's path (relative to the
 * archive root), or for a kernel kept in the pack only, the pack segment and its key.
 */
export function btfLocation(root: string, entry: KernelEntry): string {
  if (!entry.path) return '(no BTF)'
  if (entry.vmlinux && !existsSync(join(rootOf(entry) ?? root, entry.path))) return `${entry.vmlinux.path} (${kernelKey(entry)})`
  return entry.path
}

/** A kernel's vmlinux BTF rebuilt from its group in the pack, checked against the manifest's sha256. */
async function readPackedVmlinux(root: string, entry: KernelEntry, at: PackedGroup): Promise<Buffer> {
  // loaded on first use: every command's start-up path imports this module
  const {findGroup, loadPack, rebuildVmlinux} = await import('./pack/pack.js')
  const pack = await loadPack(root, readManifest(root).pack?.segments ?? [])
  const raw = rebuildVmlinux(pack, findGroup(pack, entry, at.path, at.unit))
  const btf = Buffer.from(raw.buffer, raw.byteOffset, raw.length)
  if (entry.sha256 && sha256(btf) !== entry.sha256) {
    throw new InputError('ARCHIVE_CHECKSUM', `${join(root, at.path)} group ${at.unit}: ${entry.release} (${entry.arch}) vmlinux BTF does not match the manifest's sha256`)
  }
  return btf
}

/** The btfhub-layout tarball of a kernel's BTF (`<release>.btf` in an xz'd tar), as the archive writes it. */
export async function btfTarball(release: string, btf: Uint8Array): Promise<Buffer> {
  return xzCompress(await writeTar([{name: `${release}.btf`, data: btf}]))
}
