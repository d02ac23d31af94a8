/**
 * End to end: `archive sync debian` against a Debian-style mirror served on loopback.
 * The mirror's packages are .deb files built here with dpkg-deb, holding real Debian
 * kernel BTF (the committed fixtures, put into an ELF vmlinux with llvm-objcopy and
 * compressed as vmlinuz) and the real kernel configs; the index is written as Debian's
 * is (Packages.xz with Filename, Size, SHA256). The server injects failures (a 503, a
 * connection cut mid-file) to exercise retries and resumption.
 */
import {execFile, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {decompressSync} from '@napi-rs/lzma/xz'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {addKernel, readKernelBtf} from '../../src/archive/archive.js'
import {addKernelDeb} from '../../src/archive/add-deb.js'
import {compareDebianVersions, debianVersionOf, kernelPackages, parsePackages} from '../../src/archive/debian.js'
import {readManifest} from '../../src/archive/manifest.js'
import {readModuleBtfs} from '../../src/archive/modules.js'
import {type SyncEvent, syncDebian, syncDebianSuites} from '../../src/archive/sync.js'
import {mirrorForSuite, parseDeb822Sources, parseSourcesList} from '../../src/kernel/apt.js'
import {writeAptRelease} from '../helpers/apt-release.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {findTool, requireTool, run} from '../helpers/tools.js'

const kernels = kernelFixtures().filter((k) => k.release.endsWith('amd64'))
const haveTools = requireTool('dpkg-deb', 'loopback mirror sync') && requireTool('apt-ftparchive', 'loopback mirror sync') && requireTool('llvm-objcopy', 'loopback mirror sync') && requireTool('clang', 'loopback mirror sync')

interface Pkg {
  name: string
  version: string
  arch: string
  release: string
  btf?: Buffer
  config: string
}

function buildDeb(work: string, p: Pkg): string {
  const root = join(work, `${p.name}-root`)
  mkdirSync(join(root, 'DEBIAN'), {recursive: true})
  mkdirSync(join(root, 'boot'), {recursive: true})
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    `Package: ${p.name}\nVersion: ${p.version}\nArchitecture: ${p.arch}\nMaintainer: test <test@localhost>\nSource: linux-signed-${p.arch} (1)\nDescription: test kernel\n`,
  )
  // an ELF "vmlinux": a tiny object, with the real BTF as its .BTF section
  const c = join(work, 'empty.c')
  writeFileSync(c, 'int kcompat_test_symbol;\n')
  const obj = join(work, `${p.name}.o`)
  run('clang', ['-c', '-target', 'x86_64-linux-gnu', c, '-o', obj])
  if (p.btf) {
    const btfFile = join(work, `${p.name}.btf`)
    writeFileSync(btfFile, p.btf)
    run('llvm-objcopy', ['--add-section', `.BTF=${btfFile}`, obj])
  }
  writeFileSync(join(root, 'boot', `vmlinuz-${p.release}`), gzipSync(readFileSync(obj)))
  writeFileSync(join(root, 'boot', `config-${p.release}`), p.config)
  // the kernel's real modules that fixtures/kernels has (`<release>__<module>.ko.xz`), as .ko.xz
  for (const f of readdirSync(join(FIXTURES, 'kernels')).filter((n) => n.startsWith(`${p.release}__`) && n.endsWith('.ko.xz'))) {
    const dir = join(root, 'lib', 'modules', p.release, 'kernel', 'net', 'netfilter')
    mkdirSync(dir, {recursive: true})
    copyFileSync(join(FIXTURES, 'kernels', f), join(dir, f.slice(`${p.release}__`.length)))
  }
  const deb = join(work, `${p.name}_${p.version}_${p.arch}.deb`)
  run('dpkg-deb', ['-Zxz', '--build', root, deb])
  return deb
}

function stanza(p: Pkg, filename: string, data: Buffer, sha?: string): string {
  return [
    `Package: ${p.name}`,
    `Source: linux-signed-${p.arch}`,
    `Version: ${p.version}`,
    `Architecture: ${p.arch}`,
    `Filename: ${filename}`,
    `Size: ${data.length}`,
    `SHA256: ${sha ?? createHash('sha256').update(data).digest('hex')}`,
    'Description: Linux for testing',
    ' a continuation line',
    '',
  ].join('\n')
}

