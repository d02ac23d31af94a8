/**
 * Image provenance (`source.image`) and fetching archived kernels' images, against a
 * Debian-style mirror served on loopback (dists/<suite>/main/binary-<arch>/Packages.xz,
 * pool/…). The packages are built here with dpkg-deb from real content: the committed
 * Debian kernel BTF in an ELF vmlinux (llvm-objcopy), gzip-compressed as
 * boot/vmlinuz-<release>, and the real kernel configs. The expected image bytes and
 * checksums are those of the files the test put into the packages, hashed by node:crypto;
 * `dpkg-deb --fsys-tarfile` + tar is the reference reader of the package.
 */
import {createHash} from 'node:crypto'
import {copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {spawn, spawnSync} from 'node:child_process'
import {decompressSync} from '@napi-rs/lzma/xz'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {addKernelDeb} from '../../src/archive/add-deb.js'
import {readDebMember} from '../../src/archive/deb-member.js'
import {fetchKernelImage, originOfUrl} from '../../src/archive/image.js'
import {type KernelEntry, type Manifest, readManifest, writeManifest} from '../../src/archive/manifest.js'
import {syncDebian} from '../../src/archive/sync.js'
import {parseDeb822Sources} from '../../src/kernel/apt.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {type StaticSite, serveSite} from '../helpers/static-site.js'
import {writeAptRelease} from '../helpers/apt-release.js'
import {requireTool, run} from '../helpers/tools.js'

const kernel = kernelFixtures().find((k) => k.release === '6.1.0-56-cloud-amd64')
const haveTools = requireTool('dpkg-deb', 'image provenance (loopback mirror)') && requireTool('apt-ftparchive', 'image provenance (loopback mirror)') && requireTool('llvm-objcopy', 'image provenance (loopback mirror)') && requireTool('clang', 'image provenance (loopback mirror)')
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')

interface Pkg {
  name: string
  version: string
  release: string
  btf?: Buffer
  config: string
  /** Filled when built. */
  deb?: string
  path?: string
  image?: Buffer
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

function buildDeb(work: string, p: Pkg): void {
  const root = join(work, `${p.name}-root`)
  mkdirSync(join(root, 'DEBIAN'), {recursive: true})
  mkdirSync(join(root, 'boot'), {recursive: true})
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    `Package: ${p.name}\nVersion: ${p.version}\nArchitecture: amd64\nMaintainer: test <test@localhost>\nSource: linux-signed-amd64 (1)\nDescription: test kernel\n`,
  )
  const c = join(work, 'empty.c')
  writeFileSync(c, 'int kcompat_test_symbol;\n')
  const obj = join(work, `${p.name}.o`)
  run('clang', ['-c', '-target', 'x86_64-linux-gnu', c, '-o', obj])
  if (p.btf) {
    writeFileSync(join(work, `${p.name}.btf`), p.btf)
    run('llvm-objcopy', ['--add-section', `.BTF=${join(work, `${p.name}.btf`)}`, obj])
  }
  p.image = gzipSync(readFileSync(obj))
  writeFileSync(join(root, 'boot', `vmlinuz-${p.release}`), p.image)
  writeFileSync(join(root, 'boot', `config-${p.release}`), p.config)
  // more data after /boot, as in a real package (the modules)
  mkdirSync(join(root, 'lib', 'modules', p.release), {recursive: true})
  writeFileSync(join(root, 'lib', 'modules', p.release, 'modules.order'), 'kernel/fs/x.ko\n')
  p.deb = join(work, `${p.name}_${p.version}_amd64.deb`)
  run('dpkg-deb', ['-Zxz', '--build', root, p.deb])
}

function stanza(p: Pkg, data: Buffer): string {
  return [
    `Package: ${p.name}`,
    'Source: linux-signed-amd64',
    `Version: ${p.version}`,
    'Architecture: amd64',
    `Filename: ${p.path}`,
    `Size: ${data.length}`,
    `SHA256: ${sha(data)}`,
    'Description: Linux for testing',
    '',
  ].join('\n')
}

/** Every file under dir (relative paths). */
/** A copy of an archive directory. */
function copyOf(root: string): string {
  const to = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
  cpSync(root, to, {recursive: true})
  return to
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  const walk = (d: string, rel: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p, `${rel}${f}/`)
      else out.push(`${rel}${f}`)
    }
  }
  walk(dir, '')
  return out
}

