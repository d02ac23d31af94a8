/**
 * Debian debug packages (`linux-image-<release>-dbg`): the kernel's vmlinux with DWARF,
 * from which BTF is generated for kernels that ship none (Debian 12's s390x, ppc64el
 * and i386 kernels; Debian 9/10; the kernels BTFHub covers).
 *
 * These packages are large (0.26-0.8 GB compressed, 1.5-4 GB of data.tar), so nothing
 * here holds a package or a vmlinux whole in memory:
 *
 * - the `.deb` stays on disk; its ar headers, its control member and the xz index of its
 *   data member are read with positioned reads;
 * - `data.tar.xz` is decompressed block by block (dpkg-deb compresses with threads, so
 *   the xz stream has one block per 24 MiB of tar; each block is re-wrapped as a
 *   single-block xz stream and decompressed off the main thread, the next block while
 *   the current one is consumed). An xz stream whose blocks are too large to hold (a
 *   single-threaded `xz`) is piped through the `xz` tool instead; zstd and gzip stream
 *   in 1 MiB reads;
 * - the tar is walked with tar-stream and only `usr/lib/debug/boot/vmlinux-<release>`
 *   (or `usr/lib/debug/lib/modules/<release>/vmlinux`) is written, to a temporary file;
 *   reading stops right after it (it comes early: the modules' debug files follow).
 *
 * Then pahole encodes BTF from it (src/generate) and the kernel is stored in the archive
 * as `"btf": "generated"`, with the config of its existing entry kept and the debug
 * package recorded as the source. The extracted vmlinux is always deleted; downloaded
 * packages are deleted unless kept, and a package already in the cache directory with
 * the index's checksum is not downloaded again.
 *
 * Error codes: `INPUT_BAD_DEB`, `INPUT_CORRUPT_XZ`, `INPUT_CORRUPT_ZSTD`,
 * `INPUT_CORRUPT_GZIP`, `INPUT_CORRUPT_TAR`, `INPUT_BAD_TAR_PATH`, `DEBUG_DEB_NO_VMLINUX`,
 * `DEBUG_DEB_UNSUPPORTED`, `DEBUG_PACKAGE_NOT_FOUND`, `ARCHIVE_HAS_BTF`,
 * `ARCHIVE_VERSION_MISMATCH`, `ARCHIVE_UNKNOWN_VERSION`, and those of src/generate.
 */
import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync} from 'node:fs'
import {type FileHandle, open} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {basename, join, posix} from 'node:path'
import {Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import tarStream from 'tar-stream'
import {InputError, KcompatError} from '../errors.js'
import {describeDebugProgress} from '../generate/describe.js'
import {generateBtf, type GenerateResult} from '../generate/generate.js'
import type {Pahole} from '../generate/pahole.js'
import type {PaholeProgress} from '../generate/run.js'
import {type AddResult, addKernel} from './archive.js'
import {gzipDecompress, xzDecompress} from './compress.js'
import {controlField, feedTar, gzipPieces, parseControl, zstdPieces} from './deb.js'
import {type PackageStanza, debianVersionOf} from './debian.js'
import {download} from './download.js'
import {decompressPrefix} from './kernel-image.js'
import {debianArchDir, debianFlavor} from './layout.js'
import {type KernelEntry, type KernelSource, readManifest} from './manifest.js'
import {checkEntryName, readTar} from './tar.js'
import {xzBlockPieces, xzBlocksFromFile} from './xz.js'

// ---------------------------------------------------------------------------------
// ar, read from a file (deb(5): "!<arch>\n", then 60-byte member headers).
// ---------------------------------------------------------------------------------
export interface ArMemberRef {
  name: string
  /** File offset of the member's data. */
  offset: number
  size: number
}

async function readExact(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const {bytesRead} = await fh.read(b, done, length - done, offset + done)
    if (bytesRead === 0) throw new InputError('INPUT_BAD_DEB', `file ends at byte ${offset + done}, inside a structure of ${length} bytes`, {offset: offset + done})
    done += bytesRead
  }
  return b
}

/**
 * Lists the members of an ar archive on disk (headers only).
 * @throws InputError `INPUT_BAD_DEB` with the offset of the bad header.
 */
