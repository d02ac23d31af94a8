/**
 * `kcompat verify` on a real kernel: Debian bookworm's 6.1.0-56-cloud-amd64, the image
 * the archive records (fetched by fetchKernelImage, checked against the manifest's
 * sha256), booted ONCE under QEMU (TCG here; KVM where
 * /dev/kvm is usable) with the fixture objects (fixtures/bpf/verify), a set of Debian
 * libbpf-tools objects and a few --prog sections. Every assertion is a fact known
 * without kcompat:
 *
 * - fixtures/bpf/verify/verify.c documents each program's outcome and why (libbpf and
 *   verifier sources);
 * - the programs reported per object are the program sections llvm-readelf lists;
 * - an fentry/fexit program fails to load with ESRCH exactly when its target is not a
 *   FUNC in the kernel's BTF as bpftool dumps it (libbpf looks the target up there; the
 *   committed fixture is the same kernel's BTF);
 * - uprobes/usdt need a binary and perf_event programs a perf event: libbpf has no
 *   auto-attach for them in the guest (libbpf.c section_defs).
 */
import {spawnSync} from 'node:child_process'
import {basename, join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {buildMatrix} from '../../src/matrix/matrix.js'
import {renderMatrix} from '../../src/matrix/render.js'
import {compareWithVerify, figuresLine, disagreementLine, KNOWN_DISAGREEMENTS} from '../../src/verify/compare.js'
import {VerifyError} from '../../src/verify/errors.js'
import {verifyKernel, type VerifyProgram, type VerifyReport} from '../../src/verify/verify.js'
import {libbpfToolsObjects} from '../harness/libbpf-tools.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {findTool, requireTool, run} from '../helpers/tools.js'
import {ARCHIVE, archivedKernelImagePath} from './kernel-image.js'

const RELEASE = '6.1.0-56-cloud-amd64'
const FIXTURE = join(FIXTURES, 'bpf', 'verify', 'verify.bpfel.o')
/** libbpf-tools objects chosen for the variety of their programs and outcomes (kept small for CI time) */
export const TOOLS = ['bashreadline', 'biosnoop', 'capable', 'cpufreq', 'execsnoop', 'javagc', 'mdflush', 'opensnoop', 'readahead', 'runqlat', 'tcpsynbl']
const PROGS = ['fentry/do_unlinkat', 'fentry/kcompat_absent_function', 'tp_btf/sched_switch', 'kprobe/vfs_read', 'kprobe/kcompat_absent_function', 'xdp']

async function ready(): Promise<string | undefined> {
  const tools = ['qemu-system-x86_64', 'gcc', 'bpftool', 'llvm-readelf']
  if (!tools.every((t) => requireTool(t, 'booting a kernel for kcompat verify'))) return undefined
  const img = await archivedKernelImagePath(RELEASE)
  if ('skip' in img) {
    if (process.env.CI === 'true') throw new Error(`cannot get the ${RELEASE} image: ${img.skip}`)
    console.warn(`skipping kcompat verify boot tests: ${img.skip}`)
    return undefined
  }
  return img.path
}
const image = await ready()

/** Program sections of an object as llvm-readelf lists them: executable (AX) sections other than .text. */
function programSections(obj: string): Set<string> {
  const out = spawnSync(findTool('llvm-readelf')!, ['-S', '-W', obj], {encoding: 'utf8'}).stdout
  const secs = new Set<string>()
  for (const line of out.split('\n')) {
    const m = /^\s*\[\s*\d+\]\s+(\S+)\s+PROGBITS\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)/.exec(line)
    if (m && m[2]!.includes('X') && m[1] !== '.text') secs.add(m[1]!)
  }
  return secs
}