describe.skipIf(!haveTools || !kernel)('kernel image provenance and fetch (loopback mirror)', () => {
  let server: StaticSite
  let mirror: string
  let work: string
  let hits: Map<string, number>
  let cutOnce: Set<string>
  const pkgs: Pkg[] = []
  const total = (): number => [...hits.values()].reduce((a, b) => a + b, 0)

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'kcompat-image-'))
    const site = join(work, 'site')
    const cfg = decompressSync(readFileSync(join(FIXTURES, 'kernels', `${kernel!.release}.config.xz`))).toString()
    pkgs.push({name: `linux-image-${kernel!.release}`, version: '6.1.192-2', release: kernel!.release, btf: kernel!.btf, config: cfg})
    const noBtf = cfg.replace(/^CONFIG_DEBUG_INFO_BTF=y$/m, '# CONFIG_DEBUG_INFO_BTF is not set')
    pkgs.push({name: 'linux-image-6.1.0-56-686-pae', version: '6.1.192-2', release: '6.1.0-56-686-pae', config: noBtf})
    const lines: string[] = []
    for (const p of pkgs) {
      buildDeb(work, p)
      p.path = `pool/main/l/linux-signed-amd64/${p.deb!.split('/').pop()}`
      mkdirSync(join(site, 'pool/main/l/linux-signed-amd64'), {recursive: true})
      copyFileSync(p.deb!, join(site, p.path))
      lines.push(stanza(p, readFileSync(p.deb!)))
    }
    const index = join(site, 'dists/bookworm/main/binary-amd64')
    mkdirSync(index, {recursive: true})
    writeFileSync(join(index, 'Packages'), lines.join('\n'))
    run('xz', ['-k', join(index, 'Packages')])
    writeAptRelease(site, 'bookworm', {arches: ['amd64']})
    server = await serveSite(site)
    mirror = server.url
    hits = server.hits
    cutOnce = server.cutOnce
  })
  afterAll(() => server?.close())

  /** A synced archive (shared by the fetch tests). */
  let synced: string
  const entryOf = (root: string, release: string): KernelEntry => readManifest(root).kernels.find((k) => k.release === release)!

  it('sync records where each image came from: package file, repository path, image member; no host', async () => {
    synced = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const r = await syncDebian(synced, {mirror, suite: 'bookworm', arches: ['amd64'], retryDelayMs: 10})
    expect(r.failed).toEqual([])
    for (const p of pkgs) {
      const e = entryOf(synced, p.release)
      const deb = readFileSync(p.deb!)
      expect(e.source.image).toEqual({
        format: 'deb',
        package: p.name,
        packageVersion: p.version,
        file: p.deb!.split('/').pop(),
        sha256: sha(deb),
        size: deb.length,
        repo: {type: 'debian', suite: 'bookworm', component: 'main'},
        path: p.path,
        member: `boot/vmlinuz-${p.release}`,
        memberSha256: sha(p.image!),
        memberSize: p.image!.length,
      })
    }
    const text = readFileSync(join(synced, 'manifest.json'), 'utf8')
    expect(text).not.toContain('127.0.0.1')
    expect(text).not.toContain('http')
  })

  it('readDebMember streams out the member dpkg-deb and tar read, and reports a missing one', async () => {
    const p = pkgs[0]!
    const tarBytes = run('dpkg-deb', ['--fsys-tarfile', p.deb!])
    const ref = spawnSync('tar', ['-xO', `./boot/vmlinuz-${p.release}`], {input: tarBytes, maxBuffer: 1 << 28})
    expect(ref.status).toBe(0)
    const dest = join(work, 'member-out')
    const m = await readDebMember(p.deb!, `boot/vmlinuz-${p.release}`, {dest})
    expect(m.sha256).toBe(sha(ref.stdout))
    expect(Buffer.compare(readFileSync(m.file!), ref.stdout)).toBe(0)
    expect(existsSync(dest)).toBe(false) // the caller renames the temporary file
    await expect(readDebMember(p.deb!, 'boot/vmlinuz-9.9.9')).rejects.toMatchObject({code: 'IMAGE_MEMBER_MISSING'})
  })

  it('fetches the image (from apt-style sources for the suite), then serves it from the cache without a request', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    const p = pkgs[0]!
    const e = entryOf(synced, p.release)
    const sources = parseDeb822Sources(`Types: deb\nURIs: ${mirror}\nSuites: bookworm\nComponents: main\n`)
    const before = total()
    const progress: string[] = []
    const a = await fetchKernelImage(synced, e, {sources, cacheDir, onProgress: (x) => progress.push(x.phase)})
    expect(a.cached).toBe(false)
    expect(a.sha256).toBe(sha(p.image!))
    expect(Buffer.compare(readFileSync(a.path), p.image!)).toBe(0)
    expect(progress).toContain('download')
    expect(progress).toContain('extract')
    expect(hits.get(`/${p.path}`)).toBeGreaterThan(0)
    expect(total() - before).toBe(1)
    // the package is deleted once the image is out; only the image stays
    expect(filesUnder(cacheDir)).toEqual([`${sha(p.image!)}/vmlinuz-${p.release}`])
    const mid = total()
    const b = await fetchKernelImage(synced, e, {sources, cacheDir})
    expect(b).toEqual({...a, cached: true})
    expect(total()).toBe(mid)
    // a damaged cached copy is fetched again
    writeFileSync(a.path, Buffer.from('damaged'))
    const c = await fetchKernelImage(synced, e, {mirror, cacheDir})
    expect(c.cached).toBe(false)
    expect(Buffer.compare(readFileSync(c.path), p.image!)).toBe(0)
    // a suite no source lists: IMAGE_NO_MIRROR
    const other = parseDeb822Sources(`Types: deb\nURIs: ${mirror}\nSuites: trixie\nComponents: main\n`)
    await expect(fetchKernelImage(synced, e, {sources: other, cacheDir: mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))})).rejects.toMatchObject({code: 'IMAGE_NO_MIRROR'})
  })

  it('resumes a download cut mid-file with a Range request', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    const p = pkgs[0]! // the larger package: part of it reaches the disk before the cut
    cutOnce.add(`/${p.path}`)
    const ranges = server.ranges()
    const r = await fetchKernelImage(synced, entryOf(synced, p.release), {mirror, cacheDir, retryDelayMs: 10})
    expect(server.ranges()).toBe(ranges + 1)
    expect(Buffer.compare(readFileSync(r.path), p.image!)).toBe(0)
  })

  it('refuses a package or image whose checksum differs, and leaves nothing behind', async () => {
    const p = pkgs[0]!
    const e = entryOf(synced, p.release)
    const img = e.source.image!
    const badPkg = {...e, source: {...e.source, image: {...img, sha256: '0'.repeat(64)}}}
    const c1 = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    await expect(fetchKernelImage(synced, badPkg, {mirror, cacheDir: c1, retryDelayMs: 10})).rejects.toMatchObject({code: 'DOWNLOAD_CHECKSUM'})
    expect(filesUnder(c1)).toEqual([])
    const badImg = {...e, source: {...e.source, image: {...img, memberSha256: '1'.repeat(64)}}}
    const c2 = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    await expect(fetchKernelImage(synced, badImg, {mirror, cacheDir: c2})).rejects.toMatchObject({code: 'IMAGE_CHECKSUM'})
    expect(filesUnder(c2)).toEqual([])
  })

  it('a package gone from the mirror is IMAGE_GONE (naming no host); a missing member is IMAGE_MEMBER_MISSING', async () => {
    const p = pkgs[0]!
    const e = entryOf(synced, p.release)
    const img = e.source.image!
    const gone = {...e, source: {...e.source, image: {...img, path: 'pool/main/l/linux-signed-amd64/gone_1_amd64.deb'}}}
    const c1 = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    const err = (await fetchKernelImage(synced, gone, {mirror, cacheDir: c1}).then(() => undefined, (x: unknown) => x)) as Error & {code: string}
    expect(err).toMatchObject({code: 'IMAGE_GONE'})
    expect(err.message).toContain('--image')
    expect(err.message).toContain('snapshot')
    expect(err.message).not.toMatch(/\.org|\.net|\.com|127\.0\.0\.1/)
    expect(filesUnder(c1)).toEqual([])
    const missing = {...e, source: {...e.source, image: {...img, member: 'boot/vmlinuz-9.9.9'}}}
    const c2 = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    await expect(fetchKernelImage(synced, missing, {mirror, cacheDir: c2})).rejects.toMatchObject({code: 'IMAGE_MEMBER_MISSING'})
    expect(filesUnder(c2)).toEqual([])
    const none = {...e, source: {...e.source, image: undefined}}
    const err2 = (await fetchKernelImage(synced, none, {mirror}).then(() => undefined, (x: unknown) => x)) as Error & {code: string}
    expect(err2).toMatchObject({code: 'IMAGE_NO_SOURCE'})
    expect(err2.message).toContain('--image')
  })

  it('add --deb records the package and member; from a file there is no location, from a mirror URL a repository path', async () => {
    const p = pkgs[1]! // no BTF: nothing to compress, quick to add
    const local = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const r = await addKernelDeb(local, p.deb!)
    const img = r.entry.source.image!
    expect(img).toMatchObject({format: 'deb', package: p.name, sha256: sha(readFileSync(p.deb!)), member: `boot/vmlinuz-${p.release}`, memberSha256: sha(p.image!)})
    expect(img.path).toBeUndefined()
    expect(img.url).toBeUndefined()
    await expect(fetchKernelImage(local, r.entry, {mirror})).rejects.toMatchObject({code: 'IMAGE_NO_SOURCE'})
    // a URL under an apt source's URI: repository + path, no host
    const sources = parseDeb822Sources(`Types: deb\nURIs: ${mirror}/\nSuites: bookworm bookworm-updates\nComponents: main\n`)
    expect(originOfUrl(`${mirror}/${p.path}`, sources)).toEqual({repo: {type: 'debian', suite: 'bookworm', component: 'main'}, path: p.path})
    // anywhere else: the URL itself
    expect(originOfUrl(`${mirror}/elsewhere/x.deb`, parseDeb822Sources('Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\n'))).toEqual({url: `${mirror}/elsewhere/x.deb`})
    const viaUrl = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const u = await addKernelDeb(viaUrl, p.deb!, {origin: {url: `${mirror}/${p.path}`}})
    const cacheDir = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    const f = await fetchKernelImage(viaUrl, u.entry, {cacheDir})
    expect(Buffer.compare(readFileSync(f.path), p.image!)).toBe(0)
    // re-adding the synced package from a local copy keeps its repository location
    const again = await addKernelDeb(copyOf(synced), p.deb!)
    expect(again.changed).toBe(false)
    expect(again.entry.source.image?.path).toBe(p.path)
  })

  it('sync back-fills the provenance of kernels archived without it, changing nothing else', async () => {
    // an archive as older kcompat wrote it: the same kernels, no source.image
    const old = copyOf(synced)
    const strip = (m: Manifest): Manifest => ({...m, kernels: m.kernels.map((k) => ({...k, source: {...k.source, image: undefined}}))})
    // the kernel without BTF as one whose BTF was generated: its image package is recorded beside the debug package
    const noBtf = pkgs[1]!
    const m0 = strip(readManifest(old))
    for (const k of m0.kernels) {
      if (k.release === noBtf.release) {
        k.source = {method: 'debug-info', package: `${noBtf.name}-dbg`, packageVersion: noBtf.version, kernelImage: {package: noBtf.name, packageVersion: noBtf.version, fileSha256: sha(readFileSync(noBtf.deb!))}}
      }
    }
    writeManifest(old, JSON.parse(JSON.stringify(m0)) as Manifest)
    const before = readManifest(old)
    expect(before.kernels.every((k) => k.source.image === undefined)).toBe(true)
    const r = await syncDebian(old, {mirror, suite: 'bookworm', arches: ['amd64'], backfillOnly: true})
    expect(r.failed).toEqual([])
    expect(r.added).toEqual([])
    expect(r.imaged.map((x) => x.release).sort()).toEqual(pkgs.map((p) => p.release).sort())
    const after = readManifest(old)
    for (const p of pkgs) {
      const e = after.kernels.find((k) => k.release === p.release)!
      expect(e.source.image).toMatchObject({package: p.name, path: p.path, repo: {suite: 'bookworm'}, memberSha256: sha(p.image!), memberSize: p.image!.length})
    }
    expect(JSON.stringify(strip(after))).toBe(JSON.stringify(before))
    // nothing left to fill: the suite's InRelease (absent here), Release and the index only
    const n = total()
    const again = await syncDebian(old, {mirror, suite: 'bookworm', arches: ['amd64'], backfillOnly: true})
    expect(again.imaged).toEqual([])
    expect(total() - n).toBe(3)
  })

  it('back-fill reuses a package already in the cache directory and refuses one that is not the archived file', async () => {
    const p = pkgs[0]!
    const old = copyOf(synced)
    const m = readManifest(old)
    writeManifest(old, {...m, kernels: m.kernels.map((k) => (k.release === p.release ? {...k, source: {...k.source, image: undefined}} : k))})
    const cacheDir = mkdtempSync(join(tmpdir(), 'kcompat-dl-'))
    copyFileSync(p.deb!, join(cacheDir, p.deb!.split('/').pop()!))
    const n = hits.get(`/${p.path}`) ?? 0
    const events: string[] = []
    const r = await syncDebian(old, {mirror, suite: 'bookworm', arches: ['amd64'], backfillOnly: true, cacheDir, onEvent: (e) => e.type === 'image' && events.push(`${e.release} ${e.downloaded}`)})
    expect(r.imaged.map((x) => x.release)).toEqual([p.release])
    expect(events).toEqual([`${p.release} false`])
    expect(hits.get(`/${p.path}`) ?? 0).toBe(n)
    // the archived file's sha256 differs from the index's: not filled
    const mismatch = copyOf(synced)
    const mm = readManifest(mismatch)
    writeManifest(mismatch, {...mm, kernels: mm.kernels.map((k) => ({...k, source: {...k.source, fileSha256: 'f'.repeat(64), image: undefined}}))})
    const bad = await syncDebian(mismatch, {mirror, suite: 'bookworm', arches: ['amd64'], backfillOnly: true})
    expect(bad.failed.map((f) => f.code)).toEqual(['IMAGE_PACKAGE_MISMATCH', 'IMAGE_PACKAGE_MISMATCH'])
    expect(readManifest(mismatch).kernels.map((k) => k.source.image)).toEqual([undefined, undefined])
  })

  it('kcompat archive image: prints the cached path, copies with --out, --json; errors with codes', async () => {
    const p = pkgs[0]!
    const cacheDir = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    const env = {...process.env, KCOMPAT_IMAGE_CACHE: cacheDir}
    // asynchronous: the mirror is served by this process
    const cli = (args: string[]): Promise<{status: number | null; stdout: string; stderr: string}> =>
      new Promise((done) => {
        const child = spawn(process.execPath, [BIN, 'archive', 'image', '--archive', synced, ...args], {env})
        let stdout = ''
        let stderr = ''
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
        child.on('close', (status) => done({status, stdout, stderr}))
      })
    const out = join(work, 'vmlinuz-out')
    const a = await cli(['--kernel', p.release, '--mirror', mirror, '--out', out, '--json'])
    expect(a.stderr).toBe('')
    expect(a.status).toBe(0)
    const j = JSON.parse(a.stdout) as {path: string; sha256: string; out: string; cached: boolean; image: {member: string}}
    expect(j).toMatchObject({sha256: sha(p.image!), out, cached: false, image: {member: `boot/vmlinuz-${p.release}`}})
    expect(j.path.startsWith(cacheDir)).toBe(true)
    expect(Buffer.compare(readFileSync(out), p.image!)).toBe(0)
    const b = await cli(['--kernel', p.release, '--mirror', mirror])
    expect(b.status).toBe(0)
    expect(b.stdout.trim()).toBe(j.path)
    const c = await cli(['--kernel', '9.9.9-none'])
    expect(c.status).toBe(1)
    expect(c.stderr).toContain('kcompat: error [ARCHIVE_UNKNOWN_KERNEL]')
  })
})
