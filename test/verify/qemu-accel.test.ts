/**
 * The automatic KVM fallback of src/verify/qemu.ts: a /dev/kvm that opens is not a KVM
 * that boots (nested virtualization: QEMU aborts at vCPU setup with "failed to set MSR",
 * or the guest hangs). The QEMU here is a shell script standing in for qemu-system-x86_64:
 * under `-accel kvm` it fails the way QEMU was seen to fail on a nested host, under
 * `-accel tcg` it prints the record /init prints first. The KVM device is a temporary
 * file (KCOMPAT_KVM_DEVICE), so the test runs the same with or without a real /dev/kvm.
 */
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeEach, describe, expect, it, vi} from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'kcompat-accel-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const device = join(dir, 'kvm')
writeFileSync(device, '')

function fakeQemu(name: string, onKvm: string): string {
  const p = join(dir, name)
  writeFileSync(
    p,
    `#!/bin/sh
case " $* " in
  *" -accel kvm "*) ${onKvm} ;;
  *" -accel tcg "*) printf 'Booting from ROM...\\nKCV1\\tUPTIME\\t1.00\\n'; exit 0 ;;
esac
exit 9
`,
  )
  chmodSync(p, 0o755)
  return p
}
const aborts = fakeQemu('aborts', `echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; kill -ABRT $$`)
const hangs = fakeQemu('hangs', `printf 'Booting from ROM...\\n'; exec sleep 30`)
const works = fakeQemu('works', `printf 'KCV1\\tUPTIME\\t0.50\\n'; exit 0`)

async function freshQemu(): Promise<typeof import('../../src/verify/qemu.js')> {
  vi.resetModules()
  return import('../../src/verify/qemu.js')
}
const base = {kernel: '/k', initrd: '/i', timeoutMs: 10_000, ready: /KCV1\t/, kvmReadyMs: 1500}

describe('automatic KVM with a TCG fallback', () => {
  beforeEach(() => {
    process.env.KCOMPAT_KVM_DEVICE = device
    delete process.env.KCOMPAT_ACCEL
  })

  it('KVM that aborts at start: the boot is run again under TCG, and later boots skip the trial', async () => {
    const q = await freshQemu()
    const lines: string[] = []
    const r = await q.boot({...base, qemu: aborts, onLine: (l) => lines.push(l)})
    expect(r.accel).toBe('tcg')
    expect(r.kvmFallback).toMatch(/failed to set MSR/)
    expect(r.exitCode).toBe(0)
    expect(lines).toContain('KCV1\tUPTIME\t1.00')
    const again = await q.boot({...base, qemu: aborts})
    expect(again.accel).toBe('tcg')
    expect(again.kvmFallback).toMatch(/failed to set MSR/)
  })

  it('KVM whose guest shows no sign of life: killed after the trial time, TCG instead; its lines are not passed on', async () => {
    const q = await freshQemu()
    const lines: string[] = []
    const r = await q.boot({...base, qemu: hangs, onLine: (l) => lines.push(l)})
    expect(r.accel).toBe('tcg')
    expect(r.kvmFallback).toMatch(/no sign of the guest within 1.5 s/)
    expect(lines.filter((l) => l.startsWith('Booting'))).toHaveLength(1)
  })

  it('KVM that boots is kept', async () => {
    const q = await freshQemu()
    const r = await q.boot({...base, qemu: works})
    expect(r.accel).toBe('kvm')
    expect(r.kvmFallback).toBeUndefined()
  })

  it('KCOMPAT_ACCEL forces one accelerator (no trial); a bad value is VERIFY_BAD_ACCEL', async () => {
    const q = await freshQemu()
    process.env.KCOMPAT_ACCEL = 'kvm'
    const r = await q.boot({...base, qemu: aborts})
    expect(r.accel).toBe('kvm')
    expect(r.signal).toBe('SIGABRT')
    process.env.KCOMPAT_ACCEL = 'hvf'
    await expect(q.boot({...base, qemu: aborts})).rejects.toMatchObject({code: 'VERIFY_BAD_ACCEL'})
    delete process.env.KCOMPAT_ACCEL
  })

  it('no usable KVM device: TCG without a trial', async () => {
    const q = await freshQemu()
    process.env.KCOMPAT_KVM_DEVICE = join(dir, 'absent')
    const r = await q.boot({...base, qemu: aborts})
    expect(r.accel).toBe('tcg')
    expect(r.kvmFallback).toBeUndefined()
  })
})
