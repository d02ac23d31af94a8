/**
 * yum/dnf repositories ("repodata", the rpm-md format that createrepo_c writes and
 * dnf/yum/zypper read): `repodata/repomd.xml` lists the repository's metadata files,
 * each with its location, checksum and size; `primary.xml` (compressed as .gz, .xz,
 * .zst or .bz2) lists every package with its name, arch, epoch/version/release,
 * checksum, size and location. The formats are createrepo_c's (its src/xml_dump_*.c and
 * the DTD-less schema in rpm-software-management/createrepo_c's docs) and libdnf's /
 * librepo's readers of them.
 *
 *   <repomd><data type="primary">
 *     <checksum type="sha256">…</checksum><open-checksum type="sha256">…</open-checksum>
 *     <location href="repodata/…-primary.xml.gz"/><size>…</size><open-size>…</open-size>
 *   </data>…</repomd>
 *
 *   <metadata packages="N"><package type="rpm">
 *     <name>kernel-core</name><arch>x86_64</arch>
 *     <version epoch="0" ver="5.14.0" rel="362.8.1.el9_3"/>
 *     <checksum type="sha256" pkgid="YES">…</checksum>
 *     <size package="…" installed="…" archive="…"/>
 *     <location href="Packages/k/kernel-core-….rpm"/>   (xml:base="URL" optional)
 *     <format><rpm:sourcerpm>…</rpm:sourcerpm>…</format>
 *   </package>…</metadata>
 *
 * XML is parsed with the `sax` package (npm; a streaming, dependency-free parser), so
 * primary.xml, which is 100+ MiB uncompressed for a large repository, streams through
 * and only the packages the caller selects are kept. primary.xml is downloaded to a file
 * first, checked against repomd's checksum and size, then decompressed as it is parsed
 * and its decompressed bytes checked against repomd's open-checksum.
 *
 * `filelists.xml` (same checks) lists every file of every package by pkgid (the
 * package's checksum); sharded syncs read it to learn a kernel's release before
 * downloading it.
 *
 * Error codes: `RPM_REPO_BAD_XML` (not well-formed, or not repomd/primary/filelists),
 * `RPM_REPO_NO_PRIMARY`, `RPM_REPO_NO_FILELISTS`, `RPM_REPO_CHECKSUM` (primary.xml does not match repomd.xml),
 * `RPM_REPO_UNSUPPORTED` (a checksum type node cannot compute, an unknown compression),
 * and download.ts's `DOWNLOAD_*`.
 */