/** FUNC names in the kernel's BTF, as bpftool dumps the committed fixture of the same kernel. */
function btfFuncs(): Set<string> {
  const k = kernelFixtures().find((f) => f.release === RELEASE)!
  const raw = run('bpftool', ['btf', 'dump', 'file', k.path, 'format', 'raw']).toString()
  return new Set([...raw.matchAll(/^\[\d+\] FUNC '([^']+)'/gm)].map((m) => m[1]!))
}

describe.skipIf(!image)(`kcompat verify boots ${RELEASE}`, () => {
  let report: VerifyReport
  let objects: string[]
  const find = (obj: string, program: string): VerifyProgram => {
    const p = report.programs.find((x) => x.object === obj && x.program === program)
    if (!p) throw new Error(`no result for ${basename(obj)}:${program}`)
    return p
  }
  const section = (s: string): VerifyProgram => report.programs.find((x) => x.object === undefined && x.section === s)!

  beforeAll(async () => {
    const tools = libbpfToolsObjects().filter((t) => TOOLS.includes(t.tool))
    if (tools.length === 0 && process.env.CI === 'true') throw new Error('libbpf-tools is not installed (CI must install it)')
    objects = [FIXTURE, ...tools.map((t) => t.path)]
    report = await verifyKernel({image: image!, kernel: RELEASE, objects, progs: PROGS, attach: true, timeoutMs: 600_000})
  }, 900_000)

  it('reports every program of every object, as llvm-readelf lists their sections, and every --prog', () => {
    for (const obj of objects) {
      const got = new Set(report.programs.filter((p) => p.object === obj).map((p) => p.section))
      expect(got, basename(obj)).toEqual(programSections(obj))
    }
    expect(report.programs.filter((p) => p.object === undefined).map((p) => p.section)).toEqual(PROGS)
    expect(report.counts.loads + report.counts.refused + report.counts['needs-setup']).toBe(report.programs.length)
    expect(report.kernel).toBe(RELEASE)
    expect(report.bootMs).toBeGreaterThan(0)
  })

  it('a kprobe on vfs_read loads and attaches; so do tracepoint and tp_btf sched_switch', () => {
    for (const name of ['kprobe_vfs_read', 'tp_sched_switch', 'tp_btf_sched_switch']) {
      const p = find(FIXTURE, name)
      expect(p.load.status, name).toBe('ok')
      expect(p.attach.status, name).toBe('ok')
      expect(p.outcome, name).toBe('loads')
    }
    // the map sized at run time got the default, and the object loaded with it
    expect(find(FIXTURE, 'kprobe_vfs_read').set).toBe("map 'counts' max_entries=10240")
  })

  it('an fentry on a function absent from the kernel BTF fails with ESRCH (libbpf)', () => {
    const p = find(FIXTURE, 'fentry_absent')
    expect(p.outcome).toBe('refused')
    expect(p.load).toMatchObject({status: 'error', errno: 3, errnoName: 'ESRCH'})
    expect(p.load.message).toContain("failed to find kernel BTF type ID of 'kcompat_function_absent_from_every_kernel'")
    expect(p.attach.status).toBe('skipped')
  })

  it('a program reading past its context is refused by the verifier', () => {
    const p = find(FIXTURE, 'past_ctx')
    expect(p.outcome).toBe('refused')
    expect(p.load).toMatchObject({status: 'error', errno: 13, errnoName: 'EACCES'})
    expect(p.load.message).toBe('invalid bpf_context access off=4096 size=8')
  })

  it('bare kprobe and perf_event programs load and need run-time setup to attach', () => {
    for (const name of ['bare_kprobe', 'on_perf_event']) {
      const p = find(FIXTURE, name)
      expect(p.load.status, name).toBe('ok')
      expect(p.attach.status, name).toBe('skipped')
      expect(p.outcome, name).toBe('needs-setup')
      expect(p.needs, name).toMatch(/attach target given at run time/)
    }
  })

  it('fentry/fexit programs fail with ESRCH exactly when bpftool finds no FUNC of that name in the kernel BTF', () => {
    if (!requireTool('bpftool', 'the BTF cross-check')) return
    const funcs = btfFuncs()
    const traced = report.programs.filter((p) => /^(fentry|fexit|fmod_ret)\//.test(p.section))
    expect(traced.length).toBeGreaterThan(4)
    for (const p of traced) {
      const target = p.section.slice(p.section.indexOf('/') + 1)
      const absent = !funcs.has(target)
      expect(p.load.errnoName === 'ESRCH', `${p.program ?? ''} ${p.section}`).toBe(absent)
    }
  })

  it('uprobes and usdt need a binary; perf_event programs a perf event', () => {
    const setup = report.programs.filter((p) => /^(uprobe|uretprobe|usdt|perf_event)/.test(p.section))
    expect(setup.length).toBeGreaterThan(3)
    for (const p of setup) {
      expect(p.outcome, `${p.program} ${p.section}`).toBe('needs-setup')
      expect(p.load.status).toBe('ok')
    }
  })

  it('--prog sections: r0 = 0 programs for existing targets load and attach, absent ones fail', () => {
    expect(section('fentry/do_unlinkat')).toMatchObject({outcome: 'loads', load: {status: 'ok'}, attach: {status: 'ok'}})
    expect(section('tp_btf/sched_switch')).toMatchObject({outcome: 'loads'})
    expect(section('kprobe/vfs_read')).toMatchObject({outcome: 'loads'})
    expect(section('fentry/kcompat_absent_function')).toMatchObject({outcome: 'refused', load: {errnoName: 'ESRCH'}})
    expect(section('kprobe/kcompat_absent_function')).toMatchObject({outcome: 'refused', load: {status: 'ok'}, attach: {status: 'error', errnoName: 'ENOENT'}})
    expect(section('xdp')).toMatchObject({outcome: 'needs-setup', load: {status: 'ok'}})
  })

  // check/matrix and the kernel on the same objects: a `supported` the kernel refuses or an
  // `unsupported` it accepts fails, unless it is one of the documented kinds (compare.ts)
  it('agrees with matrix on every definite verdict, up to the documented kinds of disagreement', async () => {
    const m = await buildMatrix({objects, archive: ARCHIVE, kernels: RELEASE, jobs: 1})
    expect(m.kernels.map((k) => k.name)).toEqual([RELEASE])
    const cmp = compareWithVerify(m.cells, [{kernel: RELEASE, report}])
    const f = cmp.figures[0]!
    console.log(`agreement: ${figuresLine(f)}`)
    for (const d of cmp.disagreements) console.log(`  ${disagreementLine(d)}`)
    expect(cmp.comparisons.filter((c) => c.observed !== undefined).length).toBe(report.programs.filter((p) => p.object).length)
    expect(cmp.comparisons.filter((c) => c.agreement === 'disagree').map(disagreementLine)).toEqual([])
    expect(f.comparable).toBeGreaterThan(20)
    // matrix --verify: every format carries the observed outcome of every verified cell
    const mv = {...m, verify: cmp}
    const csv = renderMatrix(mv, 'csv').trim().split('\r\n')
    expect(csv[0]).toMatch(/,observed,observed_reason,agreement$/)
    const rows = csv.length - 1
    expect(rows).toBe(m.cells.length)
    for (const p of report.programs.filter((x) => x.object)) {
      const line = csv.find((l) => l.startsWith(`${RELEASE},`) && l.includes(`,${basename(p.object!)},${p.program},`))
      expect(line, `${p.program}`).toContain(`,${p.outcome},`)
    }
    expect(JSON.parse(renderMatrix(mv, 'json')).verify.figures[0]).toEqual(f)
    const table = renderMatrix(mv, 'table')
    expect(table).toContain(figuresLine(f))
    for (const d of cmp.disagreements) expect(table).toContain(disagreementLine(d))
    expect(renderMatrix(mv, 'markdown')).toContain('### Verified on the booted kernels')
    expect(renderMatrix(mv, 'html')).toContain('Verified on the booted kernels')
    // every documented kind is explained by its own words and a public source
    for (const k of KNOWN_DISAGREEMENTS) expect(k.source).toMatch(/^linux /)
  }, 300_000)
})

describe.skipIf(!image)('kcompat verify errors', () => {
  it('an object libbpf cannot open is VERIFY_BAD_OBJECT before any boot', async () => {
    const err = await verifyKernel({image: image!, objects: [join(FIXTURES, 'bpf', 'verify', 'verify.c')], timeoutMs: 1000}).catch((e) => e)
    expect(err).toBeInstanceOf(VerifyError)
    expect(err.code).toBe('VERIFY_BAD_OBJECT')
    expect(err.message).toContain('not a proper ELF object')
  })

  it('a missing image is VERIFY_NO_IMAGE', async () => {
    const err = await verifyKernel({image: '/nonexistent/vmlinuz', objects: [FIXTURE]}).catch((e) => e)
    expect(err.code).toBe('VERIFY_NO_IMAGE')
  })

  it('a guest that does not finish in time is VERIFY_TIMEOUT with the console\'s last lines', async () => {
    const err = await verifyKernel({image: image!, objects: [FIXTURE], timeoutMs: 1500}).catch((e) => e)
    expect(err.code).toBe('VERIFY_TIMEOUT')
    expect(err.message).toMatch(/within 2 s/)
  }, 60_000)

  it('a kernel that panics (no init it can run) is VERIFY_KERNEL_PANIC with the panic line', async () => {
    const err = await verifyKernel({image: image!, progs: ['xdp'], kernelArgs: ['rdinit=/kcompat-no-such-init'], timeoutMs: 300_000}).catch((e) => e)
    expect(err.code).toBe('VERIFY_KERNEL_PANIC')
    expect(err.message).toContain('Kernel panic - not syncing')
  }, 330_000)
})
