/**
 * Kernels that ship no BTF but whose BTF the archive generated from debug info (Debian's
 * i386, armhf, armel, mipsel, mips64el and loong64 kernels, 6.1 ppc64el and s390x): CO-RE
 * programs can run with that BTF given as btf_custom_path, and check names where it is
 * (its tarball, or its pack unit); BTF-attached programs (fentry, tp_btf, lsm) still
 * cannot, since a custom BTF does not give the kernel BTF of its own.
 *
 * The fixture's kprobe reads task_struct.__state, the name since 5.14 (kernel commit
 * 2f064a59a11f, "sched: Change task_struct::state"; 5.10 has `state`), and needs kprobe
 * events (CONFIG_KPROBE_EVENTS, which Debian's armel marvell build leaves off): its verdict
 * is decided by those two facts of the real package, not by kcompat.
 */
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import semver from 'semver'
import {describe, expect, it} from 'vitest'
import {resolveArchiveDir} from '../../src/archive/archive.js'
import {readManifest} from '../../src/archive/manifest.js'
import {check} from '../../src/check/check.js'
import {FIXTURES} from '../helpers/fixtures.js'

const root = resolveArchiveDir()
const generated = readManifest(root).kernels.filter((e) => e.btf === 'generated')

describe('check on kernels with generated BTF (the shipped archive)', () => {
  it('the archive has such kernels, each built without BTF of its own (its package config)', () => {
    const arches = new Set(generated.map((e) => e.arch))
    for (const a of ['i686', 'armv7l', 'armv6l', 'armv5tel', 'mips', 'mips64', 'loong64', 'ppc64le', 's390x']) expect(arches).toContain(a)
    for (const e of generated) expect([e.release, e.config?.CONFIG_DEBUG_INFO_BTF ?? null]).toEqual([e.release, null])
  })
  for (const e of generated) {
    it(`${e.arch} ${e.release}: CO-RE kprobe runs with the archived custom BTF (named); fentry/tp_btf/lsm cannot`, async () => {
      const obj = join(FIXTURES, 'bpf', 'core_fields.bpfel.o')
      const r = await check({kernel: e.release, arch: e.arch, objects: [obj], archive: root})
      const kprobe = r.programs.find((p) => p.section.startsWith('kprobe/'))!
      // where the BTF is: its tarball when the archive keeps one, else its pack segment
      const where = existsSync(join(root, e.path!)) ? e.path! : e.vmlinux!.path
      const kprobeEvents = e.config?.CONFIG_KPROBE_EVENTS === 'y'
      const stateRenamed = semver.gte(semver.coerce(e.release)!, '5.14.0')
      if (!kprobeEvents) {
        expect(kprobe.verdict).toBe('unsupported')
        expect(kprobe.reasons.find((x) => x.rule === 'config:kprobe-events')).toMatchObject({status: 'fail'})
      } else if (!stateRenamed) {
        expect(kprobe.verdict).toBe('unsupported')
        expect(kprobe.reasons.find((x) => x.rule === 'core')).toMatchObject({status: 'fail', message: expect.stringMatching(/__state.*has state/)})
      } else {
        expect(kprobe.verdict).toBe('supported')
        const core = kprobe.reasons.find((x) => x.rule === 'core' && x.status === 'pass')!
        expect(core.message).toMatch(/btf_custom_path/)
        expect(core.evidence.map((x) => x.text).join(' ')).toContain(where)
      }
      for (const p of r.programs.filter((x) => x.verdict === 'unsupported')) expect(p.suggestions.map((s) => s.text).join('\n')).toContain(where)
      for (const p of r.programs.filter((x) => /^(fentry|tp_btf|lsm)\//.test(x.section))) {
        expect([p.section, p.verdict]).toEqual([p.section, 'unsupported'])
        expect(p.reasons.find((x) => x.rule === 'kernel-btf')).toMatchObject({status: 'fail'})
      }
    })
  }
})
