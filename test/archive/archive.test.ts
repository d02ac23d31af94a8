import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {addKernel, readKernelBtf, sha256} from '../../src/archive/archive.js'
import {btfPath, debianArchDir, debianFlavor, normalizeArch, parseBtfPath} from '../../src/archive/layout.js'
import {importBtfhubTree} from '../../src/archive/import.js'
import {readManifest} from '../../src/archive/manifest.js'
import {InputError} from '../../src/errors.js'
import {kernelFixtures} from '../helpers/fixtures.js'
import {run} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const kernels = kernelFixtures()

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kcompat-archive-'))
}

/** A btfhub-archive style tree made with the system's tar and xz (not kcompat's writer). */
function btfhubTree(): string {
  const dir = tmp()
  for (const k of kernels) {
    const arch = k.release.endsWith('arm64') ? 'arm64' : 'x86_64'
    const d = join(dir, 'debian', '12', arch)
    mkdirSync(d, {recursive: true})
    copyFileSync(k.path, join(d, `${k.release}.btf`))
    run('tar', ['-C', d, '-cJf', join(d, `${k.release}.btf.tar.xz`), `${k.release}.btf`])
    run('rm', [join(d, `${k.release}.btf`)])
  }
  return dir
}

describe('layout', () => {
  it('follows btfhub-archive naming', () => {
    expect(btfPath({distro: 'debian', version: '12', arch: 'x86_64', release: '6.1.0-56-cloud-amd64'})).toBe(
      'debian/12/x86_64/6.1.0-56-cloud-amd64.btf.tar.xz',
    )
    expect(parseBtfPath('ubuntu/20.04/arm64/5.4.0-1047-azure.btf.tar.xz')).toEqual({
      distro: 'ubuntu', version: '20.04', arch: 'arm64', release: '5.4.0-1047-azure',
    })
    expect(parseBtfPath('../x/y/z.btf.tar.xz')).toBeUndefined()
    expect(() => btfPath({distro: '..', version: '12', arch: 'x86_64', release: 'r'})).toThrow(InputError)
    expect(normalizeArch('aarch64')).toBe('arm64')
    expect(normalizeArch('amd64')).toBe('x86_64')
  })
  // the archive files a Debian kernel under its uname -m: one per package architecture,
  // except armel and mipsel, whose flavors are built for different CPUs (each checked in
  // the package's /boot/config: marvell CONFIG_CPU_FEROCEON → armv5tel, rpi
  // CONFIG_CPU_32v6 → armv6l, 4kc-malta/mips32r2el CONFIG_32BIT → mips, loongson-3/octeon
  // CONFIG_64BIT → mips64; arch/arm/kernel/setup.c, arch/mips/Makefile UTS_MACHINE)
  it.each([
    ['amd64', '6.1.0-56-cloud-amd64', 'x86_64'],
    ['i386', '6.1.0-56-686-pae', 'i686'],
    ['armhf', '6.1.0-50-armmp-lpae', 'armv7l'],
    ['mips64el', '6.1.0-50-loongson-3', 'mips64'],
    ['armel', '6.1.0-50-marvell', 'armv5tel'],
    ['armel', '6.12.95+deb12-rpi', 'armv6l'],
    ['mipsel', '6.1.0-50-4kc-malta', 'mips'],
    ['mipsel', '6.1.0-50-mips32r2el', 'mips'],
    ['mipsel', '6.1.0-50-loongson-3', 'mips64'],
    ['mipsel', '6.1.0-50-octeon', 'mips64'],
    ['armel', '6.1.0-50-frobnicate', 'armel'],
  ])('a Debian %s package of %s is filed under %s', (debArch, release, dir) => {
    expect(debianArchDir(debArch, release)).toBe(dir)
  })
  it.each([
    ['6.1.0-56-cloud-amd64', 'cloud'],
    ['6.1.0-56-amd64', 'generic'],
    ['6.1.0-56-rt-arm64', 'rt'],
    ['6.12.57+deb12-cloud-arm64', 'cloud'],
    ['6.1.0-56-686-pae', 'pae'],
    ['6.1.0-56-s390x', 'generic'],
  ])('Debian flavor of %s is %s', (release, flavor) => {
    expect(debianFlavor(release)).toBe(flavor)
  })
})

