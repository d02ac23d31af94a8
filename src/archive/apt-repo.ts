/**
 * APT repositories (Debian's and Ubuntu's share the format): the `Packages` index format
 * (deb822 stanzas, one per binary package), a suite's `InRelease` (or
 * `Release`) file, which lists every index file of the suite with its size and sha256,
 * and the `Packages` indices fetched and checked against it.
 *
 * Layout (Debian Repository Format, wiki.debian.org/DebianRepository/Format):
 *
 *   <mirror>/dists/<suite>/InRelease            the Release fields, clearsigned (OpenPGP)
 *   <mirror>/dists/<suite>/Release              the same fields, unsigned (+ Release.gpg)
 *   <mirror>/dists/<suite>/<component>/binary-<arch>/Packages(.xz|.gz)
 *
 * The Release file's `SHA256:` field is a multi-line list of `<sha256> <size> <path>`
 * with paths relative to `dists/<suite>/`. A Packages index is accepted only when its
 * bytes (compressed, as downloaded) have the listed size and sha256: the index in turn
 * pins every package's sha256, so one checked chain runs from the Release file to each
 * downloaded .deb. The OpenPGP signature of InRelease is not verified here (kcompat has
 * no keyring); it only strips the armor. Trust therefore starts at the Release file as
 * fetched, which is what `--mirror URL` names.
 */
import {KcompatError} from '../errors.js'
import {gzipDecompress, xzDecompress} from './compress.js'
import {fetchBytes} from './download.js'
import {sha256} from './archive.js'

export class RepoError extends KcompatError {}

export interface PackageStanza {
  package: string
  version: string
  architecture: string
  filename: string
  size: number
  sha256: string
  source?: string
  fields: Record<string, string>
}

/** Parses a `Packages` file. Stanzas without Filename/Size/SHA256 are skipped. */
export function parsePackages(text: string): PackageStanza[] {
  const out: PackageStanza[] = []
  for (const block of text.split(/\n\n+/)) {
    const fields: Record<string, string> = {}
    let last: string | undefined
    for (const line of block.split('\n')) {
      if (line === '') continue
      if (line.startsWith(' ') || line.startsWith('\t')) {
        if (last) fields[last] += `\n${line.slice(1)}`
        continue
      }
      const i = line.indexOf(':')
      if (i <= 0) continue
      last = line.slice(0, i)
      fields[last] = line.slice(i + 1).trim()
    }
    if (!fields.Package || !fields.Filename || !fields.SHA256 || !fields.Size) continue
    out.push({
      package: fields.Package,
      version: fields.Version ?? '',
      architecture: fields.Architecture ?? '',
      filename: fields.Filename,
      size: Number(fields.Size),
      sha256: fields.SHA256,
      source: fields.Source,
      fields,
    })
  }
  return out
}


export interface ReleaseFile {
  /** Single-line fields: Suite, Codename, Version, Architectures, Components, Date … */
  fields: Record<string, string>
  /** `SHA256:` entries by path relative to dists/<suite>/. */
  sha256: Map<string, {sha256: string; size: number}>
  /** `InRelease` or `Release`: which file was read. */
  file: string
}

