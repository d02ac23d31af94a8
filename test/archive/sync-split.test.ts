/**
 * `archive sync debian` on kernels Debian ships in parts (forky and sid, Linux 7.x): an
 * empty `linux-image-<R>` that depends on `linux-binary-<R>` (the image at
 * /usr/lib/modules/<R>/vmlinuz), `linux-base-<R>` (/usr/lib/modules/<R>/config) and
 * `linux-modules-<R>`, each pinned `(= version)`. The mirror on loopback holds packages
 * built here with dpkg-deb in that layout, from the committed real kernel BTF, config and
 * module fixtures; the expected BTF is the fixture's, the expected module BTF what
 * llvm-objcopy dumps from the .ko, the expected config facts what the config file says.
 */
import {createHash} from 'node:crypto'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {decompressSync} from '@napi-rs/lzma/xz'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readKernelBtf} from '../../src/archive/archive.js'
import {kernelPackages, parsePackages} from '../../src/archive/debian.js'
import {fetchKernelImage} from '../../src/archive/image.js'
import {readManifest} from '../../src/archive/manifest.js'
import {readModuleBtfs} from '../../src/archive/modules.js'
import {syncDebian} from '../../src/archive/sync.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {writeAptRelease} from '../helpers/apt-release.js'
import {type StaticSite, serveSite} from '../helpers/static-site.js'
import {requireTool, run} from '../helpers/tools.js'

const haveTools = requireTool('dpkg-deb', 'split-package sync') && requireTool('llvm-objcopy', 'split-package sync') && requireTool('clang', 'split-package sync')
// the real 6.1 kernel (its BTF, config and modules, whose vermagic names it), packaged in the split layout
const RELEASE = '6.1.0-56-cloud-amd64'
const VERSION = '6.1.192-2'
const kernel = kernelFixtures().find((k) => k.release === RELEASE)

interface Built {
  name: string
  deb: string
  filename: string
}

function control(name: string, extra = ''): string {
  return `Package: ${name}\nVersion: ${VERSION}\nArchitecture: amd64\nMaintainer: test <test@localhost>\n${extra}Description: test kernel part\n`
}

function build(work: string, site: string, name: string, pool: string, files: Record<string, Buffer | string>, extra = ''): Built {
  const root = join(work, `${name}-root`)
  mkdirSync(join(root, 'DEBIAN'), {recursive: true})
  writeFileSync(join(root, 'DEBIAN', 'control'), control(name, extra))
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), {recursive: true})
    writeFileSync(join(root, path), data)
  }
  const file = `${name}_${VERSION}_amd64.deb`
  const deb = join(work, file)
  run('dpkg-deb', ['-Zxz', '--build', root, deb])
  const filename = `pool/main/l/${pool}/${file}`
  mkdirSync(join(site, 'pool/main/l', pool), {recursive: true})
  copyFileSync(deb, join(site, filename))
  return {name, deb, filename}
}

function stanza(b: Built, depends?: string): string {
  const data = readFileSync(b.deb)
  return [
    `Package: ${b.name}`,
    `Version: ${VERSION}`,
    'Architecture: amd64',
    ...(depends ? [`Depends: ${depends}`] : []),
    `Filename: ${b.filename}`,
    `Size: ${data.length}`,
    `SHA256: ${createHash('sha256').update(data).digest('hex')}`,
    'Description: Linux for testing',
    '',
  ].join('\n')
}

