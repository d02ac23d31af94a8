/**
 * Test support for the index: a temporary archive made of the committed real kernel
 * fixtures (plus one kernel without BTF), and expected answers computed independently of
 * kcompat's own BTF decoder and renderer, from bpftool's raw dump text.
 */
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {addKernel} from '../../src/archive/archive.js'
import {debianFlavor} from '../../src/archive/layout.js'
import type {ConfigFacts, KernelEntry} from '../../src/archive/manifest.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {findTool, run} from '../helpers/tools.js'

export interface FixtureKernel {
  release: string
  distro: string
  version: string
  arch: string
  flavor: string
  /** `<distro>/<version>/<arch>/<release>` */
  key: string
  /** Decompressed raw BTF, for bpftool. */
  path: string
  btf: Buffer
}

/** The kernel without BTF that every test archive also holds (Debian 10's kernels had none). */
export const NO_BTF = {
  release: '4.19.0-27-cloud-amd64',
  distro: 'debian',
  version: '10',
  arch: 'x86_64',
  flavor: 'cloud',
  key: 'debian/10/x86_64/4.19.0-27-cloud-amd64',
} as const

const CONFIG_KEYS = ['CONFIG_DEBUG_INFO_BTF', 'CONFIG_BPF_SYSCALL', 'CONFIG_BPF_JIT', 'CONFIG_BPF_LSM', 'CONFIG_FPROBE']

/** A few config facts read from the committed `<release>.config.xz`. */
export function configFacts(release: string): ConfigFacts | null {
  const file = join(FIXTURES, 'kernels', `${release}.config.xz`)
  if (!existsSync(file)) return null
  const text = decompressSync(readFileSync(file)).toString('utf8')
  const facts: ConfigFacts = {}
  for (const k of CONFIG_KEYS) {
    const m = new RegExp(`^${k}=(.*)$`, 'm').exec(text)
    facts[k] = m ? m[1]! : null
  }
  return facts
}

/** The committed kernel fixtures with the identity the test archive gives them. */
export function fixtureKernels(): FixtureKernel[] {
  return kernelFixtures().map((k) => {
    const arch = k.release.endsWith('-arm64') ? 'arm64' : 'x86_64'
    return {
      release: k.release,
      distro: 'debian',
      version: '12',
      arch,
      flavor: debianFlavor(k.release),
      key: `debian/12/${arch}/${k.release}`,
      path: k.path,
      btf: k.btf,
    }
  })
}

/** Adds one fixture kernel (or, with `btf` given, other BTF under its identity). */
export async function addFixtureKernel(root: string, k: FixtureKernel, btf: Uint8Array = k.btf, config = configFacts(k.release)): Promise<void> {
  await addKernel(
    root,
    {
      release: k.release,
      distro: k.distro,
      version: k.version,
      arch: k.arch,
      flavor: k.flavor,
      btf: 'in-kernel',
      config,
      source: {method: 'kernel-image', package: `linux-image-${k.release}`},
      added: '2026-01-01',
    },
    btf,
  )
}

export async function addNoBtfKernel(root: string): Promise<void> {
  await addKernel(
    root,
    {
      release: NO_BTF.release,
      distro: NO_BTF.distro,
      version: NO_BTF.version,
      arch: NO_BTF.arch,
      flavor: NO_BTF.flavor,
      btf: 'none',
      config: {CONFIG_DEBUG_INFO_BTF: null},
      source: {method: 'kernel-image', package: `linux-image-${NO_BTF.release}`},
      added: '2026-01-01',
    },
    undefined,
  )
}

let cached: string | undefined

/**
 * An archive holding every fixture kernel and the kernel without BTF. Built once per
 * fixture set (xz -9 takes a few seconds per kernel) into the temp directory and shared;
 * callers must not modify it: {@link copyArchive} first.
 */