describe('archive add/read', () => {
  const k = kernels[0]
  it.skipIf(!k)('writes a tar.xz that tar and xz read back, deterministically', async () => {
    const a = tmp()
    const b = tmp()
    const nk = {
      release: k!.release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud',
      btf: 'in-kernel' as const, config: {CONFIG_DEBUG_INFO_BTF: 'y'}, source: {method: 'kernel-image' as const},
    }
    const r1 = await addKernel(a, nk, k!.btf)
    await addKernel(b, nk, k!.btf)
    expect(r1.changed).toBe(true)
    const file = join(a, r1.entry.path!)
    expect(Buffer.compare(readFileSync(file), readFileSync(join(b, r1.entry.path!)))).toBe(0)
    // the system tar lists exactly one file named <release>.btf, and its bytes are the BTF
    expect(run('tar', ['-tJf', file]).toString().trim()).toBe(`${k!.release}.btf`)
    expect(Buffer.compare(run('tar', ['-xOJf', file]), k!.btf)).toBe(0)
    expect(r1.entry.sha256).toBe(sha256(k!.btf))
    // re-adding changes nothing
    expect((await addKernel(a, nk, k!.btf)).changed).toBe(false)
    expect(Buffer.compare(Buffer.from(await readKernelBtf(a, r1.entry)), k!.btf)).toBe(0)
  })
  it.skipIf(!k)('a tampered tarball fails the sha256 check', async () => {
    const a = tmp()
    const r = await addKernel(a, {
      release: k!.release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud',
      btf: 'in-kernel', config: null, source: {method: 'kernel-image'},
    }, k!.btf)
    const other = Buffer.from(k!.btf)
    other[other.length - 2] ^= 1
    const d = join(a, 'x')
    mkdirSync(d)
    writeFileSync(join(d, `${k!.release}.btf`), other)
    run('tar', ['-C', d, '-cJf', join(a, r.entry.path!), `${k!.release}.btf`])
    await expect(readKernelBtf(a, r.entry)).rejects.toMatchObject({code: 'ARCHIVE_CHECKSUM'})
  })
  it.skipIf(!k)('the first read keeps the unpacked BTF in the raw cache; later reads use it while the tarball exists', async () => {
    const a = tmp()
    const r = await addKernel(a, {
      release: k!.release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud',
      btf: 'in-kernel', config: null, source: {method: 'kernel-image'},
    }, k!.btf)
    const cached = join(a, '.cache', 'btf', `${r.entry.sha256}.btf`)
    expect(existsSync(cached)).toBe(false)
    expect(Buffer.compare(Buffer.from(await readKernelBtf(a, r.entry)), k!.btf)).toBe(0)
    expect(Buffer.compare(readFileSync(cached), k!.btf)).toBe(0)
    // a same-size marker proves the second read comes from the cache, not the tarball
    const marked = Buffer.from(k!.btf)
    marked[marked.length - 2] ^= 1
    writeFileSync(cached, marked)
    expect(Buffer.compare(Buffer.from(await readKernelBtf(a, r.entry)), marked)).toBe(0)
    expect(Buffer.compare(Buffer.from(await readKernelBtf(a, r.entry, {cache: false})), k!.btf)).toBe(0)
    // a cached file of the wrong size is ignored (and rewritten)
    writeFileSync(cached, marked.subarray(0, 100))
    expect(Buffer.compare(Buffer.from(await readKernelBtf(a, r.entry)), k!.btf)).toBe(0)
    expect(statSync(cached).size).toBe(k!.btf.length)
    // a tarball modified after the copy was made is read (and checked) again
    const tarball = join(a, r.entry.path!)
    const good = readFileSync(tarball)
    writeFileSync(tarball, Buffer.from('not xz'))
    utimesSync(tarball, new Date(Date.now() + 5000), new Date(Date.now() + 5000))
    await expect(readKernelBtf(a, r.entry)).rejects.toMatchObject({code: expect.stringMatching(/^INPUT_|^ARCHIVE_/)})
    writeFileSync(tarball, good)
    // no tarball, no BTF: the cache never hides a broken archive
    rmSync(join(a, r.entry.path!))
    await expect(readKernelBtf(a, r.entry)).rejects.toMatchObject({code: 'ARCHIVE_MISSING_FILE'})
  })
  it.skipIf(!k)('KCOMPAT_BTF_CACHE=off leaves no cache behind; a directory there is used instead', async () => {
    const a = tmp()
    const r = await addKernel(a, {
      release: k!.release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud',
      btf: 'in-kernel', config: null, source: {method: 'kernel-image'},
    }, k!.btf)
    const saved = process.env.KCOMPAT_BTF_CACHE
    try {
      process.env.KCOMPAT_BTF_CACHE = 'off'
      await readKernelBtf(a, r.entry)
      expect(existsSync(join(a, '.cache'))).toBe(false)
      const dir = tmp()
      process.env.KCOMPAT_BTF_CACHE = dir
      await readKernelBtf(a, r.entry)
      expect(existsSync(join(dir, `${r.entry.sha256}.btf`))).toBe(true)
    } finally {
      if (saved === undefined) delete process.env.KCOMPAT_BTF_CACHE
      else process.env.KCOMPAT_BTF_CACHE = saved
    }
  })
  it('a kernel without BTF is recorded with its config and no path', async () => {
    const a = tmp()
    const r = await addKernel(a, {
      release: '6.1.0-56-s390x', distro: 'debian', version: '12', arch: 's390x', flavor: 'generic',
      btf: 'none', config: {CONFIG_DEBUG_INFO_BTF: null}, source: {method: 'kernel-image'},
    }, undefined)
    expect(r.entry).toMatchObject({btf: 'none', path: null, sha256: null})
    expect(readManifest(a).kernels).toHaveLength(1)
    await expect(readKernelBtf(a, r.entry)).rejects.toMatchObject({code: 'ARCHIVE_NO_BTF'})
  })
  it('a manifest from a newer kcompat is refused', () => {
    const a = tmp()
    writeFileSync(join(a, 'manifest.json'), JSON.stringify({version: 99, kernels: []}))
    expect(() => readManifest(a)).toThrow(expect.objectContaining({code: 'ARCHIVE_TOO_NEW'}))
    writeFileSync(join(a, 'manifest.json'), '{not json')
    expect(() => readManifest(a)).toThrow(expect.objectContaining({code: 'ARCHIVE_BAD_MANIFEST'}))
  })
})