describe.skipIf(!haveTools || !kernel)('archive sync debian: kernels in parts (linux-binary, linux-base, linux-modules)', () => {
  let site: StaticSite
  let mirror: string
  let work: string
  let config: string
  let vmlinuz: Buffer
  let hits: Map<string, number>
  const kos = readdirSync(join(FIXTURES, 'kernels')).filter((n) => n.startsWith(`${kernel?.release}__`) && n.endsWith('.ko.xz'))
  const parts: Record<string, Built> = {}

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'kcompat-split-'))
    const root = join(work, 'site')
    config = decompressSync(readFileSync(join(FIXTURES, 'kernels', `${kernel!.release}.config.xz`))).toString()
    // an ELF "vmlinux" holding the real BTF, gzip'd as a vmlinuz
    const c = join(work, 'empty.c')
    writeFileSync(c, 'int kcompat_test_symbol;\n')
    const obj = join(work, 'vmlinux.o')
    run('clang', ['-c', '-target', 'x86_64-linux-gnu', c, '-o', obj])
    writeFileSync(join(work, 'vmlinux.btf'), kernel!.btf)
    run('llvm-objcopy', ['--add-section', `.BTF=${join(work, 'vmlinux.btf')}`, obj])
    vmlinuz = gzipSync(readFileSync(obj))
    const dir = `usr/lib/modules/${RELEASE}`
    const modules: Record<string, Buffer> = {}
    for (const f of kos) modules[`${dir}/kernel/net/netfilter/${f.slice(`${kernel!.release}__`.length)}`] = readFileSync(join(FIXTURES, 'kernels', f))
    parts.image = build(work, root, `linux-image-${RELEASE}`, 'linux-signed-amd64', {[`usr/share/doc/linux-image-${RELEASE}/README`]: 'empty\n'})
    parts.binary = build(work, root, `linux-binary-${RELEASE}`, 'linux-signed-amd64', {[`${dir}/vmlinuz`]: vmlinuz})
    parts.unsigned = build(work, root, `linux-binary-unsigned-${RELEASE}`, 'linux', {[`${dir}/vmlinuz`]: vmlinuz})
    parts.base = build(work, root, `linux-base-${RELEASE}`, 'linux', {[`${dir}/config`]: config, [`${dir}/System.map`]: 'ffffffffffffffff B The real System.map is in the linux-image-dbg package\n'})
    parts.modules = build(work, root, `linux-modules-${RELEASE}`, 'linux', modules)
    const deps = `dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-${RELEASE} (= ${VERSION}), linux-binary-${RELEASE} (= ${VERSION}), linux-modules-${RELEASE} (= ${VERSION})`
    const lines = [stanza(parts.image, deps), stanza(parts.binary, `linux-base-${RELEASE} (= ${VERSION})`), stanza(parts.unsigned), stanza(parts.base), stanza(parts.modules, `kmod, linux-base-${RELEASE} (= ${VERSION})`)]
    const index = join(root, 'dists/forky/main/binary-amd64')
    mkdirSync(index, {recursive: true})
    writeFileSync(join(index, 'Packages'), lines.join('\n'))
    run('xz', ['-k', join(index, 'Packages')])
    writeAptRelease(root, 'forky', {arches: ['amd64']})
    site = await serveSite(join(work, 'site'))
    mirror = site.url
    hits = site.hits
  })
  afterAll(() => site?.close())

  it('finds the parts through the image package\'s pinned Depends', () => {
    const text = readFileSync(join(work, 'site/dists/forky/main/binary-amd64/Packages'), 'utf8')
    const k = kernelPackages(parsePackages(text))
    expect(k.map((x) => x.release)).toEqual([RELEASE])
    expect(k[0]!.parts?.binary.package).toBe(`linux-binary-${RELEASE}`)
    expect(k[0]!.parts?.base?.package).toBe(`linux-base-${RELEASE}`)
    expect(k[0]!.parts?.modules?.package).toBe(`linux-modules-${RELEASE}`)
    // a pinned version the index does not hold is no part
    const other = text.replace(`linux-binary-${RELEASE} (= ${VERSION})`, `linux-binary-${RELEASE} (= 6.1.192-3)`)
    expect(kernelPackages(parsePackages(other))[0]!.parts).toBeUndefined()
  })

  it('adds the kernel from its parts: BTF from linux-binary, config from linux-base, module BTF from linux-modules; the empty package is never fetched', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const dry = await syncDebian(archive, {mirror, suite: 'forky', arches: ['amd64'], dryRun: true})
    const size = (b: Built): number => readFileSync(b.deb).length
    expect(dry.planned).toEqual([{release: RELEASE, arch: 'amd64', package: parts.image!.name, version: VERSION, size: size(parts.binary!) + size(parts.base!) + size(parts.modules!)}])
    const r = await syncDebian(archive, {mirror, suite: 'forky', arches: ['amd64'], retryDelayMs: 10})
    expect(r.failed).toEqual([])
    expect(r.added).toEqual([{release: RELEASE, arch: 'amd64', btf: 'in-kernel', modules: kos.length}])
    expect(hits.get(`/${parts.image!.filename}`) ?? 0).toBe(0)
    expect(hits.get(`/${parts.unsigned!.filename}`) ?? 0).toBe(0)
    const e = readManifest(archive).kernels[0]!
    expect(e).toMatchObject({release: RELEASE, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud', btf: 'in-kernel'})
    expect(Buffer.compare(Buffer.from(await readKernelBtf(archive, e)), kernel!.btf)).toBe(0)
    const grep = (sym: string): string | null => new RegExp(`^${sym}=(.*)$`, 'm').exec(config)?.[1]?.replace(/^"(.*)"$/, '$1') ?? null
    for (const sym of ['CONFIG_DEBUG_INFO_BTF', 'CONFIG_DEBUG_INFO_BTF_MODULES', 'CONFIG_BPF_LSM', 'CONFIG_LSM', 'CONFIG_KPROBES']) {
      expect([sym, e.config?.[sym] ?? null]).toEqual([sym, grep(sym)])
    }
    // recorded as the package users install; the image as the package that holds it
    expect(e.source).toMatchObject({method: 'kernel-image', package: parts.image!.name, packageVersion: VERSION, file: parts.binary!.filename.split('/').pop()})
    expect(e.source.image).toMatchObject({package: parts.binary!.name, path: parts.binary!.filename, member: `usr/lib/modules/${RELEASE}/vmlinuz`, memberSize: vmlinuz.length})
    // module BTF as llvm-objcopy takes it out of each .ko
    const got = await readModuleBtfs(archive, e)
    expect([...got.keys()].length).toBe(kos.length)
    for (const f of kos) {
      const ko = join(work, f.slice(0, -3))
      writeFileSync(ko, run('xz', ['-dc', join(FIXTURES, 'kernels', f)]))
      const out = join(work, `${f}.btf`)
      run('llvm-objcopy', ['--dump-section', `.BTF=${out}`, ko, join(work, 'discard.o')])
      const name = f.slice(`${kernel!.release}__`.length, -'.ko.xz'.length)
      expect(Buffer.from(got.get(name)!).equals(readFileSync(out)), name).toBe(true)
    }
    // the image comes back from the linux-binary package, byte for byte
    const cache = mkdtempSync(join(tmpdir(), 'kcompat-imgcache-'))
    const img = await fetchKernelImage(archive, e, {mirror, cacheDir: cache, retryDelayMs: 10})
    expect(readFileSync(img.path).equals(vmlinuz)).toBe(true)
    // a re-run fetches no package, only the Release file and the index
    const debHits = (): number => [...hits.entries()].filter(([k]) => k.endsWith('.deb')).reduce((a, [, v]) => a + v, 0)
    const before = debHits()
    const again = await syncDebian(archive, {mirror, suite: 'forky', arches: ['amd64']})
    expect(again.added).toEqual([])
    expect(again.skipped.map((s) => s.release)).toEqual([RELEASE])
    expect(debHits() - before).toBe(0)
  })

  it('--no-modules does not fetch linux-modules', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
    const before = hits.get(`/${parts.modules!.filename}`) ?? 0
    const r = await syncDebian(archive, {mirror, suite: 'forky', arches: ['amd64'], retryDelayMs: 10, modules: false})
    expect(r.failed).toEqual([])
    expect(hits.get(`/${parts.modules!.filename}`) ?? 0).toBe(before)
    expect(readManifest(archive).kernels[0]!.modules).toBeUndefined()
  })
})
