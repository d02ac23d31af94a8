// The stored scan (src/btf/scan-cache.ts): a Btf whose scan and name indexes were read
// from a scan file answers name lookups as bpftool's reading of the same real kernel BTF
// says, and as a Btf parsed without the file; a file for other bytes or a damaged one is
// ignored and rewritten; the archive's raw-BTF cache keeps one beside each kernel.
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {readKernelBtf, resolveArchiveDir} from '../../src/archive/archive.js'
import {readManifest} from '../../src/archive/manifest.js'
import {parseBtf} from '../../src/btf/decode.js'
import {type ScanStore, attachScanStore} from '../../src/btf/scan-cache.js'
import {Kind} from '../../src/btf/wire.js'
import {kernelFixtures} from '../helpers/fixtures.js'
import {bpftoolNames, requireTool} from '../helpers/tools.js'

/** A store in memory that counts reads and writes. */
function memoryStore(): ScanStore & {file?: Uint8Array; reads: number; writes: number} {
  const s = {
    file: undefined as Uint8Array | undefined,
    reads: 0,
    writes: 0,
    read: () => {
      s.reads++
      return s.file
    },
    write: (d: Uint8Array) => {
      s.writes++
      s.file = Uint8Array.from(d)
    },
  }
  return s
}

const kernels = kernelFixtures()

describe('a Btf from a stored scan', () => {
  for (const k of kernels) {
    it(`answers name lookups as bpftool reads ${k.release}`, () => {
      if (!requireTool('bpftool', 'stored-scan lookups against bpftool')) return
      const store = memoryStore()
      const bytes = Uint8Array.from(k.btf)
      attachScanStore(bytes, store)
      const first = parseBtf(bytes, {lazy: true})
      expect(store.writes).toBe(1)
      const second = parseBtf(bytes, {lazy: true})
      expect(store.writes).toBe(1) // read back, not rebuilt
      expect(store.reads).toBe(2)
      const plain = parseBtf(Uint8Array.from(k.btf), {lazy: true}) // no store
      const ref = bpftoolNames(k.path)
      // every 40th name of each class, and every name carrying a ___flavor
      for (const [which, map] of [['funcs', ref.funcs], ['types', ref.types]] as const) {
        const names = [...map.keys()].filter((n, i) => i % 40 === 0 || n.includes('___'))
        expect(names.length).toBeGreaterThan(100)
        for (const n of names) {
          expect(second.idsByName(n, which), n).toEqual(map.get(n))
          expect(first.idsByName(n, which), n).toEqual(map.get(n))
        }
      }
      expect(second.idsByName('no_such_name_in_any_kernel', 'types')).toEqual([])
      // the same scan: kinds, names and decoded types of every id
      expect(second.lastId).toBe(plain.lastId)
      for (let id = 1; id <= plain.lastId; id += 7) {
        expect(second.kindOf(id)).toBe(plain.kindOf(id))
        expect(second.nameOf(id)).toBe(plain.nameOf(id))
      }
      for (let id = 1; id <= plain.lastId; id += 997) expect(second.typeById(id)).toEqual(plain.typeById(id))
      // the 53-bit name keys and the flavored names (CO-RE candidates)
      expect(second.nameKeys('types')).toEqual(plain.nameKeys('types'))
      for (const n of ['task_struct', 'sk_buff', 'file']) expect(second.idsByEssentialName(n, 'types')).toEqual(plain.idsByEssentialName(n, 'types'))
    })
  }

  it('ignores a scan made for other bytes, or damaged, and writes a new one', () => {
    const [a, b] = kernels
    expect(a && b).toBeTruthy()
    const store = memoryStore()
    const bytesA = Uint8Array.from(a!.btf)
    attachScanStore(bytesA, store)
    parseBtf(bytesA, {lazy: true})
    // the file of kernel a offered for kernel b's bytes
    const bytesB = Uint8Array.from(b!.btf)
    attachScanStore(bytesB, store)
    const fromB = parseBtf(bytesB, {lazy: true})
    expect(store.writes).toBe(2)
    expect(fromB.findByName('task_struct', Kind.STRUCT)).toBe(parseBtf(Uint8Array.from(b!.btf), {lazy: true}).findByName('task_struct', Kind.STRUCT))
    // cut short, and a header that does not match its length
    for (const damage of [(f: Uint8Array) => f.subarray(0, f.length - 4), (f: Uint8Array) => Object.assign(Uint8Array.from(f), {[20]: 0xff})]) {
      store.file = damage(store.file!)
      const again = parseBtf(bytesB, {lazy: true})
      expect(again.lastId).toBe(fromB.lastId)
      expect(again.idsByName('tcp_v4_connect', 'funcs')).toEqual(fromB.idsByName('tcp_v4_connect', 'funcs'))
    }
    expect(store.writes).toBe(4)
  })
})

describe("the archive's raw-BTF cache", () => {
  const dir = mkdtempSync(join(tmpdir(), 'kcompat-scan-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('keeps a .scan beside each cached kernel, used by the next parse, safe to delete', async () => {
    const root = resolveArchiveDir(undefined)
    const entry = readManifest(root).kernels.find((k) => k.path && k.btf === 'in-kernel')!
    const saved = process.env.KCOMPAT_BTF_CACHE
    process.env.KCOMPAT_BTF_CACHE = dir
    try {
      const first = parseBtf(await readKernelBtf(root, entry), {lazy: true}) // unpacks, caches, scans
      const scan = readdirSync(dir).filter((f) => f.endsWith('.scan'))
      expect(scan).toEqual([`${entry.sha256}.scan`])
      const second = parseBtf(await readKernelBtf(root, entry), {lazy: true}) // from the cache and its scan
      expect(second.idsByName('tcp_v4_connect', 'funcs')).toEqual(first.idsByName('tcp_v4_connect', 'funcs'))
      rmSync(join(dir, scan[0]!))
      const third = parseBtf(await readKernelBtf(root, entry), {lazy: true})
      expect(third.idsByName('task_struct', 'types')).toEqual(first.idsByName('task_struct', 'types'))
      expect(existsSync(join(dir, scan[0]!))).toBe(true)
    } finally {
      if (saved === undefined) delete process.env.KCOMPAT_BTF_CACHE
      else process.env.KCOMPAT_BTF_CACHE = saved
    }
  })
})
