/**
 * The instruction rules (src/check/needs.ts) on the one-feature fixtures
 * (fixtures/bpf/needs*.c, both byte orders) and on Debian's libbpf-tools objects.
 *
 * Expected verdicts come from the public sources, written out here, not from kcompat:
 * on kernels kcompat knows only by release, a program fails exactly the rules whose
 * feature is newer than the kernel (versions from BCC docs/kernel-versions.md, cilium/ebpf
 * features/*.go, libbpf's feature comments, the kernel commits); on archived kernels,
 * a helper or map type is there exactly when bpftool's dump of the kernel's BTF lists it
 * in enum bpf_func_id / bpf_map_type, and a kfunc when bpftool finds its FUNC.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import type {ProgramResult} from '../../src/check/types.js'
import {loadFacts} from '../../src/kernel/facts/index.js'
import {parseVersion, compareVersions} from '../../src/kernel/facts/version.js'
import {ElfFile} from '../../src/elf/elf.js'
import {readObjectNeeds} from '../../src/insn/decode.js'
import {scratchDir} from '../helpers/fixtures.js'
import {requireTool, run} from '../helpers/tools.js'
import {libbpfToolsObjects} from '../harness/libbpf-tools.js'
import {fixtureArchive, fixtureKernel} from './fixture-archive.js'

const NEEDS_RULES = new Set(['helper', 'helper-type', 'ctx-types', 'ctx-pointer', 'map-type', 'global-data', 'bpf2bpf', 'tail-call', 'loops', 'insn-limit', 'isa', 'kfunc', 'ctx-args', 'map-flags'])
const fixture = (name: string, order: string) => join('fixtures', 'bpf', `${name}.${order}.o`)

/** What each fixture program needs, by the sources' versions (kprobe programs only). */
const EXPECTED: Record<string, Record<string, Array<[rule: string, since: string]>>> = {
  needs: {
    plain: [],
    probe_read_kern: [], // 5.5, but libbpf falls back to bpf_probe_read (4.1)
    func_ip: [['helper', '5.15']], // BCC: bpf_get_func_ip 5.15
    global_data: [['global-data', '5.2']], // libbpf FEAT_GLOBAL_DATA "v5.2"
    bpf2bpf: [['bpf2bpf', '4.16']], // BCC: bpf2bpf function calls 4.16
    tail_call: [['tail-call', '4.2']], // BCC: tail calls 4.2
    bounded_loop: [['loops', '5.3']], // BCC, cilium: bounded loops 5.3
    large: [['insn-limit', '5.2']], // BCC, cilium: 1M instructions 5.2
  },
  needs_ringbuf: {ringbuf: [['helper', '5.8'], ['map-type', '5.8']]}, // BCC: ringbuf 5.8
  needs_bloom: {bloom: [['helper', '4.20'], ['map-type', '5.16']]}, // BCC: map_peek_elem 4.20, bloom filter 5.16
  needs_v3: {jmp32: [['isa', '5.1']], atomics: [['isa', '5.12']]}, // cilium v3 ISA 5.1; atomics commits in 5.12
  needs_v4: {ldsx: [['isa', '6.6']], movsx: [['isa', '6.6']], bswap: [['isa', '6.6']], sdiv: [['isa', '6.6']]}, // cilium v4 ISA 6.6
}

/** Release strings kcompat resolves by rules (none is archived): Ubuntu 18.04, 20.04, 22.04, Debian 11. */
const RELEASES: Array<[release: string, upstream: string]> = [
  ['4.15.0-20-generic', '4.15'],
  ['5.4.0-42-generic', '5.4'],
  ['5.10.0-28-amd64', '5.10'],
  ['5.15.0-25-generic', '5.15'],
]

function failing(p: ProgramResult): string[] {
  return [...new Set(p.reasons.filter((r) => NEEDS_RULES.has(r.rule) && r.status === 'fail').map((r) => r.rule))].sort()
}

