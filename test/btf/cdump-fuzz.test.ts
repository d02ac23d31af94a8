/**
 * Differential testing of the C dumper against bpftool on seeded random BTF.
 *
 * The generator builds C-like type graphs that stress the rarely used paths of the
 * ordering and emission passes: forward references through pointers, typedefs of
 * typedefs reached through pointers, anonymous structs and enums nested in every
 * position, duplicate names in both namespaces, packed and oddly padded layouts,
 * bitfields, qualifiers and type tags on anything, function prototypes with variadic
 * tails. It keeps every strong (non-pointer) edge pointing to an earlier id and only
 * lets pointers reach later types when those are named structs or unions, so the
 * graph has no cycle C could not express (bpftool would refuse it).
 *
 * 60 seeds run by default; CDUMP_FUZZ_SEEDS=N runs N.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {dumpC} from '../../src/btf/cdump/index.js'
import {BtfBuilder} from '../../src/btf/encode.js'
import type {BtfType, Member} from '../../src/btf/types.js'
import {Kind} from '../../src/btf/wire.js'
import {bpftoolC} from '../helpers/cdump.js'
import {scratchDir} from '../helpers/fixtures.js'
import {mulberry32} from '../helpers/random.js'
import {findTool, firstDifference} from '../helpers/tools.js'

const hasBpftool = findTool('bpftool') !== undefined
if (!hasBpftool) console.warn('skipping C dump fuzzing: bpftool is not installed')

const TAGS = ['foo', 'bar', 'node', 'list', 'ops', 'u']
const IDENTS = ['foo_t', 'X', 'Y', 'handler_t', 'node', 'A']
const FIELDS = ['a', 'b', 'next', 'x', 'data', 'ops']

interface Info {
  size: number // 0: no size (void, fwd, func proto)
  align: number
  intLike: boolean
}

type Planned = 'struct' | 'union' | 'ptr' | 'typedef' | 'array' | 'const' | 'volatile' | 'restrict' | 'tag' | 'enum' | 'enum64' | 'proto' | 'fwd' | 'func' | 'var'

function generate(seed: number): Uint8Array {
  const r = mulberry32(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  const chance = (p: number): boolean => r() < p
  const b = new BtfBuilder()
  const info: Info[] = [{size: 0, align: 0, intLike: false}]
  const kindById: number[] = [Kind.UNKN]
  const common = {nameOff: 0, kindFlag: false}
  const add = (t: BtfType, i: Info): number => {
    const id = b.add(t as never)
    info[id] = i
    kindById[id] = t.kind
    return id
  }

  // scalars: ids 1..8
  const ints: [string, number, number][] = [
    ['int', 4, 1],
    ['unsigned int', 4, 0],
    ['char', 1, 2],
    ['long', 8, 1],
    ['short', 2, 1],
    ['_Bool', 1, 4],
    ['long long unsigned int', 8, 0],
  ]
  for (const [name, size, encoding] of ints) {
    add({kind: Kind.INT, ...common, name, size, encoding, bitOffset: 0, bits: size * 8}, {size, align: Math.min(size, 8), intLike: true})
  }
  add({kind: Kind.FLOAT, ...common, name: 'double', size: 8}, {size: 8, align: 8, intLike: false})

  // plan the kinds of the random part so pointers can aim at later named structs
  const weights: [Planned, number][] = [
    ['struct', 24],
    ['union', 8],
    ['ptr', 20],
    ['typedef', 12],
    ['array', 7],
    ['const', 5],
    ['volatile', 2],
    ['restrict', 1],
    ['tag', 2],
    ['enum', 6],
    ['enum64', 2],
    ['proto', 6],
    ['fwd', 2],
    ['func', 2],
    ['var', 1],
  ]
  const total = weights.reduce((s, [, w]) => s + w, 0)
  const n = 30 + Math.floor(r() * 50)
  const first = b.nextId
  const plan: Planned[] = []
  const named = new Set<number>()
  for (let i = 0; i < n; i++) {
    let x = r() * total
    const kind = weights.find(([, w]) => (x -= w) < 0)![0]
    plan.push(kind)
    if ((kind === 'struct' || kind === 'union') && chance(0.7)) named.add(first + i)
  }
  const namedLater = [...named]

  const earlier = (id: number, filter: (i: Info, id: number) => boolean): number => {
    const ok: number[] = []
    for (let k = 1; k < id; k++) if (filter(info[k]!, k)) ok.push(k)
    return ok.length ? pick(ok) : 1
  }
  const sized = (id: number): number => earlier(id, (i) => i.size > 0)
  // anything a declaration can name: not a FUNC or VAR
  const anyType = (id: number): number =>
    chance(0.1) ? 0 : earlier(id, (_i, k) => kindById[k] !== Kind.FUNC && kindById[k] !== Kind.VAR)
  const protos: number[] = []

  for (let i = 0; i < n; i++) {
    const id = first + i
    const kind = plan[i]!
    switch (kind) {
      case 'struct':
      case 'union': {
        const isUnion = kind === 'union'
        const kindFlag = chance(0.5)
        const packed = !isUnion && chance(0.15)
        const members: Member[] = []
        let bit = 0
        let maxAlign = 1
        const count = Math.floor(r() * 6)
        for (let m = 0; m < count; m++) {
          const type = sized(id)
          const t = info[type]!
          const a = packed ? 1 : t.align
          const name = m > 0 && chance(0.1) ? '' : pick(FIELDS)
          if (kindFlag && t.intLike && chance(0.4)) {
            const bits = 1 + Math.floor(r() * Math.min(t.size * 8, 40))
            let off = isUnion ? 0 : bit + (chance(0.2) ? Math.floor(r() * 9) : 0)
            const unit = t.size * 8
            if (!packed && Math.floor(off / unit) !== Math.floor((off + bits - 1) / unit)) off = Math.ceil(off / unit) * unit
            members.push({name, nameOff: 0, type, bitOffset: off, bitfieldSize: Math.min(bits, t.size * 8)})
            bit = Math.max(bit, off + bits)
          } else {
            let off = isUnion ? 0 : Math.ceil(bit / (a * 8)) * a * 8
            if (!isUnion && chance(0.12)) off += 8 * a * (1 + Math.floor(r() * 12))
            members.push({name, nameOff: 0, type, bitOffset: off, bitfieldSize: 0})
            bit = Math.max(bit, off + t.size * 8)
          }
          maxAlign = Math.max(maxAlign, a)
        }
        let size = Math.ceil(Math.ceil(bit / 8) / maxAlign) * maxAlign
        if (chance(0.1)) size += maxAlign * (1 + Math.floor(r() * 3))
        const name = named.has(id) ? pick(TAGS) : ''
        add(
          {kind: isUnion ? Kind.UNION : Kind.STRUCT, name, nameOff: 0, kindFlag, size, members},
          {size, align: maxAlign, intLike: false},
        )
        break
      }
      case 'ptr': {
        const target = chance(0.3) && namedLater.length ? pick(namedLater) : chance(0.15) ? id + 1 : anyType(id)
        // id + 1 may be anything; only keep it when it will be a named struct/union
        const safe = target === id + 1 && !named.has(target) ? anyType(id) : target
        add({kind: Kind.PTR, ...common, name: '', type: safe}, {size: 8, align: 8, intLike: false})
        break
      }
      case 'typedef': {
        const target = anyType(id)
        add({kind: Kind.TYPEDEF, ...common, name: pick(IDENTS), type: target}, {...info[target]!})
        break
      }
      case 'array': {
        const elem = sized(id)
        const nelems = Math.floor(r() * 4)
        const e = info[elem]!
        add({kind: Kind.ARRAY, ...common, name: '', type: elem, indexType: 1, nelems}, {size: e.size * nelems, align: e.align, intLike: false})
        break
      }
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'tag': {
        const target = kind === 'restrict' ? earlier(id, (_i, k) => kindById[k] === Kind.PTR) : anyType(id)
        const k = kind === 'const' ? Kind.CONST : kind === 'volatile' ? Kind.VOLATILE : kind === 'restrict' ? Kind.RESTRICT : Kind.TYPE_TAG
        add({kind: k, ...common, name: kind === 'tag' ? pick(['user', 'rcu', 'percpu']) : '', type: target} as BtfType, {...info[target]!})
        break
      }
      case 'enum':
      case 'enum64': {
        const kindFlag = chance(0.3)
        const size = kind === 'enum64' ? 8 : pick([4, 4, 4, 1, 2, 8])
        const count = Math.floor(r() * 4)
        const name = chance(0.6) ? pick(TAGS) : ''
        const names = Array.from({length: count}, () => pick(IDENTS))
        if (kind === 'enum') {
          const values = names.map((v) => ({
            name: v,
            nameOff: 0,
            value: kindFlag ? Math.floor(r() * 2 ** 32) - 2 ** 31 : Math.floor(r() * 2 ** 32),
          }))
          add({kind: Kind.ENUM, name, nameOff: 0, kindFlag, size, values}, {size, align: Math.min(size, 8), intLike: true})
        } else {
          const values = names.map((v) => {
            const raw = (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32))
            const value = chance(0.5) ? raw & 0xffffn : raw
            return {name: v, nameOff: 0, value: kindFlag ? BigInt.asIntN(64, value) : value}
          })
          add({kind: Kind.ENUM64, name, nameOff: 0, kindFlag, size, values}, {size, align: 8, intLike: true})
        }
        break
      }
      case 'proto': {
        const count = Math.floor(r() * 4)
        const params = Array.from({length: count}, () => ({name: chance(0.5) ? pick(FIELDS) : '', nameOff: 0, type: anyType(id)}))
        for (const p of params) if (p.type === 0) p.type = 1
        if (count > 0 && chance(0.2)) params[count - 1] = {name: '', nameOff: 0, type: 0}
        const ret = anyType(id)
        protos.push(add({kind: Kind.FUNC_PROTO, ...common, name: '', returnType: ret, params}, {size: 0, align: 0, intLike: false}))
        break
      }
      case 'fwd':
        add({kind: Kind.FWD, name: pick(TAGS), nameOff: 0, kindFlag: chance(0.3)}, {size: 0, align: 0, intLike: false})
        break
      case 'func':
      case 'var':
        if (kind === 'func' && protos.length) {
          add({kind: Kind.FUNC, ...common, name: pick(FIELDS), type: pick(protos), linkage: 1}, {size: 0, align: 0, intLike: false})
        } else {
          add({kind: Kind.VAR, ...common, name: pick(FIELDS), type: sized(id), linkage: 1}, {size: 0, align: 0, intLike: false})
        }
        break
    }
  }
  return b.encode()
}

/** Seeds to run; raise with CDUMP_FUZZ_SEEDS=N for a longer hunt. */
const SEEDS = Number(process.env.CDUMP_FUZZ_SEEDS ?? 60)

describe.skipIf(!hasBpftool)('C dump of random BTF matches bpftool', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}`, () => {
      const bytes = generate(seed)
      const file = join(scratchDir(), `cdump-fuzz-${seed}.btf`)
      writeFileSync(file, bytes)
      const expected = bpftoolC(file)
      const actual = dumpC(parseBtf(bytes))
      const diff = firstDifference(actual, expected)
      expect(diff, `seed ${seed} (input kept at ${file}): ${diff}`).toBeUndefined()
    })
  }
})
