/**
 * C type names and declarations (src/store/ctype.ts): hand-written expectations for
 * every declarator shape on small BTF, and every member of every struct of a real kernel
 * compared with the member lines of `bpftool btf dump file X format c`.
 */
import {describe, expect, it} from 'vitest'
import type {Btf} from '../../src/btf/btf.js'
import {parseBtf} from '../../src/btf/decode.js'
import {BtfBuilder} from '../../src/btf/encode.js'
import type {BtfType, Enum64Type, EnumType, Member, Param} from '../../src/btf/types.js'
import {Kind} from '../../src/btf/wire.js'
import {anonymousComposite, decodeEnum, decodeLayout, encodeEnum, encodeLayout, flattenLayout} from '../../src/store/codec.js'
import {CTypeNamer, NAME_MARK, fillName} from '../../src/store/ctype.js'
import {requireTool, run} from '../helpers/tools.js'
import {fixtureKernels} from './helpers.js'

const common = {nameOff: 0, kindFlag: false}
const member = (name: string, type: number, bitOffset: number, bitfieldSize = 0): Member => ({name, nameOff: 0, type, bitOffset, bitfieldSize})
const param = (name: string, type: number): Param => ({name, nameOff: 0, type})

/** A small BTF with one type of every declarator shape; returns it and named ids. */
function sample(): {btf: Btf; id: Record<string, number>} {
  const b = new BtfBuilder()
  const id: Record<string, number> = {}
  const add = (name: string, t: BtfType): number => (id[name] = b.add(t))
  add('int', {kind: Kind.INT, name: 'int', ...common, size: 4, encoding: 1, bitOffset: 0, bits: 32})
  add('char', {kind: Kind.INT, name: 'char', ...common, size: 1, encoding: 2, bitOffset: 0, bits: 8})
  add('ulong', {kind: Kind.INT, name: 'long unsigned int', ...common, size: 8, encoding: 0, bitOffset: 0, bits: 64})
  add('constChar', {kind: Kind.CONST, name: '', ...common, type: id.char!})
  add('pConstChar', {kind: Kind.PTR, name: '', ...common, type: id.constChar!})
  add('pChar', {kind: Kind.PTR, name: '', ...common, type: id.char!})
  add('constPChar', {kind: Kind.CONST, name: '', ...common, type: id.pChar!})
  add('constPConstChar', {kind: Kind.CONST, name: '', ...common, type: id.pConstChar!})
  add('volInt', {kind: Kind.VOLATILE, name: '', ...common, type: id.int!})
  add('char16', {kind: Kind.ARRAY, name: '', ...common, type: id.char!, indexType: id.int!, nelems: 16})
  add('int4', {kind: Kind.ARRAY, name: '', ...common, type: id.int!, indexType: id.int!, nelems: 4})
  add('pInt4', {kind: Kind.PTR, name: '', ...common, type: id.int4!})
  add('int2x3', {kind: Kind.ARRAY, name: '', ...common, type: add('int3', {kind: Kind.ARRAY, name: '', ...common, type: id.int!, indexType: id.int!, nelems: 3}), indexType: id.int!, nelems: 2})
  add('list', {kind: Kind.STRUCT, name: 'list_head', ...common, size: 16, members: []})
  add('pList', {kind: Kind.PTR, name: '', ...common, type: id.list!})
  add('pList4', {kind: Kind.ARRAY, name: '', ...common, type: id.pList!, indexType: id.int!, nelems: 4})
  add('protoVoid', {kind: Kind.FUNC_PROTO, name: '', ...common, returnType: 0, params: []})
  add('pProtoVoid', {kind: Kind.PTR, name: '', ...common, type: id.protoVoid!})
  add('protoVar', {kind: Kind.FUNC_PROTO, name: '', ...common, returnType: id.int!, params: [param('fmt', id.pConstChar!), param('', 0)]})
  add('pProtoVar', {kind: Kind.PTR, name: '', ...common, type: id.protoVar!})
  // int (*(*)(int))(char): pointer to a function taking int, returning a pointer to a function taking char
  add('protoChar', {kind: Kind.FUNC_PROTO, name: '', ...common, returnType: id.int!, params: [param('', id.char!)]})
  add('pProtoChar', {kind: Kind.PTR, name: '', ...common, type: id.protoChar!})
  add('protoRetFp', {kind: Kind.FUNC_PROTO, name: '', ...common, returnType: id.pProtoChar!, params: [param('', id.int!)]})
  add('pProtoRetFp', {kind: Kind.PTR, name: '', ...common, type: id.protoRetFp!})
  add('anonStruct', {kind: Kind.STRUCT, name: '', ...common, size: 8, members: [member('a', id.int!, 0), member('b', id.int!, 32)]})
  add('anonUnion', {kind: Kind.UNION, name: '', ...common, size: 4, members: [member('x', id.int!, 0), member('y', id.char!, 0)]})
  add('anonEnum', {kind: Kind.ENUM, name: '', ...common, size: 4, values: [{name: 'A', nameOff: 0, value: 0}]})
  add('fwdUnion', {kind: Kind.FWD, name: 'later', nameOff: 0, kindFlag: true})
  add('typedef', {kind: Kind.TYPEDEF, name: 'u32', ...common, type: id.int!})
  add('tag', {kind: Kind.TYPE_TAG, name: 'user', ...common, type: id.char!})
  add('pTag', {kind: Kind.PTR, name: '', ...common, type: id.tag!})
  add('ppVoid', {kind: Kind.PTR, name: '', ...common, type: add('pVoid', {kind: Kind.PTR, name: '', ...common, type: 0})})
  add('constAnon', {kind: Kind.CONST, name: '', ...common, type: id.anonStruct!})
  add('constVolInt', {kind: Kind.CONST, name: '', ...common, type: id.volInt!})
  add('constArray', {kind: Kind.CONST, name: '', ...common, type: id.char16!})
  add('volProto', {kind: Kind.VOLATILE, name: '', ...common, type: id.protoVoid!})
  add('pVolProto', {kind: Kind.PTR, name: '', ...common, type: id.volProto!})
  add('outer', {
    kind: Kind.STRUCT,
    name: 'outer',
    ...common,
    kindFlag: true,
    size: 40,
    members: [
      member('flags', id.int!, 0, 3),
      member('more', id.int!, 3, 5),
      member('', id.anonUnion!, 32),
      member('named', id.anonStruct!, 64),
      member('', id.constAnon!, 128),
      member('comm', id.char16!, 192),
    ],
  })
  add('func', {kind: Kind.FUNC, name: 'do_it', ...common, type: add('protoDo', {kind: Kind.FUNC_PROTO, name: '', ...common, returnType: id.pChar!, params: [param('dfd', id.int!), param('cb', id.pProtoVoid!), param('', id.pInt4!)]}), linkage: 1})
  return {btf: b.build(), id}
}