export async function readArMembersFromFile(fh: FileHandle, fileSize: number): Promise<ArMemberRef[]> {
  if (fileSize < 8 || (await readExact(fh, 0, 8)).toString('latin1') !== '!<arch>\n') {
    throw new InputError('INPUT_BAD_DEB', 'not an ar archive (no "!<arch>" header), so not a .deb', {offset: 0})
  }
  const out: ArMemberRef[] = []
  let p = 8
  while (p < fileSize) {
    if (fileSize - p === 1) break // padding of the last member
    if (p + 60 > fileSize) throw new InputError('INPUT_BAD_DEB', `ar member header is cut short (${fileSize - p} of 60 bytes)`, {offset: p})
    const h = await readExact(fh, p, 60)
    if (h[58] !== 0x60 || h[59] !== 0x0a) throw new InputError('INPUT_BAD_DEB', 'ar member header does not end with "`\\n"', {offset: p + 58})
    let name = h.toString('latin1', 0, 16).trimEnd()
    if (name.endsWith('/') && name.length > 1) name = name.slice(0, -1)
    const sizeText = h.toString('latin1', 48, 58).trimEnd()
    if (!/^\d+$/.test(sizeText)) throw new InputError('INPUT_BAD_DEB', `ar member header has a bad size field ${JSON.stringify(sizeText)}`, {offset: p + 48})
    const size = Number(sizeText)
    if (p + 60 + size > fileSize) {
      throw new InputError('INPUT_BAD_DEB', `ar member ${name} (${size} bytes) runs past the end of the file (${fileSize} bytes): is the download complete?`, {offset: p + 48})
    }
    out.push({name, offset: p + 60, size})
    if (out.length > 1000) throw new InputError('INPUT_BAD_DEB', 'ar archive has more than 1000 members', {offset: p})
    p += 60 + size + (size & 1)
  }
  return out
}

// ---------------------------------------------------------------------------------
// data.tar, streamed from the file: xz block by block (xz.ts), gzip and zstd (deb.ts's
// decoders) over 1 MiB reads, bzip2 and lzma through the tools.
// ---------------------------------------------------------------------------------
/** Largest xz block decompressed in memory; bigger ones go through the xz tool. */
const MAX_XZ_BLOCK = 256 * 1024 * 1024

/** Decompresses a file range through an external tool (`xz -dc`), streaming. */
async function* toolPieces(tool: string, args: string[], path: string, start: number, size: number, why: string): AsyncGenerator<Buffer> {
  const child = spawn(tool, args, {stdio: ['pipe', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 65536) stderr += s
  })
  const spawned = new Promise<void>((resolve, reject) => {
    child.on('spawn', () => resolve())
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new InputError('DEBUG_DEB_UNSUPPORTED', `${why}; decompressing it without holding it in memory needs the '${tool}' tool, which is not installed`)
          : e,
      ),
    )
  })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  await spawned
  const input = size > 0 ? createReadStream(path, {start, end: start + size - 1}) : createReadStream(path, {start, end: start})
  input.pipe(child.stdin).on('error', () => undefined)
  let finished = false
  try {
    for await (const c of child.stdout) yield c as Buffer
    finished = true
    const code = await exited
    if (code !== 0) throw new InputError('INPUT_CORRUPT_XZ', `${tool} ${args.join(' ')} failed (status ${code}): ${stderr.trim()}`)
  } finally {
    if (!finished) {
      input.destroy()
      child.kill()
    }
  }
}

async function* plainPieces(path: string, start: number, size: number): AsyncGenerator<Buffer> {
  if (size === 0) return
  const input = createReadStream(path, {start, end: start + size - 1, highWaterMark: 1 << 20})
  try {
    for await (const c of input) yield c as Buffer
  } finally {
    input.destroy()
  }
}

