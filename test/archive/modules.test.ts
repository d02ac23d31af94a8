/**
 * Module BTF in the archive (src/archive/modules.ts), on the real modules of two Debian
 * kernels (fixtures/kernels: nft_ct and nf_conntrack_h323 of 6.1.0-56-cloud-amd64, nft_ct
 * of 6.12.117+deb12-cloud-amd64).
 *
 * Oracles: `llvm-objcopy --dump-section .BTF=…` of the same `.ko` (the stored BTF must be
 * those bytes), kmod's `modinfo -F name` (the module name), `dpkg-deb -b` (the packages
 * the extraction reads are built by dpkg, holding the real `.ko` files plain, xz- and
 * zstd-compressed as Debian ships them), the system's `tar` and `xz` (the tarball reads
 * back with them), and sha256sum.
 */
import {spawnSync} from 'node:child_process'
import {copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {addKernel, sha256} from '../../src/archive/archive.js'
import {addKernelDeb} from '../../src/archive/add-deb.js'
import {readManifest, type KernelEntry} from '../../src/archive/manifest.js'
import {
  addKernelModules,
  extractDebModuleBtfs,
  kernelHasModules,
  listKernelModules,
  modulesPath,
  moduleBtfOf,
  readModuleBtf,
  readModuleBtfs,
  validateModuleBtfs,
} from '../../src/archive/modules.js'
import {KcompatError} from '../../src/errors.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {requireTool, run} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const K61 = '6.1.0-56-cloud-amd64'
const K612 = '6.12.117+deb12-cloud-amd64'
const KDIR = join(FIXTURES, 'kernels')
const kernels = new Map(kernelFixtures().map((k) => [k.release, k]))

const tmp = (): string => mkdtempSync(join(tmpdir(), 'kcompat-modules-'))

/** A real module, decompressed to a plain .ko in a scratch directory. */
function ko(release: string, module: string): string {
  const out = join(tmp(), `${module}.ko`)
  writeFileSync(out, run('xz', ['-dc', join(KDIR, `${release}__${module}.ko.xz`)]))
  return out
}

/** The oracle: llvm-objcopy's copy of the file's .BTF section. */
function objcopyBtf(koFile: string): Buffer {
  const out = join(tmp(), 'btf')
  run('llvm-objcopy', ['--dump-section', `.BTF=${out}`, koFile, join(tmp(), 'discard.o')])
  return readFileSync(out)
}

const toolsOk = (why: string): boolean =>
  ['llvm-objcopy', 'dpkg-deb', 'xz', 'zstd', 'modinfo', 'tar'].every((t) => requireTool(t, why))

const built = new Map<string, {root: string; entry: KernelEntry}>()

/** A fresh archive holding the fixture kernel's vmlinux BTF, as the shipped one does (built once, then copied). */
async function archiveWith(release: string): Promise<{root: string; entry: KernelEntry}> {
  const first = built.get(release)
  if (first) {
    const root = tmp()
    cpSync(first.root, root, {recursive: true})
    return {root, entry: first.entry}
  }
  const root = tmp()
  const k = kernels.get(release)!
  const r = await addKernel(
    root,
    {
      release,
      distro: 'debian',
      version: '12',
      arch: 'x86_64',
      flavor: 'cloud',
      btf: 'in-kernel',
      config: {CONFIG_DEBUG_INFO_BTF: 'y', CONFIG_DEBUG_INFO_BTF_MODULES: 'y'},
      source: {method: 'kernel-image'},
    },
    k.btf,
  )
  built.set(release, {root, entry: r.entry})
  return archiveWith(release)
}

/**
 * A package built by dpkg-deb holding `files` (path under lib/modules/<release>/kernel →
 * file to copy) and nothing else.
 */
function buildDeb(release: string, files: Record<string, string>, compression = 'xz'): string {
  const dir = tmp()
  mkdirSync(join(dir, 'DEBIAN'))
  writeFileSync(join(dir, 'DEBIAN', 'control'), `Package: test-modules\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n`)
  for (const [rel, from] of Object.entries(files)) {
    const to = join(dir, 'lib', 'modules', release, 'kernel', rel)
    mkdirSync(join(to, '..'), {recursive: true})
    copyFileSync(from, to)
  }
  const deb = join(tmp(), 'test.deb')
  run('dpkg-deb', [`-Z${compression}`, '--root-owner-group', '-b', dir, deb])
  return deb
}

/** The three real modules, in the forms Debian ships (plain .ko in 6.1, .ko.xz in 6.12) and zstd. */
function packages(): {deb61: string; deb612: string; oracle: Map<string, Map<string, Buffer>>} {
  const nft61 = ko(K61, 'nft_ct')
  const h323 = ko(K61, 'nf_conntrack_h323')
  const h323zst = `${h323}.zst`
  run('zstd', ['-q', '-19', h323, '-o', h323zst])
  const deb61 = buildDeb(K61, {'net/netfilter/nft_ct.ko': nft61, 'net/netfilter/nf_conntrack_h323.ko.zst': h323zst})
  const deb612 = buildDeb(K612, {'net/netfilter/nft_ct.ko.xz': join(KDIR, `${K612}__nft_ct.ko.xz`)}, 'gzip')
  const name = (f: string): string => run('modinfo', ['-F', 'name', f]).toString().trim()
  const oracle = new Map([
    [K61, new Map([[name(nft61), objcopyBtf(nft61)], [name(h323), objcopyBtf(h323)]])],
    [K612, new Map([[name(ko(K612, 'nft_ct')), objcopyBtf(ko(K612, 'nft_ct'))]])],
  ])
  return {deb61, deb612, oracle}
}

describe('module BTF extraction', () => {
  it('takes each real module\'s .BTF byte for byte as llvm-objcopy does, named as modinfo says (6.1 and 6.12)', async () => {
    if (!toolsOk('module extraction')) return
    const {deb61, deb612, oracle} = packages()
    for (const [release, deb] of [[K61, deb61], [K612, deb612]] as const) {
      const want = oracle.get(release)!
      // from the file (streamed) and from bytes in memory: the same result
      for (const input of [deb, readFileSync(deb)]) {
        const x = await extractDebModuleBtfs(input, {release, base: kernels.get(release)!.btf})
        expect([...x.modules.keys()]).toEqual([...want.keys()].sort())
        for (const [n, b] of want) expect(Buffer.from(x.modules.get(n)!).equals(b), `${release} ${n}`).toBe(true)
        expect(x.files).toBe(want.size)
        expect(x.withoutBtf).toEqual([])
      }
    }
  })

  it('counts a module without .BTF and does not store it', async () => {
    if (!toolsOk('module without BTF')) return
    const src = ko(K61, 'nft_ct')
    const stripped = join(tmp(), 'nft_ct.ko')
    run('llvm-objcopy', ['--remove-section', '.BTF', src, stripped])
    const x = await extractDebModuleBtfs(buildDeb(K61, {'net/netfilter/nft_ct.ko': stripped}), {release: K61})
    expect(x.files).toBe(1)
    expect(x.modules.size).toBe(0)
    expect(x.withoutBtf).toEqual([run('modinfo', ['-F', 'name', stripped]).toString().trim()])
  })

  it('refuses bad modules with stable codes', async () => {
    if (!toolsOk('bad modules')) return
    const good = readFileSync(ko(K61, 'nft_ct'))
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f()
      } catch (e) {
        return e instanceof KcompatError ? e.code : `not a KcompatError: ${String(e)}`
      }
      return undefined
    }
    // truncated .ko: the section table is cut off
    expect(codeOf(() => moduleBtfOf('lib/modules/x/kernel/a.ko', good.subarray(0, good.length / 2), K61))).toBe('MODULE_BAD_KO')
    // a .ko.xz that is not xz
    expect(codeOf(() => moduleBtfOf('lib/modules/x/kernel/a.ko.xz', good, K61))).toBe('MODULE_BAD_KO')
    // a .ko.zst that is not zstd
    expect(codeOf(() => moduleBtfOf('lib/modules/x/kernel/a.ko.zst', good, K61))).toBe('MODULE_BAD_KO')
    // a module of another kernel (its vermagic)
    expect(codeOf(() => moduleBtfOf('lib/modules/x/kernel/a.ko', good, K612))).toBe('MODULE_WRONG_KERNEL')
    // 6.12's nft_ct is not split BTF on 6.1's vmlinux
    const btf612 = objcopyBtf(ko(K612, 'nft_ct'))
    expect(codeOf(() => validateModuleBtfs(kernels.get(K61)!.btf, new Map([['nft_ct', btf612]])))).toBe('MODULE_BAD_BTF')
    // and the same module under one name twice
    const x = extractDebModuleBtfs(
      buildDeb(K61, {'net/netfilter/nft_ct.ko': ko(K61, 'nft_ct'), 'net/other/nft-ct.ko': ko(K61, 'nft_ct')}),
      {release: K61},
    )
    await expect(x).rejects.toMatchObject({code: 'MODULE_DUPLICATE'})
  })
})

