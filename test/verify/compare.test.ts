/**
 * How compareWithVerify classifies a kernel's refusal of a `supported` cell: only the
 * documented kinds of KNOWN_DISAGREEMENTS are `explained`. The observations are the shape
 * `kcompat verify` reported on Debian 13's 6.12.118 for biosnoop's
 * kprobe/blk_account_io_merge_bio (load ok, attach ENOENT: kallsyms has no such symbol,
 * kernel/trace/trace_kprobe.c validate_probe_symbol), and the same errno on a section the
 * kind does not cover.
 */
import {describe, expect, it} from 'vitest'
import {compareWithVerify, type PredictedCell} from '../../src/verify/compare.js'
import type {VerifyProgram, VerifyReport} from '../../src/verify/verify.js'

const KERNEL = '6.12.118+deb13-cloud-amd64'
const prog = (program: string, section: string, attachErrno: number): VerifyProgram => ({
  object: '/tmp/x/biosnoop.bpf.o',
  program,
  section,
  load: {status: 'ok', errno: 0, timeUs: 100},
  attach: {status: 'error', errno: attachErrno, errnoName: attachErrno === 2 ? 'ENOENT' : 'EINVAL', message: 'failed to create kprobe', timeUs: 100},
  outcome: 'refused',
})
const cell = (program: string, section: string): PredictedCell => ({kernel: KERNEL, object: 'biosnoop.bpf.o', program, section, verdict: 'supported', reasons: []})

describe('known disagreements', () => {
  it('a kprobe the kernel cannot create for want of a kallsyms symbol (ENOENT) is kprobe-no-symbol; other errnos and sections stay disagreements', () => {
    const programs = [
      prog('blk_account_io_merge_bio', 'kprobe/blk_account_io_merge_bio', 2),
      prog('ret_probe', 'kretprobe/blk_account_io_merge_bio', 2),
      prog('other_errno', 'kprobe/blk_account_io_merge_bio', 22),
      prog('tp', 'tracepoint/block/block_io_start', 2),
    ]
    const report = {kernel: KERNEL, image: 'vmlinuz', arch: 'x86_64', accel: 'tcg', qemu: 'qemu', attach: true, objects: [], programs, counts: {loads: 0, refused: 4, 'needs-setup': 0}, bootMs: 1, guestMs: 2} as unknown as VerifyReport
    const r = compareWithVerify(programs.map((p) => cell(p.program!, p.section)), [{kernel: KERNEL, report}])
    const by = new Map(r.comparisons.map((c) => [c.program, c]))
    expect(by.get('blk_account_io_merge_bio')!.explained?.id).toBe('kprobe-no-symbol')
    expect(by.get('ret_probe')!.explained?.id).toBe('kprobe-no-symbol')
    expect(by.get('other_errno')!.agreement).toBe('disagree')
    expect(by.get('tp')!.agreement).toBe('disagree')
    expect(r.figures[0]).toMatchObject({comparable: 4, explained: 2, disagree: 2})
  })
})
