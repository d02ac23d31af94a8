/**
 * The `ctx-pointer` rule: a context access through a pointer that arithmetic moved is
 * refused by the verifier on every kernel (kernel/bpf/verifier.c check_mem_access ->
 * check_ptr_off_reg: "dereference of modified ctx ptr R%d off=%d disallowed", in Debian's
 * linux-source-6.1 6.1.192-2 and linux-source-6.12 6.12.117). The case it models:
 * libbpf-tools' bitesize indexes `ctx[LINUX_KERNEL_VERSION < 5.11 ? 1 : 0]`, which clang
 * computes as `r1 += index << 3`, and Debian 11's 5.10 refuses it with "dereference of
 * modified ctx ptr R1 off=8 disallowed" (booted with `kcompat verify`).
 *
 * The fixture fixtures/bpf/needs_ctx_moved.c reads sched_switch's arguments, which exist
 * on both archived kernels (checked with bpftool below), so only the way the pointer is
 * reached decides. Expected outcomes, from check_ptr_off_reg and the booted kernels:
 * - ctx_copy (r6 = r1), ctx_moved_back (+= 16, -= 16): not moved; load on both;
 * - ctx_moved, ctx_moved_store: moved by 8 on every path; refused by both;
 * - ctx_index_lkv: moved by 8 when LINUX_KERNEL_VERSION < 6.2: refused by 6.1, loads on 6.12;
 * - ctx_moved_maybe: moved after a branch on bpf_get_prandom_u32(): the verifier walks
 *   both paths and refuses on both kernels; statically that path is not sure: `unknown`.
 */