describe('C type names', () => {
  const {btf, id} = sample()
  const n = new CTypeNamer(btf)
  const name = (k: string): string => n.name(id[k]!)

  it('base types, qualifiers and pointers', () => {
    expect(n.name(0)).toBe('void')
    expect(name('ulong')).toBe('long unsigned int')
    expect(name('pConstChar')).toBe('const char *')
    expect(name('constPChar')).toBe('char * const')
    expect(name('constPConstChar')).toBe('const char * const')
    expect(name('volInt')).toBe('volatile int')
    expect(name('constVolInt')).toBe('volatile const int') // innermost first, as libbpf prints it
    expect(name('ppVoid')).toBe('void **')
    expect(name('typedef')).toBe('u32')
    expect(name('pTag')).toBe('char *') // type tags are attributes, not part of the type
  })

  it('arrays, pointers to arrays, arrays of pointers', () => {
    expect(name('char16')).toBe('char[16]')
    expect(name('int2x3')).toBe('int[2][3]')
    expect(name('pInt4')).toBe('int (*)[4]')
    expect(name('pList4')).toBe('struct list_head *[4]')
    expect(name('constArray')).toBe('char[16]') // qualifiers of an array itself are dropped (libbpf)
    expect(name('pVolProto')).toBe('void (*)(void)') // and of a function type
  })

  it('function types and function pointers', () => {
    expect(name('pProtoVoid')).toBe('void (*)(void)')
    expect(name('pProtoVar')).toBe('int (*)(const char *fmt, ...)')
    expect(name('pProtoRetFp')).toBe('int (* (*)(int))(char)')
    expect(n.declare(id.pProtoRetFp!, 'f')).toBe('int (* (*f)(int))(char)')
    expect(n.declare(id.pInt4!, 'p')).toBe('int (*p)[4]')
    expect(n.declare(id.char16!, 'comm')).toBe('char comm[16]')
    expect(n.declare(id.constPChar!, 'p')).toBe('char * const p')
  })

  it('anonymous and forward-declared types', () => {
    expect(name('anonStruct')).toBe('struct {...}')
    expect(name('anonUnion')).toBe('union {...}')
    expect(name('anonEnum')).toBe('enum {...}')
    expect(name('fwdUnion')).toBe('union later')
    expect(name('constAnon')).toBe('const struct {...}')
  })

  it('prototype templates: the name goes where the declarator says', () => {
    const t = n.template(id.protoDo!)
    expect(t).toBe(`char *${NAME_MARK}(int dfd, void (*cb)(void), int (*)[4])`)
    expect(fillName(t, 'do_it')).toBe('char *do_it(int dfd, void (*cb)(void), int (*)[4])')
    expect(fillName(t, '')).toBe('char *(int dfd, void (*cb)(void), int (*)[4])')
    expect(fillName(n.template(id.pProtoRetFp!), 'fp')).toBe('int (* (*fp)(int))(char)')
  })
})