export async function fixtureArchive(): Promise<string> {
  if (cached) return cached
  const kernels = fixtureKernels()
  const id = createHash('sha256')
  id.update('kcompat-index-fixture-v1')
  for (const k of kernels) id.update(`${k.release}:${createHash('sha256').update(k.btf).digest('hex')}`)
  const dir = join(tmpdir(), `kcompat-index-fixture-${id.digest('hex').slice(0, 16)}`)
  if (!existsSync(join(dir, 'manifest.json'))) {
    const work = mkdtempSync(join(tmpdir(), 'kcompat-index-build-'))
    for (const k of kernels) await addFixtureKernel(work, k)
    await addNoBtfKernel(work)
    try {
      renameSync(work, dir)
    } catch {
      rmSync(work, {recursive: true, force: true}) // another test process won the race
    }
  }
  cached = dir
  return dir
}

/** A private, modifiable copy of an archive. */
export function copyArchive(root: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kcompat-index-copy-'))
  cpSync(root, dir, {recursive: true, filter: (src) => !src.includes('index.sqlite')})
  return dir
}

export function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'kcompat-index-db-')), 'index.sqlite')
}

/** Total size of the archive's tarballs. */
export function tarballBytes(root: string, entries: readonly KernelEntry[]): number {
  return entries.filter((e) => e.path).reduce((n, e) => n + statSync(join(root, e.path!)).size, 0)
}

export const haveBpftool = (): boolean => findTool('bpftool') !== undefined

// ---------------------------------------------------------------------------------
// bpftool's raw dump, parsed, and C type names rendered from it (independently of
// src/btf and src/store).

export interface RawMember {
  name: string
  type: number
  bitsOffset: number
  bitfieldSize: number
}

export interface RawType {
  id: number
  kind: string
  name: string
  /** type_id=, or ret_type_id= for FUNC_PROTO */
  type: number
  size: number
  nelems: number
  fwdUnion: boolean
  members: RawMember[]
  params: {name: string; type: number}[]
  values: {name: string; value: string}[]
}

const rawMemo = new Map<string, Map<number, RawType>>()

/** `bpftool btf dump file PATH format raw`, parsed: id → type. */
export function rawDump(path: string): Map<number, RawType> {
  const hit = rawMemo.get(path)
  if (hit) return hit
  const text = run('bpftool', ['btf', 'dump', 'file', path, 'format', 'raw']).toString('utf8')
  const types = new Map<number, RawType>()
  let cur: RawType | undefined
  const field = (s: string, k: string): number => {
    const m = new RegExp(`(?:^| )${k}=(\\d+)`).exec(s)
    return m ? Number(m[1]) : 0
  }
  for (const line of text.split('\n')) {
    if (line.startsWith('[')) {
      const m = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line)
      if (!m) throw new Error(`unparsed bpftool line: ${line}`)
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
  rawMemo.set(path, types)
  return types
}

const QUALS: Record<string, string> = {CONST: 'const', VOLATILE: 'volatile', RESTRICT: 'restrict'}

/**
 * The C declaration of `name` with type `id` (abstract when name is ''), written from
 * the C declarator rules with libbpf's spacing (as in bpftool's vmlinux.h): qualifiers
 * of the base type in front, innermost first; `*` binds right but is followed by a space
 * before a qualifier or `(`; pointers to arrays/functions in parentheses; `T[N]` without
 * a space; qualifiers of arrays and functions dropped.
 */
export function rawDecl(types: Map<number, RawType>, id: number, name: string): string {
  let decl = name
  let quals: string[] = []
  let t = types.get(id)
  for (let guard = 0; guard < 100; guard++) {
    if (id === 0 || !t) return finish(quals, 'void', decl)
    const next = (): RawType | undefined => types.get(t!.type)
    switch (t.kind) {
      case 'INT':
      case 'FLOAT':
      case 'TYPEDEF':
        return finish(quals, t.name, decl)
      case 'STRUCT':
      case 'UNION':
      case 'ENUM':
      case 'ENUM64': {
        const tag = t.kind === 'ENUM64' ? 'enum' : t.kind.toLowerCase()
        return finish(quals, t.name ? `${tag} ${t.name}` : `${tag} {...}`, decl)
      }
      case 'FWD':
        return finish(quals, `${t.fwdUnion ? 'union' : 'struct'} ${t.name}`, decl)
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT': {
        let n = next()
        while (n && (QUALS[n.kind] || n.kind === 'TYPE_TAG')) n = types.get(n.type)
        if (t.type !== 0 && n?.kind === 'PTR') decl = ` ${QUALS[t.kind]}${decl === '' || decl.startsWith(' ') ? decl : ` ${decl}`}`
        else if (t.type !== 0 && (n?.kind === 'ARRAY' || n?.kind === 'FUNC_PROTO')) {
          // libbpf drops qualifiers of arrays and functions
        } else quals = [QUALS[t.kind]!, ...quals]
        break
      }
      case 'TYPE_TAG':
        break
      case 'PTR': {
        let n = next()
        while (n && (QUALS[n.kind] || n.kind === 'TYPE_TAG')) n = types.get(n.type)
        const star = decl.startsWith('(') ? `* ${decl}` : `*${decl}`
        decl = t.type !== 0 && (n?.kind === 'ARRAY' || n?.kind === 'FUNC_PROTO') ? `(${star})` : star
        break
      }
      case 'ARRAY':
        decl = `${decl}[${t.nelems}]`
        break
      case 'FUNC_PROTO': {
        const ps = t.params.map((p, i) =>
          p.type === 0 && p.name === '' && i === t!.params.length - 1 ? '...' : rawDecl(types, p.type, p.name),
        )
        decl = `${decl}(${ps.length ? ps.join(', ') : 'void'})`
        quals = []
        break
      }
      default:
        throw new Error(`rawDecl: kind ${t.kind}`)
    }
    id = t.type
    t = types.get(id)
  }
  throw new Error('rawDecl: too deep')
}