describe('instruction rules on kernels known by release', () => {
  for (const [release, upstream] of RELEASES) {
    it(`${release}: each fixture program fails exactly the features newer than ${upstream}`, async () => {
      const up = parseVersion(upstream)
      for (const order of ['bpfel', 'bpfeb']) {
        for (const [obj, progs] of Object.entries(EXPECTED)) {
          const r = await check({kernel: release, objects: [fixture(obj, order)], archive: await fixtureArchive(), options: {core: false}})
          for (const [prog, needs] of Object.entries(progs)) {
            const p = r.programs.find((x) => x.program === prog)!
            const want = [...new Set(needs.filter(([, since]) => compareVersions(up, parseVersion(since)) < 0).map(([rule]) => rule))].sort()
            expect(failing(p), `${obj}.${order} ${prog} on ${release}`).toEqual(want)
            if (want.length === 0) expect(p.verdict, `${obj} ${prog} on ${release}: ${JSON.stringify(p.reasons.filter((x) => x.status !== 'pass'))}`).not.toBe('unsupported')
            else expect(p.verdict).toBe('unsupported')
          }
        }
      }
    })
  }

  it('names the helper and the version in the reason, and suggests the older equivalent', async () => {
    const r = await check({kernel: '5.4.0-42-generic', objects: [fixture('needs_ringbuf', 'bpfel')], archive: await fixtureArchive(), options: {core: false}})
    const p = r.programs[0]!
    expect(p.reasons.find((x) => x.rule === 'helper' && x.status === 'fail')!.message).toMatch(/bpf_ringbuf_output\(\).*5\.8/)
    expect(p.suggestions.some((s) => s.kind === 'code' && /PERF_EVENT_ARRAY/.test(s.text))).toBe(true)
    const pr = (await check({kernel: '4.15.0-20-generic', objects: [fixture('needs', 'bpfel')], archive: await fixtureArchive(), options: {core: false}})).programs.find((x) => x.program === 'probe_read_kern')!
    const fix = pr.reasons.find((x) => x.rule === 'helper' && /probe_read_kernel/.test(x.message))!
    expect(fix.status).toBe('pass')
    expect(fix.source).toMatch(/bpf_object__sanitize_prog/)
  })
})

describe('map flags', () => {
  it('maps.c creates a hash with BPF_F_NO_PREALLOC: refused before 4.6 (cilium/ebpf features/map.go), accepted from it', async () => {
    const archive = await fixtureArchive()
    for (const [release, fails] of [['4.4.0-21-generic', true], ['4.15.0-20-generic', false]] as const) {
      const r = await check({kernel: release, objects: [fixture('maps', 'bpfel')], archive, options: {core: false}})
      for (const p of r.programs) {
        const f = p.reasons.filter((x) => x.rule === 'map-flags')
        expect(f.map((x) => x.status), `${p.program} on ${release}`).toEqual(fails ? ['fail'] : [])
        if (fails) expect(f[0]!.message).toMatch(/'flows'.*BPF_F_NO_PREALLOC.*4\.6/)
      }
    }
  })
})