describe('module BTF in the archive', () => {
  it('stores, lists and reads back the modules; the legacy tarball reads with tar and xz; the list is pinned by sha256', async () => {
    if (!toolsOk('module storage')) return
    const {deb61, oracle} = packages()
    const {root, entry} = await archiveWith(K61)
    expect(kernelHasModules(entry)).toBe(false)
    const x = await extractDebModuleBtfs(deb61, {release: K61})
    const e = await addKernelModules(root, entry, x.modules, {format: 'tar'})
    expect(kernelHasModules(e)).toBe(true)
    expect(e.modules!.path).toBe(modulesPath(e))
    expect(e.modules!.path).toBe(`debian/12/x86_64/${K61}.modules.tar.xz`)
    expect(e.path).toBe(`debian/12/x86_64/${K61}.btf.tar.xz`) // the btfhub file is where it was
    expect(readManifest(root).kernels[0]!.modules).toEqual(e.modules)

    const want = oracle.get(K61)!
    const list = await listKernelModules(root, e)
    expect(list.map((m) => m.name)).toEqual([...want.keys()].sort())
    for (const m of list) {
      const b = want.get(m.name)!
      expect(m.size).toBe(b.length)
      expect(m.sha256).toBe(run('sha256sum', [], {input: b}).toString().split(' ')[0])
    }
    const all = await readModuleBtfs(root, e)
    expect([...all.keys()]).toEqual(list.map((m) => m.name))
    for (const [n, b] of want) expect(Buffer.from(all.get(n)!).equals(b)).toBe(true)
    expect(Buffer.from(await readModuleBtf(root, e, 'nft_ct')).equals(want.get('nft_ct')!)).toBe(true)

    // the system's tar and xz read the tarball: modules.tsv first, then <name>.btf by name
    const file = join(root, e.modules!.path!)
    const names = run('tar', ['-tJf', file]).toString().trim().split('\n')
    expect(names).toEqual(['modules.tsv', ...list.map((m) => `${m.name}.btf`)])
    const tsv = run('tar', ['-xJOf', file, 'modules.tsv'])
    expect(run('sha256sum', [], {input: tsv}).toString().split(' ')[0]).toBe(e.modules!.sha256)
    expect(run('tar', ['-xJOf', file, 'nft_ct.btf']).equals(want.get('nft_ct')!)).toBe(true)
    expect(spawnSync('xz', ['-lv', file], {encoding: 'utf8'}).stdout).toMatch(/Streams:\s+1\b/)
  })

  it('archive list shows the module count per kernel (human and --json), - / null when never added', async () => {
    if (!toolsOk('archive list')) return
    const {deb61} = packages()
    const {root, entry} = await archiveWith(K61)
    const list = (json: boolean): string => {
      const r = spawnSync(process.execPath, [BIN, 'archive', 'list', '--archive', root, ...(json ? ['--json'] : [])], {encoding: 'utf8'})
      expect(r.status).toBe(0)
      return r.stdout
    }
    expect(JSON.parse(list(true))[0].modules).toBeNull()
    expect(list(false).split('\n')[1]).toMatch(new RegExp(`^debian +12 +x86_64 +${K61} +cloud +in-kernel +-$`))
    const x = await extractDebModuleBtfs(deb61, {release: K61})
    await addKernelModules(root, entry, x.modules)
    expect(JSON.parse(list(true))[0].modules).toBe(x.modules.size)
    expect(list(false).split('\n')[0]).toMatch(/ BTF +MODULES$/)
    expect(list(false).split('\n')[1]).toMatch(new RegExp(` in-kernel +${x.modules.size}$`))
  })

  it('writes the same bytes every time', async () => {
    if (!toolsOk('determinism')) return
    const {deb612} = packages()
    const files: Buffer[] = []
    for (let i = 0; i < 2; i++) {
      const {root, entry} = await archiveWith(K612)
      const x = await extractDebModuleBtfs(deb612, {release: K612})
      const e = await addKernelModules(root, entry, x.modules)
      files.push(readFileSync(join(root, e.modules!.path!)))
    }
    expect(files[0]!.equals(files[1]!)).toBe(true)
  })

  it('detects a changed module or list (ARCHIVE_CHECKSUM), a missing file, and names near modules', async () => {
    if (!toolsOk('checksums')) return
    const {deb61} = packages()
    const {root, entry} = await archiveWith(K61)
    const e = await addKernelModules(root, entry, (await extractDebModuleBtfs(deb61, {release: K61})).modules, {format: 'tar'})
    await expect(readModuleBtf(root, e, 'nft-ct')).resolves.toBeInstanceOf(Uint8Array) // '-' is '_' to the kernel
    await expect(readModuleBtf(root, e, 'nft_c')).rejects.toMatchObject({code: 'MODULE_NOT_FOUND', message: expect.stringContaining('nft_ct')})
    const file = join(root, e.modules!.path!)
    const good = readFileSync(file)

    // rebuild the tarball with the system's tar and xz, one byte of nft_ct.btf changed
    const dir = tmp()
    run('tar', ['-xJf', file, '-C', dir])
    const b = readFileSync(join(dir, 'nft_ct.btf'))
    b[b.length - 2] ^= 1
    writeFileSync(join(dir, 'nft_ct.btf'), b)
    const retar = (): void => {
      run('tar', ['-cJf', file, '-C', dir, 'modules.tsv', ...readdirSync(dir).filter((f) => f.endsWith('.btf')).sort()])
    }
    retar()
    await expect(readModuleBtfs(root, e)).rejects.toMatchObject({code: 'ARCHIVE_CHECKSUM'})
    // the list changed to match: now the manifest's pin catches it
    const tsv = readFileSync(join(dir, 'modules.tsv'), 'utf8').replace(/^nft_ct\t[0-9a-f]{64}/m, `nft_ct\t${sha256(b)}`)
    writeFileSync(join(dir, 'modules.tsv'), tsv)
    retar()
    await expect(readModuleBtfs(root, e)).rejects.toMatchObject({code: 'ARCHIVE_CHECKSUM'})

    writeFileSync(file, good)
    await expect(readModuleBtfs(root, e)).resolves.toBeInstanceOf(Map)
    run('rm', [file])
    await expect(listKernelModules(root, e)).rejects.toMatchObject({code: 'ARCHIVE_MISSING_FILE'})
  })

  it('re-adding the kernel with the same BTF keeps its modules; a bad module writes nothing', async () => {
    if (!toolsOk('re-add')) return
    const {deb61} = packages()
    const {root, entry} = await archiveWith(K61)
    const e = await addKernelModules(root, entry, (await extractDebModuleBtfs(deb61, {release: K61})).modules)
    const again = await addKernel(root, {...entry, modules: undefined}, kernels.get(K61)!.btf)
    expect(again.entry.modules).toEqual(e.modules)
    expect(readManifest(root).kernels[0]!.modules).toEqual(e.modules)

    // a module of 6.12 offered as 6.1's: refused, the archive unchanged
    const before = readFileSync(join(root, 'manifest.json'))
    const tarBefore = readFileSync(join(root, e.modules!.path!))
    const bad = new Map([['nft_ct', objcopyBtf(ko(K612, 'nft_ct'))]])
    await expect(addKernelModules(root, e, bad)).rejects.toMatchObject({code: 'MODULE_BAD_BTF'})
    expect(readFileSync(join(root, 'manifest.json')).equals(before)).toBe(true)
    expect(readFileSync(join(root, e.modules!.path!)).equals(tarBefore)).toBe(true)
    expect(readdirSync(join(root, 'debian', '12', 'x86_64')).sort()).toEqual([`${K61}.btf.tar.xz`])
    expect(readdirSync(join(root, 'pack'))).toEqual(['000001.kcpack']) // the modules went into the pack
  })
})