import {join} from 'node:path'
import {readFileSync} from 'node:fs'
import {beforeAll, describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import type {ProgramResult} from '../../src/check/types.js'
import {ElfFile} from '../../src/elf/elf.js'
import {readObjectNeeds} from '../../src/insn/decode.js'
import {verifyKernel, type VerifyReport} from '../../src/verify/verify.js'
import {kernelFixtures} from '../helpers/fixtures.js'
import {requireTool, run} from '../helpers/tools.js'
import {archivedKernelImagePath} from '../verify/kernel-image.js'
import {fixtureArchive} from './fixture-archive.js'

const fixture = (order: string) => join('fixtures', 'bpf', `needs_ctx_moved.${order}.o`)

/** program -> [refused by 6.1, refused by 6.12, ctx-pointer status on 6.1, on 6.12 (undefined: no such reason)] */
const WANT: Record<string, [boolean, boolean, string | undefined, string | undefined]> = {
  ctx_copy: [false, false, undefined, undefined],
  ctx_moved: [true, true, 'fail', 'fail'],
  ctx_moved_back: [false, false, undefined, undefined],
  ctx_index_lkv: [true, false, 'fail', undefined],
  ctx_moved_maybe: [true, true, 'unknown', 'unknown'],
  ctx_moved_store: [true, true, 'fail', 'fail'],
}
const KERNELS = ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64'] as const
const ctxPointer = (p: ProgramResult) => p.reasons.find((r) => r.rule === 'ctx-pointer')

describe('context accesses through a moved pointer', () => {
  it.skipIf(!requireTool('bpftool', 'the sched_switch prototype of the archived kernels'))('sched_switch has at least 2 arguments on both archived kernels (bpftool)', () => {
    for (const k of kernelFixtures().filter((f) => (KERNELS as readonly string[]).includes(f.release))) {
      const c = run('bpftool', ['btf', 'dump', 'file', k.path, 'format', 'c']).toString()
      expect(c, k.release).toMatch(/typedef void \(\*btf_trace_sched_switch\)\(void \*, bool, struct task_struct \*, struct task_struct \*/)
    }
  })

  it('the scan: a copy is not a move, += then -= comes back, and each moved access is found in both byte orders', () => {
    for (const order of ['bpfel', 'bpfeb']) {
      const n = readObjectNeeds(ElfFile.parse(readFileSync(fixture(order))))
      const by = new Map(n.programs.map((p) => [p.program, p]))
      expect(by.get('ctx_copy')!.ctxMoved).toEqual([])
      expect(by.get('ctx_copy')!.ctxSureSlot?.index).toBe(1) // *(u64 *)(r6 + 8) through the copy
      expect(by.get('ctx_moved_back')!.ctxMoved).toEqual([])
      expect(by.get('ctx_moved_back')!.ctxSlot?.index).toBe(1)
      expect(by.get('ctx_moved')!.ctxMoved).toEqual([{moved: 8, reg: 1, access: 'load', at: 'ctx_moved+1', sure: true}])
      expect(by.get('ctx_moved')!.ctxSlot).toBeNull() // a moved access is no slot read
      expect(by.get('ctx_moved_store')!.ctxMoved.map((m) => [m.moved, m.access, m.sure])).toEqual([[8, 'store', true]])
      expect(by.get('ctx_moved_maybe')!.ctxMoved.map((m) => [m.moved, m.reg, m.sure])).toEqual([[8, 6, false]])
      const lkv = by.get('ctx_index_lkv')!
      const v = (a: number, b: number, c: number) => new Map([['LINUX_KERNEL_VERSION', BigInt((a << 16) + (b << 8) + c)]])
      expect(n.ctxMovedOn(lkv, v(6, 1, 192)).map((m) => [m.moved, m.sure])).toEqual([[8, true]])
      expect(n.ctxMovedOn(lkv, v(6, 12, 117))).toEqual([])
    }
  })

  for (const [ki, release] of KERNELS.entries()) {
    it(`${release}: moved on the path every run takes is unsupported, behind an undecided branch unknown, a copy fine`, async () => {
      const archive = await fixtureArchive()
      for (const order of ['bpfel', 'bpfeb']) {
        const r = await check({kernel: release, objects: [fixture(order)], archive, options: {core: false}})
        expect(r.programs.map((p) => p.program).sort()).toEqual(Object.keys(WANT).sort())
        for (const p of r.programs) {
          const want = WANT[p.program!]![2 + ki]
          const c = ctxPointer(p)
          expect(c?.status, `${p.program} (${order}) on ${release}: ${c?.message}`).toBe(want)
          if (want === 'fail') {
            expect(p.verdict).toBe('unsupported')
            expect(c!.message).toMatch(/through a pointer moved by 8 bytes on every run.*"dereference of modified ctx ptr R\d off=8 disallowed"/)
          }
          if (want === 'unknown') expect(p.verdict).toBe('unknown')
          if (want === undefined) expect(p.verdict, `${p.program} (${order}) on ${release}`).toBe('supported')
        }
      }
    })
  }
})

async function bootable(release: string): Promise<string | undefined> {
  if (!['qemu-system-x86_64', 'gcc'].every((t) => requireTool(t, `booting ${release} for the ctx-pointer oracle`))) return undefined
  const img = await archivedKernelImagePath(release)
  if ('skip' in img) {
    if (process.env.CI === 'true') throw new Error(`cannot get the ${release} image: ${img.skip}`)
    console.warn(`skipping the verify oracle: ${img.skip}`)
    return undefined
  }
  return img.path
}

for (const [ki, release] of KERNELS.entries()) {
  const image = await bootable(release)
  describe.skipIf(!image)(`the verifier of the booted ${release} agrees`, () => {
    let report: VerifyReport
    beforeAll(async () => {
      report = await verifyKernel({image: image!, kernel: release, objects: [join(process.cwd(), fixture('bpfel'))], accel: 'tcg', attach: false, timeoutMs: 600_000})
    }, 900_000)

    it('every program is refused or loaded as check_ptr_off_reg says, and no static verdict contradicts it', async () => {
      const r = await check({kernel: release, objects: [fixture('bpfel')], archive: await fixtureArchive(), options: {core: false}})
      for (const [prog, w] of Object.entries(WANT)) {
        const got = report.programs.find((p) => p.program === prog)!
        expect(got.outcome, `${prog} on ${release}: ${got.load.message ?? ''}`).toBe(w[ki] ? 'refused' : 'loads')
        if (w[ki]) expect(got.load.message).toMatch(/dereference of modified ctx ptr R\d off=8 disallowed/)
        const v = r.programs.find((p) => p.program === prog)!.verdict
        if (got.outcome === 'refused') expect(v, prog).not.toBe('supported')
        else expect(v, prog).toBe('supported')
      }
    })
  })
}
