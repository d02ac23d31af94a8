/**
 * The `ctx-args` rule is firm when the program reads a context argument the kernel's
 * prototype lacks on the path every run takes (ProgramNeeds.ctxSureSlot), even in an
 * object that chooses its path per kernel. The case it models: libbpf-tools' biolatency
 * reads `ctx[1]` of tp_btf/block_rq_insert when LINUX_KERNEL_VERSION < 5.11, and Debian
 * 11's 5.10 kernel has the one-argument tracepoint (TP_PROTO(struct request *rq) in its
 * include/trace/events/block.h, linux-source-5.10 5.10.262-1), so it refuses the load
 * with "invalid bpf_context access off=8 size=8" (booted with `kcompat verify`).
 *
 * The fixture fixtures/bpf/needs_ctx_sure.c does the same on the archived kernels, whose
 * block_rq_insert has one argument too (checked with bpftool below). Expected outcomes,
 * from kernel/bpf/btf.c btf_ctx_access ("func '%s' doesn't have %d-th argument", then the
 * verifier's "invalid bpf_context access") and the booted kernels' messages:
 * - lkv_wrong reads ctx[1] when LINUX_KERNEL_VERSION < 6.2: refused by 6.1, loads on 6.12;
 * - lkv_first reads ctx[1] when LINUX_KERNEL_VERSION >= 6.2: loads on 6.1, refused by 6.12;
 * - core_picked reads ctx[1] when a CO-RE type_exists relocation says so (libbpf patches
 *   1 on both kernels): refused by both, but the branch depends on a value libbpf
 *   writes, so a static reading is `unknown`, never `supported`.
 */
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import type {ProgramResult} from '../../src/check/types.js'
import {verifyKernel, type VerifyReport} from '../../src/verify/verify.js'
import {kernelFixtures} from '../helpers/fixtures.js'
import {requireTool, run} from '../helpers/tools.js'
import {archivedKernelImagePath} from '../verify/kernel-image.js'
import {fixtureArchive} from './fixture-archive.js'

const fixture = (order: string) => join('fixtures', 'bpf', `needs_ctx_sure.${order}.o`)

/** program -> [refused by 6.1, refused by 6.12, static ctx-args status on 6.1, on 6.12] */
const WANT: Record<string, [boolean, boolean, string, string]> = {
  lkv_wrong: [true, false, 'fail', 'pass'],
  lkv_first: [false, true, 'pass', 'fail'],
  core_picked: [true, true, 'unknown', 'unknown'],
}
const KERNELS = ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64'] as const
const ctxArgs = (p: ProgramResult) => p.reasons.find((r) => r.rule === 'ctx-args')

describe('ctx-args on the path every run takes', () => {
  it.skipIf(!requireTool('bpftool', 'the block_rq_insert prototype of the archived kernels'))('block_rq_insert has one argument on both archived kernels (bpftool)', () => {
    for (const k of kernelFixtures().filter((f) => (KERNELS as readonly string[]).includes(f.release))) {
      const c = run('bpftool', ['btf', 'dump', 'file', k.path, 'format', 'c']).toString()
      expect(c, k.release).toMatch(/typedef void \(\*btf_trace_block_rq_insert\)\(void \*, struct request \*\);/)
    }
  })

  for (const [ki, release] of KERNELS.entries()) {
    it(`${release}: a read of argument 2 on the LINUX_KERNEL_VERSION path taken is unsupported, one behind CO-RE is unknown`, async () => {
      const archive = await fixtureArchive()
      for (const order of ['bpfel', 'bpfeb']) {
        const r = await check({kernel: release, objects: [fixture(order)], archive, options: {core: false}})
        expect(r.programs.map((p) => p.program).sort()).toEqual(Object.keys(WANT).sort())
        for (const p of r.programs) {
          const want = WANT[p.program!]![2 + ki]!
          const c = ctxArgs(p)!
          expect(c.status, `${p.program} (${order}) on ${release}: ${c.message}`).toBe(want)
          if (want === 'fail') {
            expect(p.verdict).toBe('unsupported')
            expect(c.message).toMatch(/reads argument 2 of its context on every run, but btf_trace_block_rq_insert has only 1 argument/)
            expect(c.evidence.map((e) => e.text).join(' ')).toMatch(/path every run takes with LINUX_KERNEL_VERSION 6\.(1|12)\./)
          }
          if (want === 'unknown') expect(c.message).toMatch(/CO-RE type_exists relocation/)
        }
      }
    })
  }
})

async function bootable(release: string): Promise<string | undefined> {
  if (!['qemu-system-x86_64', 'gcc'].every((t) => requireTool(t, `booting ${release} for the ctx-args oracle`))) return undefined
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

    it('every program is refused or loaded as the sources say, and no static `supported` is refused', async () => {
      const r = await check({kernel: release, objects: [fixture('bpfel')], archive: await fixtureArchive(), options: {core: false}})
      for (const [prog, w] of Object.entries(WANT)) {
        const got = report.programs.find((p) => p.program === prog)!
        expect(got.outcome, `${prog} on ${release}: ${got.load.message ?? ''}`).toBe(w[ki] ? 'refused' : 'loads')
        if (w[ki]) expect(got.load.message).toMatch(/invalid bpf_context access off=8 size=8/)
        const v = r.programs.find((p) => p.program === prog)!.verdict
        if (got.outcome === 'refused') expect(v, prog).not.toBe('supported')
        else expect(v, prog).not.toBe('unsupported')
      }
    })
  })
}
