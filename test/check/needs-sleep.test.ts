/**
 * Sleepable-only helpers: kernel/bpf/verifier.c check_helper_call refuses a helper whose
 * bpf_func_proto has `.might_sleep = true` in a program loaded without BPF_F_SLEEPABLE
 * ("helper call might sleep in a non-sleepable prog"). Which protos have it, and which
 * program types return them, comes from scripts/helper-protos.mjs run on Debian's
 * linux-source-6.1 6.1.192-2 and linux-source-6.12 6.12.117 (helper-protos.json); the
 * expected outcomes below are read from those sources (kernel/bpf/helpers.c
 * bpf_copy_from_user_proto, kernel/bpf/bpf_lsm.c bpf_ima_file_hash_proto), and the
 * booted kernels confirm them.
 *
 * fixtures/bpf/needs_sleep.c: fentry_copy, kprobe_copy (bpf_copy_from_user) and lsm_ima
 * (bpf_ima_file_hash) are refused; the same calls from iter.s/task and lsm.s/file_open,
 * and fentry_plain (bpf_get_current_pid_tgid), load.
 */
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import {loadHelperProtos} from '../../src/kernel/facts/helper-protos.js'
import {verifyKernel, type VerifyReport} from '../../src/verify/verify.js'
import {requireTool} from '../helpers/tools.js'
import {archivedKernelImagePath} from '../verify/kernel-image.js'
import {fixtureArchive} from './fixture-archive.js'

const fixture = (order: string) => join('fixtures', 'bpf', `needs_sleep.${order}.o`)
/** program -> [refused on 6.1 and 6.12, the sleepable section named in the reason] */
const WANT: Record<string, [boolean, string | undefined]> = {
  fentry_copy: [true, 'SEC("fentry.s/do_unlinkat")'],
  kprobe_copy: [true, undefined],
  lsm_ima: [true, 'SEC("lsm.s/file_open")'],
  iter_copy_s: [false, undefined],
  lsm_ima_s: [false, undefined],
  fentry_plain: [false, undefined],
}
const KERNELS = ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64'] as const
const SLEEP = /might sleep, and needs a sleepable program/

describe('helpers that might sleep', () => {
  it('the lists read from the sources: bpf_copy_from_user[_task] are sleepable-only for tracing types, the ima hashes for lsm, bpf_get_stack is not', () => {
    const data = loadHelperProtos()
    for (const v of ['6.1', '6.12']) {
      const k = data.kernels[v]!
      expect(k.checks.sleepable!.mightSleep).toEqual(expect.arrayContaining(['bpf_copy_from_user_proto', 'bpf_copy_from_user_task_proto', 'bpf_ima_file_hash_proto', 'bpf_ima_inode_hash_proto']))
      for (const t of ['KPROBE', 'TRACEPOINT', 'TRACING', 'LSM']) expect(k.progTypes[t]!.sleepableOnly, `${t} on ${v}`).toEqual(expect.arrayContaining(['copy_from_user', 'copy_from_user_task']))
      expect(k.progTypes.LSM!.sleepableOnly).toEqual(expect.arrayContaining(['ima_file_hash', 'ima_inode_hash']))
      // 6.12 returns bpf_get_stack_sleepable_proto (might_sleep) only to sleepable programs
      expect(k.progTypes.TRACING!.sleepableOnly).not.toContain('get_stack')
    }
    expect(data.kernels['6.12']!.checks.sleepable!.mightSleep).toContain('bpf_get_stack_sleepable_proto')
  })

  for (const release of KERNELS) {
    it(`${release}: a helper that might sleep is unsupported outside a sleepable section, supported inside`, async () => {
      const archive = await fixtureArchive()
      for (const order of ['bpfel', 'bpfeb']) {
        const r = await check({kernel: release, objects: [fixture(order)], archive, options: {core: false}})
        expect(r.programs.map((p) => p.program).sort()).toEqual(Object.keys(WANT).sort())
        for (const p of r.programs) {
          const [refused, twin] = WANT[p.program!]!
          const sleep = p.reasons.filter((x) => x.rule === 'helper-type' && SLEEP.test(x.message))
          if (refused) {
            expect(p.verdict, `${p.program} (${order})`).toBe('unsupported')
            expect(sleep.map((x) => x.status)).toEqual(['fail'])
            expect(sleep[0]!.message).toMatch(/"helper call might sleep in a non-sleepable prog"/)
            if (twin) expect(sleep[0]!.message).toContain(twin)
          } else {
            expect(sleep, `${p.program} (${order})`).toEqual([])
            expect(p.reasons.filter((x) => x.rule === 'helper-type' && x.status !== 'pass')).toEqual([])
          }
        }
      }
    })
  }

  it('a kernel older than both series keeps the refusal (5.10 returned no proto to a non-sleepable program)', async () => {
    const r = await check({kernel: '5.10.0-28-amd64', objects: [fixture('bpfel')], options: {core: false}})
    const p = r.programs.find((x) => x.program === 'kprobe_copy')!
    expect(p.reasons.find((x) => x.rule === 'helper-type' && SLEEP.test(x.message))!.status).toBe('fail')
  })
})

async function bootable(release: string): Promise<string | undefined> {
  if (!['qemu-system-x86_64', 'gcc'].every((t) => requireTool(t, `booting ${release} for the sleepable-helper oracle`))) return undefined
  const img = await archivedKernelImagePath(release)
  if ('skip' in img) {
    if (process.env.CI === 'true') throw new Error(`cannot get the ${release} image: ${img.skip}`)
    console.warn(`skipping the verify oracle: ${img.skip}`)
    return undefined
  }
  return img.path
}

for (const release of KERNELS) {
  const image = await bootable(release)
  describe.skipIf(!image)(`the verifier of the booted ${release} agrees`, () => {
    let report: VerifyReport
    beforeAll(async () => {
      report = await verifyKernel({image: image!, kernel: release, objects: [join(process.cwd(), fixture('bpfel'))], accel: 'tcg', attach: false, timeoutMs: 600_000})
    }, 900_000)

    it('the programs calling a helper that might sleep from a non-sleepable section are refused with that message, the others load', () => {
      for (const [prog, [refused]] of Object.entries(WANT)) {
        const got = report.programs.find((p) => p.program === prog)!
        expect(got.outcome, `${prog} on ${release}: ${got.load.message ?? ''}`).toBe(refused ? 'refused' : 'loads')
        if (refused) expect(got.load.message).toMatch(/helper call might sleep in a non-sleepable prog/)
      }
    })
  })
}