describe('archive import (btfhub-archive tree)', () => {
  it.skipIf(kernels.length === 0)('imports every kernel, re-import adds nothing, bad files are reported', async () => {
    const src = btfhubTree()
    // a corrupt tarball and one whose entry escapes with ..
    writeFileSync(join(src, 'debian', '12', 'x86_64', '9.9.9-bad.btf.tar.xz'), 'not xz at all')
    const evil = join(src, 'evil')
    mkdirSync(join(evil, 'a'), {recursive: true})
    writeFileSync(join(evil, 'x.btf'), 'x')
    run('tar', ['-C', join(evil, 'a'), '-P', '-cJf', join(src, 'debian', '12', 'x86_64', '9.9.9-evil.btf.tar.xz'), '../x.btf'])
    const dst = tmp()
    const r = await importBtfhubTree(src, dst)
    expect(r.added).toHaveLength(kernels.length)
    expect(r.failed.map((f) => f.code).sort()).toEqual(['INPUT_BAD_TAR_PATH', 'INPUT_CORRUPT_XZ'])
    const again = await importBtfhubTree(src, dst)
    expect(again.added).toHaveLength(0)
    expect(again.unchanged).toHaveLength(kernels.length)
    // archive list --json shows them with paths relative to the archive
    const out = spawnSync(process.execPath, [BIN, 'archive', 'list', '--json', '--archive', dst], {encoding: 'utf8'})
    expect(out.status).toBe(0)
    const rows = JSON.parse(out.stdout) as {release: string; path: string; btf: string; sha256: string}[]
    expect(rows.map((x) => x.release).sort()).toEqual(kernels.map((x) => x.release).sort())
    for (const row of rows) {
      expect(row.btf).toBe('generated')
      expect(row.path).toMatch(/^debian\/12\/(x86_64|arm64)\/.*\.btf\.tar\.xz$/)
      const fx = kernels.find((x) => x.release === row.release)!
      expect(row.sha256).toBe(sha256(fx.btf))
    }
  })
})

describe('decompression bombs are refused before expansion', () => {
  it('xz: the declared size (from the xz index, as `xz --robot -l` reports it) is checked against the limit', async () => {
    const {xzDecompress, xzUncompressedSize} = await import('../../src/archive/compress.js')
    const zeros = Buffer.alloc(8 * 1024 * 1024)
    const packed = run('xz', ['-T1', '-c'], {input: zeros})
    // oracle: xz's own listing of the uncompressed size
    const f = join(tmp(), 'zeros.xz')
    writeFileSync(f, packed)
    const listed = run('xz', ['--robot', '-l', f]).toString().split('\n').find((l) => l.startsWith('totals'))!.split('\t')[4]
    expect(xzUncompressedSize(packed)).toBe(Number(listed))
    expect(() => xzDecompress(packed, 1024 * 1024)).toThrow(expect.objectContaining({code: 'INPUT_TOO_LARGE'}))
    expect(xzDecompress(packed, 16 * 1024 * 1024).length).toBe(zeros.length)
    // a cut-off stream (no footer/index) is corrupt, not expanded
    expect(() => xzDecompress(packed.subarray(0, packed.length - 20))).toThrow(expect.objectContaining({code: 'INPUT_CORRUPT_XZ'}))
  })
})
