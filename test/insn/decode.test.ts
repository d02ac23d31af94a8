/**
 * The instruction reader (src/insn/decode.ts) against llvm-objdump's disassembly of the
 * same objects: the fixtures written for it (fixtures/bpf/needs*.c, both byte orders),
 * every other fixture object, and the BPF objects of Debian's libbpf-tools.
 *
 * The oracle is llvm-objdump's text (`-dr --no-show-raw-insn`) and llvm-readelf's symbol
 * table, parsed here: per function, the helper calls (`call N` without a relocation),
 * the relocations of calls and 64-bit loads (kfunc externs, maps, global data,
 * subprograms), backward jumps (`goto -N`), and the instruction spellings of the newer
 * ISA levels. A program's needs are the union over its own function and the subprograms
 * kcompat says it links; that every such subprogram is really called is checked too.
 */
import {readFileSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {ElfFile} from '../../src/elf/elf.js'
import {readObjectNeeds} from '../../src/insn/decode.js'
import {HELPER_NAMES, MAP_TYPE_NAMES} from '../../src/insn/enums.js'
import {bpfObjectFixtures} from '../helpers/fixtures.js'
import {findTool, requireTool, run} from '../helpers/tools.js'
import {libbpfToolsObjects} from '../harness/libbpf-tools.js'

const OBJDUMP = ['llvm-objdump-19', 'llvm-objdump'].find((t) => findTool(t))
const haveTools = requireTool('llvm-objdump', 'instruction reader vs llvm-objdump') && requireTool('llvm-readelf', 'instruction reader vs llvm-objdump')

interface Sym {
  name: string
  section: string
  type: string
  value: number
}

function readSymbols(path: string): Sym[] {
  const sections = new Map<number, string>()
  for (const line of run('llvm-readelf', ['-SW', path]).toString().split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+(\S+)/.exec(line)
    if (m) sections.set(Number(m[1]), m[2]!)
  }
  const out: Sym[] = []
  for (const line of run('llvm-readelf', ['-sW', path]).toString().split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 8 || !/^\d+:$/.test(f[0]!)) continue
    out.push({value: parseInt(f[1]!, 16), type: f[3]!, section: f[6] === 'UND' ? '' : (sections.get(Number(f[6])) ?? f[6]!), name: f[7]!})
  }
  return out
}

interface FnInfo {
  helpers: Set<number>
  /** `call N` lines, with whether a relocation follows (a BPF-to-BPF or kfunc call, not a helper). */
  calls: Array<{n: number; relocated: boolean}>
  relocCalls: string[]
  loads: string[]
  backEdges: number
  insns: number
  isa: Set<string>
}

/** Per function (`section/name`), what its disassembly shows. */
function disassemble(path: string, syms: Sym[]): Map<string, FnInfo> {
  const funcs = new Set(syms.filter((s) => s.type === 'FUNC').map((s) => s.name))
  const out = new Map<string, FnInfo>()
  let section = ''
  let cur: FnInfo | undefined
  let last = ''
  for (const line of run(OBJDUMP!, ['-dr', '--no-show-raw-insn', path]).toString().split('\n')) {
    const sec = /^Disassembly of section (.*):$/.exec(line)
    if (sec) {
      section = sec[1]!
      cur = undefined
      continue
    }
    const label = /^[0-9a-f]+ <(.*)>:$/.exec(line)
    if (label) {
      if (funcs.has(label[1]!)) {
        cur = {helpers: new Set(), calls: [], relocCalls: [], loads: [], backEdges: 0, insns: 0, isa: new Set()}
        out.set(`${section}/${label[1]}`, cur)
      }
      continue
    }
    if (!cur) continue
    const rel = /R_BPF_64_(64|32)\s+(\S+)/.exec(line)
    if (rel) {
      if (/\bcall\b/.test(last)) {
        cur.relocCalls.push(rel[2]!)
        cur.calls[cur.calls.length - 1]!.relocated = true
      }
      else if (/ ll$/.test(last)) cur.loads.push(rel[2]!)
      continue
    }
    const insn = /^\s+\d+:\t(.*)$/.exec(line)
    if (!insn) continue
    const text = insn[1]!.trim()
    last = text
    cur.insns += / ll$/.test(text) ? 2 : 1
    const call = /^call (-?(?:0x)?[0-9a-f]+)$/.exec(text)
    if (call) cur.calls.push({n: Number(call[1]), relocated: false})
    if (/goto(l)? -/.test(text)) cur.backEdges++
    if (/^if w\d/.test(text)) cur.isa.add('jmp32')
    if (/^gotol /.test(text)) cur.isa.add('gotol')
    if (/^if .* (<|<=|s<|s<=) /.test(text)) cur.isa.add('jmp-v2')
    if (/atomic_|cmpxchg|xchg/.test(text) || (/^lock /.test(text) && !/ \+= /.test(text))) cur.isa.add('atomics')
    if (/= \*\(s(8|16|32) \*\)/.test(text)) cur.isa.add('ldsx')
    if (/= \(s(8|16|32)\)[rw]\d/.test(text)) cur.isa.add('movsx')
    if (/bswap(16|32|64)/.test(text)) cur.isa.add('bswap')
    if (/ s[/%]= /.test(text)) cur.isa.add('sdiv-smod')
  }
  for (const f of out.values()) for (const c of f.calls) if (!c.relocated && c.n >= 0) f.helpers.add(c.n)
  return out
}

