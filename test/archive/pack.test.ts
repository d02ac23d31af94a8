/**
 * The BTF pack (src/archive/pack): module BTF stored as deduplicated records in
 * append-only segments, rebuilt byte for byte.
 *
 * Oracles: `llvm-objcopy --dump-section .BTF=…` of the real `.ko` files in
 * fixtures/kernels (the rebuilt module BTF must be those bytes), sha256 (node's crypto
 * over the original bytes, which the writer never sees again once the segment is
 * written), and for the shipped archive the bytes of its modules as the manifest pins them.
 * `KCOMPAT_BTF_CACHE=off` throughout, so every read rebuilds from the pack rather than
 * from a cached copy.
 */
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {addKernel, defaultArchiveDir} from '../../src/archive/archive.js'
import {xzCompress} from '../../src/archive/compress.js'
import {type KernelEntry, readManifest, writeManifest} from '../../src/archive/manifest.js'
import {addKernelModules, readModuleBtf, readModuleBtfs} from '../../src/archive/modules.js'
import {decodePack, rebuildVmlinux, writePackSegment} from '../../src/archive/pack/pack.js'
import {decodeSegment, SEGMENT_MAGIC, SEGMENT_VERSION} from '../../src/archive/pack/segment.js'
import {PackTables} from '../../src/archive/pack/tables.js'
import {ByteWriter} from '../../src/archive/pack/varint.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {setEnvForFile} from '../helpers/env.js'
import {requireTool, run} from '../helpers/tools.js'

const K61 = '6.1.0-56-cloud-amd64'
const K612 = '6.12.117+deb12-cloud-amd64'
const KDIR = join(FIXTURES, 'kernels')
const MODULES: Record<string, string[]> = {[K61]: ['nf_conntrack_h323', 'nft_ct'], [K612]: ['nft_ct']}
const tmp = (): string => mkdtempSync(join(tmpdir(), 'kcompat-pack-'))
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

setEnvForFile({KCOMPAT_BTF_CACHE: 'off'})

/** The oracle: llvm-objcopy's copy of a fixture module's .BTF section. */
function objcopyBtf(release: string, module: string): Buffer {
  const dir = tmp()
  writeFileSync(join(dir, 'm.ko'), run('xz', ['-dc', join(KDIR, `${release}__${module}.ko.xz`)]))
  run('llvm-objcopy', ['--dump-section', `.BTF=${join(dir, 'btf')}`, join(dir, 'm.ko'), join(dir, 'discard.o')])
  return readFileSync(join(dir, 'btf'))
}

const toolsOk = (why: string): boolean => ['llvm-objcopy', 'xz'].every((t) => requireTool(t, why))

