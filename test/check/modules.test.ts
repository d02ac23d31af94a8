/**
 * check with module BTF: the real split BTF of Debian's nft_ct and nf_conntrack_h323
 * (6.1 and 6.12, fixtures/kernels) as the kernel's modules. Which module defines a name
 * is read from bpftool's raw dump of each module's BTF (`bpftool -B vmlinux btf dump
 * file module format raw`), parsed here, never from kcompat.
 */
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {checkObject, checkSection} from '../../src/check/check.js'
import {type KernelProfile, resolveKernel} from '../../src/check/kernel.js'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {readRunningKernel} from '../../src/kernel/running.js'
import {FIXTURES, type ModuleFixture, moduleFixtures} from '../helpers/fixtures.js'
import {requireTool, run} from '../helpers/tools.js'
import {fixtureArchive} from './fixture-archive.js'

const haveBpftool = requireTool('bpftool', 'module BTF names from bpftool for check')
const OBJ = join(FIXTURES, 'bpf', 'modules.bpfel.o')

const byRelease = new Map<string, ModuleFixture[]>()
for (const m of moduleFixtures()) byRelease.set(m.release, [...(byRelease.get(m.release) ?? []), m])

/** FUNC names of a module's own types, from bpftool's raw dump of its split BTF. */
function bpftoolFuncs(m: ModuleFixture): Set<string> {
  const text = run('bpftool', ['-B', m.base.path, 'btf', 'dump', 'file', m.path, 'format', 'raw']).toString('utf8')
  return new Set([...text.matchAll(/^\[\d+\] FUNC '([^']+)'/gm)].map((x) => x[1]!))
}

async function profile(release: string, withModules: boolean): Promise<KernelProfile> {
  const mods = byRelease.get(release)!
  return resolveKernel({
    kernel: release,
    archive: await fixtureArchive(),
    ...(withModules ? {moduleBytes: new Map(mods.map((m) => [m.module, m.btf]))} : {noModules: true}),
  })
}

describe.each([...byRelease.keys()].sort())('check on %s with module BTF', (release) => {
  it.skipIf(!haveBpftool)('fentry on a module function: possible, naming the module and what to check', async () => {
    const defining = byRelease.get(release)!.filter((m) => bpftoolFuncs(m).has('nft_ct_get_eval')).map((m) => m.module)
    expect(defining).toEqual(['nft_ct'])
    const k = await profile(release, true)
    const [p] = await checkObject(OBJ, k).then((r) => r.filter((x) => x.program === 'ct_get_eval'))
    expect(p!.section).toBe('fentry/nft_ct_get_eval')
    expect(p!.verdict).toBe('possible')
    const t = p!.reasons.find((r) => r.rule === 'target')!
    expect(t.status).toBe('possible')
    expect(t.message).toMatch(/in module nft_ct's/)
    expect(t.check).toMatch(/lsmod \| grep -w nft_ct .*\/sys\/kernel\/btf\/nft_ct/)
    expect(t.source).toMatch(/290248a5b7d8/)
    expect(t.source).toMatch(/libbpf src\/libbpf\.c find_kernel_btf_id/)
    // the CO-RE relocations resolve against vmlinux + modules: no 'no such type' for module types
    const core = p!.reasons.filter((r) => r.rule === 'core')
    expect(core.some((r) => /struct nft_pktinfo: no such type/.test(r.message))).toBe(false)
  })

  it.skipIf(!haveBpftool)('fentry on a misspelled name: unsupported, with the module function as near name', async () => {
    for (const m of byRelease.get(release)!) expect(bpftoolFuncs(m).has('nft_ct_get_evl')).toBe(false)
    const k = await profile(release, true)
    const [p] = await checkObject(OBJ, k).then((r) => r.filter((x) => x.program === 'ct_typo'))
    expect(p!.verdict).toBe('unsupported')
    const t = p!.reasons.find((r) => r.rule === 'target')!
    expect(t.status).toBe('fail')
    expect(t.message).toMatch(/neither in this kernel's vmlinux BTF nor in the BTF of any of its \d+ modules/)
    expect(t.evidence[0]!.text).toMatch(/near: .*nft_ct_get_eval \(module nft_ct\)/)
    expect(p!.suggestions[0]).toMatchObject({kind: 'target', section: 'fentry/nft_ct_get_eval', verdict: 'possible'})
  })

  it('fentry/MODULE:func names that module only', async () => {
    const k = await profile(release, true)
    expect(checkSection('fentry/nft_ct:nft_ct_get_eval', k).verdict).toBe('possible')
    const wrongModule = checkSection('fentry/nf_tables:nft_ct_get_eval', k)
    expect(wrongModule.verdict).toBe('unsupported')
    expect(wrongModule.reasons.find((r) => r.rule === 'target')!.message).toMatch(/no module nf_tables with BTF/)
    expect(checkSection('fentry/nft_ct:nft_ct_get_evl', k).verdict).toBe('unsupported')
  })

  it('without module BTF archived both stay possible ("loads only if a module defines it")', async () => {
    const k = await profile(release, false)
    const results = await checkObject(OBJ, k)
    for (const name of ['ct_get_eval', 'ct_typo']) {
      const p = results.find((x) => x.program === name)!
      const t = p.reasons.find((r) => r.rule === 'target')!
      expect(t.status, name).toBe('possible')
      expect(t.message).toMatch(/loads only if a module defines it/)
    }
  })

  it('a vmlinux function is still supported, whatever the modules', async () => {
    const k = await profile(release, true)
    expect(checkSection('fentry/do_unlinkat', k).verdict).toBe('supported')
  })
})

describe('--kernel running: the BTF of the loaded modules (/sys/kernel/btf/<module>)', () => {
  const release = '6.1.0-56-cloud-amd64'
  const mods = byRelease.get(release)!
  const machine = (): ReturnType<typeof readRunningKernel> => {
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-sys-btf-'))
    writeFileSync(join(dir, 'vmlinux'), mods[0]!.base.btf)
    for (const m of mods) writeFileSync(join(dir, m.module), m.btf)
    return readRunningKernel({sysBtfDir: dir, release, arch: 'x86_64', procConfig: join(dir, 'none'), bootConfigDir: join(dir, 'none'), securityLsm: join(dir, 'none')})
  }

  it.skipIf(!haveBpftool)('a loaded module function is possible naming it; a name no loaded BTF has stays possible (a module not loaded may have it)', async () => {
    expect(bpftoolFuncs(mods.find((m) => m.module === 'nft_ct')!).has('nft_ct_get_eval')).toBe(true)
    const k = await resolveKernel({kernel: 'running', running: machine()})
    const results = await checkObject(OBJ, k)
    const good = results.find((x) => x.program === 'ct_get_eval')!.reasons.find((r) => r.rule === 'target')!
    expect(good.status).toBe('possible')
    expect(good.message).toMatch(/in module nft_ct's/)
    const bad = results.find((x) => x.program === 'ct_typo')!.reasons.find((r) => r.rule === 'target')!
    expect(bad.status).toBe('possible')
    expect(bad.message).toMatch(/loaded modules; nft_ct_get_eval \(module nft_ct\) is 1 edit away/)
  })
})
