/**
 * Archived kernels' bootable images: where each came from (the manifest's `source.image`,
 * recorded at ingest or back-filled by `archive sync`), and fetching it again to boot it
 * (`kcompat verify`, `kcompat archive image`).
 *
 * Provenance is recorded per package format (`deb`, or `rpm`) without a mirror's host
 * name: a package synced from a mirror keeps its repository (`repo`: Debian suite and
 * component) and its path in that repository (`path`, Debian's `Filename:`), and the mirror
 * is resolved when the image is fetched, from apt's sources for that suite or `--mirror`.
 * Only a package added from an explicit URL outside every known mirror keeps that `url`.
 *
 * Fetching: the package is downloaded through undici (download.ts: checked against the
 * recorded sha256 and size, resumed with a Range request after a cut, retried) into
 * `<cache>/packages/`, the image member alone is streamed out of it (deb-member.ts, or
 * rpm-member.ts for an RPM: the package is never held in memory), checked against `memberSha256`, and renamed into
 * `<cache>/<memberSha256>/<member's base name>`. The package is then deleted. A second call
 * finds the image there (its size and sha256 checked) and downloads nothing. The cache is
 * `$KCOMPAT_IMAGE_CACHE`, else `~/.cache/kcompat/images/`.
 *
 * Error codes: `IMAGE_NO_SOURCE` (no image package, or no location, is recorded),
 * `IMAGE_NO_MIRROR` (no apt source lists the package's suite), `IMAGE_GONE` (the mirror
 * no longer has the package), `IMAGE_CHECKSUM` (the member is not the recorded image),
 * `IMAGE_MEMBER_MISSING`, `IMAGE_UNSUPPORTED_FORMAT`, `IMAGE_CACHE_UNWRITABLE`,
 * `IMAGE_PACKAGE_MISMATCH` (back-fill: the index's package is not the archived one),
 * `ARCHIVE_UNKNOWN_KERNEL`, `ARCHIVE_AMBIGUOUS_KERNEL`, and download.ts's `DOWNLOAD_*`.
 */
import {copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {homedir} from 'node:os'
import {basename, dirname, join, posix, resolve} from 'node:path'
import {KcompatError} from '../errors.js'
import {type AptSource, aptSources, mirrorForSuite} from '../kernel/apt.js'
import {archiveKernels, prepareRemote} from './archive.js'
import {readDebMember} from './deb-member.js'
import {readRpmMember} from './rpm-member.js'
import {fileSha256} from './debug-deb.js'
import type {KernelPackageInfo, PackageStanza} from './debian.js'
import {download} from './download.js'
import {debianArchDir} from './layout.js'
import {type ImageSource, type KernelEntry, kernelKey, readManifest, writeManifest} from './manifest.js'

export type {ImageSource} from './manifest.js'

export class ImageError extends KcompatError {}

export const IMAGE_CACHE_ENV = 'KCOMPAT_IMAGE_CACHE'

/** `$KCOMPAT_IMAGE_CACHE`, else `~/.cache/kcompat/images`. */
export function imageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env[IMAGE_CACHE_ENV] || join(homedir(), '.cache', 'kcompat', 'images'))
}

/** Where a package came from, beyond its own content: a repository path or an explicit URL. */
export interface ImageOrigin {
  repo?: ImageSource['repo']
  path?: string
  url?: string
}

/**
 * The origin of a package given by URL: under the URI of one of apt's sources, it is that
 * source's repository (its first suite) and the path below the URI, and no host is kept;
 * anywhere else, the URL itself.
 */
