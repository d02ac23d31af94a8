/**
 * The index with module BTF: an archive of Debian 6.1 and 6.12 cloud-amd64 with the
 * real split BTF of their nft_ct (and, for 6.1, nf_conntrack_h323) modules. Every
 * answer about modules is checked against bpftool's raw dump of the module's BTF
 * (`bpftool -B vmlinux btf dump file module format raw`), parsed by the test's own code.
 */
import {statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readManifest} from '../../src/archive/manifest.js'
import {buildIndex} from '../../src/store/build.js'
import type {Layout} from '../../src/store/codec.js'
import {KernelIndex, type KernelRef} from '../../src/store/query.js'
import type {ModuleFixture} from '../helpers/fixtures.js'
import {type ModuleArchive, moduleArchive} from '../helpers/module-archive.js'
import {requireTool, run} from '../helpers/tools.js'
import {type RawType, rawDecl, rawDump, rawLayouts, tempDb} from './helpers.js'

const bpftool = requireTool('bpftool', 'module index answers compared with bpftool')

/** bpftool's raw dump of a module's split BTF (own types only), parsed like rawDump does. */
function rawModuleDump(m: ModuleFixture): Map<number, RawType> {
  const text = run('bpftool', ['-B', m.base.path, 'btf', 'dump', 'file', m.path, 'format', 'raw']).toString('utf8')
  // rawDump parses a file; reuse its parser on the text through a scratch file
  return parseRaw(text)
}

function parseRaw(text: string): Map<number, RawType> {
  const types = new Map<number, RawType>()
  let cur: RawType | undefined
  const field = (s: string, k: string): number => {
    const m = new RegExp(`(?:^| )${k}=(\\d+)`).exec(s)
    return m ? Number(m[1]) : 0
  }
  for (const line of text.split('\n')) {
    if (line.startsWith('[')) {
      const m = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line)!
      const rest = m[4]!
      cur = {
        id: Number(m[1]),
        kind: m[2]!,
        name: m[3] === '(anon)' ? '' : m[3]!,
        type: m[2] === 'FUNC_PROTO' ? field(rest, 'ret_type_id') : field(rest, 'type_id'),
        size: field(rest, 'size'),
        nelems: field(rest, 'nr_elems'),
        fwdUnion: rest.includes('fwd_kind=union'),
        members: [],
        params: [],
        values: [],
      }
      types.set(cur.id, cur)
    } else if (line.startsWith('\t') && cur) {
      const m = /^\t'([^']*)' (.*)$/.exec(line)
      if (!m) continue
      const name = m[1] === '(anon)' ? '' : m[1]!
      const rest = m[2]!
      if (cur.kind === 'STRUCT' || cur.kind === 'UNION') {
        cur.members.push({name, type: field(rest, 'type_id'), bitsOffset: field(rest, 'bits_offset'), bitfieldSize: field(rest, 'bitfield_size')})
      } else if (cur.kind === 'FUNC_PROTO') {
        cur.params.push({name, type: field(rest, 'type_id')})
      } else if (cur.kind === 'ENUM' || cur.kind === 'ENUM64') {
        cur.values.push({name, value: /val=(-?\d+)/.exec(rest)![1]!})
      }
    }
  }
  return types
}

function layoutSignature(l: Layout): string {
  return `${l.kind} ${l.size} ${l.members
    .map((m) => `${m.name}@${m.bitOffset}:${m.bitfieldSize}:${m.type}${m.nested ? ` {${layoutSignature(m.nested)}}` : ''}`)
    .join('; ')}`
}