function compare(path: string): {programs: number; helpers: number} {
  const elf = ElfFile.parse(readFileSync(path))
  const needs = readObjectNeeds(elf)
  const syms = readSymbols(path)
  const fns = disassemble(path, syms)
  const symByName = new Map(syms.filter((s) => s.name !== '').map((s) => [s.name, s]))
  let helpers = 0
  for (const p of needs.programs) {
    const own = [...fns.entries()].find(([k]) => k.endsWith(`/${p.program}`) && (k.startsWith(`${p.section}/`) || k.startsWith(`?${p.section}/`)))
    expect(own, `${path}: ${p.program} in the disassembly`).toBeDefined()
    const parts = [own![1], ...p.subprograms.map((s) => fns.get(`.text/${s}`)!)]
    parts.forEach((f, i) => expect(f, `${path}: subprogram ${p.subprograms[i - 1]}`).toBeDefined())
    const union = <T>(pick: (f: FnInfo) => Iterable<T>): Set<T> => new Set(parts.flatMap((f) => [...pick(f)]))
    const what = `${path} ${p.program}`
    expect(new Set(p.helpers.map((h) => h.id)), `${what}: helpers`).toEqual(union((f) => f.helpers))
    helpers += p.helpers.length
    const relocCalls = union((f) => f.relocCalls)
    expect(new Set(p.kfuncs), `${what}: kfuncs`).toEqual(new Set([...relocCalls].filter((n) => symByName.get(n)?.section === '')))
    // a program that calls into .text links at least one subprogram, and only called ones
    const callsText = [...relocCalls].some((n) => n === '.text' || symByName.get(n)?.section === '.text')
    if (callsText) expect(p.subprograms.length, `${what}: subprograms`).toBeGreaterThan(0)
    const loads = union((f) => f.loads)
    const sectionOf = (n: string): string => symByName.get(n)?.section ?? (n.startsWith('.') ? n : '')
    expect(new Set(p.maps), `${what}: maps`).toEqual(new Set([...loads].filter((n) => ['.maps', 'maps'].includes(sectionOf(n)))))
    const data = new Set([...loads].map(sectionOf).filter((s) => /^\.(data|rodata|bss)(\.|$)/.test(s)))
    for (const n of loads) if (sectionOf(n) === '' && symByName.get(n)) data.add('.kconfig')
    // .ksyms externs (typed ksyms) are not global data; .kconfig ones are
    const ksyms = new Set(p.globalData)
    if (!ksyms.has('.kconfig')) data.delete('.kconfig')
    expect(new Set(p.globalData), `${what}: global data`).toEqual(data)
    expect(p.backEdges.length, `${what}: back-edges`).toBe(parts.reduce((n, f) => n + f.backEdges, 0))
    expect(new Set(Object.keys(p.isa)), `${what}: ISA features`).toEqual(union((f) => f.isa))
    expect(p.insnCount, `${what}: instructions`).toBe(parts.reduce((n, f) => n + f.insns, 0))
    expect(p.tailCalls).toBe(p.helpers.some((h) => h.name === 'tail_call'))
  }
  return {programs: needs.programs.length, helpers}
}