export function originOfUrl(url: string, sources: AptSource[] = aptSources()): ImageOrigin {
  for (const s of sources) {
    const base = s.uri.replace(/\/+$/, '')
    if (!url.startsWith(`${base}/`) || s.suites.length === 0) continue
    const path = decodeURIComponent(url.slice(base.length + 1).split(/[?#]/)[0]!)
    const component = /^pool\/([^/]+)\//.exec(path)?.[1]
    return {repo: {type: 'debian', suite: s.suites[0]!, ...(component ? {component} : {})}, path}
  }
  return {url}
}

/**
 * The `source.image` of a Debian kernel package: the package file (name, sha256, size),
 * the image member (path, sha256, size) and where the package lives. When the new record
 * has no location but `prev` describes the same package file, prev's location is kept (a
 * package synced from a mirror and later re-added from a local copy stays fetchable).
 */
export function debImageSource(
  pkg: {package?: string; version?: string; architecture?: string; imagePath: string; imageSha256: string; imageSize: number},
  file: {name?: string; sha256: string; size: number},
  origin: ImageOrigin = {},
  prev?: ImageSource,
): ImageSource {
  const version = pkg.version ?? ''
  const name = file.name ?? `${pkg.package}_${version.replace(/^\d+:/, '')}_${pkg.architecture}.deb`
  const located = origin.path !== undefined || origin.url !== undefined
  const keep = !located && prev && prev.sha256 === file.sha256 ? {repo: prev.repo, path: prev.path, url: prev.url} : origin
  return {
    format: 'deb',
    package: pkg.package ?? '',
    packageVersion: version,
    file: name,
    sha256: file.sha256,
    size: file.size,
    ...(keep.repo ? {repo: keep.repo} : {}),
    ...(keep.path ? {path: keep.path} : {}),
    member: pkg.imagePath,
    memberSha256: pkg.imageSha256,
    memberSize: pkg.imageSize,
    ...(keep.url ? {url: keep.url} : {}),
  }
}

/**
 * The archived kernel `release` (on `arch`), as `check --kernel` finds it (with
 * KCOMPAT_REMOTE, among the published archive's kernels too: call prepareRemote first).
 */
export function findArchivedKernel(root: string, release: string, arch?: string): KernelEntry {
  const all = archiveKernels(root, release).filter((k) => k.release === release)
  const found = arch ? all.filter((k) => k.arch === arch) : all
  if (found.length === 0) {
    throw new ImageError('ARCHIVE_UNKNOWN_KERNEL', `${release}${arch ? ` (${arch})` : ''} is not in the archive at ${root} (see \`kcompat archive list\`)`)
  }
  if (found.length > 1) {
    throw new ImageError('ARCHIVE_AMBIGUOUS_KERNEL', `${release} is in the archive for ${found.map((k) => k.arch).join(', ')}: choose one with --arch`)
  }
  return found[0]!
}

export interface LocateOptions {
  /** Mirror (repository root URL) to fetch a repository path from, instead of apt's. */
  mirror?: string
  /** apt sources to resolve a suite with (default: this machine's). */
  sources?: AptSource[]
}

function describe(entry: KernelEntry): string {
  return `${entry.release} (${entry.arch})`
}

/**
 * The URL of a kernel's image package: `--mirror` + path, else the mirror apt's sources
 * name for the recorded suite + path, else the recorded explicit URL.
 * @throws ImageError `IMAGE_NO_SOURCE`, `IMAGE_NO_MIRROR`.
 */
export function imagePackageUrl(entry: KernelEntry, options: LocateOptions = {}): string {
  const image = entry.source.image
  if (!image) {
    throw new ImageError(
      'IMAGE_NO_SOURCE',
      `the archive records no image package for ${describe(entry)} (added before image provenance was recorded, or imported without one): run \`kcompat archive sync\` for its suite to fill it in, or pass --image FILE`,
    )
  }
  if (image.path) {
    const mirror = options.mirror ?? (image.repo?.type === 'debian' ? mirrorForSuite(image.repo.suite, options.sources) : undefined)
    if (mirror) return `${mirror.replace(/\/+$/, '')}/${image.path.split('/').map(encodeURIComponent).join('/')}`
    if (image.url) return image.url
    throw new ImageError(
      'IMAGE_NO_MIRROR',
      image.format === 'rpm'
        ? `${describe(entry)}'s image package ${image.file} is at ${image.path} in an RPM repository, whose root the archive does not record: give --mirror URL (the root given to \`archive sync rpm --repo\`) or --image FILE`
        : `${describe(entry)}'s image package ${image.file} is in ${image.repo ? `${image.repo.type} suite ${image.repo.suite}` : 'a repository'}, which no apt source of this machine lists: give --mirror URL (the repository root) or --image FILE`,
    )
  }
  if (image.url) return image.url
  throw new ImageError(
    'IMAGE_NO_SOURCE',
    `${describe(entry)}'s image package ${image.file} was added from a local file, so the archive does not know where to download it: pass --image FILE, or add it again from its mirror (\`kcompat archive sync\`)`,
  )
}

export type ImageProgress =
  | {phase: 'download'; received: number; total: number | undefined}
  | {phase: 'extract'; written: number; total: number}

export interface FetchImageOptions extends LocateOptions {
  /** Image cache (default: {@link imageCacheDir}). */
  cacheDir?: string
  onProgress?: (p: ImageProgress) => void
  /** Base delay between download retries in ms (default 500, doubling). */
  retryDelayMs?: number
  /** Keep the downloaded package in `<cache>/packages/` (default: deleted once the image is out). */
  keepPackage?: boolean
}

export interface FetchedImage {
  /** The image in the cache. */
  path: string
  sha256: string
  size: number
  /** true when it was already in the cache (nothing was downloaded). */
  cached: boolean
}

/** The cached image's path: `<cache>/<memberSha256>/<base name of the member>`. */
export function cachedImagePath(cacheDir: string, image: ImageSource): string {
  return join(cacheDir, image.memberSha256, posix.basename(image.member))
}

// Concurrent fetches of one image in this process share one download.
const inFlight = new Map<string, Promise<FetchedImage>>()

/**
 * The bootable image of an archived kernel, as a file in the image cache: taken from the
 * cache when there (size and sha256 checked), else fetched from the package the manifest
 * records (see the module comment).
 * @throws ImageError / DownloadError (see the module comment).
 */
export async function fetchKernelImage(root: string, entry: KernelEntry, options: FetchImageOptions = {}): Promise<FetchedImage> {
  void root // the manifest entry carries everything; root is kept for callers that resolve entries from it
  const image = entry.source.image
  if (!image) imagePackageUrl(entry, options) // throws IMAGE_NO_SOURCE
  const img = image!
  if (img.format !== 'deb' && img.format !== 'rpm') {
    throw new ImageError('IMAGE_UNSUPPORTED_FORMAT', `${describe(entry)}'s image is in a ${String(img.format)} package, which this kcompat cannot unpack: pass --image FILE`)
  }
  const cacheDir = resolve(options.cacheDir ?? imageCacheDir())
  const final = cachedImagePath(cacheDir, img)
  const key = `${cacheDir}\0${final}`
  const running = inFlight.get(key)
  if (running) return running
  const p = fetchInto(entry, img, cacheDir, final, options).finally(() => inFlight.delete(key))
  inFlight.set(key, p)
  return p
}

async function fetchInto(entry: KernelEntry, img: ImageSource, cacheDir: string, final: string, options: FetchImageOptions): Promise<FetchedImage> {
  if (existsSync(final)) {
    if (statSync(final).size === img.memberSize && (await fileSha256(final)) === img.memberSha256) {
      return {path: final, sha256: img.memberSha256, size: img.memberSize, cached: true}
    }
    rmSync(final, {force: true}) // a damaged copy is fetched again
  }
  const url = imagePackageUrl(entry, options)
  const packages = join(cacheDir, 'packages')
  try {
    mkdirSync(packages, {recursive: true})
    mkdirSync(dirname(final), {recursive: true})
  } catch (e) {
    throw new ImageError('IMAGE_CACHE_UNWRITABLE', `cannot create the image cache ${cacheDir}: ${(e as Error).message} (set ${IMAGE_CACHE_ENV} to a writable directory)`, {cause: e})
  }
  // named by the package's sha256, so an interrupted download (`.part`) is resumed by the next call
  const deb = join(packages, `${img.sha256}.${img.format}`)
  try {
    await download(url, deb, {
      sha256: img.sha256,
      size: img.size,
      retryDelayMs: options.retryDelayMs,
      onProgress: (e) => options.onProgress?.({phase: 'download', received: e.received, total: e.total}),
    })
  } catch (e) {
    if (e instanceof KcompatError && e.code === 'DOWNLOAD_NOT_FOUND') {
      throw new ImageError(
        'IMAGE_GONE',
        `${img.package} ${img.packageVersion} (${img.path ?? img.file}) is no longer on the mirror (${e.message.replace(/^.*: /, '')}): Debian drops superseded packages from its mirrors, while snapshot archives keep every package at the same path under a dated URL that --mirror accepts; or pass --image FILE`,
        {cause: e},
      )
    }
    throw e
  }
  try {
    const onProgress = (x: {written: number; total: number}): void => options.onProgress?.({phase: 'extract', written: x.written, total: x.total})
    const m = img.format === 'rpm' ? await readRpmMember(deb, img.member, {dest: final, onProgress}) : await readDebMember(deb, img.member, {dest: final, onProgress})
    if (m.sha256 !== img.memberSha256 || m.size !== img.memberSize) {
      rmSync(m.file!, {force: true})
      throw new ImageError(
        'IMAGE_CHECKSUM',
        `${img.member} in ${img.file} has sha256 ${m.sha256} (${m.size} bytes), not the recorded ${img.memberSha256} (${img.memberSize} bytes)`,
      )
    }
    renameSync(m.file!, final)
  } catch (e) {
    if (e instanceof KcompatError && e.code === 'IMAGE_MEMBER_MISSING') {
      throw new ImageError('IMAGE_MEMBER_MISSING', `${e.message}, which the manifest records as ${describe(entry)}'s image`, {cause: e})
    }
    throw e
  } finally {
    if (!options.keepPackage) rmSync(deb, {force: true})
  }
  return {path: final, sha256: img.memberSha256, size: img.memberSize, cached: false}
}

/**
 * `kcompat archive image`: the image of the archived kernel `release` (on `arch`), fetched
 * into the cache, and copied to `out` (atomically) when given.
 */
export async function archivedKernelImage(
  root: string,
  release: string,
  options: FetchImageOptions & {arch?: string; out?: string} = {},
): Promise<FetchedImage & {entry: KernelEntry; image: ImageSource; out?: string}> {
  await prepareRemote(root, release)
  const entry = findArchivedKernel(root, release, options.arch)
  const r = await fetchKernelImage(root, entry, options)
  let out: string | undefined
  if (options.out) {
    out = resolve(options.out)
    const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
    try {
      copyFileSync(r.path, tmp)
      renameSync(tmp, out)
    } catch (e) {
      rmSync(tmp, {force: true})
      throw new ImageError('IMAGE_OUT_UNWRITABLE', `cannot write ${out}: ${(e as Error).message}`, {cause: e})
    }
  }
  return {...r, entry, image: entry.source.image!, ...(out ? {out} : {})}
}

// ---------------------------------------------------------------------------------
// Back-fill: kernels archived before provenance was recorded.
// ---------------------------------------------------------------------------------

/** The image package an archived kernel came from: its own package, or for generated BTF the image package recorded beside the debug package. */
export function imagePackageOf(k: KernelEntry): {package: string; packageVersion: string; fileSha256?: string} | undefined {
  const s = k.source
  if (s.method === 'kernel-image' && s.package && s.packageVersion) return {package: s.package, packageVersion: s.packageVersion, fileSha256: s.fileSha256}
  if (s.method === 'debug-info') {
    if (s.kernelImage?.package && s.kernelImage.packageVersion) {
      return {package: s.kernelImage.package, packageVersion: s.kernelImage.packageVersion, fileSha256: s.kernelImage.fileSha256}
    }
    if (s.package?.endsWith('-dbg') && s.packageVersion) return {package: s.package.slice(0, -'-dbg'.length), packageVersion: s.packageVersion}
  }
  return undefined
}

export type BackfillEvent =
  | {type: 'image-download'; release: string; arch: string; received: number; total: number | undefined}
  | {type: 'image'; release: string; arch: string; member: string; downloaded: boolean}
  | {type: 'failed'; release: string; arch: string; code: string; message: string}

export interface BackfillContext {
  mirror: string
  suite: string
  component?: string
  /** Where packages are downloaded (a package already there with the index's checksum is reused). */
  cacheDir: string
  /** Keep downloaded packages there. */
  keep?: boolean
  retryDelayMs?: number
  onEvent?: (e: BackfillEvent) => void
}

export interface BackfillResult {
  filled: {release: string; arch: string; member: string}[]
  failed: {release: string; arch: string; code: string; message: string}[]
}

/**
 * For every archived kernel without image provenance whose image package (same name and
 * version, same architecture) is in `pkgs` (a suite's index): checks the index's SHA256
 * against the sha256 recorded at ingest (where one was), downloads the package (or reuses
 * it from the cache directory), streams the image member to learn its sha256 and size, and
 * records `source.image`. Nothing else in the manifest changes; each kernel is written on
 * its own, so an interruption keeps what was done.
 */
export async function backfillImages(root: string, pkgs: KernelPackageInfo[], ctx: BackfillContext): Promise<BackfillResult> {
  const result: BackfillResult = {filled: [], failed: []}
  const todo = readManifest(root).kernels.filter((k) => !k.source.image)
  for (const k of todo) {
    const want = imagePackageOf(k)
    if (!want) continue
    const p = pkgs.find(
      (x) => x.stanza.package === want.package && x.stanza.version === want.packageVersion && debianArchDir(x.stanza.architecture, x.release) === k.arch,
    )
    if (!p) continue
    const s = p.stanza
    try {
      if (want.fileSha256 && want.fileSha256 !== s.sha256) {
        throw new ImageError(
          'IMAGE_PACKAGE_MISMATCH',
          `the index's ${s.package} ${s.version} (${s.filename}) has sha256 ${s.sha256}, but the archived kernel came from a file with sha256 ${want.fileSha256}`,
        )
      }
      const image = await imageSourceFromMirror(k, s, ctx)
      setImageSource(root, k, image.image)
      result.filled.push({release: k.release, arch: k.arch, member: image.image.member})
      ctx.onEvent?.({type: 'image', release: k.release, arch: k.arch, member: image.image.member, downloaded: image.downloaded})
    } catch (e) {
      if (!(e instanceof KcompatError)) throw e
      result.failed.push({release: k.release, arch: k.arch, code: e.code, message: e.message})
      ctx.onEvent?.({type: 'failed', release: k.release, arch: k.arch, code: e.code, message: e.message})
    }
  }
  return result
}

/** Downloads one kernel image package of an index and describes its image (no host kept). */
async function imageSourceFromMirror(k: KernelEntry, s: PackageStanza, ctx: BackfillContext): Promise<{image: ImageSource; downloaded: boolean}> {
  mkdirSync(ctx.cacheDir, {recursive: true})
  const file = join(ctx.cacheDir, basename(s.filename))
  const already = existsSync(file)
  let downloaded = false
  try {
    const d = await download(`${ctx.mirror.replace(/\/+$/, '')}/${s.filename}`, file, {
      sha256: s.sha256,
      size: s.size,
      retryDelayMs: ctx.retryDelayMs,
      onProgress: (e) => ctx.onEvent?.({type: 'image-download', release: k.release, arch: k.arch, received: e.received, total: e.total}),
    })
    downloaded = !d.reused
    const names = new Set([`boot/vmlinuz-${k.release}`, `boot/vmlinux-${k.release}`])
    const m = await readDebMember(file, (path) => names.has(path))
    const image = debImageSource(
      {package: s.package, version: s.version, architecture: s.architecture, imagePath: m.path, imageSha256: m.sha256, imageSize: m.size},
      {name: basename(s.filename), sha256: s.sha256, size: s.size},
      {repo: {type: 'debian', suite: ctx.suite, component: ctx.component ?? 'main'}, path: s.filename},
    )
    return {image, downloaded}
  } finally {
    if (!ctx.keep && (downloaded || !already)) rmSync(file, {force: true})
  }
}

/** Records `image` as the image source of the archived kernel `k` (nothing else changes). */
export function setImageSource(root: string, k: KernelEntry, image: ImageSource): void {
  const m = readManifest(root)
  const key = kernelKey(k)
  m.kernels = m.kernels.map((e) => (kernelKey(e) === key ? {...e, source: {...e.source, image}} : e))
  writeManifest(root, m)
}
