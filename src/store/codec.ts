/**
 * The compact text encodings of struct/union layouts and enums inside index records,
 * and their decoders.
 *
 * A record's content is one line of text (no TAB, no newline), built so that the same
 * layout in two kernels gives the same string (and is stored once) and so that a
 * general-purpose compressor does well on many similar layouts next to each other.
 * Separators are control characters, which no stored name contains (see cleanName).
 *
 *   layout  := KIND SIZE member*          KIND: s struct, u union, S/U a typedef of an
 *                                          anonymous struct/union (key = typedef name)
 *   member  := RS NAME US OFFSET US TYPE
 *   OFFSET  := DELTA [':' BITFIELD_SIZE]   DELTA: bit offset minus the previous member's
 *                                          (offsets mostly grow by the previous size, so
 *                                          deltas repeat and compress well)
 *   TYPE    := C type name (ctype.ts)
 *            | [QUALIFIERS] SO layout SI  an anonymous struct/union type, stored inline
 *                                          with offsets relative to it (`const ` SO … SI)
 *
 *   enum    := KIND SIZE SIGN value*       KIND: e ENUM (32-bit values), E ENUM64;
 *                                          SIGN: s signed, u unsigned
 *   value   := RS NAME US DELTA            DELTA: value minus the previous value
 *
 * Decoding is strict: a malformed record is an {@link IndexError} `INDEX_CORRUPT`.
 */
import type {CompositeType, Enum64Type, EnumType} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {type CTypeNamer, type TypeSource, cleanName} from './ctype.js'
import {IndexError} from './errors.js'

const RS = '\x1e'
const US = '\x1f'
const SO = '\x0e'
const SI = '\x0f'

/** Anonymous struct/union nesting deeper than this is stored as a plain type name. */
const MAX_NESTING = 32

export interface LayoutMember {
  /** '' for an anonymous struct/union member. */
  name: string
  /** Bit offset from the start of the struct/union that contains the member directly. */
  bitOffset: number
  /** Bitfield width; 0 when not a bitfield. */
  bitfieldSize: number
  /** C type name: `u32`, `struct list_head`, `char[16]`, `union {...}`. */
  type: string
  /** The members of an anonymous struct/union type, stored inline. */
  nested?: Layout
}

export interface Layout {
  kind: 'struct' | 'union'
  /** true when the record is keyed by a typedef of an anonymous struct/union (`atomic_t`). */
  typedef: boolean
  /** Size in bytes. */
  size: number
  members: LayoutMember[]
}

/**
 * A member as queries see it. Members of anonymous struct/union members are listed too
 * (C lets you name them directly: `skb->dev`), right after the anonymous member itself,
 * with offsets from the start of the outermost struct.
 */
export interface FlatMember {
  name: string
  /** Bit offset from the start of the outermost struct/union. */
  bitOffset: number
  bitfieldSize: number
  type: string
  /** How many anonymous struct/union members enclose this one (0 = a direct member). */
  depth: number
  /** The inline layout of an anonymous struct/union type (for paths `a.b` into it). */
  nested?: Layout
}

/** Encodes a named struct/union (or, with `typedef`, a typedef's anonymous one). */
export function encodeLayout(btf: TypeSource, namer: CTypeNamer, t: CompositeType<number>, typedef: boolean): string {
  return encodeComposite(btf, namer, t, typedef, 0)
}

function encodeComposite(btf: TypeSource, namer: CTypeNamer, t: CompositeType<number>, typedef: boolean, depth: number): string {
  const union = t.kind === Kind.UNION
  let out = (union ? (typedef ? 'U' : 'u') : typedef ? 'S' : 's') + String(t.size)
  let prev = 0
  for (const m of t.members) {
    out += `${RS}${cleanName(m.name)}${US}${m.bitOffset - prev}${m.bitfieldSize ? `:${m.bitfieldSize}` : ''}${US}`
    prev = m.bitOffset
    const inner = anonymousComposite(btf, m.type)
    const typeName = namer.name(m.type)
    if (inner && depth < MAX_NESTING) {
      // Qualifiers stay in front of the inline layout: `const ` SO … SI
      const base = inner.kind === Kind.UNION ? 'union {...}' : 'struct {...}'
      const quals = typeName.endsWith(base) ? typeName.slice(0, -base.length) : ''
      out += `${quals}${SO}${encodeComposite(btf, namer, inner, false, depth + 1)}${SI}`
    } else {
      out += typeName
    }
  }
  return out
}

/** The anonymous struct/union a member's type is (through const/volatile/type tags), if any. */
export function anonymousComposite(btf: TypeSource, id: number): CompositeType<number> | undefined {
  let t = btf.typeById(id)
  for (let i = 0; i < 32; i++) {
    if (t.kind === Kind.CONST || t.kind === Kind.VOLATILE || t.kind === Kind.RESTRICT || t.kind === Kind.TYPE_TAG) {
      t = btf.typeById(t.type)
      continue
    }
    if ((t.kind === Kind.STRUCT || t.kind === Kind.UNION) && t.name === '') return t
    return undefined
  }
  return undefined
}