/** A fresh archive with the fixture kernel's vmlinux BTF. */
async function addFixtureKernel(root: string, release: string): Promise<KernelEntry> {
  const k = kernelFixtures().find((x) => x.release === release)!
  const r = await addKernel(
    root,
    {release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud', btf: 'in-kernel', config: {CONFIG_DEBUG_INFO_BTF_MODULES: 'y'}, source: {method: 'kernel-image'}},
    k.btf,
  )
  return r.entry
}

function oracleModules(release: string): Map<string, Buffer> {
  return new Map(MODULES[release]!.map((m) => [m, objcopyBtf(release, m)]))
}

describe('BTF pack: the shipped archive', () => {
  const shipped = defaultArchiveDir()
  const manifest = readManifest(shipped)
  const packed = manifest.kernels.filter((k) => k.modules?.unit !== undefined)

  it('holds every kernel module BTF in pack segments and no .modules.tar.xz', () => {
    expect(packed.length).toBe(manifest.kernels.filter((k) => k.modules?.path).length)
    expect(packed.length).toBeGreaterThan(0)
    for (const s of manifest.pack!.segments) expect(sha256(readFileSync(join(shipped, s.path)))).toBe(s.sha256)
    const tarballs = run('find', [shipped, '-name', '*.modules.tar.xz']).toString().trim()
    expect(tarballs).toBe('')
  })

  it.each([K61, K612])('%s: modules rebuilt from the pack equal llvm-objcopy of the real .ko', async (release) => {
    if (!toolsOk('pack round trip')) return
    const entry = manifest.kernels.find((k) => k.release === release && k.arch === 'x86_64')!
    const all = await readModuleBtfs(shipped, entry) // checked against the manifest's list sha256
    expect(all.size).toBe(entry.modules!.count)
    for (const [name, want] of oracleModules(release)) expect(Buffer.from(all.get(name)!).equals(want), name).toBe(true)
  }, 300_000)
})

describe('BTF pack: writing', () => {
  it('appends one segment per ingestion and never rewrites an old one; both read back byte for byte', async () => {
    if (!toolsOk('append-only')) return
    const root = tmp()
    const e61 = await addFixtureKernel(root, K61)
    const m61 = oracleModules(K61)
    const a = await addKernelModules(root, e61, m61)
    expect(a.modules).toMatchObject({path: 'pack/000001.kcpack', unit: 0, count: 2})
    const seg1 = readFileSync(join(root, 'pack', '000001.kcpack'))
    expect(seg1.subarray(0, 8).equals(SEGMENT_MAGIC)).toBe(true)

    const e612 = await addFixtureKernel(root, K612)
    const m612 = oracleModules(K612)
    const b = await addKernelModules(root, e612, m612)
    expect(b.modules).toMatchObject({path: 'pack/000002.kcpack', unit: 0, count: 1})
    expect(readFileSync(join(root, 'pack', '000001.kcpack')).equals(seg1)).toBe(true)
    expect(readdirSync(join(root, 'pack')).sort()).toEqual(['000001.kcpack', '000002.kcpack'])
    const m = readManifest(root)
    expect(m.version).toBe(2)
    expect(m.pack!.segments.map((s) => s.path)).toEqual(['pack/000001.kcpack', 'pack/000002.kcpack'])
    expect(m.pack!.segments[0]!.sha256).toBe(sha256(seg1))

    for (const [e, want] of [[a, m61], [b, m612]] as const) {
      const got = await readModuleBtfs(root, e)
      expect([...got.keys()]).toEqual([...want.keys()].sort())
      for (const [n, bytes] of want) expect(Buffer.from(got.get(n)!).equals(bytes), n).toBe(true)
    }
    // the 6.12 nft_ct shares records with 6.1's: the second segment is smaller than the first
    expect(readFileSync(join(root, 'pack', '000002.kcpack')).length).toBeLessThan(seg1.length)
    // the same inputs give the same segment bytes
    const again = tmp()
    await addKernelModules(again, await addFixtureKernel(again, K61), m61)
    expect(readFileSync(join(again, 'pack', '000001.kcpack')).equals(seg1)).toBe(true)
  }, 900_000)

  it('still reads and writes the legacy .modules.tar.xz', async () => {
    if (!toolsOk('legacy')) return
    const root = tmp()
    const e = await addKernelModules(root, await addFixtureKernel(root, K61), oracleModules(K61), {format: 'tar'})
    expect(e.modules!.path).toBe(`debian/12/x86_64/${K61}.modules.tar.xz`)
    expect(e.modules!.unit).toBeUndefined()
    expect(readManifest(root).version).toBe(1)
    expect(Buffer.from(await readModuleBtf(root, e, 'nft_ct')).equals(objcopyBtf(K61, 'nft_ct'))).toBe(true)
  }, 300_000)
})

describe('BTF pack: bad segments', () => {
  let good: string
  let entry: KernelEntry
  beforeAll(async () => {
    if (!toolsOk('bad segments')) return
    good = tmp()
    entry = await addKernelModules(good, await addFixtureKernel(good, K61), oracleModules(K61))
  }, 300_000)

  /** A copy of the good archive with its segment replaced by `mutate(bytes)`; `pin` re-pins the manifest to it. */
  function damaged(mutate: (b: Buffer) => Buffer, pin: boolean): string {
    const root = tmp()
    cpSync(good, root, {recursive: true})
    const file = join(root, 'pack', '000001.kcpack')
    const bytes = mutate(Buffer.from(readFileSync(file)))
    writeFileSync(file, bytes)
    if (pin) {
      const m = readManifest(root)
      writeManifest(root, {...m, pack: {segments: [{...m.pack!.segments[0]!, sha256: sha256(bytes), size: bytes.length}]}})
    }
    return root
  }

  const cases: {what: string; mutate: (b: Buffer) => Buffer; pin: boolean; code: string}[] = [
    {what: 'a truncated segment (manifest pin)', mutate: (b) => b.subarray(0, b.length - 100), pin: false, code: 'ARCHIVE_CHECKSUM'},
    {what: 'a flipped byte (manifest pin)', mutate: (b) => ((b[b.length >> 1] ^= 0x40), b), pin: false, code: 'ARCHIVE_CHECKSUM'},
    {what: 'a truncated segment, re-pinned', mutate: (b) => b.subarray(0, b.length - 100), pin: true, code: 'ARCHIVE_BAD_PACK'},
    {what: 'a flipped byte in the xz stream, re-pinned', mutate: (b) => ((b[b.length >> 1] ^= 0x40), b), pin: true, code: 'ARCHIVE_BAD_PACK'},
    {what: 'a bad magic, re-pinned', mutate: (b) => ((b[0] = 0x6b), b), pin: true, code: 'ARCHIVE_BAD_PACK'},
    {what: 'a header cut short, re-pinned', mutate: (b) => b.subarray(0, 10), pin: true, code: 'ARCHIVE_BAD_PACK'},
    {what: 'an unknown version, re-pinned', mutate: (b) => (b.writeUInt32LE(SEGMENT_VERSION + 1, 8), b), pin: true, code: 'ARCHIVE_PACK_VERSION'},
  ]
  it.each(cases)('$what -> $code', async ({mutate, pin, code}) => {
    if (!toolsOk('bad segments')) return
    await expect(readModuleBtfs(damaged(mutate, pin), entry)).rejects.toMatchObject({code})
  })

  it('a missing segment is ARCHIVE_MISSING_FILE', async () => {
    if (!toolsOk('bad segments')) return
    const root = damaged((b) => b, false)
    run('rm', [join(root, 'pack', '000001.kcpack')])
    await expect(readModuleBtfs(root, entry)).rejects.toMatchObject({code: 'ARCHIVE_MISSING_FILE'})
  })

  it('a body that does not decode is ARCHIVE_BAD_PACK: record referring forward, trailing bytes, a cut string', () => {
    const segment = (body: ByteWriter): Buffer => {
      const head = Buffer.alloc(12)
      SEGMENT_MAGIC.copy(head)
      head.writeUInt32LE(1, 8)
      return Buffer.concat([head, xzCompress(body.bytes())])
    }
    // one string "", no keys, one PTR record whose reference points at itself (delta 0 -> 1 + 2*0)
    const forward = new ByteWriter()
    for (const v of [1]) forward.u(v)
    forward.str('')
    forward.u(0) // keys
    forward.u(1) // records
    forward.u(4)
    for (const v of [2, 0, 0, 1]) forward.u(v) // kind PTR, flags, name 0, ref to record 0 itself
    forward.u(0) // groups
    expect(() => decodeSegment(segment(forward), new PackTables(), 't')).toThrow(expect.objectContaining({code: 'ARCHIVE_BAD_PACK'}))
    const trailing = new ByteWriter()
    for (const v of [0, 0, 0, 0, 0, 7]) trailing.u(v)
    expect(() => decodeSegment(segment(trailing), new PackTables(), 't')).toThrow(expect.objectContaining({code: 'ARCHIVE_BAD_PACK'}))
    const cut = new ByteWriter()
    cut.u(1)
    cut.raw(Buffer.from('abc'))
    expect(() => decodeSegment(segment(cut), new PackTables(), 't')).toThrow(expect.objectContaining({code: 'ARCHIVE_BAD_PACK'}))
  })

  it('an ingestion on a corrupt pack fails and leaves the archive unchanged', async () => {
    if (!toolsOk('bad segments')) return
    const root = damaged((b) => b.subarray(0, b.length - 100), true)
    const manifestBefore = readFileSync(join(root, 'manifest.json'))
    const e612 = await addFixtureKernel(root, K612)
    const afterKernel = readFileSync(join(root, 'manifest.json'))
    expect(afterKernel.equals(manifestBefore)).toBe(false) // the vmlinux entry went in; now its modules:
    await expect(addKernelModules(root, e612, oracleModules(K612))).rejects.toMatchObject({code: 'ARCHIVE_BAD_PACK'})
    expect(readFileSync(join(root, 'manifest.json')).equals(afterKernel)).toBe(true)
    expect(readdirSync(join(root, 'pack'))).toEqual(['000001.kcpack'])
    expect(existsSync(join(root, 'pack', '000002.kcpack'))).toBe(false)
  }, 300_000)
})

describe('BTF pack: strings no type names', () => {
  it('a BTF whose string section holds strings no type names is stored as records with extra strings, rebuilt byte for byte, in a version 2 segment', async () => {
    if (!requireTool('bpftool', 'checking a BTF with unused strings')) return
    // the 6.12 fixture with two strings appended that no type names, as pahole 1.28+ leaves
    // some in Debian 13's and 14's vmlinux BTF
    const k = kernelFixtures().find((x) => x.release === K612)!
    const head = Buffer.from(k.btf.subarray(0, 24))
    const extra = Buffer.from('kcompat_unused_a\0kcompat_unused_b\0')
    head.writeUInt32LE(head.readUInt32LE(20) + extra.length, 20) // str_len
    const btf = Buffer.concat([head, k.btf.subarray(24), extra])
    const dir = tmp()
    writeFileSync(join(dir, 'vmlinux.btf'), btf)
    expect(run('bpftool', ['btf', 'dump', 'file', join(dir, 'vmlinux.btf'), 'format', 'raw']).toString()).toContain("STRUCT 'task_struct'")
    const root = tmp()
    const entry = {...(await addFixtureKernel(root, K612)), sha256: sha256(btf), size: btf.length}
    const w = await writePackSegment(root, [], [{entry, vmlinux: async () => btf, modules: async () => new Map()}])
    expect(w.rawUnits).toBe(0)
    const file = readFileSync(join(root, w.segment.path))
    expect(file.readUInt32LE(8)).toBe(2)
    const pack = await decodePack(root, [w.segment])
    expect(pack.groups[0]![0]!.vmlinux.extra?.map((i) => pack.tables.strings[i])).toEqual(['kcompat_unused_a', 'kcompat_unused_b'])
    expect(Buffer.from(rebuildVmlinux(pack, pack.groups[0]![0]!)).equals(btf)).toBe(true)
    // without such strings a segment stays version 1, which kcompat before version 2 reads
    const plainRoot = tmp()
    const plain = await writePackSegment(plainRoot, [], [{entry: {...entry, sha256: sha256(k.btf), size: k.btf.length}, vmlinux: async () => k.btf, modules: async () => new Map()}])
    expect(plain.rawUnits).toBe(0)
    expect(readFileSync(join(plainRoot, plain.segment.path)).readUInt32LE(8)).toBe(1)
  }, 300_000)
})