describe.skipIf(!haveTools || !OBJDUMP)('instruction reader vs llvm-objdump', () => {
  it('the needs fixtures: one feature per program, both byte orders', () => {
    const byOrder = (o: string) => `fixtures/bpf/${o}`
    for (const order of ['bpfel', 'bpfeb']) {
      const n = readObjectNeeds(ElfFile.parse(readFileSync(byOrder(`needs.${order}.o`))))
      const p = Object.fromEntries(n.programs.map((x) => [x.program, x]))
      expect(p.probe_read_kern!.helpers.map((h) => h.name)).toEqual(['probe_read_kernel'])
      expect(p.func_ip!.helpers.map((h) => h.name)).toEqual(['get_func_ip'])
      const one = (f: string) => readObjectNeeds(ElfFile.parse(readFileSync(byOrder(f))))
      const rb = one(`needs_ringbuf.${order}.o`)
      expect(rb.programs[0]!.maps).toEqual(['rb'])
      expect(rb.programs[0]!.helpers.map((h) => h.name)).toEqual(['get_current_pid_tgid', 'ringbuf_output'])
      expect(rb.maps.map((m) => `${m.name}:${m.typeName}:${m.maxEntries}`)).toEqual(['rb:RINGBUF:4096'])
      const bloom = one(`needs_bloom.${order}.o`)
      expect(bloom.programs[0]!.maps).toEqual(['bloom_map'])
      expect(bloom.maps.map((m) => `${m.name}:${m.typeName}:${m.valueSize}:${m.maxEntries}`)).toEqual(['bloom_map:BLOOM_FILTER:4:64'])
      expect(p.global_data!.globalData).toEqual(['.rodata'])
      expect(p.bpf2bpf!.subprograms).toEqual(['scale'])
      expect(p.tail_call!.tailCalls).toBe(true)
      expect(p.bounded_loop!.backEdges.length).toBe(1)
      expect(p.large!.insnCount).toBeGreaterThan(4096)
      expect(p.kfunc!.kfuncs).toEqual(['bpf_task_acquire', 'bpf_task_release'])
      for (const name of ['plain', 'probe_read_kern', 'func_ip', 'global_data', 'bpf2bpf', 'kfunc']) expect(p[name]!.backEdges, name).toEqual([])
      expect(n.maps.map((m) => `${m.name}:${m.typeName}`)).toEqual(['jumps:PROG_ARRAY'])
      const v3 = Object.fromEntries(readObjectNeeds(ElfFile.parse(readFileSync(byOrder(`needs_v3.${order}.o`)))).programs.map((x) => [x.program, Object.keys(x.isa)]))
      expect(v3).toEqual({jmp32: ['jmp32'], atomics: ['atomics']})
      const v4 = Object.fromEntries(readObjectNeeds(ElfFile.parse(readFileSync(byOrder(`needs_v4.${order}.o`)))).programs.map((x) => [x.program, Object.keys(x.isa)]))
      expect(v4).toEqual({ldsx: ['ldsx'], movsx: ['movsx'], bswap: ['bswap'], sdiv: ['sdiv-smod']})
    }
  })

  it('every fixture object agrees with llvm-objdump', () => {
    let programs = 0
    // llvm-objdump before LLVM 17 does not know the cpu v4 instructions
    const v4 = requireTool('llvm-objdump-19', 'the cpu v4 fixture vs llvm-objdump')
    for (const path of bpfObjectFixtures()) if (v4 || !path.includes('needs_v4')) programs += compare(path).programs
    expect(programs).toBeGreaterThan(30)
  })

  const seen = new Set<string>()
  const tools = libbpfToolsObjects().filter((t) => {
    const h = createHash('sha256').update(readFileSync(t.path)).digest('hex')
    if (seen.has(h)) return false
    seen.add(h)
    return true
  })
  if (tools.length === 0) console.warn('skipping libbpf-tools objects: the libbpf-tools package is not installed (apt-get install libbpf-tools)')
  it.skipIf(tools.length === 0)(`${tools.length} libbpf-tools objects agree with llvm-objdump`, () => {
    let programs = 0
    let helpers = 0
    for (const t of tools) {
      const r = compare(t.path)
      programs += r.programs
      helpers += r.helpers
    }
    expect(programs).toBeGreaterThan(100)
    expect(helpers).toBeGreaterThan(programs)
  })
})

describe('helper and map type ids', () => {
  it('match the system <linux/bpf.h>', () => {
    const h = readFileSync('/usr/include/linux/bpf.h', 'utf8')
    // 6.1 headers: `#define __BPF_FUNC_MAPPER(FN) FN(unspec), ...` (ids in order);
    // newer ones: `#define ___BPF_FUNC_MAPPER(FN, ctx...) FN(unspec, 0, ##ctx) ...`
    const mapper = /#define _{2,3}BPF_FUNC_MAPPER\(FN[^)]*\)([\s\S]*?)\n\s*\/\* \*\//.exec(h)
    expect(mapper, '__BPF_FUNC_MAPPER in <linux/bpf.h>').not.toBeNull()
    const fromHeader = [...mapper![1]!.matchAll(/FN\((\w+)(?:, (\d+))?/g)].map((m, i) => [m[2] === undefined ? i : Number(m[2]), m[1]!] as const)
    expect(fromHeader.length).toBeGreaterThan(200)
    for (const [id, name] of fromHeader) expect(HELPER_NAMES[id], `helper ${id}`).toBe(name)
    const mapEnum = /enum bpf_map_type \{([\s\S]*?)\};/.exec(h)![1]!
    const names = [...mapEnum.matchAll(/BPF_MAP_TYPE_(\w+),/g)].map((m) => m[1]!).filter((n) => !n.endsWith('_DEPRECATED'))
    // in declaration order, ids from 0 (the two *_DEPRECATED aliases share a value with the next name)
    expect(names.slice(0, 19)).toEqual(MAP_TYPE_NAMES.slice(0, 19))
    expect(names.filter((n) => MAP_TYPE_NAMES.includes(n)).length).toBe(names.length)
  })
})