describe.skipIf(!haveTools || kernels.length < 2)('archive sync debian (loopback mirror)', () => {
  let server: Server
  let mirror: string
  const hits = new Map<string, number>()
  const failOnce = new Set<string>()
  const cutOnce = new Set<string>()
  let rangeRequests = 0
  const pkgs: Pkg[] = []
  let work: string

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'kcompat-mirror-'))
    const site = join(work, 'site')
    const cfg = (release: string): string => decompressSync(readFileSync(join(FIXTURES, 'kernels', `${release}.config.xz`))).toString()
    for (const k of kernels) {
      pkgs.push({name: `linux-image-${k.release}`, version: k.release.startsWith('6.12') ? '6.12.117-1~deb12u1' : '6.1.192-2', arch: 'amd64', release: k.release, btf: k.btf, config: cfg(k.release)})
    }
    // a kernel built without BTF: the config says so (as Debian 12's s390x/ppc64el/i386 kernels)
    const noBtfCfg = cfg(kernels[0]!.release).replace(/^CONFIG_DEBUG_INFO_BTF=y$/m, '# CONFIG_DEBUG_INFO_BTF is not set')
    pkgs.push({name: 'linux-image-6.1.0-56-686-pae', version: '6.1.192-2', arch: 'amd64', release: '6.1.0-56-686-pae', config: noBtfCfg})
    const lines: string[] = []
    for (const p of pkgs) {
      const deb = buildDeb(work, p)
      const rel = `pool/main/l/linux/${deb.split('/').pop()}`
      mkdirSync(join(site, 'pool/main/l/linux'), {recursive: true})
      copyFileSync(deb, join(site, rel))
      lines.push(stanza(p, rel, readFileSync(deb)))
    }
    // a meta package and a debug package the sync must ignore (their files do not exist)
    lines.push(stanza({name: 'linux-image-cloud-amd64', version: '6.1.192-2', arch: 'amd64', release: '', config: ''}, 'pool/none.deb', Buffer.from('x')))
    lines.push(stanza({name: `linux-image-${kernels[0]!.release}-dbg`, version: '6.1.192-2', arch: 'amd64', release: '', config: ''}, 'pool/none-dbg.deb', Buffer.from('x')))
    const index = join(site, 'dists/bookworm/main/binary-amd64')
    mkdirSync(index, {recursive: true})
    writeFileSync(join(index, 'Packages'), lines.join('\n'))
    run('xz', ['-k', join(index, 'Packages')])
    // a second suite on the same mirror carrying only the 6.12 kernels (as bookworm-backports does)
    const backports = join(site, 'dists/bookworm-backports/main/binary-amd64')
    mkdirSync(backports, {recursive: true})
    writeFileSync(join(backports, 'Packages'), lines.filter((l) => /^Package: linux-image-6\.12\./m.test(l)).join('\n'))
    run('xz', ['-k', join(backports, 'Packages')])
    // bookworm also lists arm64 (an index without kernels) and contrib (amd64 only: one kernel
    // package, planned but never fetched); bookworm-backports lists amd64 only
    const arm64 = join(site, 'dists/bookworm/main/binary-arm64')
    mkdirSync(arm64, {recursive: true})
    writeFileSync(join(arm64, 'Packages'), '')
    run('xz', ['-k', join(arm64, 'Packages')])
    const contrib = join(site, 'dists/bookworm/contrib/binary-amd64')
    mkdirSync(contrib, {recursive: true})
    writeFileSync(join(contrib, 'Packages'), stanza({name: 'linux-image-6.1.0-99-cloud-amd64', version: '6.1.999-1', arch: 'amd64', release: '', config: ''}, 'pool/contrib/l/linux/none.deb', Buffer.from('contrib')))
    run('xz', ['-k', join(contrib, 'Packages')])
    writeAptRelease(site, 'bookworm', {arches: ['amd64', 'arm64'], components: ['main', 'contrib']})
    writeAptRelease(site, 'bookworm-backports', {arches: ['amd64']})
    // a suite whose Packages.xz changed after its Release file was written
    const tampered = join(site, 'dists/bookworm-tampered/main/binary-amd64')
    mkdirSync(tampered, {recursive: true})
    writeFileSync(join(tampered, 'Packages'), lines.join('\n'))
    run('xz', ['-k', join(tampered, 'Packages')])
    writeAptRelease(site, 'bookworm-tampered', {arches: ['amd64']})
    writeFileSync(join(tampered, 'Packages'), lines.slice(1).join('\n'))
    run('xz', ['-kf', join(tampered, 'Packages')])
    // a suite whose Release file lists an armhf index the mirror does not serve (as Debian's
    // security mirror does for bullseye-security), and an i386 index carrying a kernel
    // package with the same release string, name and version as an amd64 one (as Debian's
    // loongson-3 and octeon flavors exist for both mipsel and mips64el)
    const holes = join(site, 'dists/bookworm-holes/main')
    for (const a of ['amd64', 'armhf', 'i386']) mkdirSync(join(holes, `binary-${a}`), {recursive: true})
    writeFileSync(join(holes, 'binary-amd64/Packages'), lines.slice(0, 1).join('\n'))
    writeFileSync(join(holes, 'binary-armhf/Packages'), '')
    writeFileSync(join(holes, 'binary-i386/Packages'), lines[0]!.replace('Architecture: amd64', 'Architecture: i386'))
    for (const a of ['amd64', 'armhf', 'i386']) run('xz', ['-k', join(holes, `binary-${a}/Packages`)])
    writeAptRelease(site, 'bookworm-holes', {arches: ['amd64', 'armhf', 'i386']})
    for (const f of ['Packages', 'Packages.xz']) rmSync(join(holes, 'binary-armhf', f))
    // failure injection: the first GET of the first package answers 503, the second is cut mid-body
    const firstDeb = lines[0]!.match(/Filename: (.*)/)![1]!
    failOnce.add(`/${firstDeb}`)
    cutOnce.add(`/${lines[1]!.match(/Filename: (.*)/)![1]!}`)
    server = createServer((req, res) => {
      const path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
      hits.set(path, (hits.get(path) ?? 0) + 1)
      if (failOnce.delete(path)) {
        res.writeHead(503).end()
        return
      }
      let body: Buffer
      try {
        body = readFileSync(join(site, path))
      } catch {
        res.writeHead(404).end()
        return
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
      if (range) {
        rangeRequests++
        const from = Number(range[1])
        res.writeHead(206, {'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`})
        res.end(body.subarray(from))
        return
      }
      if (cutOnce.delete(path)) {
        res.writeHead(200, {'content-length': body.length})
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy())
        return
      }
      res.writeHead(200, {'content-length': body.length}).end(body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const addr = server.address() as {port: number}
    mirror = `http://127.0.0.1:${addr.port}`
  })
  afterAll(() => server?.close())

  it('adds every kernel package (not meta or -dbg), with BTF, provenance and config facts; retries and resumes', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const r = await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64'], retryDelayMs: 10})
    expect(r.failed).toEqual([])
    expect(r.added.map((a) => a.release).sort()).toEqual(pkgs.map((p) => p.release).sort())
    const m = readManifest(archive)
    for (const p of pkgs) {
      const e = m.kernels.find((k) => k.release === p.release)!
      expect(e).toBeDefined()
      expect(e.distro).toBe('debian')
      expect(e.version).toBe('12')
      expect(e.arch).toBe('x86_64')
      expect(e.source).toMatchObject({method: 'kernel-image', package: p.name, packageVersion: p.version})
      // config facts as grep finds them in the config file
      const grep = (sym: string): string | null => new RegExp(`^${sym}=(.*)$`, 'm').exec(p.config)?.[1]?.replace(/^"(.*)"$/, '$1') ?? null
      for (const sym of ['CONFIG_DEBUG_INFO_BTF', 'CONFIG_BPF_SYSCALL', 'CONFIG_BPF_JIT', 'CONFIG_KPROBES', 'CONFIG_BPF_LSM', 'CONFIG_LSM']) {
        expect([sym, e.config?.[sym] ?? null]).toEqual([sym, grep(sym)])
      }
      if (p.btf) {
        expect(e.btf).toBe('in-kernel')
        expect(Buffer.compare(Buffer.from(await readKernelBtf(archive, e)), p.btf)).toBe(0)
        // the tarball is what the system's tar reads
        expect(run('tar', ['-tJf', join(archive, e.path!)]).toString().trim()).toBe(`${p.release}.btf`)
      } else {
        expect(e).toMatchObject({btf: 'none', path: null, sha256: null})
      }
    }
    // the 503 was retried and the cut download resumed with a Range request
    expect(rangeRequests).toBe(1)
    expect(Math.max(...[...hits.entries()].filter(([k]) => k.endsWith('.deb')).map(([, v]) => v))).toBe(2)
    expect(e2eHits(hits, '/pool/none.deb')).toBe(0)
    expect(e2eHits(hits, '/pool/none-dbg.deb')).toBe(0)
    // a re-run downloads and adds nothing
    const before = [...hits.values()].reduce((a, b) => a + b, 0)
    const again = await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64']})
    expect(again.added).toEqual([])
    expect(again.skipped).toHaveLength(pkgs.length)
    const after = [...hits.values()].reduce((a, b) => a + b, 0)
    expect(after - before).toBe(3) // only InRelease (absent here), Release and the index
  })

  it('--no-modules leaves modules out; the next sync fetches those kernels again and adds their module BTF (as llvm-objcopy takes it from the .ko)', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const first = await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64'], retryDelayMs: 10, modules: false})
    expect(first.failed).toEqual([])
    for (const e of readManifest(archive).kernels) expect(e.modules).toBeUndefined()
    const withModules = pkgs.filter((p) => p.btf && /^CONFIG_DEBUG_INFO_BTF_MODULES=y$/m.test(p.config))
    expect(withModules.length).toBeGreaterThanOrEqual(2)
    const debHits = (): number => [...hits.entries()].filter(([k]) => k.endsWith('.deb')).reduce((a, [, v]) => a + v, 0)
    const before = debHits()
    const second = await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64'], retryDelayMs: 10})
    expect(second.failed).toEqual([])
    expect(second.added.map((a) => a.release).sort()).toEqual(withModules.map((p) => p.release).sort())
    expect(debHits() - before).toBe(withModules.length)
    for (const p of withModules) {
      const e = readManifest(archive).kernels.find((k) => k.release === p.release)!
      const kos = readdirSync(join(FIXTURES, 'kernels')).filter((n) => n.startsWith(`${p.release}__`) && n.endsWith('.ko.xz'))
      expect(e.modules).toMatchObject({count: kos.length, withoutBtf: 0})
      const got = await readModuleBtfs(archive, e)
      for (const f of kos) {
        const ko = join(work, f.slice(0, -3))
        writeFileSync(ko, run('xz', ['-dc', join(FIXTURES, 'kernels', f)]))
        const out = join(work, `${f}.btf`)
        run('llvm-objcopy', ['--dump-section', `.BTF=${out}`, ko, join(work, 'discard.o')])
        const name = f.slice(`${p.release}__`.length, -'.ko.xz'.length)
        expect(Buffer.from(got.get(name)!).equals(readFileSync(out)), `${p.release} ${name}`).toBe(true)
      }
    }
    // and then nothing more is fetched
    const third = await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64'], retryDelayMs: 10})
    expect(third.added).toEqual([])
    expect(debHits() - before).toBe(withModules.length)
  })

  it('adding the image package of a kernel with generated BTF keeps that BTF and refreshes the config', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const noBtf = pkgs.find((p) => !p.btf)!
    const generated = kernels[0]!.btf // stands in for BTF generated from the -dbg package
    await addKernel(archive, {
      release: noBtf.release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'pae', btf: 'generated', config: null,
      source: {method: 'debug-info', package: `${noBtf.name}-dbg`, packageVersion: noBtf.version},
    }, generated)
    const deb = join(work, `${noBtf.name}_${noBtf.version}_${noBtf.arch}.deb`)
    const r = await addKernelDeb(archive, deb)
    expect(r.entry.btf).toBe('generated')
    expect(r.entry.sha256).toBe(createHash('sha256').update(generated).digest('hex'))
    expect(r.entry.config?.CONFIG_DEBUG_INFO_BTF).toBeNull()
    expect(r.entry.config?.CONFIG_BPF_SYSCALL).toBe('y')
    expect(r.entry.source).toMatchObject({method: 'debug-info', kernelImage: {package: noBtf.name, packageVersion: noBtf.version}})
    expect(Buffer.compare(Buffer.from(await readKernelBtf(archive, r.entry)), generated)).toBe(0)
  })

  it('a package that does not match the index checksum is reported and not archived', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const site = join(work, 'bad')
    const p = pkgs[0]!
    const deb = join(work, `${p.name}_${p.version}_${p.arch}.deb`)
    const idx = join(site, 'dists/bookworm/main/binary-amd64')
    mkdirSync(idx, {recursive: true})
    mkdirSync(join(site, 'pool'), {recursive: true})
    copyFileSync(deb, join(site, 'pool', 'k.deb'))
    writeFileSync(join(idx, 'Packages'), stanza(p, 'pool/k.deb', readFileSync(deb), '0'.repeat(64)))
    run('xz', ['-k', join(idx, 'Packages')])
    writeAptRelease(site, 'bookworm', {arches: ['amd64']})
    const badServer = createServer((req, res) => {
      try {
        res.end(readFileSync(join(site, decodeURIComponent(req.url!))))
      } catch {
        res.writeHead(404).end()
      }
    })
    await new Promise<void>((r) => badServer.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(badServer.address() as {port: number}).port}`
      const r = await syncDebian(archive, {mirror: url, suite: 'bookworm', arches: ['amd64']})
      expect(r.failed.map((f) => f.code)).toEqual(['DOWNLOAD_CHECKSUM'])
      expect(readManifest(archive).kernels).toEqual([])
    } finally {
      badServer.close()
    }
  })

  it('several suites: each read from its mirror, every planned kernel naming its suite, as single-suite runs plan them', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const one = async (suite: string): Promise<string[]> =>
      (await syncDebian(archive, {mirror, suite, arches: ['amd64'], dryRun: true})).planned.map((p) => `${suite} ${p.release}`).sort()
    const seen: string[] = []
    const both = await syncDebianSuites(archive, [{suite: 'bookworm', mirror}, {suite: 'bookworm-backports', mirror}], {arches: ['amd64'], dryRun: true, onSuite: (s) => seen.push(s)})
    expect(seen).toEqual(['bookworm', 'bookworm-backports'])
    expect(both.suites).toEqual(['bookworm', 'bookworm-backports'])
    const backports = await one('bookworm-backports')
    expect(backports.length).toBeGreaterThan(0)
    expect(backports.every((r) => / 6\.12\./.test(r))).toBe(true)
    expect(both.planned.map((p) => `${p.suite} ${p.release}`).sort()).toEqual([...(await one('bookworm')), ...backports].sort())
    // through the CLI: a suite no apt source lists is a usage error naming every such suite
    const cli = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'run.js'), 'archive', 'sync', 'debian', '--suite', 'kcompat-no-suite-a', '--suite', 'kcompat-no-suite-b', '--arch', 'amd64', '--archive', archive, '--dry-run'], {encoding: 'utf8'})
    expect(cli.status).toBe(2)
    const said = cli.stderr.replace(/\s*›\s*/g, ' ')
    expect(said).toMatch(/no apt source lists suites 'kcompat-no-suite-a', 'kcompat-no-suite-b'; give --mirror URL/)
    // asynchronously: the mirror is served by this process
    const dry = await new Promise<{status: number | null; stdout: string; stderr: string}>((resolve) => {
      execFile(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'run.js'), 'archive', 'sync', 'debian', '--suite', 'bookworm,bookworm-backports', '--arch', 'amd64', '--mirror', mirror, '--archive', archive, '--dry-run', '--json'], {encoding: 'utf8'}, (err, stdout, stderr) =>
        resolve({status: err ? ((err as {code?: number}).code ?? -1) : 0, stdout, stderr}),
      )
    })
    expect(dry.status, dry.stderr).toBe(0)
    expect((JSON.parse(dry.stdout) as {planned: {suite: string; release: string}[]}).planned.map((p) => `${p.suite} ${p.release}`).sort()).toEqual(both.planned.map((p) => `${p.suite} ${p.release}`).sort())
  })

  it("the Release file: an index that differs from it is REPO_INDEX_CHECKSUM before any package is fetched", async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const debs = (): number => [...hits.entries()].filter(([k]) => k.endsWith('.deb')).reduce((a, [, v]) => a + v, 0)
    const before = debs()
    await expect(syncDebian(archive, {mirror, suite: 'bookworm-tampered', arches: ['amd64'], retryDelayMs: 10})).rejects.toMatchObject({
      code: 'REPO_INDEX_CHECKSUM',
      message: expect.stringContaining('main/binary-amd64/Packages.xz'),
    })
    expect(debs()).toBe(before)
    expect(readManifest(archive).kernels).toEqual([])
  })

  it("architectures and components: checked against the suites' Release files; one a suite lacks is reported and skipped; all = every listed arch", async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const plan = (r: {planned: {release: string}[]}): string[] => r.planned.map((p) => p.release).sort()
    const amd64 = plan(await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64'], dryRun: true}))
    expect(amd64.length).toBe(pkgs.length)
    // an arch no suite lists: an error naming what each lists, before any index is read
    const indexHits = (): number => [...hits.entries()].filter(([k]) => k.includes('/binary-')).reduce((a, [, v]) => a + v, 0)
    const before = indexHits()
    await expect(syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64', 's390x'], dryRun: true})).rejects.toMatchObject({
      code: 'REPO_UNKNOWN_ARCH',
      message: expect.stringContaining('bookworm: amd64 arm64'),
    })
    await expect(syncDebianSuites(archive, [{suite: 'bookworm', mirror}, {suite: 'bookworm-backports', mirror}], {arches: ['s390x'], dryRun: true})).rejects.toMatchObject({code: 'REPO_UNKNOWN_ARCH'})
    await expect(syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64'], components: ['non-free'], dryRun: true})).rejects.toMatchObject({code: 'REPO_UNKNOWN_COMPONENT'})
    expect(indexHits()).toBe(before)
    // --arch all: amd64 and arm64 (not `all`), the same plan as amd64 alone (arm64 has no kernels)
    const events: SyncEvent[] = []
    const all = await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['all'], dryRun: true, onEvent: (e) => events.push(e)})
    expect(events.filter((e) => e.type === 'index').map((e) => (e as {arch: string}).arch)).toEqual(['amd64', 'arm64'])
    expect(plan(all)).toEqual(amd64)
    // two suites, arm64 in one only: reported and skipped in the other, the sync goes on
    const both = await syncDebianSuites(archive, [{suite: 'bookworm', mirror}, {suite: 'bookworm-backports', mirror}], {arches: ['amd64', 'arm64'], dryRun: true})
    expect(both.unavailable).toEqual([expect.objectContaining({suite: 'bookworm-backports', arch: 'arm64', code: 'REPO_UNKNOWN_ARCH'})])
    expect(both.planned.filter((p) => p.suite === 'bookworm').map((p) => p.release).sort()).toEqual(amd64)
    // --component: contrib's kernel alone; main,contrib both; arm64 has no contrib index (reported)
    const contrib = await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64', 'arm64'], components: ['contrib'], dryRun: true})
    expect(plan(contrib)).toEqual(['6.1.0-99-cloud-amd64'])
    expect(contrib.unavailable).toEqual([expect.objectContaining({arch: 'arm64', component: 'contrib', code: 'REPO_NO_INDEX'})])
    expect(plan(await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64'], components: ['main', 'contrib'], dryRun: true}))).toEqual([...amd64, '6.1.0-99-cloud-amd64'].sort())
    // --ddebs means nothing for debian: a usage error
    const cli = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'run.js'), 'archive', 'sync', 'debian', '--suite', 'bookworm', '--arch', 'amd64', '--mirror', mirror, '--archive', archive, '--ddebs', mirror, '--dry-run'], {encoding: 'utf8'})
    expect(cli.status).toBe(2)
    expect(cli.stderr.replace(/\s*›\s*/g, ' ')).toContain('--ddebs is for ubuntu')
  })

  it("an index the Release file lists but the mirror does not serve is reported and skipped; an arch's kernel is not another arch's with the same release", async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const first = await syncDebian(archive, {mirror, suite: 'bookworm-holes', arches: ['amd64'], retryDelayMs: 10})
    expect(first.added.map((a) => a.release)).toEqual([pkgs[0]!.release])
    const r = await syncDebian(archive, {mirror, suite: 'bookworm-holes', arches: ['all'], dryRun: true})
    expect(r.unavailable).toEqual([expect.objectContaining({arch: 'armhf', component: 'main', code: 'REPO_INDEX_MISSING', reason: expect.stringContaining('binary-armhf/Packages')})])
    // amd64's kernel is archived; the i386 package of the same release string is not
    expect(r.skipped.map((x) => [x.release, x.arch])).toEqual([[pkgs[0]!.release, 'amd64']])
    expect(r.planned.map((x) => [x.release, x.arch])).toEqual([[pkgs[0]!.release, 'i386']])
  })

  it('--shard I/N: the shards of a dry run partition the kernels by the hash of debian/<version>/<arch>/<release>', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const planned = async (shard?: {index: number; count: number}): Promise<string[]> =>
      (await syncDebian(archive, {mirror, suite: 'bookworm', arches: ['amd64'], dryRun: true, shard})).planned.map((p) => p.release).sort()
    const all = await planned()
    const parts = [await planned({index: 1, count: 2}), await planned({index: 2, count: 2})]
    expect([...parts[0]!, ...parts[1]!].sort()).toEqual(all)
    for (const [i, part] of parts.entries()) {
      // the documented rule, with the sha256 tool
      for (const r of part) expect(parseInt(run('sha256sum', [], {input: Buffer.from(`debian/12/x86_64/${r}`)}).toString().slice(0, 8), 16) % 2).toBe(i)
    }
  })
})

function e2eHits(hits: Map<string, number>, path: string): number {
  return hits.get(path) ?? 0
}

describe('Debian index and apt sources', () => {
  it('parses apt sources (deb822 and one-line) and picks the mirror for a suite', () => {
    const deb822 = 'Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n'
    const s = parseDeb822Sources(deb822)
    expect(mirrorForSuite('bookworm-security', s)).toBe('http://mirror.invalid/debian-security')
    expect(mirrorForSuite('bookworm', s)).toBe('http://mirror.invalid/debian')
    expect(mirrorForSuite('trixie', s)).toBeUndefined()
    const one = parseSourcesList('# comment\ndeb [arch=amd64] http://m.invalid/debian bookworm main contrib\ndeb-src http://m.invalid/debian bookworm main\n')
    expect(one).toEqual([{uri: 'http://m.invalid/debian', suites: ['bookworm'], components: ['main', 'contrib'], file: '<text>'}])
  })
  it('selects kernel image packages only', () => {
    const text = ['linux-image-6.1.0-56-cloud-amd64', 'linux-image-6.1.0-56-cloud-amd64-unsigned', 'linux-image-6.1.0-56-cloud-amd64-dbg', 'linux-image-amd64', 'linux-image-6.12-amd64', 'linux-image-6.12.117+deb12-rt-amd64',
      // names from bullseye-security's i386 index: a 6.1 backport and its meta package; an older backport
      'linux-image-6.1-686-pae', 'linux-image-6.1.0-0.deb11.44-686-pae', 'linux-image-4.19.0-0.bpo.19-amd64']
      .map((n) => `Package: ${n}\nVersion: 1\nArchitecture: amd64\nFilename: f\nSize: 1\nSHA256: ${'0'.repeat(64)}\n`)
      .join('\n')
    expect(kernelPackages(parsePackages(text)).map((k) => [k.release, k.series, k.flavor])).toEqual([
      ['6.1.0-56-cloud-amd64', '6.1', 'cloud'],
      ['6.12.117+deb12-rt-amd64', '6.12', 'rt'],
      ['6.1.0-0.deb11.44-686-pae', '6.1', 'pae'],
      ['4.19.0-0.bpo.19-amd64', '4.19', 'generic'],
    ])
  })
  it('orders Debian versions as dpkg does', () => {
    // dpkg --compare-versions is the oracle where it exists
    const pairs: [string, string][] = [['6.1.192-2', '6.1.176-1'], ['6.12.117-1~deb12u1', '6.12.117-1'], ['1:1.0', '2.0'], ['1.0~rc1', '1.0'], ['1.0a', '1.0'], ['6.1.10-1', '6.1.9-3']]
    for (const [a, b] of pairs) {
      const ours = Math.sign(compareDebianVersions(a, b))
      if (findTool('dpkg')) {
        const gt = spawnSync('dpkg', ['--compare-versions', a, 'gt', b]).status === 0
        const lt = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0
        expect([a, b, ours]).toEqual([a, b, gt ? 1 : lt ? -1 : 0])
      }
    }
  })
  it('knows which Debian release a kernel belongs to', () => {
    expect(debianVersionOf('6.12.117+deb12-cloud-amd64')).toBe('12')
    expect(debianVersionOf('6.1.0-56-amd64')).toBe('12')
    expect(debianVersionOf('5.10.0-30-amd64')).toBe('11')
    expect(debianVersionOf('9.9.0-1-amd64')).toBeUndefined()
    // backports: the release's own .debN mark, else the package version's ~bpoN
    expect(debianVersionOf('6.1.0-0.deb11.44-686-pae', '6.1.180-1~deb11u1')).toBe('11')
    expect(debianVersionOf('6.1.0-0.deb11.44-686-pae')).toBe('11')
    expect(debianVersionOf('4.19.0-0.bpo.19-amd64', '4.19.235-1~bpo9+1')).toBe('9')
  })
})
