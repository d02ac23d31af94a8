/**
 * Per-program-type helper allow-lists (rule `helper-type`, src/check/needs.ts) on the
 * fixture fixtures/bpf/needs_types.c (both byte orders), and the kernel's own answer: the
 * archived Debian 6.1.0-56-cloud-amd64 booted once by `kcompat verify`.
 *
 * Expected verdicts are written out from the kernel sources (Debian linux-source-6.1
 * 6.1.192-2 and linux-source-6.12 6.12.117-1~deb12u1), not from kcompat:
 * - 6.1 kernel/bpf/helpers.c bpf_base_func_proto offers every program type the map, ring
 *   buffer and time helpers, and to perfmon-capable loaders bpf_probe_read_kernel and
 *   bpf_get_current_task_btf; not bpf_get_current_pid_tgid, which 6.12 adds there;
 * - bpf_skb_load_bytes is in the networking types' functions only (net/core/filter.c);
 * - bpf_probe_read and bpf_get_current_comm are in bpf_tracing_func_proto
 *   (kernel/trace/bpf_trace.c), which xdp_func_proto and tc_cls_act_func_proto never reach;
 * - bpf_get_func_arg is in tracing_prog_func_proto only, bpf_d_path in
 *   tracing_prog_func_proto and bpf_lsm_func_proto only;
 * - bpf_ktime_get_coarse_ns is in bpf_sk_base_func_proto, the cgroup and struct_ops
 *   functions, not in bpf_tracing_func_proto;
 * - xdp_func_proto has bpf_perf_event_output;
 * - after get_func_proto the verifier still refuses bpf_d_path outside btf_allowlist_d_path
 *   (tracing) and the sleepable LSM hooks (lsm), and bpf_get_func_ip outside kprobe and
 *   fentry/fexit/fmod_ret programs (check_get_func_ip).
 * The boot then checks every one of them against the verifier.
 */
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import type {ProgramResult} from '../../src/check/types.js'
import {compareVersions, parseVersion} from '../../src/kernel/facts/version.js'
import {helperForType, loadHelperProtos, validateHelperProtos} from '../../src/kernel/facts/helper-protos.js'
import {verifyKernel, type VerifyReport} from '../../src/verify/verify.js'
import {kernelFixtures} from '../helpers/fixtures.js'
import {requireTool, run} from '../helpers/tools.js'
import {archivedKernelImagePath} from '../verify/kernel-image.js'
import {fixtureArchive} from './fixture-archive.js'

const fixture = (order: string) => join('fixtures', 'bpf', `needs_types.${order}.o`)
const ctxFixture = (order: string) => join('fixtures', 'bpf', `needs_ctx_types.${order}.o`)

/** program -> helper, its id (uapi bpf.h), mainline version of the helper (BCC), refused on 6.1, refused on 6.12 */
const PROGRAMS: Record<string, [helper: string, id: number, since: string, refused61: boolean, refused612: boolean]> = {
  sock_pid_tgid: ['get_current_pid_tgid', 14, '4.2', true, false],
  kprobe_skb_load: ['skb_load_bytes', 26, '4.5', true, true],
  xdp_probe_read: ['probe_read', 4, '4.1', true, true],
  tp_func_arg: ['get_func_arg', 183, '5.17', true, true],
  kprobe_coarse: ['ktime_get_coarse_ns', 160, '5.11', true, true],
  tc_comm: ['get_current_comm', 16, '4.2', true, true],
  kprobe_d_path: ['d_path', 147, '5.10', true, true],
  sock_probe_read_kern: ['probe_read_kernel', 113, '5.5', false, false],
  sock_task_btf: ['get_current_task_btf', 158, '5.11', false, false],
  kprobe_ringbuf: ['ringbuf_output', 130, '5.8', false, false],
  xdp_perf_output: ['perf_event_output', 25, '4.4', false, false],
  // the verifier's checks after get_func_proto: bpf_d_path_allowed (btf_allowlist_d_path: filp_close, not
  // vfs_read; sleepable_lsm_hooks: file_open, not file_permission), check_get_func_ip (KPROBE, TRACING)
  close_d_path: ['d_path', 147, '5.10', false, false],
  read_d_path: ['d_path', 147, '5.10', true, true],
  lsm_open_d_path: ['d_path', 147, '5.10', false, false],
  lsm_perm_d_path: ['d_path', 147, '5.10', true, true],
  tp_func_ip: ['get_func_ip', 173, '5.15', true, true],
  kprobe_func_ip: ['get_func_ip', 173, '5.15', false, false],
}
/** What the 6.1 verifier prints for a refusal other than a helper missing from get_func_proto. */
const VERIFIER_SAYS: Record<string, string> = {
  read_d_path: 'helper call is not allowed in probe',
  lsm_perm_d_path: 'helper call is not allowed in probe',
  tp_func_ip: 'func bpf_get_func_ip#173 not supported for program type 5',
}