/** Decodes a layout record. @throws IndexError `INDEX_CORRUPT`. */
export function decodeLayout(s: string): Layout {
  const r = new Reader(s)
  const layout = r.layout(0)
  if (!r.done()) r.fail('trailing data')
  return layout
}

/** The separators a layout record's fields end at: SO, SI, RS, US. */
const SEPARATOR = /[\x0e\x0f\x1e\x1f]/g

class Reader {
  pos = 0
  constructor(private readonly s: string) {}

  done(): boolean {
    return this.pos === this.s.length
  }

  fail(what: string): never {
    throw new IndexError('INDEX_CORRUPT', `malformed layout record (${what} at ${this.pos}); rebuild the index`)
  }

  /**
   * Reads up to (not including) the next separator. The separator is found by a regular
   * expression rather than a loop over the characters: a query decodes each layout once,
   * in code that has not warmed up, where V8's compiled regular expression scans a
   * task_struct record many times faster than the interpreted loop did.
   */
  field(): string {
    const start = this.pos
    SEPARATOR.lastIndex = start
    const m = SEPARATOR.exec(this.s)
    this.pos = m === null ? this.s.length : m.index
    return this.s.slice(start, this.pos)
  }

  expect(sep: string): void {
    if (this.s[this.pos] !== sep) this.fail(`expected separator 0x${sep.charCodeAt(0).toString(16)}`)
    this.pos++
  }

  layout(depth: number): Layout {
    if (depth > MAX_NESTING) this.fail('nesting too deep')
    const head = this.field()
    const k = head[0]
    const size = Number(head.slice(1))
    if ((k !== 's' && k !== 'u' && k !== 'S' && k !== 'U') || !Number.isSafeInteger(size) || head.length < 2) this.fail('bad header')
    const layout: Layout = {kind: k === 's' || k === 'S' ? 'struct' : 'union', typedef: k === 'S' || k === 'U', size, members: []}
    let prev = 0
    while (this.s[this.pos] === RS) {
      this.pos++
      const name = this.field()
      this.expect(US)
      const off = this.field()
      this.expect(US)
      const colon = off.indexOf(':')
      const delta = Number(colon < 0 ? off : off.slice(0, colon))
      const bitfieldSize = colon < 0 ? 0 : Number(off.slice(colon + 1))
      if (!Number.isSafeInteger(delta) || !Number.isSafeInteger(bitfieldSize) || off === '') this.fail('bad offset')
      const bitOffset = prev + delta
      prev = bitOffset
      const type = this.field()
      if (this.s[this.pos] === SO) {
        this.pos++
        const nested = this.layout(depth + 1)
        this.expect(SI)
        layout.members.push({name, bitOffset, bitfieldSize, type: `${type}${nested.kind} {...}`, nested})
      } else {
        if (type === '') this.fail('empty type')
        layout.members.push({name, bitOffset, bitfieldSize, type})
      }
    }
    return layout
  }
}

/** All members as a query sees them: see {@link FlatMember}. */
export function flattenLayout(layout: Layout): FlatMember[] {
  const out: FlatMember[] = []
  const walk = (l: Layout, base: number, depth: number): void => {
    for (const m of l.members) {
      const bitOffset = base + m.bitOffset
      out.push({name: m.name, bitOffset, bitfieldSize: m.bitfieldSize, type: m.type, depth, ...(m.nested ? {nested: m.nested} : {})})
      if (m.nested && m.name === '') walk(m.nested, bitOffset, depth + 1)
    }
  }
  walk(layout, 0, 0)
  return out
}

export interface EnumInfo {
  kind: 'enum' | 'enum64'
  size: number
  signed: boolean
  /** Numbers for 32-bit enums, bigints for ENUM64. */
  values: {name: string; value: number | bigint}[]
}

/** Encodes an ENUM or ENUM64. */
export function encodeEnum(t: EnumType | Enum64Type): string {
  let out = `${t.kind === Kind.ENUM64 ? 'E' : 'e'}${t.size}${t.kindFlag ? 's' : 'u'}`
  let prev = 0n
  for (const v of t.values) {
    const value = BigInt(v.value)
    out += `${RS}${cleanName(v.name)}${US}${value - prev}`
    prev = value
  }
  return out
}

/** Decodes an enum record. @throws IndexError `INDEX_CORRUPT`. */
export function decodeEnum(s: string): EnumInfo {
  const parts = s.split(RS)
  const head = parts[0]!
  const m = /^([eE])(\d+)([su])$/.exec(head)
  if (!m) throw new IndexError('INDEX_CORRUPT', 'malformed enum record; rebuild the index')
  const is64 = m[1] === 'E'
  const values: EnumInfo['values'] = []
  let cur = 0n
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!
    const us = p.indexOf(US)
    if (us < 0 || us === p.length - 1) throw new IndexError('INDEX_CORRUPT', 'malformed enum value; rebuild the index')
    try {
      cur += BigInt(p.slice(us + 1))
    } catch {
      throw new IndexError('INDEX_CORRUPT', 'malformed enum value; rebuild the index')
    }
    values.push({name: p.slice(0, us), value: is64 ? cur : Number(cur)})
  }
  return {kind: is64 ? 'enum64' : 'enum', size: Number(m[2]), signed: m[3] === 's', values}
}