function finish(quals: string[], base: string, decl: string): string {
  const b = [...quals, base].join(' ')
  if (decl === '') return b
  return decl.startsWith('[') ? b + decl : `${b} ${decl}`
}

/** FUNC name → prototypes (declarations with the name), from the raw dump. */
export function rawFuncs(types: Map<number, RawType>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const t of types.values()) {
    if (t.kind !== 'FUNC') continue
    const decl = rawDecl(types, t.type, t.name)
    const s = out.get(t.name)
    if (s) s.add(decl)
    else out.set(t.name, new Set([decl]))
  }
  return out
}

/**
 * Named struct/union (and typedef'd anonymous struct/union) → the multiset of their
 * signatures: members as `name@bits:bitfield:type`, an anonymous struct/union member
 * type followed by its own members in braces; one string per definition.
 */
export function rawLayouts(types: Map<number, RawType>): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const body = (t: RawType): string =>
    `${t.kind.toLowerCase()} ${t.size} ${t.members
      .map((m) => {
        let inner = types.get(m.type)
        while (inner && (QUALS[inner.kind] || inner.kind === 'TYPE_TAG')) inner = types.get(inner.type)
        const nested = inner && (inner.kind === 'STRUCT' || inner.kind === 'UNION') && !inner.name ? ` {${body(inner)}}` : ''
        return `${m.name}@${m.bitsOffset}:${m.bitfieldSize}:${rawDecl(types, m.type, '')}${nested}`
      })
      .join('; ')}`
  const add = (name: string, t: RawType): void => {
    const sig = body(t)
    const list = out.get(name)
    if (list) list.push(sig)
    else out.set(name, [sig])
  }
  for (const t of types.values()) {
    if ((t.kind === 'STRUCT' || t.kind === 'UNION') && t.name) add(t.name, t)
    if (t.kind === 'TYPEDEF' && t.name) {
      let u = types.get(t.type)
      while (u && (QUALS[u.kind] || u.kind === 'TYPE_TAG')) u = types.get(u.type)
      if (u && (u.kind === 'STRUCT' || u.kind === 'UNION') && !u.name) add(t.name, u)
    }
  }
  for (const list of out.values()) list.sort()
  return out
}

/** The named STRUCT/UNION `name` (the first one) from the raw dump. */
export function rawStruct(types: Map<number, RawType>, name: string): RawType {
  for (const t of types.values()) if ((t.kind === 'STRUCT' || t.kind === 'UNION') && t.name === name) return t
  throw new Error(`no struct ${name} in the raw dump`)
}

/** sha256 of bytes, hex. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}