const ref = (release: string): KernelRef => ({release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud'})

/** A module's FUNCs as bpftool dumps them: name → its declarations (sorted). */
function bpftoolFuncs(m: ModuleFixture): Map<string, string[]> {
  const own = rawModuleDump(m)
  const all = new Map([...rawDump(m.base.path), ...own])
  const out = new Map<string, string[]>()
  for (const t of own.values()) if (t.kind === 'FUNC') out.set(t.name, [...(out.get(t.name) ?? []), rawDecl(all, t.type, t.name)].sort())
  return out
}

// Module records come from the pack's record lists (src/store/extract-pack.ts), or from a
// legacy tarball's module BTF, parsed: both are checked against bpftool.
for (const format of ['pack', 'tar'] as const) {
  describe.skipIf(!bpftool)(`index with module BTF stored as ${format}, against bpftool`, () => {
    let arch: ModuleArchive
    let index: KernelIndex
    let dbPath: string

    beforeAll(async () => {
      arch = await moduleArchive(format)
      dbPath = tempDb()
      await buildIndex(arch.root, dbPath)
      index = KernelIndex.open(dbPath)
    })
    afterAll(() => index?.close())

    it('knows how many modules each kernel has', () => {
      for (const k of index.listKernels()) expect(k.modules, k.release).toBe(arch.modules.get(k.release)!.length)
    })

    it('every module: the same FUNCs with the same prototypes as bpftool lists in its BTF', () => {
      for (const [release, mods] of arch.modules) {
        for (const m of mods) {
          const own = rawModuleDump(m)
          const all = new Map([...rawDump(m.base.path), ...own])
          const expected = new Map<string, Set<string>>()
          for (const t of own.values()) {
            if (t.kind !== 'FUNC') continue
            const s = expected.get(t.name) ?? new Set()
            s.add(rawDecl(all, t.type, t.name))
            expected.set(t.name, s)
          }
          const actual = index.kernelFuncs(ref(release), m.module)
          expect(expected.size, `${release} ${m.module}`).toBeGreaterThan(10)
          expect(actual.size, `${release} ${m.module}`).toBe(expected.size)
          for (const [name, protos] of expected) expect([...(actual.get(name) ?? [])].sort(), `${m.module} ${name}`).toEqual([...protos].sort())
        }
      }
    })

    it("every module: its own struct/union layouts, except exact copies of vmlinux's", () => {
      for (const [release, mods] of arch.modules) {
        for (const m of mods) {
          const base = rawDump(m.base.path)
          const withModule = rawLayouts(new Map([...base, ...rawModuleDump(m)]))
          const inBase = rawLayouts(base)
          const expected = new Map<string, string[]>()
          for (const [name, sigs] of withModule) {
            const left = [...(inBase.get(name) ?? [])]
            const mine: string[] = []
            for (const s of sigs) {
              const i = left.indexOf(s)
              if (i >= 0) left.splice(i, 1)
              else mine.push(s)
            }
            // a module's copy of a vmlinux layout is answered as vmlinux's
            const distinct = [...new Set(mine.filter((s) => !(inBase.get(name) ?? []).includes(s)))].sort()
            if (distinct.length > 0) expected.set(name, distinct)
          }
          const actual = index.kernelLayouts(ref(release), m.module)
          expect(actual.size, `${release} ${m.module}`).toBe(expected.size)
          for (const [name, sigs] of expected) {
            expect([...new Set((actual.get(name) ?? []).map(layoutSignature))].sort(), `${m.module} ${name}`).toEqual(sigs)
          }
        }
      }
    })

    it('a module of both kernels: what the two share and what differs is each kernel\'s own, as bpftool dumps it', () => {
      // nft_ct is in 6.1 and 6.12: many of its FUNCs keep their prototype, some change,
      // some are in one kernel only. A record of one kernel lost or given to the other
      // (the pack reader renders each record once for every kernel) fails here.
      const releases = [...arch.modules.keys()].sort()
      expect(releases.length).toBe(2)
      const dumps = releases.map((rel) => bpftoolFuncs(arch.modules.get(rel)!.find((x) => x.module === 'nft_ct')!))
      const names = [...new Set(dumps.flatMap((d) => [...d.keys()]))].sort()
      const key = (d: Map<string, string[]>, n: string): string | undefined => d.get(n)?.join('\n')
      const same = names.filter((n) => key(dumps[0]!, n) !== undefined && key(dumps[0]!, n) === key(dumps[1]!, n))
      const differ = names.filter((n) => key(dumps[0]!, n) !== key(dumps[1]!, n))
      expect(same.length).toBeGreaterThan(10)
      expect(differ.length).toBeGreaterThan(0)
      for (const n of names) {
        const got = index
          .findFunc(n)
          .kernels.filter((k) => k.module === 'nft_ct')
          .map((k) => `${k.release} ${k.prototype}`)
          .sort()
        const want = releases.flatMap((rel, i) => (dumps[i]!.get(n) ?? []).map((p) => `${rel} ${p}`)).sort()
        expect(got, n).toEqual(want)
      }
    })

    it('findFunc names the module; a vmlinux function has module null', () => {
      const r = index.findFunc('nft_ct_get_eval')
      expect(r.kernels.map((k) => [k.release, k.module])).toEqual([...arch.modules.keys()].sort().map((rel) => [rel, 'nft_ct']))
      expect(r.absent).toEqual([])
      const v = index.findFunc('do_unlinkat')
      expect(v.kernels.every((k) => k.module === null)).toBe(true)
      const typo = index.findFunc('nft_ct_get_evl')
      expect(typo.kernels).toEqual([])
      expect(typo.suggestions).toContain('nft_ct_get_eval')
    })

    it('findField on a module struct names the module, offsets as bpftool gives them', () => {
      for (const [release, mods] of arch.modules) {
        const m = mods.find((x) => x.module === 'nft_ct')!
        const own = rawModuleDump(m)
        const st = [...own.values()].find((t) => t.kind === 'STRUCT' && t.name === 'nft_pktinfo')!
        const thoff = st.members.find((x) => x.name === 'thoff')!
        const r = index.findField('nft_pktinfo.thoff')
        const hit = r.kernels.find((k) => k.release === release)!
        expect(hit.module).toBe('nft_ct')
        expect(hit.bitOffset).toBe(thoff.bitsOffset)
        expect(hit.structSize).toBe(st.size)
      }
      // struct module is in vmlinux and copied into nft_ct's BTF: answered as vmlinux's
      const mod = index.findField('module.name')
      expect(mod.kernels.length).toBe(arch.modules.size)
      expect(mod.kernels.every((k) => k.module === null)).toBe(true)
    })

    it('findEnum of a module enum names the module, values as bpftool lists them', () => {
      const m = arch.modules.get('6.1.0-56-cloud-amd64')!.find((x) => x.module === 'nft_ct')!
      const e = [...rawModuleDump(m).values()].find((t) => t.kind === 'ENUM' && t.name === 'nft_ct_keys')!
      const r = index.findEnum('nft_ct_keys')
      const hit = r.kernels.find((k) => k.release === '6.1.0-56-cloud-amd64')!
      expect(hit.module).toBe('nft_ct')
      expect(hit.values.map((v) => `${v.name}=${v.value}`)).toEqual(e.values.map((v) => `${v.name}=${v.value}`))
    })

    it.skipIf(format !== 'pack')('a kernel whose module BTF changes is re-indexed though its vmlinux BTF did not change', async () => {
      const {addKernelModules} = await import('../../src/archive/modules.js')
      const {copyArchive} = await import('./helpers.js')
      const root = copyArchive(arch.root)
      const db = tempDb()
      await buildIndex(root, db)
      const entry = readManifest(root).kernels.find((k) => k.release === '6.1.0-56-cloud-amd64')!
      const only = arch.modules.get(entry.release)!.filter((m) => m.module === 'nft_ct')
      await addKernelModules(root, entry, new Map(only.map((m) => [m.module, m.btf])))
      const again = await buildIndex(root, db)
      expect(again.indexed).toEqual([`debian/12/x86_64/${entry.release}`])
      const idx = KernelIndex.open(db)
      try {
        expect(idx.listKernels({release: entry.release})[0]!.modules).toBe(1)
        expect(idx.findFunc('nft_ct_get_eval').kernels.length).toBe(2)
      } finally {
        idx.close()
      }
    })

    it.skipIf(format !== 'pack')('measures what module records add to the index against the module BTF', async () => {
      const {copyArchive} = await import('./helpers.js')
      const manifest = readManifest(arch.root)
      const moduleBytes = manifest.kernels.reduce((s, k) => s + (k.modules?.path ? statSync(join(arch.root, k.modules.path)).size : 0), 0)
      // the same archive without modules
      const bare = copyArchive(arch.root)
      const {writeManifest} = await import('../../src/archive/manifest.js')
      writeManifest(bare, {...manifest, kernels: manifest.kernels.map(({modules: _m, ...k}) => k)})
      const without = await buildIndex(bare, tempDb())
      const withMods = statSync(dbPath).size
      const grow = withMods - without.indexBytes
      console.log(`index ${without.indexBytes} -> ${withMods} bytes (+${grow}) for ${moduleBytes} bytes of module tarballs: ${((100 * grow) / moduleBytes).toFixed(1)}%`)
      expect(moduleBytes).toBeGreaterThan(0)
    })
  })
}