/**
 * A whole real package (opt-in, as test/archive/deb-real.test.ts: the package is in
 * ${KCOMPAT_TEST_CACHE:-~/.cache/kcompat-test}/debs): `addKernelDeb` stores every module's
 * BTF, each equal to what llvm-objcopy takes from the `.ko` that `dpkg-deb -x` unpacks.
 */
describe('module BTF of a real linux-image package', () => {
  const cache = process.env.KCOMPAT_TEST_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'kcompat-test')
  const deb = existsSync(join(cache, 'debs'))
    ? readdirSync(join(cache, 'debs')).find((f) => /^linux-image-6\.1\.0-\d+-cloud-amd64_.*\.deb$/.test(f))
    : undefined
  it.skipIf(!deb)('6.1 cloud amd64: every module equals llvm-objcopy of the unpacked .ko', async () => {
    if (!toolsOk('real package')) return
    const path = join(cache, 'debs', deb!)
    const root = tmp()
    const r = await addKernelDeb(root, path)
    expect(r.modules!.count).toBeGreaterThan(1000)
    const got = await readModuleBtfs(root, r.entry)
    const dir = tmp()
    run('dpkg-deb', ['-x', path, dir])
    const kos = run('find', [dir, '-name', '*.ko*', '-type', 'f']).toString().trim().split('\n')
    expect(kos.length).toBe(r.modules!.files)
    for (const f of kos) {
      const name = run('modinfo', ['-F', 'name', f]).toString().trim()
      expect(Buffer.from(got.get(name)!).equals(objcopyBtf(f)), name).toBe(true)
    }
    expect(statSync(join(root, r.entry.modules!.path!)).size).toBeGreaterThan(0)
  }, 600_000)
})
