/**
 * libbpf's SEC() table: matching as libbpf does, target parsing, BTF target names, and
 * (when the research notes are present) row-by-row agreement with features.md §9.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {readBpfObject} from '../../src/check/object.js'
import {FAMILIES, SECTION_DEFS, btfTargetName, matchSection, parseTarget} from '../../src/kernel/sections.js'
import {FIXTURES} from '../helpers/fixtures.js'

const FEATURES_MD = join(import.meta.dirname, '..', '..', '..', 'shared', 'research', 'features.md')

describe('SEC() table', () => {
  it('has libbpf\'s 116 entries, each name once, numbered in table order', () => {
    expect(SECTION_DEFS).toHaveLength(116)
    expect(new Set(SECTION_DEFS.map((d) => d.name)).size).toBe(116)
    SECTION_DEFS.forEach((d, i) => expect(d.index).toBe(i + 1))
    for (const d of SECTION_DEFS) expect(FAMILIES).toContain(d.family)
  })

  it.each([
    ['kprobe/do_sys_open', 'kprobe+', 'do_sys_open'],
    ['kprobe', 'kprobe+', ''],
    ['kretprobe/do_sys_open', 'kretprobe+', 'do_sys_open'],
    ['kprobe.multi/do_*', 'kprobe.multi+', 'do_*'],
    ['sk_reuseport/migrate', 'sk_reuseport/migrate', ''],
    ['sk_reuseport', 'sk_reuseport', ''],
    ['xdp.frags/devmap', 'xdp.frags/devmap', ''],
    ['xdp/devmap', 'xdp/devmap', ''],
    ['xdp', 'xdp', ''],
    ['tc/ingress', 'tc/ingress', ''],
    ['tc', 'tc', ''],
    ['tp/syscalls/sys_enter_openat', 'tp+', 'syscalls/sys_enter_openat'],
    ['tracepoint/sched/sched_switch', 'tracepoint+', 'sched/sched_switch'],
    ['raw_tp.w/sched_switch', 'raw_tp.w+', 'sched_switch'],
    ['tp_btf/sched_switch', 'tp_btf+', 'sched_switch'],
    ['fentry.s/do_unlinkat', 'fentry.s+', 'do_unlinkat'],
    ['lsm.s/file_open', 'lsm.s+', 'file_open'],
    ['iter.s/task', 'iter.s+', 'task'],
    ['cgroup/sock', 'cgroup/sock', ''],
    ['cgroup/sock_create', 'cgroup/sock_create', ''],
    ['struct_ops/tcp_init', 'struct_ops+', 'tcp_init'],
    ['uprobe//bin/bash:readline', 'uprobe+', '/bin/bash:readline'],
    ['usdt/libc.so.6:libc:setjmp', 'usdt+', 'libc.so.6:libc:setjmp'],
  ])('%s matches %s', (sec, entry, target) => {
    const m = matchSection(sec)
    expect(m?.def.name).toBe(entry)
    expect(m?.target).toBe(target)
  })

  it.each(['kprobex', 'fentyr/do_sys_open', 'xdp/foo', 'sockopsx', 'cgroup/skb2', '', 'maps', '.text'])('%j matches nothing', (sec) => {
    expect(matchSection(sec)).toBeUndefined()
  })

  it('parses targets by family', () => {
    const t = (sec: string) => {
      const m = matchSection(sec)!
      return parseTarget(m.def, m.target)
    }
    expect(t('kprobe/do_sys_open+0x10')).toEqual({name: 'do_sys_open', offset: '0x10'})
    expect(t('fentry/vmlinux:do_unlinkat')).toEqual({name: 'do_unlinkat', module: 'vmlinux'})
    expect(t('fexit/nf_tables:nft_do_chain')).toEqual({name: 'nft_do_chain', module: 'nf_tables'})
    expect(t('tp/syscalls/sys_enter_openat')).toEqual({category: 'syscalls', name: 'sys_enter_openat'})
    expect(t('uprobe//bin/bash:readline')).toEqual({binary: '/bin/bash', name: 'readline'})
  })

  it.each([
    ['fentry/do_unlinkat', 'FUNC', 'do_unlinkat'],
    ['fmod_ret/security_file_open', 'FUNC', 'security_file_open'],
    ['fsession/do_unlinkat', 'FUNC', 'do_unlinkat'],
    ['tp_btf/sched_switch', 'TYPEDEF', 'btf_trace_sched_switch'],
    ['tp_btf.s/sched_switch', 'TYPEDEF', 'btf_trace_sched_switch'],
    ['lsm/file_open', 'FUNC', 'bpf_lsm_file_open'],
    ['lsm_cgroup/socket_bind', 'FUNC', 'bpf_lsm_socket_bind'],
    ['iter/task', 'FUNC', 'bpf_iter_task'],
  ])('%s attaches to %s %s', (sec, kind, name) => {
    const m = matchSection(sec)!
    expect(m.def.btfTarget?.kind).toBe(kind)
    expect(btfTargetName(m.def, parseTarget(m.def, m.target))).toBe(name)
  })

  it('knows trampolines, sleepable gates and multi-attach', () => {
    const d = (sec: string) => matchSection(sec)!.def
    expect(d('fentry/x').trampoline && d('lsm/x').trampoline && d('freplace/x').trampoline).toBe(true)
    expect(d('freplace/x').kernelFunctionTrampoline).toBe(false)
    expect(d('tp_btf/x').trampoline || d('iter/task').trampoline || d('kprobe/x').trampoline).toBe(false)
    expect(d('freplace/x').btfTarget?.kind).toBe('program')
    expect(d('fentry.s/x').sleepableFeature).toBe('sleepable')
    expect(d('iter.s/task').sleepableFeature).toBe('sleepableIter')
    expect(d('uprobe.s//bin/sh:main').sleepableFeature).toBe('sleepableUprobe')
    expect(d('usdt.s/a:b:c').sleepableFeature).toBe('sleepableUprobe')
    expect(d('struct_ops.s/x').sleepableFeature).toBe('sleepableStructOps')
    expect(d('tp.s/sched/x').sleepableFeature).toBe('sleepableTracepoint')
    expect(d('syscall').sleepableFeature).toBe('sleepable')
    expect(d('kprobe/x').sleepableFeature).toBeNull()
    expect(d('kprobe.multi/x').multi && d('uprobe.multi/x').multi && d('fentry.multi/x').multi).toBe(true)
    expect(d('kprobe/x').multi || d('usdt/a:b:c').multi).toBe(false)
    expect(d('struct_ops/x').needsKernelBtf && d('fentry/x').needsKernelBtf && d('iter/task').needsKernelBtf).toBe(true)
    expect(d('kprobe/x').needsKernelBtf || d('xdp').needsKernelBtf).toBe(false)
  })

  it('every program section of the fixture objects is in the table', async () => {
    for (const f of ['progs.bpfel.o', 'progs.bpfeb.o', 'core_fields.bpfel.o']) {
      const obj = await readBpfObject(join(FIXTURES, 'bpf', f))
      expect(obj.programs.length).toBeGreaterThan(0)
      for (const p of obj.programs) expect(matchSection(p.section), `${f}: ${p.section}`).toBeDefined()
    }
  })
})

/** Rows of the §9 table: | # | `name` | PROG_TYPE | attach | flags | handler | ... */
function features9(): {name: string; progType: string; attachType: string | null; flags: string[]}[] {
  const text = readFileSync(FEATURES_MD, 'utf8')
  const start = text.indexOf('## 9.')
  const end = text.indexOf('## 10.')
  const rows = []
  for (const line of text.slice(start, end).split('\n')) {
    const m = /^\| (\d+) \| `([^`]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \|/.exec(line)
    if (!m) continue
    const attach = m[4]!.trim()
    const flags = m[5]!.trim() === '-' ? [] : m[5]!.trim().split(/[+,]\s*/).map((s) => s.trim())
    rows.push({name: m[2]!, progType: m[3]!, attachType: attach.startsWith('0') ? null : attach, flags})
  }
  return rows
}

describe.skipIf(!existsSync(FEATURES_MD))('agrees with features.md §9 row by row', () => {
  it('same entries, order, program and attach types and flags', () => {
    const rows = features9()
    expect(rows).toHaveLength(116)
    rows.forEach((row, i) => {
      const d = SECTION_DEFS[i]!
      expect(d.name, `row ${i + 1}`).toBe(row.name)
      expect(d.progType, row.name).toBe(row.progType)
      expect(d.attachType, row.name).toBe(row.attachType)
      expect([...d.flags].sort(), row.name).toEqual([...row.flags].sort())
    })
  })
})
