/**
 * The index of an archive made of the committed Debian kernel fixtures, checked against
 * bpftool: every answer is compared with what `bpftool btf dump file X format raw`
 * (parsed by the test itself) says about the same kernel, never with the index's own
 * output.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readManifest} from '../../src/archive/manifest.js'
import {type BuildResult, buildIndex} from '../../src/store/build.js'
import type {Layout} from '../../src/store/codec.js'
import {KernelIndex, type KernelRef} from '../../src/store/query.js'
import {requireTool, run} from '../helpers/tools.js'
import {
  NO_BTF,
  type RawType,
  configFacts,
  fixtureArchive,
  fixtureKernels,
  rawDecl,
  rawDump,
  rawFuncs,
  rawLayouts,
  rawStruct,
  tarballBytes,
  tempDb,
} from './helpers.js'

const kernels = fixtureKernels()
const bpftool = kernels.length > 0 && requireTool('bpftool', 'index answers compared with bpftool')
const keyOf = (k: KernelRef): string => `${k.distro}/${k.version}/${k.arch}/${k.release}`

/** Finds a member the way C does, through anonymous struct/union members; absolute offset. */
function rawFindMember(types: Map<number, RawType>, t: RawType, name: string, base = 0): {bits: number; bitfield: number; type: number; anonymous: boolean} | undefined {
  for (const m of t.members) {
    if (m.name === name) return {bits: base + m.bitsOffset, bitfield: m.bitfieldSize, type: m.type, anonymous: base !== 0}
    if (m.name === '') {
      let inner = types.get(m.type)
      while (inner && (inner.kind === 'CONST' || inner.kind === 'VOLATILE')) inner = types.get(inner.type)
      if (inner && (inner.kind === 'STRUCT' || inner.kind === 'UNION')) {
        const r = rawFindMember(types, inner, name, base + m.bitsOffset)
        if (r) return {...r, anonymous: true}
      }
    }
  }
  return undefined
}

function layoutSignature(l: Layout): string {
  return `${l.kind} ${l.size} ${l.members
    .map((m) => `${m.name}@${m.bitOffset}:${m.bitfieldSize}:${m.type}${m.nested ? ` {${layoutSignature(m.nested)}}` : ''}`)
    .join('; ')}`
}

