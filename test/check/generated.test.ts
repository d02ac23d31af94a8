/**
 * Kernels that ship no BTF but whose BTF the archive generated from debug info (Debian
 * 12's s390x, ppc64el and i386 kernels): CO-RE programs can run with that BTF given as
 * btf_custom_path, and check names the file; BTF-attached programs (fentry, tp_btf, lsm)
 * still cannot, since a custom BTF does not give the kernel BTF of its own.
 */
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {resolveArchiveDir} from '../../src/archive/archive.js'
import {readManifest} from '../../src/archive/manifest.js'
import {check} from '../../src/check/check.js'
import {FIXTURES} from '../helpers/fixtures.js'

const root = resolveArchiveDir()
const generated = readManifest(root).kernels.filter((e) => e.btf === 'generated')

describe('check on kernels with generated BTF (the shipped archive)', () => {
  it('the archive has such kernels', () => {
    expect(generated.map((e) => e.arch).sort()).toEqual(['i686', 'i686', 'ppc64le', 's390x'])
  })
  for (const e of generated) {
    it(`${e.arch} ${e.release}: CO-RE kprobe runs with the archived custom BTF (named); fentry/tp_btf/lsm cannot`, async () => {
      const obj = join(FIXTURES, 'bpf', 'core_fields.bpfel.o')
      const r = await check({kernel: e.release, arch: e.arch, objects: [obj], archive: root})
      const kprobe = r.programs.find((p) => p.section.startsWith('kprobe/'))!
      expect(kprobe.verdict).toBe('supported')
      const core = kprobe.reasons.find((x) => x.rule === 'core' && x.status === 'pass')!
      expect(core.message).toMatch(/btf_custom_path/)
      expect(core.evidence.map((x) => x.text).join(' ')).toContain(e.path!)
      for (const p of r.programs.filter((x) => /^(fentry|tp_btf|lsm)\//.test(x.section))) {
        expect([p.section, p.verdict]).toEqual([p.section, 'unsupported'])
        expect(p.reasons.find((x) => x.rule === 'kernel-btf')).toMatchObject({status: 'fail'})
        expect(p.suggestions.map((s) => s.text).join('\n')).toContain(e.path!)
      }
    })
  }
})
