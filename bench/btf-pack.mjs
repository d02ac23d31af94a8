#!/usr/bin/env node
// How small could a content-addressed, type-level deduplicated BTF store be? A measurement
// (nothing in src/ uses it): it packs the shipped archive's vmlinux BTF and module BTF into
// such a store, in memory, and prints what it would weigh after `xz -9`.
//
//   node bench/btf-pack.mjs [ARCHIVE] [--cut nominal|pointer] [--no-modules] [--no-prefixes]
//                           [--verify RELEASE[/MODULE]]… [--out FILE]
//   (npm run build first; ARCHIVE defaults to the shipped archive/)
//
// Why: plain xz cannot see that two kernels share most of their types, because BTF type ids
// (and so every reference inside a type) shift between builds; a store keyed by what a
// type *is* rather than by its id can hold each shared type once.
//
// The canonical form. Every type becomes a *record*: its kind, kind_flag, name (an index in
// one global string table), its own fields (int encoding and bits; size; array nelems;
// member names, bit offsets and bitfield sizes; enumerator names and values; param names;
// linkage; datasec var offsets and sizes; decl_tag component index) and one *reference* per
// type id it refers to, in wire order (forEachTypeRef's order). Records are hash-consed: a
// record's identity is its bytes with each reference written as the global index of the
// referenced record, so two types get the same record exactly when they have the same kind,
// name, fields and referenced records. Built children first (a post-order walk from id 1
// up), a record's index is its first appearance in that walk.
//
// Cycles (struct A -> ptr -> struct A) make "children first" impossible, so some edges are
// *name references*: they name their target by a key instead of pointing at its record,
// and the reader resolves the key inside the kernel being rebuilt. Two cut rules
// (`--cut`):
//   pointer — the edge out of a PTR, when the chain of CONST/VOLATILE/RESTRICT/
//     TYPE_TAG after it ends at a named STRUCT, UNION, FWD or TYPEDEF; the key is that
//     chain of kinds plus the target's kind, kind_flag and name ("a pointer to const
//     struct file"). C can only close a cycle through a pointer to a tag or typedef name,
//     which this cuts. libbpf's dedup makes a similar split (libbpf src/btf.c,
//     btf_hash_struct: a struct's hash covers its name, size and member names and
//     offsets, "ignoring referenced type IDs", whose equivalence a separate walk of both
//     graphs, btf_dedup_is_equiv, establishes); here the pointer's target is settled by
//     name lookup in the kernel instead of by that walk.
//   nominal (default) — every edge to a named STRUCT, UNION, FWD, TYPEDEF, ENUM or ENUM64 (by
//     value too), key = kind, kind_flag, name. More sharing (a struct embedding
//     `struct list_head` no longer changes when something inside list_head's graph does),
//     more name lookups.
//   Measured on the shipped archive: nominal 12.34 MB, pointer 13.24 MB (vmlinux alone 2.72
//   and 2.95 MB); README "A deduplicated store: measured" has the figures.
// Not chosen: an exact bisimulation (iterated hashing / DFA-minimisation fixpoint over the
// whole graph). It is exact but its identity of a type covers everything reachable
// through pointers, and most of a kernel's structs sit in one giant cycle through
// task_struct, so one changed struct would give every struct reaching it a new identity
// between two flavors: far less sharing, not more.
//
// Error direction: none — the form is lossless, and what is measured is a real encoding.
// A reference names its target only up to "the record (or key) it has"; inside one kernel
// the reader resolves it to the *lowest id in scope* (the module's own types and its
// vmlinux for split BTF) with that record (resp. key). Where the writer sees that the
// actual target is another id (BTF that keeps two `struct foo`, two equal PTR records,
// an anonymous duplicate), it writes an *exception* (id, slot, target id) in that kernel's
// list; exceptions are counted and their bytes are part of the store. A cut edge that
// still closes a cycle (impossible for C, counted as "residual cycles") would be reported.
//
// The store (uncompressed), four sections, each a sequence of LEB128 varints (zigzag
// where signed):
//   strings  — every distinct name once, NUL-terminated, in first-use order;
//   keys     — every distinct name-reference key once (chain length, chain kinds, kind,
//              kind_flag, name index);
//   records  — in index order; a reference is 0 (void), 1 + 2*zigzag(own index - target
//              index) (a record, delta-coded: children were just written, so it is small),
//              or 2 + 2*key index; member bit offsets are delta-coded against the previous
//              member;
//   lists    — per kernel: byte order, type count, then each type's record index as
//              zigzag(index - previous index - 1) (a kernel whose types are new is a run of
//              zeros; a later flavor of the same series is runs of zeros with jumps back
//              into the first one's records), then its exceptions; per kernel with modules:
//              module count, then per module (sorted by name) its name (string index), its
//              own type count, its record indexes and exceptions as above.
// The store's size is `xz -9 -T1` of strings+keys+records+lists in that order (xz-utils,
// as src/archive/compress.ts uses it). The units (each kernel's vmlinux, then each kernel's
// modules) are added in a fixed order; since every section is append-only in that order, the
// store of the first k units is a prefix of every section, which gives the cost of each
// extra unit as xz(prefix k) - xz(prefix k-1) (`--no-prefixes` skips these xz runs).
//
// `--verify RELEASE` (and `RELEASE/MODULE`) reads that kernel (module) back from the
// serialized sections alone, builds its BTF with kcompat's BtfBuilder in the original id
// order, and compares `bpftool btf dump file X format raw` of the original and the rebuilt
// BTF (with `-B vmlinux` for a module): names, kinds, ids and every field, i.e. lossless up
// to the string table's layout. Skipped with a printed reason when bpftool is absent.
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readKernelBtf} from '../dist/archive/archive.js'
import {readManifest} from '../dist/archive/manifest.js'
import {readModuleBtfs} from '../dist/archive/modules.js'
import {parseBtf} from '../dist/btf/decode.js'
import {BtfBuilder} from '../dist/btf/encode.js'
import {forEachTypeRef} from '../dist/btf/types.js'
import {Kind} from '../dist/btf/wire.js'