describe.skipIf(kernels.length === 0)('index of the fixture archive', () => {
  let root: string
  let dbPath: string
  let build: BuildResult
  let index: KernelIndex

  beforeAll(async () => {
    root = await fixtureArchive()
    dbPath = tempDb()
    build = await buildIndex(root, dbPath)
    index = KernelIndex.open(dbPath)
  })
  afterAll(() => index?.close())

  it('indexes every kernel, the one without BTF with identity and config only', () => {
    expect(build.indexed.length).toBe(kernels.length + 1)
    const listed = index.listKernels()
    expect(listed.map(keyOf).sort()).toEqual([...kernels.map((k) => k.key), NO_BTF.key].sort())
    const none = listed.find((k) => k.release === NO_BTF.release)!
    expect(none.btf).toBe('none')
    expect(none.counts).toBeNull()
    expect(none.config).toEqual({CONFIG_DEBUG_INFO_BTF: null})
    for (const k of kernels) {
      const info = listed.find((x) => x.release === k.release)!
      expect(info.flavor).toBe('cloud')
      expect(info.config).toEqual(configFacts(k.release))
      expect(info.counts!.funcs).toBeGreaterThan(10_000)
    }
  })

  it('listKernels filters by distro, version and arch (aliases normalised)', () => {
    expect(index.listKernels({arch: 'aarch64'}).map((k) => k.arch)).toEqual(kernels.filter((k) => k.arch === 'arm64').map(() => 'arm64'))
    const amd = index.listKernels({distro: 'debian', arch: 'amd64'})
    expect(amd.length).toBe(kernels.filter((k) => k.arch === 'x86_64').length + 1)
    expect(index.listKernels({version: '10'}).map((k) => k.release)).toEqual([NO_BTF.release])
    expect(index.listKernels({distro: 'ubuntu'})).toEqual([])
  })

  it('reports its size against the archive (the figure README quotes)', () => {
    const archive = tarballBytes(root, readManifest(root).kernels)
    expect(build.archiveBytes).toBe(archive)
    const ratio = build.indexBytes / archive
    console.log(`index ${build.indexBytes} bytes, archive ${archive} bytes: ${(100 * ratio).toFixed(1)}%`)
    // Regression guard at the measured figure (43% for these three dissimilar kernels).
    expect(ratio).toBeLessThan(0.47)
  })

  describe.skipIf(!bpftool)('compared with bpftool raw dumps', () => {
    it('every kernel: the same functions, each with the prototype rendered from bpftool', () => {
      for (const k of kernels) {
        const expected = rawFuncs(rawDump(k.path))
        const actual = index.kernelFuncs(k)
        expect(actual.size, k.release).toBe(expected.size)
        for (const [name, protos] of expected) {
          expect([...(actual.get(name) ?? [])].sort(), `${k.release} ${name}`).toEqual([...protos].sort())
        }
      }
    })

    it('every kernel: the same struct/union layouts (names, bit offsets, bitfields, member types)', () => {
      for (const k of kernels) {
        const expected = rawLayouts(rawDump(k.path))
        const actual = index.kernelLayouts(k)
        expect(actual.size, k.release).toBe(expected.size)
        for (const [name, sigs] of expected) {
          const got = (actual.get(name) ?? []).map(layoutSignature).sort()
          expect(got, `${k.release} ${name}`).toEqual(sigs)
        }
      }
    })

    it('findFunc: the kernels that have a function, and those that do not, as bpftool lists FUNCs', () => {
      const names = new Map(kernels.map((k) => [k.key, rawFuncs(rawDump(k.path))]))
      const picks = new Set(['do_sys_open', 'vfs_read', 'tcp_v4_connect', 'bpf_lsm_file_open', 'no_such_function_xyz'])
      // functions only one kernel has: the first few of each, by name
      for (const k of kernels) {
        const only = [...names.get(k.key)!.keys()].filter((n) => kernels.every((o) => o === k || !names.get(o.key)!.has(n))).sort()
        for (const n of only.slice(0, 3)) picks.add(n)
        const missing = [...names.get(kernels.find((o) => o !== k)!.key)!.keys()].filter((n) => !names.get(k.key)!.has(n)).sort()
        for (const n of missing.slice(0, 2)) picks.add(n)
      }
      for (const name of picks) {
        const r = index.findFunc(name)
        const want = kernels.filter((k) => names.get(k.key)!.has(name))
        expect(new Set(r.kernels.map(keyOf)), name).toEqual(new Set(want.map((k) => k.key)))
        expect(r.absent.map(keyOf).sort(), name).toEqual(kernels.filter((k) => !want.includes(k)).map((k) => k.key).sort())
        expect(r.noBtf.map(keyOf)).toEqual([NO_BTF.key])
        for (const hit of r.kernels) {
          expect(names.get(keyOf(hit))!.get(name)!.has(hit.prototype), `${name} in ${hit.release}`).toBe(true)
        }
        if (name.startsWith('bpf_lsm_')) expect(r.kind).toBe('lsm')
      }
      expect(index.findFunc('no_such_function_xyz').kernels).toEqual([])
    })

    it('findField: offsets, bitfields and types of members as bpftool gives them', () => {
      const cases = ['task_struct.pid', 'task_struct.comm', 'task_struct.__state', 'sk_buff.len', 'file.f_path', 'sk_buff.dev', 'sock.sk_protocol', 'inode.i_ino']
      for (const q of cases) {
        const [struct, member] = q.split('.') as [string, string]
        const r = index.findField(q)
        for (const k of kernels) {
          const types = rawDump(k.path)
          const raw = rawFindMember(types, rawStruct(types, struct), member)
          const hits = r.kernels.filter((h) => h.release === k.release)
          if (!raw) {
            expect(hits, `${q} ${k.release}`).toEqual([])
            continue
          }
          expect(hits.length, `${q} ${k.release}`).toBeGreaterThan(0)
          const h = hits[0]!
          expect({bits: h.bitOffset, bytes: h.byteOffset, bitfield: h.bitfieldSize, type: h.type, anonymous: h.anonymous}, `${q} ${k.release}`).toEqual({
            bits: raw.bits,
            bytes: Math.floor(raw.bits / 8),
            bitfield: raw.bitfield,
            type: rawDecl(types, raw.type, ''),
            anonymous: raw.anonymous,
          })
          expect(h.structSize).toBe(rawStruct(types, struct).size)
        }
      }
      // sk_buff.dev sits in an anonymous union inside an anonymous struct
      expect(index.findField('sk_buff.dev').kernels.every((h) => h.anonymous)).toBe(true)
    })

    it('findField: a path through a struct member held by value (file.f_path.dentry)', () => {
      const r = index.findField('file.f_path.dentry')
      for (const k of kernels) {
        const types = rawDump(k.path)
        const fPath = rawFindMember(types, rawStruct(types, 'file'), 'f_path')!
        const dentry = rawFindMember(types, rawStruct(types, 'path'), 'dentry')!
        const h = r.kernels.find((x) => x.release === k.release)!
        expect(h.bitOffset).toBe(fPath.bits + dentry.bits)
        expect(h.type).toBe('struct dentry *')
      }
    })

    it('findTracepoint: every btf_trace_ typedef, and its prototype as bpftool format c prints it', () => {
      for (const k of kernels.slice(0, 2)) {
        const header = run('bpftool', ['btf', 'dump', 'file', k.path, 'format', 'c']).toString('utf8')
        const typedefs = new Map<string, string>()
        for (const m of header.matchAll(/^typedef (.*\(\*btf_trace_(\w+)\)\(.*\));$/gm)) typedefs.set(m[2]!, `typedef ${m[1]!}`)
        expect(typedefs.size).toBeGreaterThan(100)
        let checked = 0
        for (const [name, decl] of typedefs) {
          if (checked++ % 7 !== 0) continue // a seventh of them keeps the test quick
          const r = index.findTracepoint(name)
          const hit = r.kernels.find((h) => h.release === k.release)
          expect(hit?.prototype, name).toBe(decl)
        }
      }
      expect(index.findTracepoint('btf_trace_sched_switch').kernels.length).toBe(kernels.length)
    })

    it('findEnum: values as bpftool lists them (32- and 64-bit)', () => {
      for (const k of kernels) {
        const types = rawDump(k.path)
        for (const name of ['bpf_func_id', 'bpf_map_type', 'netdev_priv_flags']) {
          const raw = [...types.values()].find((t) => (t.kind === 'ENUM' || t.kind === 'ENUM64') && t.name === name)
          const hits = index.findEnum(name).kernels.filter((h) => h.release === k.release)
          if (!raw) {
            expect(hits).toEqual([])
            continue
          }
          expect(hits[0]!.kind).toBe(raw.kind === 'ENUM64' ? 'enum64' : 'enum')
          expect(hits[0]!.values.map((v) => `${v.name}=${v.value}`)).toEqual(raw.values.map((v) => `${v.name}=${v.value}`))
        }
      }
    })
  })

  it('task_struct.state: absent everywhere, and __state reported where it is', () => {
    const r = index.findField('task_struct.state')
    expect(r.kernels).toEqual([])
    expect(r.memberMissing.map(keyOf).sort()).toEqual(kernels.map((k) => k.key).sort())
    expect(r.noBtf.map(keyOf)).toEqual([NO_BTF.key])
    expect(r.related[0]?.member).toBe('__state')
    expect(r.related[0]!.kernels.map(keyOf).sort()).toEqual(kernels.map((k) => k.key).sort())
  })

  it('names that match nothing get near names', () => {
    expect(index.findFunc('DO_SYS_OPEN').suggestions).toContain('do_sys_open')
    expect(index.findFunc('tcp_v4_connect___2').suggestions).toContain('tcp_v4_connect')
    expect(index.findFunc('tcp_v4_conect').suggestions).toContain('tcp_v4_connect')
    const s = index.findField('task_struc.pid')
    expect(s.kernels).toEqual([])
    expect(s.structMissing.length).toBe(kernels.length)
    expect(s.suggestions).toContain('task_struct')
    expect(() => index.findField('task_struct')).toThrowError(expect.objectContaining({code: 'INDEX_BAD_QUERY'}))
  })

  it('answers each query (medians printed; timed by bench/index-queries.mjs, not asserted here)', () => {
    const time = (f: () => unknown): number => {
      const times: number[] = []
      for (let i = 0; i < 15; i++) {
        const t0 = performance.now()
        f()
        times.push(performance.now() - t0)
      }
      return times.sort((a, b) => a - b)[7]!
    }
    const medians = {
      findFunc: time(() => index.findFunc('tcp_v4_connect')),
      findField: time(() => index.findField('task_struct.pid')),
      listKernels: time(() => index.listKernels({distro: 'debian', arch: 'x86_64'})),
    }
    console.log('query medians (ms):', medians)
    expect(index.findFunc('tcp_v4_connect').kernels.length).toBeGreaterThan(0)
    expect(index.listKernels({distro: 'debian', arch: 'x86_64'}).length).toBeGreaterThan(0)
  })
})