import {createHash, getHashes} from 'node:crypto'
import {createReadStream, mkdirSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {StringDecoder} from 'node:string_decoder'
import sax from 'sax'
import {download, fetchBytes} from '../archive/download.js'
import {InputError, KcompatError} from '../errors.js'
import {type RpmCompressor, decompressRpmStream} from './rpm.js'

export interface RepoChecksum {
  /** createrepo's name: sha256, sha512, sha1 ("sha" in old repositories), md5. */
  type: string
  value: string
}

export interface RepoDataFile {
  type: string
  href: string
  checksum?: RepoChecksum
  openChecksum?: RepoChecksum
  size?: number
  openSize?: number
}

export interface RepoPackage {
  name: string
  arch: string
  epoch: number
  version: string
  release: string
  /** `[epoch:]version-release`, as rpm prints it (epoch only when non-zero). */
  evr: string
  checksum: RepoChecksum
  /** Size of the .rpm file. */
  size: number
  /** Path relative to the repository root (or to xml:base when given). */
  href: string
  /** xml:base of the location, when the package lives elsewhere. */
  base?: string
  sourceRpm?: string
}

/** Node's hash name for a createrepo checksum type, or undefined. */
export function hashName(type: string): string | undefined {
  const t = type.toLowerCase() === 'sha' ? 'sha1' : type.toLowerCase()
  return getHashes().includes(t) ? t : undefined
}

/** Joins a repository URL and a relative href. */
export function repoUrl(repo: string, href: string): string {
  return `${repo.replace(/\/+$/, '')}/${href.replace(/^\/+/, '')}`
}

/**
 * Feeds chunks to a sax parser (strict mode) and calls the handlers. Text is reported
 * per element (concatenated), attributes by name.
 */
async function parseXml(
  chunks: AsyncIterable<Uint8Array>,
  what: string,
  h: {open: (name: string, attrs: Record<string, string>) => void; close: (name: string, text: string) => void},
): Promise<void> {
  const parser = sax.parser(true, {trim: false, normalize: false})
  let text = ''
  let error: Error | undefined
  parser.onerror = (e) => {
    error ??= e
  }
  parser.onopentag = (t) => {
    text = ''
    h.open(t.name, t.attributes as Record<string, string>)
  }
  parser.ontext = (t) => {
    text += t
  }
  parser.oncdata = (t) => {
    text += t
  }
  parser.onclosetag = (name) => {
    h.close(name, text)
    text = ''
  }
  const dec = new StringDecoder('utf8')
  try {
    for await (const c of chunks) {
      parser.write(dec.write(Buffer.from(c.buffer, c.byteOffset, c.byteLength)))
      if (error) break
    }
    if (!error) parser.write(dec.end()).close()
  } catch (e) {
    if (e instanceof KcompatError) throw e
    error ??= e as Error
  }
  if (error) throw new InputError('RPM_REPO_BAD_XML', `${what} is not well-formed XML: ${error.message.split('\n')[0]}`, {cause: error})
}

const localName = (n: string): string => n.slice(n.indexOf(':') + 1)

/**
 * Parses repomd.xml: every `<data>` entry by type.
 * @throws InputError `RPM_REPO_BAD_XML`.
 */
export async function parseRepomd(xml: Uint8Array): Promise<Map<string, RepoDataFile>> {
  const out = new Map<string, RepoDataFile>()
  let cur: RepoDataFile | undefined
  let checksumType = ''
  let root: string | undefined
  const once = async function* (): AsyncGenerator<Uint8Array> {
    yield xml
  }
  await parseXml(once(), 'repomd.xml', {
    open: (name, a) => {
      const n = localName(name)
      root ??= n
      if (n === 'data') cur = {type: a.type ?? '', href: ''}
      else if (cur && (n === 'checksum' || n === 'open-checksum')) checksumType = a.type ?? ''
      else if (cur && n === 'location') cur.href = a.href ?? ''
    },
    close: (name, text) => {
      const n = localName(name)
      if (!cur) return
      const t = text.trim()
      if (n === 'checksum') cur.checksum = {type: checksumType, value: t.toLowerCase()}
      else if (n === 'open-checksum') cur.openChecksum = {type: checksumType, value: t.toLowerCase()}
      else if (n === 'size') cur.size = Number(t)
      else if (n === 'open-size') cur.openSize = Number(t)
      else if (n === 'data') {
        out.set(cur.type, cur)
        cur = undefined
      }
    },
  })
  if (root !== 'repomd') throw new InputError('RPM_REPO_BAD_XML', `repomd.xml's root element is ${JSON.stringify(root)}, not repomd`)
  return out
}

/** The compression of a repodata file, from its name. */
export function repodataCompression(href: string): RpmCompressor {
  if (href.endsWith('.gz')) return 'gzip'
  if (href.endsWith('.xz')) return 'xz'
  if (href.endsWith('.zst')) return 'zstd'
  if (href.endsWith('.bz2')) return 'bzip2'
  if (href.endsWith('.xml')) return 'none'
  throw new InputError('RPM_REPO_UNSUPPORTED', `${href}: unknown compression`)
}

/**
 * Parses primary.xml as it streams by and keeps the packages `want` selects (by name and
 * arch, asked before the rest of the package is gathered).
 * @throws InputError `RPM_REPO_BAD_XML`.
 */
export async function parsePrimary(chunks: AsyncIterable<Uint8Array>, want: (name: string, arch: string) => boolean = () => true): Promise<RepoPackage[]> {
  const out: RepoPackage[] = []
  let p: Partial<RepoPackage> | undefined
  let inFormat = false
  let checksumType = ''
  let root: string | undefined
  await parseXml(chunks, 'primary.xml', {
    open: (name, a) => {
      const n = localName(name)
      root ??= n
      if (n === 'package') {
        p = {}
        inFormat = false
      } else if (!p) {
        // outside a package
      } else if (n === 'format') inFormat = true
      else if (inFormat) {
        // only rpm:sourcerpm is read from <format>, on close
      } else if (n === 'version') {
        p.epoch = Number(a.epoch ?? 0) || 0
        p.version = a.ver ?? ''
        p.release = a.rel ?? ''
      } else if (n === 'checksum') checksumType = a.type ?? ''
      else if (n === 'size') p.size = Number(a.package)
      else if (n === 'location') {
        p.href = a.href ?? ''
        if (a['xml:base']) p.base = a['xml:base']
      }
    },
    close: (name, text) => {
      if (!p) return
      const n = localName(name)
      if (n === 'package') {
        const done = p
        p = undefined
        if (!done.name || !done.arch || !want(done.name, done.arch)) return
        if (!done.version || !done.href || !done.checksum || !Number.isFinite(done.size)) {
          throw new InputError('RPM_REPO_BAD_XML', `primary.xml: package ${done.name}.${done.arch} lacks its version, location, checksum or size`)
        }
        out.push({
          name: done.name,
          arch: done.arch,
          epoch: done.epoch ?? 0,
          version: done.version,
          release: done.release ?? '',
          evr: `${done.epoch ? `${done.epoch}:` : ''}${done.version}-${done.release ?? ''}`,
          checksum: done.checksum,
          size: done.size!,
          href: done.href,
          ...(done.base ? {base: done.base} : {}),
          ...(done.sourceRpm ? {sourceRpm: done.sourceRpm} : {}),
        })
      } else if (n === 'format') inFormat = false
      else if (inFormat) {
        if (name === 'rpm:sourcerpm' && text.trim()) p.sourceRpm = text.trim()
      } else if (n === 'name') p.name = text.trim()
      else if (n === 'arch') p.arch = text.trim()
      else if (n === 'checksum') p.checksum = {type: checksumType, value: text.trim().toLowerCase()}
    },
  })
  if (root !== 'metadata') throw new InputError('RPM_REPO_BAD_XML', `primary.xml's root element is ${JSON.stringify(root)}, not metadata`)
  return out
}

async function fileHash(path: string, algo: string): Promise<string> {
  const h = createHash(algo)
  for await (const c of createReadStream(path)) h.update(c as Buffer)
  return h.digest('hex')
}

export interface RepoIndex {
  repomd: Map<string, RepoDataFile>
  primary: RepoDataFile
  packages: RepoPackage[]
}

/**
 * Downloads one repodata file (primary, filelists, …) that repomd.xml lists into
 * `cacheDir`, checks it against repomd's checksum and size, and parses it with `parse` as
 * it is decompressed, checking the decompressed bytes against open-checksum and
 * open-size once `parse` has read them all.
 * @throws InputError `RPM_REPO_*`, DownloadError `DOWNLOAD_*`.
 */
async function fetchRepodata<T>(repo: string, entry: RepoDataFile, cacheDir: string, parse: (chunks: AsyncIterable<Uint8Array>) => Promise<T>, o: {retryDelayMs?: number}): Promise<T> {
  if (!/^[A-Za-z0-9._/+-]+$/.test(entry.href) || entry.href.split('/').includes('..')) {
    throw new InputError('RPM_REPO_BAD_XML', `repomd.xml gives ${entry.type} an unsafe location ${JSON.stringify(entry.href)}`)
  }
  const compression = repodataCompression(entry.href)
  const algo = entry.checksum ? hashName(entry.checksum.type) : undefined
  if (entry.checksum && !algo) throw new InputError('RPM_REPO_UNSUPPORTED', `repomd.xml's checksum type ${entry.checksum.type} is not supported`)
  mkdirSync(cacheDir, {recursive: true})
  const file = join(cacheDir, entry.href.split('/').pop()!)
  try {
    await download(repoUrl(repo, entry.href), file, {
      ...(algo === 'sha256' ? {sha256: entry.checksum!.value} : {}),
      ...(entry.size !== undefined && Number.isFinite(entry.size) ? {size: entry.size} : {}),
      retryDelayMs: o.retryDelayMs,
    })
  } catch (e) {
    if (e instanceof KcompatError && (e.code === 'DOWNLOAD_CHECKSUM' || e.code === 'DOWNLOAD_SHORT')) {
      throw new InputError('RPM_REPO_CHECKSUM', `${entry.href} does not match repomd.xml: ${e.message}`, {cause: e})
    }
    throw e
  }
  if (algo && algo !== 'sha256' && (await fileHash(file, algo)) !== entry.checksum!.value) {
    rmSync(file, {force: true})
    throw new InputError('RPM_REPO_CHECKSUM', `${entry.href}: ${algo} does not match repomd.xml`)
  }
  const openAlgo = entry.openChecksum ? hashName(entry.openChecksum.type) : undefined
  const openHash = openAlgo ? createHash(openAlgo) : undefined
  let openSize = 0
  const raw = createReadStream(file, {highWaterMark: 1 << 20})
  const source = async function* (): AsyncGenerator<Uint8Array> {
    for await (const c of decompressRpmStream(compression, raw, statSync(file).size)) {
      openHash?.update(c)
      openSize += c.length
      yield c
    }
  }
  const out = await parse(source())
  if (openHash && openHash.digest('hex') !== entry.openChecksum!.value) {
    throw new InputError('RPM_REPO_CHECKSUM', `${entry.href} decompresses to data whose ${openAlgo} does not match repomd.xml's open-checksum`)
  }
  if (entry.openSize !== undefined && Number.isFinite(entry.openSize) && openSize !== entry.openSize) {
    throw new InputError('RPM_REPO_CHECKSUM', `${entry.href} decompresses to ${openSize} bytes, repomd.xml says ${entry.openSize}`)
  }
  return out
}

/**
 * Reads a repository's package list: repomd.xml, then primary.xml (fetchRepodata),
 * keeping what `want` selects.
 * @throws InputError `RPM_REPO_*`, DownloadError `DOWNLOAD_*`.
 */
export async function fetchRepoIndex(
  repo: string,
  cacheDir: string,
  want: (name: string, arch: string) => boolean,
  o: {retryDelayMs?: number} = {},
): Promise<RepoIndex> {
  const repomd = await parseRepomd(await fetchBytes(repoUrl(repo, 'repodata/repomd.xml'), {retryDelayMs: o.retryDelayMs, maxBytes: 64 * 1024 * 1024}))
  const primary = repomd.get('primary')
  if (!primary || !primary.href) throw new InputError('RPM_REPO_NO_PRIMARY', `${repoUrl(repo, 'repodata/repomd.xml')} lists no primary metadata`)
  const packages = await fetchRepodata(repo, primary, cacheDir, (chunks) => parsePrimary(chunks, want), o)
  return {repomd, primary, packages}
}

/** One `<file>` of filelists.xml: its absolute path and type (createrepo_c writes `dir` and `ghost`; files and symlinks have none). */
export interface RepoFile {
  path: string
  type: 'file' | 'dir' | 'ghost'
}

/**
 * Parses filelists.xml as it streams by: every file of the packages `want` selects (by
 * pkgid, the package's checksum as primary.xml gives it, and by name and arch), by
 * pkgid.
 *
 *   <filelists packages="N"><package pkgid="…" name="kernel-core" arch="x86_64">
 *     <version epoch="0" ver="5.14.0" rel="362.8.1.el9_3"/>
 *     <file>/lib/modules/5.14.0-362.8.1.el9_3.x86_64/vmlinuz</file>
 *     <file type="dir">/lib/modules/5.14.0-362.8.1.el9_3.x86_64</file>
 *     <file type="ghost">/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64</file>
 *   </package>…</filelists>
 * @throws InputError `RPM_REPO_BAD_XML`.
 */
export async function parseFilelists(chunks: AsyncIterable<Uint8Array>, want: (pkgid: string, name: string, arch: string) => boolean): Promise<Map<string, RepoFile[]>> {
  const out = new Map<string, RepoFile[]>()
  let cur: RepoFile[] | undefined
  let type: RepoFile['type'] = 'file'
  let root: string | undefined
  await parseXml(chunks, 'filelists.xml', {
    open: (name, a) => {
      const n = localName(name)
      root ??= n
      if (n === 'package') {
        const id = (a.pkgid ?? '').toLowerCase()
        cur = want(id, a.name ?? '', a.arch ?? '') ? [] : undefined
        if (cur) out.set(id, cur)
      } else if (n === 'file') type = a.type === 'dir' ? 'dir' : a.type === 'ghost' ? 'ghost' : 'file'
    },
    close: (name, text) => {
      const n = localName(name)
      if (n === 'package') cur = undefined
      else if (n === 'file' && cur) cur.push({path: text, type})
    },
  })
  if (root !== 'filelists') throw new InputError('RPM_REPO_BAD_XML', `filelists.xml's root element is ${JSON.stringify(root)}, not filelists`)
  return out
}

/**
 * The files of some of a repository's packages, from the filelists.xml repomd.xml
 * lists (fetchRepodata), by pkgid.
 * @throws InputError `RPM_REPO_NO_FILELISTS`, `RPM_REPO_*`, DownloadError `DOWNLOAD_*`.
 */
export async function fetchRepoFilelists(
  repo: string,
  repomd: Map<string, RepoDataFile>,
  cacheDir: string,
  want: (pkgid: string, name: string, arch: string) => boolean,
  o: {retryDelayMs?: number} = {},
): Promise<Map<string, RepoFile[]>> {
  const entry = repomd.get('filelists')
  if (!entry || !entry.href) throw new InputError('RPM_REPO_NO_FILELISTS', `${repoUrl(repo, 'repodata/repomd.xml')} lists no filelists metadata`)
  return fetchRepodata(repo, entry, cacheDir, (chunks) => parseFilelists(chunks, want), o)
}
