// Bytes read on demand (src/btf/paged.ts): a lazy parse of a real kernel's BTF and its
// stored scan, both read on demand, answers name lookups as bpftool's reading of the
// same BTF says and decodes every sampled type as a parse of the whole file does, while
// leaving most of the file unread; whole-buffer readers (encoding, the raw dump) get
// every byte; a file cut short while it is being read is an error, not zeros.
import {mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {readKernelBtf, resolveArchiveDir} from '../../src/archive/archive.js'
import {readManifest} from '../../src/archive/manifest.js'
import {parseBtf} from '../../src/btf/decode.js'
import {encodeBtf} from '../../src/btf/encode.js'
import {ensureLoaded, isPaged, readFilePaged} from '../../src/btf/paged.js'
import {dumpRawBytes} from '../../src/btf/rawdump.js'
import {attachScanStore} from '../../src/btf/scan-cache.js'
import {Kind} from '../../src/btf/wire.js'
import {BtfError} from '../../src/errors.js'
import {kernelFixtures} from '../helpers/fixtures.js'
import {bpftoolNames, requireTool} from '../helpers/tools.js'

const dir = mkdtempSync(join(tmpdir(), 'kcompat-paged-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const kernels = kernelFixtures()

/** Writes a kernel's raw BTF and its stored scan to files; returns their paths. */
function files(k: (typeof kernels)[number]): {btf: string; scan: string} {
  const btf = join(dir, `${k.release}.btf`)
  const scan = join(dir, `${k.release}.scan`)
  writeFileSync(btf, k.btf)
  const bytes = Uint8Array.from(k.btf)
  attachScanStore(bytes, {read: () => undefined, write: (d) => writeFileSync(scan, d)})
  parseBtf(bytes, {lazy: true})
  return {btf, scan}
}

/** Lazy parse of bytes read on demand, with the scan read on demand too. */
function pagedParse(f: {btf: string; scan: string}) {
  const bytes = readFilePaged(f.btf)!
  attachScanStore(bytes, {read: () => readFilePaged(f.scan, undefined, 12), write: () => {}})
  return {bytes, btf: parseBtf(bytes, {lazy: true})}
}

describe('bytes read on demand', () => {
  for (const k of kernels) {
    it(`a lazy parse of ${k.release} answers as bpftool reads it, reading a part of the file`, () => {
      if (!requireTool('bpftool', 'lookups on bytes read on demand against bpftool')) return
      const f = files(k)
      const ref = bpftoolNames(k.path)
      const plain = parseBtf(Uint8Array.from(k.btf), {lazy: true})
      const {bytes, btf} = pagedParse(f)
      // a check's worth of lookups leaves most of the file unread
      for (const n of ['tcp_v4_connect', 'do_sys_open', 'security_file_open']) expect(btf.idsByName(n, 'funcs'), n).toEqual(ref.funcs.get(n) ?? [])
      for (const n of ['task_struct', 'bpf_prog_type', 'sk_buff']) {
        const ids = btf.idsByName(n, 'types')
        expect(ids, n).toEqual(ref.types.get(n))
        for (const id of ids) expect(btf.typeById(id)).toEqual(plain.typeById(id))
      }
      expect(isPaged(bytes)).toBe(true)
      // every 40th name of each class, and every id's kind and name, sampled
      for (const [which, map] of [['funcs', ref.funcs], ['types', ref.types]] as const) {
        const names = [...map.keys()].filter((_, i) => i % 40 === 0)
        expect(names.length).toBeGreaterThan(100)
        for (const n of names) expect(btf.idsByName(n, which), n).toEqual(map.get(n))
      }
      for (let id = 1; id <= plain.lastId; id += 7) {
        expect(btf.kindOf(id)).toBe(plain.kindOf(id))
        expect(btf.nameOf(id)).toBe(plain.nameOf(id))
      }
      for (let id = 1; id <= plain.lastId; id += 997) expect(btf.typeById(id)).toEqual(plain.typeById(id))
      // so many reads that the rest of the file was read at once, and it is the file
      expect(isPaged(bytes)).toBe(false)
      expect(Buffer.compare(bytes, k.btf)).toBe(0)
    })
  }

  it('decodes records that straddle a chunk edge, and names that do', () => {
    const k = kernels[0]!
    const f = files(k)
    const plain = parseBtf(Uint8Array.from(k.btf), {lazy: true})
    const {offsets} = plain.rawRecords()!
    // ids whose record (header + trailer: the next record's offset) crosses a 16 KiB edge past its header
    const straddling: number[] = []
    for (let i = 0; i + 1 < offsets.length && straddling.length < 40; i++) {
      const start = offsets[i]!
      const end = offsets[i + 1]!
      if (end - start > 12 && start >>> 14 === (start + 11) >>> 14 && start >>> 14 !== (end - 1) >>> 14) straddling.push(i + 1)
    }
    expect(straddling.length).toBe(40)
    const {bytes, btf} = pagedParse(f)
    for (const id of straddling) expect(btf.typeById(id), `id ${id}`).toEqual(plain.typeById(id))
    // strings that start before a 16 KiB edge of the file and end after it
    const s = plain.strings.bytes
    const names: number[] = []
    for (let at = 1; at < s.length && names.length < 40; ) {
      const end = s.indexOf(0, at)
      const a = s.byteOffset + at
      if (a >>> 14 !== (s.byteOffset + end) >>> 14) names.push(at)
      at = end + 1
    }
    expect(names.length).toBe(40)
    for (const off of names) expect(btf.strings.get(off)).toBe(plain.strings.get(off))
    expect(isPaged(bytes)).toBe(true)
  })

  it('whole-buffer readers get every byte: encoding and the raw dump match the file', () => {
    const k = kernels[0]!
    const f = files(k)
    const {btf} = pagedParse(f)
    expect(btf.findByName('task_struct', Kind.STRUCT)).toBeDefined()
    expect(Buffer.compare(Buffer.from(encodeBtf(btf)), k.btf)).toBe(0)
    const again = pagedParse(f).btf
    const chunks: Uint8Array[] = []
    dumpRawBytes(again, (c) => chunks.push(Uint8Array.from(c)))
    const plainChunks: Uint8Array[] = []
    dumpRawBytes(parseBtf(Uint8Array.from(k.btf), {lazy: true}), (c) => plainChunks.push(Uint8Array.from(c)))
    expect(Buffer.concat(chunks).equals(Buffer.concat(plainChunks))).toBe(true)
  })

  it('a file cut short while it is read on demand is BTF_TRUNCATED', () => {
    const k = kernels[0]!
    const path = join(dir, 'cut.btf')
    writeFileSync(path, k.btf)
    const bytes = readFilePaged(path)!
    ensureLoaded(bytes, 0, 100)
    truncateSync(path, 1 << 20)
    let err: unknown
    try {
      ensureLoaded(bytes, bytes.length - 10, bytes.length)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(BtfError)
    expect((err as BtfError).code).toBe('BTF_TRUNCATED')
    // a size other than the expected one is no buffer at all
    expect(readFilePaged(path, k.btf.length)).toBeUndefined()
    expect(readFilePaged(join(dir, 'no-such-file'))).toBeUndefined()
  })

  it("readKernelBtf's paged read of the raw-BTF cache parses as its whole read", async () => {
    const root = resolveArchiveDir(undefined)
    const entry = readManifest(root).kernels.find((e) => e.path && e.btf === 'in-kernel')!
    const saved = process.env.KCOMPAT_BTF_CACHE
    process.env.KCOMPAT_BTF_CACHE = join(dir, 'cache')
    try {
      const whole = await readKernelBtf(root, entry) // unpacks and fills the cache
      parseBtf(await readKernelBtf(root, entry), {lazy: true}) // writes the scan file
      const paged = await readKernelBtf(root, entry, {paged: true})
      expect(isPaged(paged)).toBe(true)
      const a = parseBtf(paged, {lazy: true})
      const b = parseBtf(Uint8Array.from(whole), {lazy: true})
      for (const n of ['tcp_v4_connect', 'bpf_prog_type', 'task_struct']) {
        const which = n === 'tcp_v4_connect' ? 'funcs' : 'types'
        expect(a.idsByName(n, which)).toEqual(b.idsByName(n, which))
        for (const id of a.idsByName(n, which)) expect(a.typeById(id)).toEqual(b.typeById(id))
      }
      ensureLoaded(paged, 0, paged.length)
      expect(Buffer.compare(paged, readFileSync(join(dir, 'cache', `${entry.sha256}.btf`)))).toBe(0)
    } finally {
      if (saved === undefined) delete process.env.KCOMPAT_BTF_CACHE
      else process.env.KCOMPAT_BTF_CACHE = saved
    }
  })
})