export async function dataPieces(path: string, fh: FileHandle, member: ArMemberRef, maxXzBlock = MAX_XZ_BLOCK): Promise<AsyncIterable<Uint8Array>> {
  const suffix = member.name.slice('data.tar'.length)
  switch (suffix) {
    case '':
      return plainPieces(path, member.offset, member.size)
    case '.xz': {
      // the xz index is read with positioned reads (a short read is the .deb's fault: INPUT_BAD_DEB)
      const blocks = await xzBlocksFromFile((offset, length) => readExact(fh, offset, length), member.offset, member.size)
      const largest = blocks.reduce((m, b) => Math.max(m, b.uncompressed), 0)
      if (largest > maxXzBlock) {
        return toolPieces('xz', ['-dc'], path, member.offset, member.size, `data.tar.xz has an xz block of ${largest} bytes (made by a single-threaded xz)`)
      }
      return xzBlockPieces(blocks, (x) => readExact(fh, x.offset, x.length))
    }
    case '.zst':
      return zstdPieces(plainPieces(path, member.offset, member.size), member.size)
    case '.gz':
      return gzipPieces(plainPieces(path, member.offset, member.size))
    case '.bz2':
      return toolPieces('bzip2', ['-dc'], path, member.offset, member.size, 'data.tar is bzip2-compressed')
    case '.lzma':
      return toolPieces('xz', ['--format=lzma', '-dc'], path, member.offset, member.size, 'data.tar is lzma-compressed')
    default:
      throw new InputError('INPUT_BAD_DEB', `${member.name}: unsupported compression ${JSON.stringify(suffix)}`, {offset: member.offset - 60})
  }
}

// ---------------------------------------------------------------------------------
// The package.
// ---------------------------------------------------------------------------------
export interface DebugDebInfo {
  control: Record<string, string>
  package: string
  version: string
  architecture: string
  members: ArMemberRef[]
  dataMember: ArMemberRef
  fileSize: number
}

export async function readControl(fh: FileHandle, members: ArMemberRef[], fileSize: number): Promise<DebugDebInfo> {
  const real = members.filter((m) => !m.name.startsWith('_'))
  if (real[0]?.name !== 'debian-binary') throw new InputError('INPUT_BAD_DEB', `first ar member is ${JSON.stringify(real[0]?.name ?? null)}, not debian-binary`, {offset: 8})
  const control = real[1]
  const data = real[2]
  if (!control?.name.startsWith('control.tar')) throw new InputError('INPUT_BAD_DEB', `second member is ${JSON.stringify(control?.name ?? null)}, not control.tar*`)
  if (!data?.name.startsWith('data.tar')) throw new InputError('INPUT_BAD_DEB', `third member is ${JSON.stringify(data?.name ?? null)}, not data.tar*`)
  if (control.size > 64 * 1024 * 1024) throw new InputError('INPUT_TOO_LARGE', `${control.name} is ${control.size} bytes`)
  const raw = await readExact(fh, control.offset, control.size)
  const suffix = control.name.slice('control.tar'.length)
  const tar =
    suffix === '' ? raw : suffix === '.xz' ? xzDecompress(raw, 64 << 20) : suffix === '.gz' ? gzipDecompress(raw, 64 << 20) : suffix === '.zst' ? Buffer.from(decompressPrefix('zstd', raw, 64 << 20)) : undefined
  if (!tar) throw new InputError('INPUT_BAD_DEB', `${control.name}: unsupported compression`, {offset: control.offset - 60})
  const entries = await readTar(tar, {maxEntries: 1000, maxTotalSize: 64 * 1024 * 1024})
  const file = entries.find((e) => e.name.replace(/^(\.\/)+/, '') === 'control' && e.type === 'file')
  if (!file) throw new InputError('INPUT_BAD_DEB', `${control.name} has no control file`, {offset: control.offset})
  const fields = parseControl(file.data.toString('utf8'))
  return {
    control: fields,
    package: controlField(fields, 'Package') ?? '',
    version: controlField(fields, 'Version') ?? '',
    architecture: controlField(fields, 'Architecture') ?? '',
    members,
    dataMember: data,
    fileSize,
  }
}

/** Reads a .deb's control fields (and member list) from disk. */
export async function readDebInfo(path: string): Promise<DebugDebInfo> {
  const fh = await openInput(path)
  try {
    const size = (await fh.stat()).size
    return await readControl(fh, await readArMembersFromFile(fh, size), size)
  } finally {
    await fh.close()
  }
}