describe('instruction rules on archived kernels, against bpftool', () => {
  const haveBpftool = requireTool('bpftool', 'helpers and map types of archived kernels vs bpftool')
  const kernels = ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64', '6.1.0-56-cloud-arm64']
  const dump = new Map<string, string>()
  const bpftoolDump = (release: string, format: 'c' | 'raw' = 'c'): string => {
    let d = dump.get(`${release} ${format}`)
    if (!d) {
      const path = join(scratchDir(), `${release}.needs.btf`)
      writeFileSync(path, fixtureKernel(release).btf)
      dump.set(`${release} ${format}`, (d = run('bpftool', ['btf', 'dump', 'file', path, 'format', format]).toString()))
    }
    return d
  }
  const enumOf = (c: string, name: string, prefix: string): Set<string> => {
    const body = new RegExp(`^enum ${name} \\{([\\s\\S]*?)^\\};`, 'm').exec(c)![1]!
    return new Set([...body.matchAll(new RegExp(`\\b${prefix}(\\w+) =`, 'g'))].map((m) => m[1]!))
  }

  it.skipIf(!haveBpftool)('facts.json helper and map type versions agree with the archived kernels', () => {
    const facts = loadFacts()
    for (const release of ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64']) {
      const up = parseVersion(release.startsWith('6.12') ? '6.12' : '6.1')
      const c = bpftoolDump(release)
      const helpers = enumOf(c, 'bpf_func_id', 'BPF_FUNC_')
      const maps = enumOf(c, 'bpf_map_type', 'BPF_MAP_TYPE_')
      for (const [table, have] of [[facts.helpers, helpers], [facts.mapTypes, maps]] as const) {
        for (const [name, f] of Object.entries(table)) {
          if (f.doubtful || !f.since) continue
          expect(have.has(name), `${name} (since ${f.since}) in ${release}`).toBe(compareVersions(up, parseVersion(f.since)) >= 0)
        }
      }
    }
  })

  it.skipIf(!haveBpftool)('fixtures: cpu v4 fails on 6.1 and passes on 6.12; the kfuncs follow bpftool', async () => {
    const archive = await fixtureArchive()
    for (const release of kernels) {
      const is612 = release.startsWith('6.12')
      const raw = bpftoolDump(release, 'raw')
      for (const order of ['bpfel', 'bpfeb']) {
        const v4 = await check({kernel: release, objects: [fixture('needs_v4', order)], archive, options: {core: false}})
        for (const p of v4.programs) expect(failing(p), `${p.program} on ${release}`).toEqual(is612 ? [] : ['isa'])
        const n = await check({kernel: release, objects: [fixture('needs', order)], archive, options: {core: false}})
        for (const p of n.programs) if (p.program !== 'kfunc') expect(failing(p), `${p.program} on ${release}`).toEqual([])
        const kf = n.programs.find((p) => p.program === 'kfunc')!
        const inBtf = /^\[\d+\] FUNC 'bpf_task_acquire' /m.test(raw)
        expect(inBtf).toBe(is612)
        const r = kf.reasons.find((x) => x.rule === 'kfunc' && /bpf_task_acquire/.test(x.message))!
        // not in vmlinux BTF: a module could still define it (these kernels have module BTF)
        expect(r.status, `${release}`).toBe(inBtf ? 'pass' : 'possible')
      }
    }
  })

  /** Number of parameters of the FUNC_PROTO behind a TYPEDEF (through its PTR) or a FUNC, from bpftool's raw dump. */
  const protoParams = (raw: string, kind: 'TYPEDEF' | 'FUNC', name: string): number => {
    const line = (id: string) => new RegExp(`^\\[${id}\\] (.*)$`, 'm').exec(raw)![1]!
    let t = new RegExp(`^\\[\\d+\\] ${kind} '${name}' type_id=(\\d+)`, 'm').exec(raw)![1]!
    for (;;) {
      const l = line(t)
      const proto = /^FUNC_PROTO '\(anon\)' ret_type_id=\d+ vlen=(\d+)/.exec(l)
      if (proto) return Number(proto[1])
      t = /type_id=(\d+)/.exec(l)![1]!
    }
  }

  it.skipIf(!haveBpftool)('context arguments: slots read vs the prototype bpftool shows', async () => {
    const archive = await fixtureArchive()
    for (const release of kernels) {
      const raw = bpftoolDump(release, 'raw')
      const tpArgs = protoParams(raw, 'TYPEDEF', 'btf_trace_block_rq_insert') - 1 // minus void *__data
      const unlinkArgs = protoParams(raw, 'FUNC', 'do_unlinkat')
      // slots read by the fixture programs (needs_ctx.c): 2, 1, 3, and 3 with the return value
      const want: Record<string, boolean> = {rq_insert_two: 2 <= tpArgs, rq_insert_one: 1 <= tpArgs, unlink_three: 3 <= unlinkArgs, unlink_ret: 3 <= unlinkArgs + 1}
      for (const order of ['bpfel', 'bpfeb']) {
        const r = await check({kernel: release, objects: [fixture('needs_ctx', order)], archive, options: {core: false}})
        for (const p of r.programs) {
          const c = p.reasons.find((x) => x.rule === 'ctx-args')!
          expect(c.status, `${p.program} on ${release} (${tpArgs} tracepoint args, ${unlinkArgs} do_unlinkat args)`).toBe(want[p.program!] ? 'pass' : 'fail')
        }
      }
    }
  })

  const tools = libbpfToolsObjects()
  if (tools.length === 0) console.warn('skipping libbpf-tools objects: the libbpf-tools package is not installed (apt-get install libbpf-tools)')
  it.skipIf(!haveBpftool || tools.length === 0)('libbpf-tools: no instruction rule fails on the archived 6.1 and 6.12 kernels, and the helpers they call are in bpftool\'s enum', async () => {
    const archive = await fixtureArchive()
    for (const release of kernels) {
      const helpers = enumOf(bpftoolDump(release), 'bpf_func_id', 'BPF_FUNC_')
      const r = await check({kernel: release, objects: tools.map((t) => t.path), archive, options: {core: false}})
      let n = 0
      for (const p of r.programs) {
        expect(failing(p), `${p.program} on ${release}`).toEqual([])
        n++
      }
      expect(n).toBeGreaterThan(300)
      for (const t of tools) {
        for (const p of readObjectNeeds(ElfFile.parse(readFileSync(t.path))).programs) for (const h of p.helpers) expect(helpers.has(h.name), `${t.tool} ${p.program} bpf_${h.name} on ${release}`).toBe(true)
      }
    }
  })

  it.skipIf(!haveBpftool || tools.length === 0)('libbpf-tools biolatency: the second tp_btf argument is read only on kernels before 5.11 (LINUX_KERNEL_VERSION), so 6.1 passes', async () => {
    // biolatency.bpf.c: `if (LINUX_KERNEL_VERSION < KERNEL_VERSION(5, 11, 0)) return trace_rq_start((void *)ctx[1], ...); else ... ctx[0]`
    const bio = tools.find((t) => t.tool === 'biolatency')!
    const n = readObjectNeeds(ElfFile.parse(readFileSync(bio.path)))
    const p = n.programs.find((x) => x.program === 'block_rq_insert_btf')!
    expect(p.ctxSlot!.index).toBe(1)
    expect(n.ctxSlotOn(p, new Map([['LINUX_KERNEL_VERSION', BigInt((5 << 16) + (10 << 8))]]))!.index).toBe(1)
    expect(n.ctxSlotOn(p, new Map([['LINUX_KERNEL_VERSION', BigInt((6 << 16) + (1 << 8))]]))!.index).toBe(0)
    expect(protoParams(bpftoolDump('6.1.0-56-cloud-amd64', 'raw'), 'TYPEDEF', 'btf_trace_block_rq_insert') - 1).toBe(1)
    const r = await check({kernel: '6.1.0-56-cloud-amd64', objects: [bio.path], archive: await fixtureArchive(), options: {core: false}})
    const c = r.programs.find((x) => x.program === 'block_rq_insert_btf')!.reasons.find((x) => x.rule === 'ctx-args')!
    expect(c.status).toBe('pass')
    expect(c.evidence.map((e) => e.text).join(' ')).toMatch(/LINUX_KERNEL_VERSION 6\.1/)
  })

  it.skipIf(tools.length === 0)('libbpf-tools on Ubuntu 18.04 (4.15): programs with global data are unsupported, naming it', async () => {
    const exec = tools.find((t) => t.tool === 'execsnoop')!
    const r = await check({kernel: '4.15.0-20-generic', objects: [exec.path], options: {core: false}})
    for (const p of r.programs) {
      expect(p.verdict).toBe('unsupported')
      expect(p.reasons.find((x) => x.rule === 'global-data')!.message).toMatch(/global variables \(\.rodata/)
    }
  })
})