/** The Release fields out of an InRelease file's clearsigned text (armor headers and signature dropped). */
export function stripClearsign(text: string): string {
  if (!text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----')) return text
  const body = text.indexOf('\n\n')
  const sig = text.indexOf('\n-----BEGIN PGP SIGNATURE-----')
  if (body < 0 || sig < 0 || sig < body) throw new RepoError('REPO_BAD_RELEASE', 'InRelease: malformed clearsigned message')
  // dash-escaped lines (RFC 4880 §7.1) lose their leading "- "
  return text.slice(body + 2, sig).split('\n').map((l) => (l.startsWith('- ') ? l.slice(2) : l)).join('\n')
}

/**
 * Parses a Release (or InRelease) file.
 * @throws RepoError `REPO_BAD_RELEASE` (no SHA256 list, or a malformed line in it).
 */
export function parseReleaseFile(text: string, file = 'Release'): ReleaseFile {
  const fields: Record<string, string> = {}
  const lists: Record<string, string[]> = {}
  let last: string | undefined
  for (const line of stripClearsign(text).split('\n')) {
    if (line.trim() === '') continue
    if (/^\s/.test(line)) {
      if (last) (lists[last] ??= []).push(line.trim())
      continue
    }
    const i = line.indexOf(':')
    if (i <= 0) continue
    last = line.slice(0, i)
    fields[last] = line.slice(i + 1).trim()
  }
  const sums = new Map<string, {sha256: string; size: number}>()
  for (const l of lists.SHA256 ?? []) {
    const m = /^([0-9a-f]{64})\s+(\d+)\s+(\S+)$/.exec(l)
    if (!m) throw new RepoError('REPO_BAD_RELEASE', `${file}: malformed SHA256 line ${JSON.stringify(l.slice(0, 120))}`)
    sums.set(m[3]!, {sha256: m[1]!, size: Number(m[2])})
  }
  if (sums.size === 0) throw new RepoError('REPO_BAD_RELEASE', `${file} has no SHA256 list of index files`)
  return {fields, sha256: sums, file}
}

/** The architectures a Release file's `Architectures:` field lists, without `all` (arch-independent packages); empty when it has none. */
export function releaseArches(release: ReleaseFile): string[] {
  return (release.fields.Architectures ?? '').split(/\s+/).filter((a) => a !== '' && a !== 'all')
}

/**
 * The components a Release file's `Components:` field lists, as index paths name them:
 * Debian's security suites list `updates/main` for the indices under `main/`.
 */
export function releaseComponents(release: ReleaseFile): string[] {
  return (release.fields.Components ?? '').split(/\s+/).filter((c) => c !== '').map((c) => c.replace(/^updates\//, ''))
}

const base = (mirror: string, suite: string): string => `${mirror.replace(/\/+$/, '')}/dists/${suite}`

/**
 * Fetches `dists/<suite>/InRelease`, or `Release` when there is none.
 * @throws RepoError `REPO_NO_RELEASE` (neither exists), `REPO_BAD_RELEASE`; download errors.
 */
export async function fetchRelease(mirror: string, suite: string, retryDelayMs?: number): Promise<ReleaseFile> {
  for (const file of ['InRelease', 'Release']) {
    try {
      const bytes = await fetchBytes(`${base(mirror, suite)}/${file}`, {retryDelayMs, maxBytes: 64 * 1024 * 1024})
      return parseReleaseFile(bytes.toString('utf8'), `${base(mirror, suite)}/${file}`)
    } catch (e) {
      if (!(e instanceof KcompatError) || e.code !== 'DOWNLOAD_NOT_FOUND') throw e
    }
  }
  throw new RepoError('REPO_NO_RELEASE', `${base(mirror, suite)} has neither InRelease nor Release: is ${mirror} the repository root and ${suite} one of its suites?`)
}

/**
 * Fetches one `Packages` index listed in the Release file (xz preferred, then gz, then
 * uncompressed), checks its size and sha256 against the Release file, and parses it.
 * @throws RepoError `REPO_NO_INDEX` (the Release file lists no Packages index for the
 *   component and architecture), `REPO_INDEX_MISSING` (it lists some, but the mirror
 *   answers 404 for each: seen on Debian's security mirror, whose bullseye-security
 *   Release lists armhf indexes it does not serve), `REPO_INDEX_CHECKSUM` (the downloaded
 *   index does not match the Release file); download and decompression errors.
 */
export async function fetchCheckedPackages(
  mirror: string,
  suite: string,
  release: ReleaseFile,
  component: string,
  arch: string,
  retryDelayMs?: number,
): Promise<PackageStanza[]> {
  const stem = `${component}/binary-${arch}/Packages`
  const missing: string[] = []
  for (const [suffix, decode] of [['.xz', xzDecompress], ['.gz', gzipDecompress], ['', (b: Uint8Array) => Buffer.from(b)]] as const) {
    const want = release.sha256.get(`${stem}${suffix}`)
    if (!want) continue
    const url = `${base(mirror, suite)}/${stem}${suffix}`
    let bytes: Buffer
    try {
      bytes = await fetchBytes(url, {retryDelayMs, maxBytes: Math.max(want.size, 1)})
    } catch (e) {
      // a listed index the mirror does not serve: try the next listed compression
      if (!(e instanceof KcompatError) || e.code !== 'DOWNLOAD_NOT_FOUND') throw e
      missing.push(url)
      continue
    }
    const got = sha256(bytes)
    if (bytes.length !== want.size || got !== want.sha256) {
      throw new RepoError(
        'REPO_INDEX_CHECKSUM',
        `${url}: ${bytes.length} bytes with sha256 ${got}, but ${release.file} lists ${want.size} bytes with sha256 ${want.sha256}`,
      )
    }
    return parsePackages(decode(bytes).toString('utf8'))
  }
  if (missing.length > 0) throw new RepoError('REPO_INDEX_MISSING', `${release.file} lists ${stem} but the mirror serves none of it (HTTP 404: ${missing.join(', ')})`)
  throw new RepoError('REPO_NO_INDEX', `${release.file} lists no ${stem}(.xz|.gz): ${suite} has no ${component} packages for ${arch}`)
}