export async function openInput(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError('INPUT_NOT_FOUND', `${path}: no such file`)
    throw new InputError('INPUT_UNREADABLE', `${path}: ${(e as Error).message}`, {cause: e})
  }
}

export type ExtractProgress = {written: number; total: number; entry: string}

export interface ExtractedVmlinux {
  /** The extracted file (the caller deletes it). */
  path: string
  /** `uname -r`, from the entry's name. */
  release: string
  /** Path of the entry in data.tar, e.g. `usr/lib/debug/boot/vmlinux-6.1.0-50-s390x`. */
  entry: string
  size: number
  info: DebugDebInfo
}

const VMLINUX_ENTRY = /^usr\/lib\/debug\/(?:boot\/vmlinux-([^/]+)|lib\/modules\/([^/]+)\/vmlinux)$/

function normalizeEntry(name: string): string {
  let p = name
  while (p.startsWith('./')) p = p.slice(2)
  return p.endsWith('/') ? p.slice(0, -1) : p
}

/**
 * Streams a debug package's data.tar and writes its vmlinux (with DWARF) to `destDir`.
 * Only the tar up to that entry is decompressed. `release` picks one when the package
 * could hold several.
 * @throws InputError `DEBUG_DEB_NO_VMLINUX` and the codes of the module comment.
 */