// ---------------------------------------------------------------------------------------
// Arguments.
// ---------------------------------------------------------------------------------------
const args = process.argv.slice(2)
let root = join(import.meta.dirname, '..', 'archive')
let cut = 'nominal'
let withModules = true
let prefixes = true
let outFile
const verify = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--cut') cut = args[++i]
  else if (a === '--no-modules') withModules = false
  else if (a === '--no-prefixes') prefixes = false
  else if (a === '--verify') verify.push(args[++i])
  else if (a === '--out') outFile = args[++i]
  else if (a.startsWith('--')) throw new Error(`unknown flag ${a}`)
  else root = a
}
if (cut !== 'pointer' && cut !== 'nominal') throw new Error('--cut is pointer or nominal')

// ---------------------------------------------------------------------------------------
// A growable byte buffer of LEB128 varints.
// ---------------------------------------------------------------------------------------
class W {
  constructor(cap = 1 << 16) {
    this.b = new Uint8Array(cap)
    this.n = 0
  }
  room(k) {
    if (this.n + k <= this.b.length) return
    let c = this.b.length * 2
    while (c < this.n + k) c *= 2
    const nb = new Uint8Array(c)
    nb.set(this.b.subarray(0, this.n))
    this.b = nb
  }
  byte(v) {
    this.room(1)
    this.b[this.n++] = v
  }
  /** Unsigned, up to 2^53. */
  u(v) {
    this.room(8)
    while (v >= 0x80) {
      this.b[this.n++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.b[this.n++] = v
  }
  /** Signed (zigzag). */
  s(v) {
    this.u(v >= 0 ? v * 2 : -v * 2 - 1)
  }
  /** Signed 64-bit bigint (zigzag). */
  big(v) {
    let z = v >= 0n ? v * 2n : -v * 2n - 1n
    this.room(10)
    while (z >= 0x80n) {
      this.b[this.n++] = Number(z & 0x7fn) | 0x80
      z >>= 7n
    }
    this.b[this.n++] = Number(z)
  }
  str(s) {
    const e = Buffer.from(s, 'utf8')
    this.room(e.length + 1)
    this.b.set(e, this.n)
    this.n += e.length
    this.b[this.n++] = 0
  }
  bytes() {
    return this.b.subarray(0, this.n)
  }
}

/** Reader of the same varints. */
class R {
  constructor(b, p = 0) {
    this.b = b
    this.p = p
  }
  u() {
    let v = 0
    let m = 1
    for (;;) {
      const x = this.b[this.p++]
      v += (x & 0x7f) * m
      if (x < 0x80) return v
      m *= 0x80
    }
  }
  s() {
    const z = this.u()
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2
  }
  big() {
    let z = 0n
    let sh = 0n
    for (;;) {
      const x = this.b[this.p++]
      z |= BigInt(x & 0x7f) << sh
      if (x < 0x80) break
      sh += 7n
    }
    return z % 2n === 0n ? z / 2n : -(z + 1n) / 2n
  }
}

// ---------------------------------------------------------------------------------------
// The store being built.
// ---------------------------------------------------------------------------------------
const strings = new W()
const stringIdx = new Map([['', 0]])
strings.str('')
function str(s) {
  let i = stringIdx.get(s)
  if (i === undefined) {
    i = stringIdx.size
    stringIdx.set(s, i)
    strings.str(s)
  }
  return i
}

const keys = new W()
const keyIdx = new Map()
const keyStrs = []
const CYCLE = 255 // chain marker of a key made to break a residual cycle
const keyString = (chain, kind, kindFlag, name) => `${chain.join(',')}|${kind}|${kindFlag ? 1 : 0}|${name}`
/** Interns a name-reference key (chain of modifier kinds, target kind, kind_flag, name). */
function key(chain, kind, kindFlag, name) {
  const k = keyString(chain, kind, kindFlag, name)
  let i = keyIdx.get(k)
  if (i === undefined) {
    i = keyIdx.size
    keyIdx.set(k, i)
    keyStrs.push(k)
    keys.u(chain.length)
    for (const c of chain) keys.u(c)
    keys.u(kind)
    keys.u(kindFlag ? 1 : 0)
    keys.u(str(name))
  }
  return i
}

const records = new W(1 << 22)
const recordIdx = new Map() // identity -> record index
let recordCount = 0
const lists = new W(1 << 20)

const ident = new W(1 << 12) // scratch: identity bytes (absolute references)
const enc = new W(1 << 12) // scratch: store bytes (delta references)

const isModifier = (k) => k === Kind.CONST || k === Kind.VOLATILE || k === Kind.RESTRICT || k === Kind.TYPE_TAG
const POINTEE_KINDS = new Set([Kind.STRUCT, Kind.UNION, Kind.FWD, Kind.TYPEDEF])
const NOMINAL_KINDS = new Set([Kind.STRUCT, Kind.UNION, Kind.FWD, Kind.TYPEDEF, Kind.ENUM, Kind.ENUM64])

/** Target ids of a type's references, in wire order (the library's forEachTypeRef). */
function refsOf(t) {
  const out = []
  forEachTypeRef(t, (id) => out.push(id))
  return out
}

/**
 * What a name reference to `target` would name: {chain, t} (the modifier kinds walked
 * through and the named type reached), or undefined when `target` cannot be named.
 */
function nameable(target, typeOf) {
  if (target === 0) return undefined
  const chain = []
  let t = typeOf(target)
  if (cut === 'pointer') {
    while (isModifier(t.kind) && t.type !== 0 && chain.length < 8) {
      chain.push(t.kind)
      t = typeOf(t.type)
    }
    if (!POINTEE_KINDS.has(t.kind) || t.name === '') return undefined
  } else if (!NOMINAL_KINDS.has(t.kind) || t.name === '') return undefined
  return {chain, t}
}

/**
 * The key index a reference from a type of kind `srcKind` to `target` is cut into, or
 * undefined when it is an ordinary (record) reference. `typeOf(id)` gives any id's type.
 */
function cutKey(srcKind, target, typeOf) {
  if (cut === 'pointer' && srcKind !== Kind.PTR) return undefined
  const n = nameable(target, typeOf)
  return n && key(n.chain, n.t.kind, n.t.kindFlag, n.t.name)
}

/** The key string type `id` answers to, without interning it. */
function keyOfType(id, typeOf) {
  const n = nameable(id, typeOf)
  return n && keyString(n.chain, n.t.kind, n.t.kindFlag, n.t.name)
}

/** Writes a record's own fields (not its references) into `w`. */
function writeFields(w, t, name) {
  w.u(t.kind)
  w.u((t.kindFlag ? 1 : 0) | ((t.linkage ?? 0) << 1))
  w.u(name)
  switch (t.kind) {
    case Kind.INT:
      w.u(t.size)
      w.u(t.encoding)
      w.u(t.bitOffset)
      w.u(t.bits)
      break
    case Kind.ARRAY:
      w.u(t.nelems)
      break
    case Kind.STRUCT:
    case Kind.UNION: {
      w.u(t.size)
      w.u(t.members.length)
      let prev = 0
      for (const m of t.members) {
        w.u(str(m.name))
        w.s(m.bitOffset - prev)
        prev = m.bitOffset
        if (t.kindFlag) w.u(m.bitfieldSize)
      }
      break
    }
    case Kind.ENUM:
      w.u(t.size)
      w.u(t.values.length)
      for (const v of t.values) {
        w.u(str(v.name))
        w.s(v.value)
      }
      break
    case Kind.ENUM64:
      w.u(t.size)
      w.u(t.values.length)
      for (const v of t.values) {
        w.u(str(v.name))
        w.big(v.value)
      }
      break
    case Kind.FUNC_PROTO:
      w.u(t.params.length)
      for (const p of t.params) w.u(str(p.name))
      break
    case Kind.DATASEC:
      w.u(t.size)
      w.u(t.vars.length)
      for (const v of t.vars) {
        w.u(v.offset)
        w.u(v.size)
      }
      break
    case Kind.FLOAT:
      w.u(t.size)
      break
    case Kind.DECL_TAG:
      w.u(t.componentIdx + 1)
      break
    default:
  }
}

/**
 * Adds one BTF's own types to the store. `base` (split BTF) is {btf, rec, scope} of its
 * vmlinux. Returns {rec: Int32Array of each own type's record, exceptions: [[id, slot,
 * target]…], residual}. The walk is an iterative post-order DFS over record references
 * (name references are not followed), ids ascending.
 */
function addBtf(btf, base) {
  const start = btf.startId
  const last = btf.lastId
  const own = last - start + 1
  const rec = new Int32Array(own).fill(-1) // -1: not yet, -2: on the DFS stack
  const typeOf = (id) => btf.typeById(id)
  const recOf = (id) => (id === 0 ? -1 : id < start ? base.rec[id - 1] : rec[id - start])
  const refKinds = new Array(own) // per own type: per slot, key index or -1 (record ref)
  let residual = 0
  for (let root = start; root <= last; root++) {
    if (rec[root - start] !== -1) continue
    const stack = [root]
    while (stack.length) {
      const id = stack[stack.length - 1]
      const i = id - start
      const t = btf.typeById(id)
      if (rec[i] === -1) {
        // first visit: classify the edges, push the unbuilt children
        rec[i] = -2
        const refs = refsOf(t)
        const ks = refs.map((r) => cutKey(t.kind, r, typeOf) ?? -1)
        refKinds[i] = ks
        for (let s = refs.length - 1; s >= 0; s--) {
          const r = refs[s]
          if (ks[s] !== -1 || r < start) continue
          if (rec[r - start] === -1) stack.push(r)
          else if (rec[r - start] === -2 && r !== id) {
            // a cycle through record references: cut it by the target's kind and name
            const tt = typeOf(r)
            ks[s] = key([CYCLE], tt.kind, tt.kindFlag, tt.name)
            residual++
          }
        }
        continue
      }
      stack.pop()
      if (rec[i] !== -2) continue // built through another path already
      const refs = refsOf(t)
      const ks = refKinds[i]
      // a child still on the stack here means it was pushed twice; build it first
      let pending = false
      for (let s = 0; s < refs.length; s++) {
        if (ks[s] === -1 && refs[s] >= start && rec[refs[s] - start] < 0 && refs[s] !== id) {
          if (rec[refs[s] - start] === -2) {
            const tt = typeOf(refs[s])
            ks[s] = key([CYCLE], tt.kind, tt.kindFlag, tt.name)
            residual++
          } else pending = true
        }
      }
      if (pending) throw new Error(`internal: type ${id} built before its children`)
      const name = str(t.name)
      ident.n = 0
      enc.n = 0
      writeFields(ident, t, name)
      const fieldsLen = ident.n
      const self = recordCount // the index this record gets if it is new
      for (let s = 0; s < refs.length; s++) {
        if (ks[s] !== -1) {
          ident.u(2 + 2 * ks[s])
        } else if (refs[s] === 0) {
          ident.u(0)
        } else {
          ident.u(1 + 2 * recOf(refs[s]))
        }
      }
      const ib = ident.bytes()
      const idk = ib.length <= 48 ? Buffer.from(ib).toString('latin1') : createHash('sha1').update(ib).digest('latin1')
      let r = recordIdx.get(idk)
      if (r === undefined) {
        r = self
        recordIdx.set(idk, r)
        recordCount++
        records.room(fieldsLen)
        records.b.set(ib.subarray(0, fieldsLen), records.n)
        records.n += fieldsLen
        for (let s = 0; s < refs.length; s++) {
          if (ks[s] !== -1) records.u(2 + 2 * ks[s])
          else if (refs[s] === 0) records.u(0)
          else {
            const d = self - recOf(refs[s])
            records.u(1 + 2 * (d >= 0 ? d * 2 : -d * 2 - 1))
          }
        }
      }
      rec[i] = r
    }
  }
  // Exceptions: a reference whose target is not the lowest id in scope with its record
  // (record references) or its key (name references).
  // (the base's ids are all lower than the module's own: look there first)
  const lowRec = new Map()
  const lowKey = new Map()
  for (let id = start; id <= last; id++) {
    const r = rec[id - start]
    if (!lowRec.has(r)) lowRec.set(r, id)
    const k = keyOfType(id, typeOf)
    if (k !== undefined && !lowKey.has(k)) lowKey.set(k, id)
  }
  const exceptions = []
  for (let id = start; id <= last; id++) {
    const t = btf.typeById(id)
    const refs = refsOf(t)
    const ks = refKinds[id - start]
    for (let s = 0; s < refs.length; s++) {
      const target = refs[s]
      if (target === 0) continue
      const implicit =
        ks[s] !== -1
          ? (base?.lowKey.get(keyStrs[ks[s]]) ?? lowKey.get(keyStrs[ks[s]]))
          : (base?.lowRec.get(recOf(target)) ?? lowRec.get(recOf(target)))
      if (implicit !== target) exceptions.push([id, s, target])
    }
  }
  return {rec, exceptions, residual, lowRec, lowKey}
}

/** Appends a BTF's list (record indexes, delta-coded, and exceptions) to `lists`. */
function writeList(rec, exceptions, start) {
  lists.u(rec.length)
  let prev = -1
  for (const r of rec) {
    lists.s(r - prev - 1)
    prev = r
  }
  lists.u(exceptions.length)
  let prevId = start
  for (const [id, slot, target] of exceptions) {
    lists.u(id - prevId)
    prevId = id
    lists.u(slot)
    lists.u(target)
  }
}

// ---------------------------------------------------------------------------------------
// The units, in a fixed order: by arch (x86_64, arm64, then the rest), series, flavor.
// ---------------------------------------------------------------------------------------
const manifest = readManifest(root)
const archOrder = ['x86_64', 'arm64', 'i686', 'ppc64le', 's390x']
const flavorOrder = ['generic', 'cloud', 'rt']
const series = (k) => k.release.split('.').slice(0, 2).join('.')
const kernels = manifest.kernels
  .filter((k) => k.path)
  .sort(
    (a, b) =>
      (archOrder.indexOf(a.arch) + 99) % 99 - (archOrder.indexOf(b.arch) + 99) % 99 ||
      a.arch.localeCompare(b.arch) ||
      series(a).localeCompare(series(b), undefined, {numeric: true}) ||
      (flavorOrder.indexOf(a.flavor) + 99) % 99 - (flavorOrder.indexOf(b.flavor) + 99) % 99 ||
      a.release.localeCompare(b.release),
  )

const marks = [] // after each unit: section lengths
const units = [] // {what, kernel, types, unique, raw, exceptions}
const mark = () => ({strings: strings.n, keys: keys.n, records: records.n, lists: lists.n, recordCount})
const bases = new Map()
let totalResidual = 0
const t0 = Date.now()
const log = (s) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s ${s}\n`)

for (const k of kernels) {
  const raw = await readKernelBtf(root, k)
  const btf = parseBtf(raw)
  const before = recordCount
  const {rec, exceptions, residual, lowRec, lowKey} = addBtf(btf)
  totalResidual += residual
  lists.byte(btf.littleEndian ? 1 : 0)
  writeList(rec, exceptions, 1)
  bases.set(k, {rec, lowRec: withModules && k.modules?.path ? lowRec : undefined, lowKey: withModules && k.modules?.path ? lowKey : undefined})
  units.push({what: 'vmlinux', kernel: k, types: rec.length, unique: recordCount - before, raw: raw.length, exceptions: exceptions.length})
  marks.push(mark())
  log(`${k.release} ${k.arch}: ${rec.length} types, ${recordCount - before} new records, ${exceptions.length} exceptions`)
}
if (withModules) {
  for (const k of kernels) {
    if (!k.modules?.path) continue
    const rawBase = await readKernelBtf(root, k)
    const baseBtf = parseBtf(rawBase)
    const b = bases.get(k)
    const base = {btf: baseBtf, rec: b.rec, lowRec: b.lowRec, lowKey: b.lowKey}
    const mods = await readModuleBtfs(root, k)
    const before = recordCount
    let types = 0
    let raw = 0
    let exc = 0
    lists.u(mods.size)
    for (const [name, bytes] of mods) {
      const btf = parseBtf(bytes, {base: baseBtf})
      const {rec, exceptions, residual} = addBtf(btf, base)
      totalResidual += residual
      lists.u(str(name))
      writeList(rec, exceptions, btf.startId)
      types += rec.length
      raw += bytes.length
      exc += exceptions.length
    }
    b.lowRec = b.lowKey = undefined
    units.push({what: 'modules', kernel: k, types, unique: recordCount - before, raw, exceptions: exc, count: mods.size})
    marks.push(mark())
    log(`${k.release} ${k.arch} modules: ${mods.size} modules, ${types} types, ${recordCount - before} new records, ${exc} exceptions`)
  }
}

// ---------------------------------------------------------------------------------------
// Sizes.
// ---------------------------------------------------------------------------------------
function xz(parts) {
  const r = spawnSync('xz', ['-9', '-T1', '--check=crc64', '-c'], {input: Buffer.concat(parts), maxBuffer: 1 << 30})
  if (r.error || r.status !== 0) throw new Error(`xz failed: ${r.error?.message ?? r.stderr}`)
  return r.stdout.length
}
const prefix = (m) => [strings.b.subarray(0, m.strings), keys.b.subarray(0, m.keys), records.b.subarray(0, m.records), lists.b.subarray(0, m.lists)]
const slice = (a, b) => [strings.b.subarray(a.strings, b.strings), keys.b.subarray(a.keys, b.keys), records.b.subarray(a.records, b.records), lists.b.subarray(a.lists, b.lists)]
const zero = {strings: 0, keys: 0, records: 0, lists: 0, recordCount: 0}
const mb = (n) => (n / 1e6).toFixed(2)
const pct = (a, b) => `${((100 * a) / b).toFixed(1)}%`
const fileSize = (p) => statSync(join(root, p)).size

const nv = units.filter((u) => u.what === 'vmlinux').length
const vmEnd = marks[nv - 1]
const allEnd = marks[marks.length - 1]
const sets = [['(b) vmlinux', zero, vmEnd, units.slice(0, nv)]]
if (withModules && marks.length > nv) {
  sets.unshift(['(a) modules (their own sections)', vmEnd, allEnd, units.slice(nv)])
  sets.push(['(c) vmlinux + modules', zero, allEnd, units])
}
console.log(`# Deduplicated BTF store, cut rule "${cut}" (${root})\n`)
console.log('| set | kernels | types | unique records | raw BTF MB | today .tar.xz MB | store raw MB | store xz MB | exceptions |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
const summary = {}
for (const [label, a, b, us] of sets) {
  const parts = slice(a, b)
  const rawStore = parts.reduce((n, p) => n + p.length, 0)
  const x = xz(parts)
  const types = us.reduce((n, u) => n + u.types, 0)
  const today = us.reduce((n, u) => n + fileSize(u.what === 'vmlinux' ? u.kernel.path : u.kernel.modules.path), 0)
  const rawBtf = us.reduce((n, u) => n + u.raw, 0)
  const exc = us.reduce((n, u) => n + u.exceptions, 0)
  summary[label] = {x, today}
  console.log(`| ${label} | ${new Set(us.map((u) => u.kernel)).size} | ${types} | ${b.recordCount - a.recordCount} (${pct(b.recordCount - a.recordCount, types)}) | ${mb(rawBtf)} | ${mb(today)} | ${mb(rawStore)} | ${mb(x)} | ${exc} |`)
}
console.log(`\nSections of the whole store (raw / xz -9 alone): ` + ['strings', 'keys', 'records', 'lists'].map((s, i) => `${s} ${mb(prefix(allEnd)[i].length)} / ${mb(xz([prefix(allEnd)[i]]))}`).join(', ') + ` MB. Residual cycles: ${totalResidual}.`)

if (prefixes) {
  console.log('\nCost of each unit added in this order (xz of the store up to it minus xz of the store before it):\n')
  console.log('| # | unit | arch | types | new records | raw MB | today .tar.xz MB | store xz MB | added MB |')
  console.log('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  let prev = 0
  for (let i = 0; i < units.length; i++) {
    const u = units[i]
    const x = xz(prefix(marks[i]))
    log(`prefix ${i + 1}/${units.length}: ${mb(x)} MB`)
    const today = fileSize(u.what === 'vmlinux' ? u.kernel.path : u.kernel.modules.path)
    console.log(`| ${i + 1} | ${u.kernel.release}${u.what === 'modules' ? ` modules (${u.count})` : ''} | ${u.kernel.arch} | ${u.types} | ${u.unique} | ${mb(u.raw)} | ${mb(today)} | ${mb(x)} | ${mb(x - prev)} |`)
    prev = x
  }
}

if (outFile) {
  writeFileSync(outFile, Buffer.concat(prefix(allEnd)))
  log(`wrote ${outFile}`)
}

// ---------------------------------------------------------------------------------------
// Verification: rebuild from the serialized sections alone and compare with bpftool.
// ---------------------------------------------------------------------------------------
if (verify.length) {
  const bpftool = spawnSync('bpftool', ['version'])
  if (bpftool.error) console.log(`\nverify skipped: bpftool not found (${bpftool.error.message})`)
  else {
    const S = prefix(allEnd)
    const store = readStore(S)
    const dir = mkdtempSync(join(tmpdir(), 'btf-pack-'))
    try {
      console.log('')
      for (const v of verify) console.log(await verifyOne(store, v, dir))
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }
}

/** Parses the four sections back: strings, keys, record offsets, and the units' lists. */
function readStore([sb, kb, rb, lb]) {
  const strs = Buffer.from(sb).toString('utf8').split('\0').slice(0, -1)
  const ks = []
  for (const r = new R(kb); r.p < kb.length; ) {
    const n = r.u()
    const chain = []
    for (let i = 0; i < n; i++) chain.push(r.u())
    ks.push({chain, kind: r.u(), kindFlag: r.u() === 1, name: strs[r.u()]})
  }
  const offs = []
  for (const r = new R(rb); r.p < rb.length; ) {
    offs.push(r.p)
    readRecord(r, strs, offs.length - 1)
  }
  // the lists, unit by unit, in the order written
  const lr = new R(lb)
  const readList = () => {
    const n = lr.u()
    const rec = new Int32Array(n)
    let prev = -1
    for (let i = 0; i < n; i++) rec[i] = prev = prev + 1 + lr.s()
    const e = lr.u()
    const exc = new Map()
    let id = 0
    for (let i = 0; i < e; i++) {
      id += lr.u()
      exc.set(`${id}/${lr.u()}`, lr.u())
    }
    return {rec, exc}
  }
  const out = {strs, ks, offs, rb, vmlinux: [], modules: []}
  for (const u of units) {
    if (u.what === 'vmlinux') {
      const le = lb[lr.p++] === 1
      const l = readList()
      // exception ids of a vmlinux list count from 1
      out.vmlinux.push({kernel: u.kernel, le, ...fixIds(l, 1)})
    } else {
      const n = lr.u()
      const mods = new Map()
      for (let i = 0; i < n; i++) {
        const name = strs[lr.u()]
        mods.set(name, readList())
      }
      out.modules.push({kernel: u.kernel, mods})
    }
  }
  return out
}
/** Exception ids are written relative to the BTF's start id: make them absolute. */
function fixIds(l, start) {
  const exc = new Map()
  for (const [k, v] of l.exc) {
    const [id, slot] = k.split('/').map(Number)
    exc.set(`${id + start}/${slot}`, v)
  }
  return {rec: l.rec, exc}
}

/** Decodes record `index` at r.p: its type (references as {rec} / {key} / 0) and fields. */
function readRecord(r, strs, index) {
  const kind = r.u()
  const fl = r.u()
  const t = {kind, kindFlag: (fl & 1) === 1, name: strs[r.u()], nameOff: 0}
  const linkage = fl >> 1
  let nrefs = 0
  switch (kind) {
    case Kind.INT:
      Object.assign(t, {size: r.u(), encoding: r.u(), bitOffset: r.u(), bits: r.u()})
      break
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
      nrefs = 1
      break
    case Kind.FUNC:
    case Kind.VAR:
      t.linkage = linkage
      nrefs = 1
      break
    case Kind.ARRAY:
      t.nelems = r.u()
      nrefs = 2
      break
    case Kind.STRUCT:
    case Kind.UNION: {
      t.size = r.u()
      const n = r.u()
      t.members = []
      let prev = 0
      for (let i = 0; i < n; i++) {
        const name = strs[r.u()]
        prev += r.s()
        t.members.push({name, nameOff: 0, type: 0, bitOffset: prev, bitfieldSize: t.kindFlag ? r.u() : 0})
      }
      nrefs = n
      break
    }
    case Kind.ENUM:
    case Kind.ENUM64: {
      t.size = r.u()
      const n = r.u()
      t.values = []
      for (let i = 0; i < n; i++) t.values.push({name: strs[r.u()], nameOff: 0, value: kind === Kind.ENUM ? r.s() : r.big()})
      break
    }
    case Kind.FUNC_PROTO: {
      const n = r.u()
      t.params = []
      for (let i = 0; i < n; i++) t.params.push({name: strs[r.u()], nameOff: 0, type: 0})
      nrefs = n + 1
      break
    }
    case Kind.DATASEC: {
      t.size = r.u()
      const n = r.u()
      t.vars = []
      for (let i = 0; i < n; i++) t.vars.push({type: 0, offset: r.u(), size: r.u()})
      nrefs = n
      break
    }
    case Kind.FLOAT:
      t.size = r.u()
      break
    case Kind.DECL_TAG:
      t.componentIdx = r.u() - 1
      nrefs = 1
      break
    case Kind.FWD:
      break
    default:
      throw new Error(`record ${index}: bad kind ${kind}`)
  }
  const refs = []
  for (let i = 0; i < nrefs; i++) {
    const v = r.u()
    if (v === 0) refs.push(0)
    else if (v % 2 === 1) {
      const z = (v - 1) / 2
      refs.push({rec: index - (z % 2 === 0 ? z / 2 : -(z + 1) / 2)})
    } else refs.push({key: (v - 2) / 2})
  }
  return {t, refs}
}

/** Sets a decoded type's references (ids, wire order). */
function setRefs(t, ids) {
  switch (t.kind) {
    case Kind.ARRAY:
      t.type = ids[0]
      t.indexType = ids[1]
      break
    case Kind.STRUCT:
    case Kind.UNION:
      t.members.forEach((m, i) => (m.type = ids[i]))
      break
    case Kind.FUNC_PROTO:
      t.returnType = ids[0]
      t.params.forEach((p, i) => (p.type = ids[i + 1]))
      break
    case Kind.DATASEC:
      t.vars.forEach((v, i) => (v.type = ids[i]))
      break
    default:
      if (ids.length) t.type = ids[0]
  }
}

/**
 * Rebuilds one BTF from its list: record -> type, each reference resolved to the lowest id
 * in scope with that record (or key) unless the list has an exception for it. `scope` is
 * {recOfId, lowRec, lowKey} of the base for split BTF.
 */
function rebuild(store, list, start, base) {
  const rec = (i) => store.offs[i]
  const dec = (i) => readRecord(new R(store.rb, rec(i)), store.strs, i)
  const n = list.rec.length
  const decoded = new Array(n)
  for (let i = 0; i < n; i++) decoded[i] = dec(list.rec[i])
  const lowRec = new Map()
  for (let i = 0; i < n; i++) if (!lowRec.has(list.rec[i])) lowRec.set(list.rec[i], start + i)
  // keys of the rebuilt types, from the records alone (modifier chains follow record refs)
  const recKind = (ri) => dec(ri)
  const keyOfRecord = (ri) => {
    let d = recKind(ri)
    const chain = []
    if (cut === 'pointer') {
      while (isModifier(d.t.kind) && d.refs[0] !== 0 && chain.length < 8) {
        chain.push(d.t.kind)
        if (d.refs[0].key !== undefined) return undefined // a modifier's reference is never cut
        d = recKind(d.refs[0].rec)
      }
      if (!POINTEE_KINDS.has(d.t.kind) || d.t.name === '') return undefined
    } else if (!NOMINAL_KINDS.has(d.t.kind) || d.t.name === '') return undefined
    return keyString(chain, d.t.kind, d.t.kindFlag, d.t.name)
  }
  const lowKey = new Map()
  for (let i = 0; i < n; i++) {
    const k = keyOfRecord(list.rec[i])
    if (k !== undefined && !lowKey.has(k)) lowKey.set(k, start + i)
  }
  const types = []
  for (let i = 0; i < n; i++) {
    const {t, refs} = decoded[i]
    const id = start + i
    const ids = refs.map((ref, s) => {
      const e = list.exc.get(`${id}/${s}`)
      if (e !== undefined) return e
      if (ref === 0) return 0
      if (ref.key !== undefined) {
        const k = store.ks[ref.key]
        const ks = keyString(k.chain, k.kind, k.kindFlag, k.name)
        return base?.lowKey.get(ks) ?? lowKey.get(ks)
      }
      return base?.lowRec.get(ref.rec) ?? lowRec.get(ref.rec)
    })
    setRefs(t, ids)
    types.push(t)
  }
  return {types, lowRec, lowKey}
}

/** Rebuilds `RELEASE` or `RELEASE/MODULE` from the store, dumps both with bpftool, compares. */
async function verifyOne(store, what, dir) {
  const [release, module] = what.split('/')
  const vi = store.vmlinux.findIndex((v) => v.kernel.release === release)
  if (vi < 0) return `verify ${what}: no such kernel in the store`
  const v = store.vmlinux[vi]
  const origVm = await readKernelBtf(root, v.kernel)
  const vm = rebuild(store, v, 1)
  const b = new BtfBuilder()
  for (const t of vm.types) b.add(t)
  const files = {orig: join(dir, 'orig.btf'), rebuilt: join(dir, 'rebuilt.btf'), base: join(dir, 'base.btf')}
  let dumpArgs = []
  if (module === undefined) {
    writeFileSync(files.orig, origVm)
    writeFileSync(files.rebuilt, b.encode({littleEndian: v.le}))
  } else {
    const m = store.modules.find((x) => x.kernel.release === release)
    const list = m?.mods.get(module)
    if (!list) return `verify ${what}: no such module in the store`
    const start = vm.types.length + 1
    const baseBtf = parseBtf(origVm)
    const mod = rebuild(store, fixIds(list, start), start, vm)
    const mb2 = new BtfBuilder({base: baseBtf})
    for (const t of mod.types) mb2.add(t)
    writeFileSync(files.base, origVm)
    writeFileSync(files.orig, (await readModuleBtfs(root, v.kernel)).get(module))
    writeFileSync(files.rebuilt, mb2.encode({littleEndian: v.le}))
    dumpArgs = ['-B', files.base]
  }
  const dump = (f) => {
    const r = spawnSync('bpftool', [...dumpArgs, 'btf', 'dump', 'file', f, 'format', 'raw'], {maxBuffer: 1 << 30, encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`bpftool failed on ${what}: ${r.stderr}`)
    return r.stdout
  }
  const a = dump(files.orig)
  const c = dump(files.rebuilt)
  const lines = a.split('\n').length - 1
  if (a === c) return `verify ${what}: bpftool raw dumps of the original and the rebuilt BTF are identical (${lines} lines, sha256 ${createHash('sha256').update(a).digest('hex').slice(0, 16)})`
  const al = a.split('\n')
  const cl = c.split('\n')
  let i = 0
  while (al[i] === cl[i]) i++
  process.exitCode = 1
  return `verify ${what}: DIFFERENT at line ${i + 1}:\n  original: ${al[i]}\n  rebuilt:  ${cl[i]}`
}