describe('layout and enum records', () => {
  const {btf, id} = sample()
  const n = new CTypeNamer(btf)
  const outer = btf.typeById(id.outer!) as Extract<BtfType, {kind: 4}>

  it('a layout round-trips, anonymous members nested and flattened with absolute offsets', () => {
    const l = decodeLayout(encodeLayout(btf, n, outer, false))
    expect(l).toMatchObject({kind: 'struct', typedef: false, size: 40})
    expect(l.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize, m.type])).toEqual([
      ['flags', 0, 3, 'int'],
      ['more', 3, 5, 'int'],
      ['', 32, 0, 'union {...}'],
      ['named', 64, 0, 'struct {...}'],
      ['', 128, 0, 'const struct {...}'],
      ['comm', 192, 0, 'char[16]'],
    ])
    const flat = flattenLayout(l).map((m) => `${m.name || '(anon)'}@${m.bitOffset}/${m.depth}`)
    // anonymous members are listed themselves and then their members; `named` is not flattened
    expect(flat).toEqual(['flags@0/0', 'more@3/0', '(anon)@32/0', 'x@32/1', 'y@32/1', 'named@64/0', '(anon)@128/0', 'a@128/1', 'b@160/1', 'comm@192/0'])
    expect(anonymousComposite(btf, id.constAnon!)?.size).toBe(8)
  })

  it('enums round-trip with signed, unsigned and 64-bit values', () => {
    const e32: EnumType = {kind: Kind.ENUM, name: 'e', ...common, kindFlag: true, size: 4, values: [
      {name: 'NEG', nameOff: 0, value: -5},
      {name: 'ZERO', nameOff: 0, value: 0},
      {name: 'BIG', nameOff: 0, value: 2147483647},
    ]}
    expect(decodeEnum(encodeEnum(e32))).toEqual({kind: 'enum', size: 4, signed: true, values: [
      {name: 'NEG', value: -5},
      {name: 'ZERO', value: 0},
      {name: 'BIG', value: 2147483647},
    ]})
    const e64: Enum64Type = {kind: Kind.ENUM64, name: 'f', ...common, size: 8, values: [
      {name: 'HI', nameOff: 0, value: 9223372036854775808n},
      {name: 'LO', nameOff: 0, value: 1n},
    ]}
    expect(decodeEnum(encodeEnum(e64))).toEqual({kind: 'enum64', size: 8, signed: false, values: [
      {name: 'HI', value: 9223372036854775808n},
      {name: 'LO', value: 1n},
    ]})
  })

  it('malformed records are INDEX_CORRUPT', () => {
    for (const bad of ['', 'x12', 's12\x1ea', 's12\x1ea\x1f\x1fint', 's8\x1ea\x1f0\x1f\x0es4', 'e4u\x1eA', 'e4u\x1eA\x1fzz', 'q4u']) {
      expect(() => (bad.startsWith('e') || bad.startsWith('q') ? decodeEnum(bad) : decodeLayout(bad)), JSON.stringify(bad)).toThrowError(
        expect.objectContaining({code: 'INDEX_CORRUPT'}),
      )
    }
  })
})

const kernel = fixtureKernels()[0]
const bpftool = kernel !== undefined && requireTool('bpftool', 'member declarations compared with bpftool format c')

describe.skipIf(!bpftool)('member declarations of a real kernel equal bpftool format c', () => {
  it('every named member of every uniquely named struct/union', () => {
    const btf = parseBtf(kernel!.btf)
    const header = run('bpftool', ['btf', 'dump', 'file', kernel!.path, 'format', 'c']).toString('utf8')
    // struct/union bodies: `struct NAME {` … `};` at column 0; their one-tab lines
    const bodies = new Map<string, Set<string>>()
    for (const m of header.matchAll(/^(struct|union) (\w+) \{\n([\s\S]*?)^\}[^\n]*;$/gm)) {
      bodies.set(`${m[1]} ${m[2]}`, new Set(m[3]!.split('\n').filter((l) => /^\t[^\t}]/.test(l))))
    }
    const counts = new Map<string, number>()
    for (const t of btf.types) if ((t.kind === Kind.STRUCT || t.kind === Kind.UNION) && t.name) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
    const n = new CTypeNamer(btf)
    let checked = 0
    for (const t of btf.types) {
      if ((t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) || !t.name || counts.get(t.name) !== 1 || t.members.length === 0) continue
      const body = bodies.get(`${t.kind === Kind.STRUCT ? 'struct' : 'union'} ${t.name}`)
      expect(body, t.name).toBeDefined()
      for (const m of t.members) {
        // anonymous types are printed inline by bpftool, over several lines
        if (m.name === '' || anonymousComposite(btf, m.type) || n.name(m.type).includes('{...}')) continue
        const line = `\t${n.declare(m.type, m.name)}${m.bitfieldSize ? `: ${m.bitfieldSize}` : ''};`
        if (body!.has(line)) {
          checked++
          continue
        }
        // bpftool renames clashing type names (`foo___2`) and may add attributes
        const word = new RegExp(`[ *]${m.name}[[:;]`)
        const alt = [...body!].find((l) => l.startsWith(line.slice(0, -1)) || (/___\d/.test(l) && word.test(l)))
        expect(alt, `${t.name}.${m.name}: ${line}`).toBeDefined()
      }
    }
    expect(checked).toBeGreaterThan(30_000)
  })
})