export async function extractDebugVmlinux(
  debPath: string,
  destDir: string,
  options: {release?: string; onProgress?: (p: ExtractProgress) => void; /** Largest xz block decompressed in memory (default 256 MiB); larger go through the xz tool. */ maxXzBlock?: number} = {},
): Promise<ExtractedVmlinux> {
  const fh = await openInput(debPath)
  const extract = tarStream.extract()
  let feedError: unknown
  let feed: Promise<void> | undefined
  try {
    const fileSize = (await fh.stat()).size
    const info = await readControl(fh, await readArMembersFromFile(fh, fileSize), fileSize)
    const source = await dataPieces(debPath, fh, info.dataMember, options.maxXzBlock)
    feed = feedTar(extract, source, (e) => {
      feedError = e
    })

    const wanted = (p: string): string | undefined => {
      const m = VMLINUX_ENTRY.exec(p)
      if (!m) return undefined
      const rel = m[1] ?? m[2]!
      return options.release === undefined || options.release === rel ? rel : undefined
    }
    const aliases = new Map<string, string>() // symlink target path → release
    const seen: string[] = []
    mkdirSync(destDir, {recursive: true})
    for await (const stream of extract) {
      const path = normalizeEntry(stream.header.name)
      checkEntryName(path)
      const type = stream.header.type ?? 'file'
      const release = wanted(path) ?? aliases.get(path)
      if (release !== undefined && (type === 'symlink' || type === 'link') && stream.header.linkname) {
        // follow: a symlink is relative to its directory, a hard link names an archive path
        const target = type === 'symlink' ? posix.normalize(posix.join(posix.dirname(path), stream.header.linkname)) : normalizeEntry(stream.header.linkname)
        aliases.set(target, release)
        stream.resume()
        continue
      }
      if (release === undefined || type !== 'file') {
        if (VMLINUX_ENTRY.test(path)) seen.push(path)
        stream.resume()
        continue
      }
      const total = stream.header.size ?? 0
      const out = join(destDir, `vmlinux-${release}`)
      const part = `${out}.part-${randomBytes(4).toString('hex')}`
      let written = 0
      let last = 0
      try {
        await pipeline(
          stream,
          async function* (src: AsyncIterable<unknown>) {
            for await (const x of src) {
              const c = x as Buffer
              written += c.length
              const now = Date.now()
              if (now - last > 100) {
                last = now
                options.onProgress?.({written, total, entry: path})
              }
              yield c
            }
          },
          createWriteStream(part),
        )
      } catch (e) {
        rmSync(part, {force: true})
        throw e
      }
      if (written !== total) {
        rmSync(part, {force: true})
        throw new InputError('INPUT_CORRUPT_TAR', `${path}: wrote ${written} bytes, the tar header says ${total}`)
      }
      options.onProgress?.({written, total, entry: path})
      renameSync(part, out)
      extract.destroy()
      return {path: out, release, entry: path, size: total, info}
    }
    if (feedError) throw feedError
    throw new InputError(
      'DEBUG_DEB_NO_VMLINUX',
      `${basename(debPath)} (${info.package} ${info.version}) has no usr/lib/debug/boot/vmlinux-${options.release ?? '<release>'}${seen.length > 0 ? ` (it has ${seen.join(', ')})` : ''}: is it a kernel debug package (linux-image-<release>-dbg)?`,
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

/** sha256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256')
  await pipeline(createReadStream(path, {highWaterMark: 1 << 20}), new Writable({write(chunk, _e, cb) { h.update(chunk); cb() }}))
  return h.digest('hex')
}

// ---------------------------------------------------------------------------------
// Generating and archiving.
// ---------------------------------------------------------------------------------
export type DebugProgress =
  | {phase: 'download'; received: number; total: number | undefined}
  | {phase: 'hash'}
  | ({phase: 'extract'} & ExtractProgress)
  | ({phase: 'pahole'} & PaholeProgress)

export interface DebugTimings {
  /** ms spent downloading (0 when the package was already there). */
  downloadMs: number
  /** ms spent hashing a local package (0 when the index checksum was already checked). */
  hashMs: number
  extractMs: number
  paholeMs: number
  /** pahole's peak resident memory in KiB (from /proc), when known. */
  paholePeakKiB?: number
  debSize: number
  vmlinuxSize: number
}

/** The manifest source of a generated kernel: the debug package, plus the image package the entry came from. */
export type GeneratedSource = KernelSource & {
  /** Where the entry's config came from (the kernel image package), when known. */
  kernelImage?: {package?: string; packageVersion?: string; file?: string; fileSha256?: string}
}

export interface DebugDebOptions {
  /** Debian release (`12`); default: that of the archived kernel, else inferred. */
  osVersion?: string
  /** The archive's os id the kernel is filed under (default `debian`; `ubuntu` for dbgsym .ddebs). */
  distro?: string
  /** File name to record (default: the path's base name). */
  fileName?: string
  /** sha256 of the package when already verified (against the index); else computed. */
  fileSha256?: string
  /** Directory for the extracted vmlinux (default: a temporary directory). */
  workDir?: string
  pahole?: string | Pahole
  libbpf?: string
  jobs?: number
  /** Generate even when the archive has the kernel's own BTF (replacing it). */
  replaceInKernel?: boolean
  onProgress?: (p: DebugProgress) => void
  env?: NodeJS.ProcessEnv
}

export interface DebugDebResult extends AddResult {
  timings: DebugTimings
  generated: Pick<GenerateResult, 'generator' | 'reasons' | 'warnings' | 'paholeOutput' | 'kernel'>
  /** `usr/lib/debug/boot/vmlinux-…` */
  entryPath: string
  warnings: string[]
}

/**
 * Generates BTF from a Debian kernel debug package on disk and stores it in the archive
 * as `"btf": "generated"`. The archived kernel's config and flavor are kept; a kernel
 * not yet in the archive is added without config.
 * @throws InputError / GenerateError (see the module comment).
 */
export async function addDebugDeb(root: string, debPath: string, options: DebugDebOptions = {}): Promise<DebugDebResult> {
  const work = mkdtempSync(join(options.workDir ?? tmpdir(), 'kcompat-dbg-'))
  const warnings: string[] = []
  try {
    const debSize = statSync(debPath).size
    let hashMs = 0
    let fileSha = options.fileSha256
    if (!fileSha) {
      options.onProgress?.({phase: 'hash'})
      const t = Date.now()
      fileSha = await fileSha256(debPath)
      hashMs = Date.now() - t
    }
    const t0 = Date.now()
    const x = await extractDebugVmlinux(debPath, work, {onProgress: (p) => options.onProgress?.({phase: 'extract', ...p})})
    const extractMs = Date.now() - t0
    const info = x.info
    const distro = options.distro ?? 'debian'
    if (!info.package.endsWith(distro === 'ubuntu' ? '-dbgsym' : '-dbg')) {
      warnings.push(distro === 'ubuntu'
        ? `${info.package} is not named like an Ubuntu kernel dbgsym package (linux-image-unsigned-<release>-dbgsym)`
        : `${info.package} is not named like a Debian kernel debug package (linux-image-<release>-dbg)`)
    }
    const arch = info.architecture ? debianArchDir(info.architecture, x.release) : info.architecture
    if (!arch) throw new InputError('INPUT_BAD_DEB', `${info.package} has no Architecture field`)
    const manifest = readManifest(root)
    const candidates = manifest.kernels.filter((k) => k.distro === distro && k.arch === arch && k.release === x.release)
    const existing: KernelEntry | undefined =
      candidates.find((k) => options.osVersion === undefined || k.version === options.osVersion) ?? undefined
    const version = options.osVersion ?? existing?.version ?? debianVersionOf(x.release, info.version)
    if (!version) throw new InputError('ARCHIVE_UNKNOWN_VERSION', `cannot tell which Debian release ${x.release} belongs to; give --os-version`)
    if (existing?.btf === 'in-kernel' && !options.replaceInKernel) {
      throw new InputError(
        'ARCHIVE_HAS_BTF',
        `${x.release} (${arch}) ships its own BTF, which the archive already holds (${existing.path}); generated BTF would replace it (use kcompat btf generate to compare instead)`,
      )
    }
    const imageVersion = existing?.source.method === 'kernel-image' ? existing.source.packageVersion : undefined
    if (imageVersion && info.version && imageVersion !== info.version) {
      throw new InputError(
        'ARCHIVE_VERSION_MISMATCH',
        `${info.package} is version ${info.version} but the archived ${x.release} came from ${existing!.source.package} ${imageVersion}: debug info must come from the same build`,
      )
    }
    const g = await generateBtf(x.path, {
      kernel: x.release,
      pahole: options.pahole,
      libbpf: options.libbpf,
      jobs: options.jobs,
      tmpDir: work,
      env: options.env,
      onProgress: (p) => options.onProgress?.({phase: 'pahole', ...p}),
    })
    rmSync(x.path, {force: true}) // the vmlinux is not needed past this point
    const prev = existing?.source as GeneratedSource | undefined
    const kernelImage =
      prev?.method === 'kernel-image'
        ? {package: prev.package, packageVersion: prev.packageVersion, file: prev.file, fileSha256: prev.fileSha256}
        : prev?.kernelImage
    const source: GeneratedSource = {
      method: 'debug-info',
      package: info.package,
      packageVersion: info.version,
      file: options.fileName ?? basename(debPath),
      fileSha256: fileSha,
      generator: g.generator,
      ...(kernelImage ? {kernelImage} : {}),
      ...(prev?.image ? {image: prev.image} : {}), // the bootable image is still the image package's
    }
    const r = await addKernel(
      root,
      {
        release: x.release,
        distro,
        version,
        arch,
        flavor: existing?.flavor ?? debianFlavor(x.release),
        btf: 'generated',
        config: existing?.config ?? null,
        source,
      },
      g.btf,
    )
    if (!existing) warnings.push(`${x.release} (${arch}) was not in the archive: added without its kernel config (add its image package with --deb to record it)`)
    return {
      ...r,
      timings: {downloadMs: 0, hashMs, extractMs, paholeMs: g.elapsedMs, paholePeakKiB: g.peakKiB, debSize, vmlinuxSize: x.size},
      generated: {generator: g.generator, reasons: g.reasons, warnings: g.warnings, paholeOutput: g.paholeOutput, kernel: g.kernel},
      entryPath: x.entry,
      warnings: [...warnings, ...g.warnings],
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}

/**
 * `archive add --debug-deb URL`: downloads to `cacheDir` (reusing a complete file there
 * whose checksum matches `sha256`, resuming a partial one), adds it, and deletes the
 * download unless `keep` (a package that was already there is left alone).
 */
export async function addDebugDebUrl(
  root: string,
  url: string,
  options: DebugDebOptions & {cacheDir?: string; keep?: boolean; sha256?: string; size?: number; retryDelayMs?: number},
): Promise<DebugDebResult> {
  const dir = options.cacheDir ?? mkdtempSync(join(tmpdir(), 'kcompat-dbg-dl-'))
  mkdirSync(dir, {recursive: true})
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'package.deb')
  const file = join(dir, name)
  const already = existsSync(file)
  let downloaded = false
  try {
    const t = Date.now()
    const d = await download(url, file, {
      sha256: options.sha256,
      size: options.size,
      retryDelayMs: options.retryDelayMs,
      onProgress: (e) => options.onProgress?.({phase: 'download', received: e.received, total: e.total}),
    })
    downloaded = !d.reused
    const downloadMs = d.reused ? 0 : Date.now() - t
    const r = await addDebugDeb(root, file, {...options, fileName: name, fileSha256: options.sha256})
    return {...r, timings: {...r.timings, downloadMs}}
  } finally {
    if (!options.keep && (downloaded || !already)) rmSync(file, {force: true})
    if (!options.cacheDir) rmSync(dir, {recursive: true, force: true})
  }
}

/** The debug package of a kernel image package in an index: `<package>-dbg`, same version preferred. */
export function findDebugStanza(stanzas: PackageStanza[], imagePackage: string, version?: string): PackageStanza | undefined {
  const name = imagePackage.endsWith('-unsigned') ? `${imagePackage.slice(0, -'-unsigned'.length)}-dbg` : `${imagePackage}-dbg`
  const all = stanzas.filter((s) => s.package === name)
  return all.find((s) => s.version === version) ?? (version === undefined ? all[all.length - 1] : undefined)
}

/** Whether an archived kernel was generated from the debug package of `image` (same version). */
export function generatedFrom(k: KernelEntry, image: PackageStanza): boolean {
  return k.source.method === 'debug-info' && k.source.package === `${image.package}-dbg` && k.source.packageVersion === image.version
}

export interface MirrorGenerateContext {
  mirror: string
  /** The Packages index the image package came from (it names the -dbg package). */
  stanzas: PackageStanza[]
  cacheDir: string
  keep?: boolean
  retryDelayMs?: number
  osVersion?: string
  pahole?: string | Pahole
  libbpf?: string
  jobs?: number
  onProgress?: (p: DebugProgress) => void
}

/**
 * For an archived kernel without BTF (`entry`, from `image`): finds its -dbg package in
 * the index, downloads it (checksummed against the index, resumable, reused when
 * already in the cache directory), generates and archives its BTF.
 * @throws InputError `DEBUG_PACKAGE_NOT_FOUND` and the codes of {@link addDebugDebUrl}.
 */
export async function generateFromMirror(root: string, entry: KernelEntry, image: PackageStanza, ctx: MirrorGenerateContext): Promise<DebugDebResult> {
  const dbg = findDebugStanza(ctx.stanzas, image.package, image.version)
  if (!dbg) {
    throw new InputError(
      'DEBUG_PACKAGE_NOT_FOUND',
      `the index has no ${image.package}-dbg ${image.version}, so there is no debug info to generate ${entry.release}'s BTF from`,
    )
  }
  return addDebugDebUrl(root, `${ctx.mirror.replace(/\/+$/, '')}/${dbg.filename}`, {
    cacheDir: ctx.cacheDir,
    keep: ctx.keep,
    sha256: dbg.sha256,
    size: dbg.size,
    retryDelayMs: ctx.retryDelayMs,
    osVersion: ctx.osVersion ?? entry.version,
    pahole: ctx.pahole,
    libbpf: ctx.libbpf,
    jobs: ctx.jobs,
    onProgress: ctx.onProgress,
  })
}

/**
 * What `archive add --debug-deb FILE|URL` runs: a URL is downloaded to a temporary
 * directory (deleted afterwards), a file is read in place; progress goes to `progress`.
 */
export async function addDebugDebCommand(
  root: string,
  source: string,
  options: Pick<DebugDebOptions, 'osVersion' | 'pahole' | 'libbpf' | 'jobs'>,
  progress: {update(text: string): void; clear(): void},
): Promise<DebugDebResult> {
  const onProgress = (p: DebugProgress): void => progress.update(describeDebugProgress(p))
  try {
    if (/^https?:\/\//.test(source)) return await addDebugDebUrl(root, source, {...options, onProgress})
    return await addDebugDeb(root, source, {...options, onProgress})
  } finally {
    progress.clear()
  }
}