const typeReasons = (p: ProgramResult) => p.reasons.filter((r) => r.rule === 'helper-type')
const typeStatus = (p: ProgramResult): string => {
  const r = typeReasons(p)
  if (r.length === 0) return 'none'
  return r.some((x) => x.status === 'fail') ? 'fail' : r.some((x) => x.status === 'unknown') ? 'unknown' : 'pass'
}

describe('helper allow-lists per program type', () => {
  it('the shipped lists are well-formed and cover 6.1 and 6.12', () => {
    const d = loadHelperProtos()
    expect(Object.keys(d.kernels).sort()).toEqual(['6.1', '6.12'])
    expect(d.kernels['6.1']!.progTypes.KPROBE!.proto).toBe('kprobe_prog_func_proto')
    expect(d.kernels['6.1']!.progTypes.SOCKET_FILTER!.file).toBe('net/core/filter.c')
    expect(() => validateHelperProtos({about: 'x', kernels: {'6.1': {source: 's', progTypes: {kprobe: {}}}}})).toThrow(/FACTS_INVALID|BPF_PROG_TYPE_/)
  })

  it.skipIf(!requireTool('bpftool', 'the helper lists against the kernels\' enum bpf_func_id'))('every helper a list offers is in that kernel\'s enum bpf_func_id, and every program type in its enum bpf_prog_type (bpftool on the archived kernels)', () => {
    const d = loadHelperProtos()
    for (const [series, release] of [['6.1', '6.1.0-56-cloud-amd64'], ['6.12', '6.12.117+deb12-cloud-amd64']] as const) {
      const k = kernelFixtures().find((f) => f.release === release)!
      const c = run('bpftool', ['btf', 'dump', 'file', k.path, 'format', 'c']).toString()
      const members = (name: string, prefix: string) => new Set([...new RegExp(`^enum ${name} \\{([\\s\\S]*?)^\\};`, 'm').exec(c)![1]!.matchAll(new RegExp(`\\b${prefix}(\\w+) =`, 'g'))].map((m) => m[1]!))
      const helpers = members('bpf_func_id', 'BPF_FUNC_')
      const types = members('bpf_prog_type', 'BPF_PROG_TYPE_')
      const lists = d.kernels[series]!.progTypes
      for (const [t, p] of Object.entries(lists)) {
        expect(types.has(t), `${t} in ${release}`).toBe(true)
        expect(p.helpers.length, t).toBeGreaterThan(10)
        for (const h of p.helpers) expect(helpers.has(h), `${t} offers ${h} on ${series}`).toBe(true)
      }
      // every program type of the enum but STRUCT_OPS and EXT (their helpers depend on something else) has a list
      for (const t of types) if (!['UNSPEC', 'STRUCT_OPS', 'EXT'].includes(t)) expect(lists[t], `${t} on ${series}`).toBeDefined()
    }
  })

  it('between and beyond the series read: agreement decides, disagreement and newer kernels are unsettled', () => {
    const checks = {d_path: {source: 's', tracingTargets: [], lsmHooks: []}, get_func_ip: {source: 's', progTypes: []}}
    const d = {about: 'x', kernels: {'6.1': {source: 'a', checks, progTypes: {T: {proto: 'p', file: 'f', helpers: ['a']}}}, '6.12': {source: 'b', checks, progTypes: {T: {proto: 'p', file: 'f', helpers: ['a', 'b']}}}}}
    expect(helperForType(d, 'T', 'c', [5, 10]).state).toBe('refused')
    expect(helperForType(d, 'T', 'b', [5, 10]).state).toBe('refused')
    expect(helperForType(d, 'T', 'a', [5, 10]).state).toBe('allowed')
    expect(helperForType(d, 'T', 'b', [6, 6]).state).toBe('unsettled')
    expect(helperForType(d, 'T', 'c', [6, 6]).state).toBe('refused')
    expect(helperForType(d, 'T', 'b', [6, 12, 40]).state).toBe('allowed')
    expect(helperForType(d, 'T', 'c', [6, 14]).state).toBe('unsettled')
    expect(helperForType(d, 'U', 'a', [6, 1]).state).toBe('no-data')
  })

  /** The helper-type verdict the sources give on a kernel of version `up` (none when the kernel lacks the helper). */
  const want = (prog: string, up: number[]): string => {
    const [, , since, r61, r612] = PROGRAMS[prog]!
    if (compareVersions(up, parseVersion(since)) < 0) return 'none'
    const cmp61 = compareVersions(up.slice(0, 2), [6, 1])
    const cmp612 = compareVersions(up.slice(0, 2), [6, 12])
    if (cmp61 <= 0) return r61 ? 'fail' : 'pass'
    if (cmp612 < 0) return r61 && r612 ? 'fail' : r61 !== r612 ? 'unknown' : 'pass'
    if (cmp612 === 0) return r612 ? 'fail' : 'pass'
    return r612 ? 'unknown' : 'pass'
  }

  const KERNELS: Array<[release: string, up: number[]]> = [
    ['6.1.0-56-cloud-amd64', [6, 1]], // archived
    ['6.12.117+deb12-cloud-amd64', [6, 12]], // archived
    ['5.10.0-28-amd64', [5, 10]], // Debian 11, by release
    ['5.15.0-25-generic', [5, 15]], // Ubuntu 22.04
    ['6.5.0-9-generic', [6, 5]], // Ubuntu 23.10: between the series read
    ['6.14.0-15-generic', [6, 14]], // Ubuntu 25.04: newer than both
  ]
  for (const [release, up] of KERNELS) {
    it(`${release}: each program gets the verdict the sources give`, async () => {
      const archive = await fixtureArchive()
      for (const order of ['bpfel', 'bpfeb']) {
        const r = await check({kernel: release, objects: [fixture(order)], archive, options: {core: false}})
        expect(r.programs.map((p) => p.program).sort()).toEqual(Object.keys(PROGRAMS).sort())
        for (const p of r.programs) {
          const w = want(p.program!, up)
          expect(typeStatus(p), `${p.program} (${order}) on ${release}: ${JSON.stringify(typeReasons(p).map((x) => x.message))}`).toBe(w)
          if (w === 'fail') expect(p.verdict).toBe('unsupported')
        }
      }
    })
  }

  it('the reason names the helper, the program type, the kernel function and the verifier message, and suggests', async () => {
    const r = await check({kernel: '6.1.0-56-cloud-amd64', objects: [fixture('bpfel')], archive: await fixtureArchive(), options: {core: false}})
    const p = r.programs.find((x) => x.program === 'kprobe_skb_load')!
    const f = typeReasons(p).find((x) => x.status === 'fail')!
    expect(f.message).toMatch(/BPF_PROG_TYPE_KPROBE programs cannot call bpf_skb_load_bytes\(\).*kprobe_prog_func_proto\(\).*unknown func bpf_skb_load_bytes#26/)
    expect(f.source).toMatch(/linux-source-6\.1 6\.1\.192-2.*check_helper_call/)
    expect(p.suggestions.some((s) => /bpf_skb_load_bytes\(\) is for .*SCHED_CLS/.test(s.text))).toBe(true)
    const x = r.programs.find((q) => q.program === 'xdp_probe_read')!
    expect(x.suggestions.some((s) => /bpf_probe_read_kernel\(\)/.test(s.text))).toBe(true)
    const d = r.programs.find((q) => q.program === 'read_d_path')!
    expect(typeReasons(d).find((q) => q.status === 'fail')!.message).toMatch(/vfs_read is not in btf_allowlist_d_path.*helper call is not allowed in probe/)
    expect(d.suggestions.some((s) => /attach to one of .*filp_close/.test(s.text))).toBe(true)
    const ip = r.programs.find((q) => q.program === 'tp_func_ip')!
    expect(typeReasons(ip).find((q) => q.status === 'fail')!.message).toMatch(/bpf_get_func_ip\(\) is not supported for BPF_PROG_TYPE_TRACEPOINT/)
  })
})

// ---------------------------------------------------------------- context argument types

/**
 * needs_ctx_types.c: program -> [refused on 6.1, refused on 6.12, what 6.1's verifier prints].
 * From kernel/bpf/btf.c of both sources: btf_ctx_access refuses a pointer argument whose
 * target is not a struct, union, int or void, and (6.12 only) a pointer read with fewer
 * than 8 bytes, and any offset that is not a multiple of 8; btf_distill_func_proto refuses
 * a trampoline target with a union argument. The prototypes are checked with bpftool below.
 */
const CTX: Record<string, [boolean, boolean, string | null]> = {
  unlink_pp: [true, true, 'invalid bpf_context access off=24 size=8'],
  unlink_dentry: [false, false, null],
  backlog_enum: [true, true, 'invalid bpf_context access off=16 size=8'],
  thread_fn: [true, true, 'invalid bpf_context access off=0 size=8'],
  sigval_union: [true, true, 'The function kill_pid_usb_asyncio arg2 type UNION is unsupported.'],
  unlinkat_off4: [true, true, 'invalid bpf_context access off=4 size=4'],
  unlinkat_narrow: [false, true, null],
  unlinkat_dfd: [false, false, null],
  fput_ret: [true, true, 'invalid bpf_context access off=8 size=8'], // fexit reading the return slot of a void function
}
const ctxStatus = (p: ProgramResult): string => {
  const r = p.reasons.filter((x) => x.rule === 'ctx-types')
  return r.some((x) => x.status === 'fail') ? 'fail' : r.some((x) => x.status === 'unknown') ? 'unknown' : r.length ? 'pass' : 'none'
}

describe('context argument types (btf_ctx_access)', () => {
  const haveBpftool = requireTool('bpftool', 'the prototypes of the fixture targets')
  it.skipIf(!haveBpftool)('the targets have the prototypes the fixture assumes, as bpftool dumps the archived kernels', () => {
    for (const k of kernelFixtures().filter((f) => f.release === '6.1.0-56-cloud-amd64' || f.release === '6.12.117+deb12-cloud-amd64')) {
      const raw = run('bpftool', ['btf', 'dump', 'file', k.path, 'format', 'raw']).toString()
      const line = (id: string) => new RegExp(`^\\[${id}\\] (.*)$`, 'm').exec(raw)![1]!
      /** kinds along the chain from parameter `i` of FUNC `fn` through typedefs/modifiers/one pointer */
      const chain = (fn: string, i: number): string[] => {
        const protoId = new RegExp(`^\\[\\d+\\] FUNC '${fn}' type_id=(\\d+)`, 'm').exec(raw)![1]!
        const after = raw.slice(raw.indexOf(`[${protoId}] FUNC_PROTO`))
        const param = [...after.split('\n').slice(1).entries()].filter(([, l]) => l.startsWith('\t'))[i]![1]
        let id = /type_id=(\d+)/.exec(param)![1]!
        const kinds: string[] = []
        for (let n = 0; n < 8 && id !== '0'; n++) {
          const l = line(id)
          const kind = l.split(' ')[0]!
          kinds.push(kind)
          if (!['TYPEDEF', 'CONST', 'VOLATILE', 'PTR'].includes(kind) || (kind === 'PTR' && kinds.filter((x) => x === 'PTR').length > 1)) break
          id = /type_id=(\d+)/.exec(l)![1]!
        }
        return kinds.filter((x) => !['TYPEDEF', 'CONST', 'VOLATILE'].includes(x))
      }
      expect(chain('vfs_unlink', 3).slice(0, 2), k.release).toEqual(['PTR', 'PTR'])
      expect(chain('vfs_unlink', 2).slice(0, 2), k.release).toEqual(['PTR', 'STRUCT'])
      expect(chain('tcp_add_backlog', 2).slice(0, 2), k.release).toEqual(['PTR', 'ENUM'])
      expect(chain('kernel_thread', 0).slice(0, 2), k.release).toEqual(['PTR', 'FUNC_PROTO'])
      expect(chain('kill_pid_usb_asyncio', 2)[0], k.release).toBe('UNION')
      expect(chain('do_unlinkat', 0)[0], k.release).toBe('INT')
      expect(chain('do_unlinkat', 1).slice(0, 2), k.release).toEqual(['PTR', 'STRUCT'])
      const fput = new RegExp(`^\\[\\d+\\] FUNC 'fput' type_id=(\\d+)`, 'm').exec(raw)![1]!
      expect(line(fput), k.release).toMatch(/^FUNC_PROTO '\(anon\)' ret_type_id=0 vlen=1$/)
    }
  })

  for (const [release, col] of [['6.1.0-56-cloud-amd64', 0], ['6.12.117+deb12-cloud-amd64', 1]] as const) {
    it(`${release}: each program gets the verdict btf.c gives, in both byte orders`, async () => {
      const archive = await fixtureArchive()
      for (const order of ['bpfel', 'bpfeb']) {
        const r = await check({kernel: release, objects: [ctxFixture(order)], archive, options: {core: false}})
        for (const p of r.programs) {
          const w = CTX[p.program!]!
          // bpfeb: a 4-byte read of the low half of slot 0 is at offset 4 on big-endian, but
          // clang keeps the C offsets, so the expectations are the same for both orders
          expect(ctxStatus(p), `${p.program} (${order}) on ${release}: ${JSON.stringify(p.reasons.filter((x) => x.rule === 'ctx-types').map((x) => x.message))}`).toBe(w[col] ? 'fail' : 'pass')
        }
      }
    })
  }

  it('a tp_btf or fentry program reading past the arguments is ctx-args\' refusal, not a type refusal (needs_ctx.c)', async () => {
    for (const release of ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64']) {
      const r = await check({kernel: release, objects: [join('fixtures', 'bpf', 'needs_ctx.bpfel.o')], archive: await fixtureArchive(), options: {core: false}})
      for (const p of r.programs) expect(ctxStatus(p), `${p.program} on ${release}`).not.toBe('fail')
      expect(r.programs.find((p) => p.program === 'rq_insert_two')!.reasons.find((x) => x.rule === 'ctx-args')!.status).toBe('fail')
    }
  })

  it('the reasons name the argument, its type and the verifier message', async () => {
    const r = await check({kernel: '6.1.0-56-cloud-amd64', objects: [ctxFixture('bpfel')], archive: await fixtureArchive(), options: {core: false}})
    const msg = (prog: string) => r.programs.find((p) => p.program === prog)!.reasons.find((x) => x.rule === 'ctx-types' && x.status === 'fail')!.message
    expect(msg('unlink_pp')).toMatch(/argument 4 of vfs_unlink \('delegated_inode'\) points to PTR.*arg3 type PTR is not a struct/)
    expect(msg('unlinkat_off4')).toMatch(/offset 4 is not multiple of 8/)
    expect(msg('sigval_union')).toMatch(/trampoline cannot model kill_pid_usb_asyncio.*arg2 type UNION is unsupported/)
    const narrow = r.programs.find((p) => p.program === 'unlinkat_narrow')!.reasons.find((x) => x.rule === 'ctx-types')!
    expect(narrow.status).toBe('pass')
    const between = await check({kernel: '6.6.0-1-generic', objects: [ctxFixture('bpfel')], archive: await fixtureArchive(), options: {core: false}})
    expect(between.programs.every((p) => ctxStatus(p) === 'none'), 'no BTF for a kernel known by release: no type rule').toBe(true)
  })
})

// ---------------------------------------------------------------- the kernel's answer

const RELEASE = '6.1.0-56-cloud-amd64'
async function bootable(): Promise<string | undefined> {
  if (!['qemu-system-x86_64', 'gcc'].every((t) => requireTool(t, 'booting 6.1 for the helper allow-list oracle'))) return undefined
  const img = await archivedKernelImagePath(RELEASE)
  if ('skip' in img) {
    if (process.env.CI === 'true') throw new Error(`cannot get the ${RELEASE} image: ${img.skip}`)
    console.warn(`skipping the verify oracle: ${img.skip}`)
    return undefined
  }
  return img.path
}
const image = await bootable()

describe.skipIf(!image)(`the verifier of the booted ${RELEASE} agrees`, () => {
  let report: VerifyReport
  beforeAll(async () => {
    // TCG: KVM inside a VM can fail on MSRs the host refuses; TCG boots in ~10 s
    report = await verifyKernel({image: image!, kernel: RELEASE, objects: [join(process.cwd(), fixture('bpfel')), join(process.cwd(), ctxFixture('bpfel'))], accel: 'tcg', attach: false, timeoutMs: 600_000})
  }, 900_000)

  it('refuses exactly the calls the 6.1 source refuses, with "unknown func", and loads the rest', async () => {
    const r = await check({kernel: RELEASE, objects: [fixture('bpfel')], archive: await fixtureArchive(), options: {core: false}})
    for (const [prog, [helper, id, , refused]] of Object.entries(PROGRAMS)) {
      const v = report.programs.find((x) => x.program === prog && x.object!.endsWith('needs_types.bpfel.o'))!
      expect(v.load.status === 'error', `${prog}: ${v.load.message}`).toBe(refused)
      if (refused) expect(v.load.message, prog).toBe(VERIFIER_SAYS[prog] ?? `unknown func bpf_${helper}#${id}`)
      const c = r.programs.find((x) => x.program === prog)!
      expect(typeStatus(c), prog).toBe(v.load.status === 'error' ? 'fail' : 'pass')
    }
  })

  it('refuses exactly the context reads btf.c refuses, with its message, and loads the rest', async () => {
    const r = await check({kernel: RELEASE, objects: [ctxFixture('bpfel')], archive: await fixtureArchive(), options: {core: false}})
    for (const [prog, [refused, , says]] of Object.entries(CTX)) {
      const v = report.programs.find((x) => x.program === prog && x.object!.endsWith('needs_ctx_types.bpfel.o'))!
      expect(v.load.status === 'error', `${prog}: ${v.load.message}`).toBe(refused)
      if (says) expect(v.load.message, prog).toBe(says)
      expect(ctxStatus(r.programs.find((x) => x.program === prog)!), prog).toBe(refused ? 'fail' : 'pass')
    }
  })
})
