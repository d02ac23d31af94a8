/**
 * BTF minimization (BTFGen). Oracles: bpftool (`gen min_core_btf`, live when installed,
 * and the committed outputs in fixtures/golden/core), and libbpf itself through the
 * harness: with the minimized BTF as btf_custom_path, libbpf must patch every
 * instruction exactly as with the kernel's full BTF.
 */
import {existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'
import {addKernel} from '../../src/archive/archive.js'
import {readManifest} from '../../src/archive/manifest.js'
import {parseBtf} from '../../src/btf/decode.js'
import {loadBtf} from '../../src/btf/load.js'
import {readTar} from '../../src/archive/tar.js'
import {xzDecompress} from '../../src/archive/compress.js'
import {type BpfObject, loadBpfObject} from '../../src/core/object.js'
import {minimizeBtf} from '../../src/minimize/btfgen.js'
import {FIXTURES, kernelFixtures, scratchDir} from '../helpers/fixtures.js'
import {findTool, requireTool, run} from '../helpers/tools.js'
import {type LibbpfDecision, requireHarness, runHarness} from '../harness/libbpf.js'
import {compileC, show} from '../harness/compare.js'

const OBJECTS = ['core_fields', 'core_types', 'progs', 'externs']
const objPath = (name: string, order = 'bpfel'): string => join(FIXTURES, 'bpf', `${name}.${order}.o`)
const kernels = kernelFixtures()
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const kcompat = (args: string[]): {status: number; stdout: string; stderr: string} => {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 28})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

let n = 0
function writeTmp(name: string, bytes: Uint8Array): string {
  const p = join(scratchDir(), `${name}-${n++}.btf`)
  writeFileSync(p, bytes)
  return p
}

describe('byte-identical to bpftool gen min_core_btf', () => {
  for (const k of kernels) {
    for (const name of OBJECTS) {
      it(`${name} on ${k.release} (committed bpftool output), from the little- and the big-endian object`, async () => {
        const golden = readFileSync(join(FIXTURES, 'golden', 'core', `${name}__${k.release}.min.btf`))
        const target = parseBtf(k.btf)
        for (const order of ['bpfel', 'bpfeb']) {
          const r = minimizeBtf(target, [await loadBpfObject(objPath(name, order))])
          expect(r.failures).toEqual([])
          expect(Buffer.from(r.bytes).equals(golden), `${order}: ${r.bytes.length} bytes vs bpftool's ${golden.length}`).toBe(true)
        }
      })
    }
  }

  const haveBpftool = requireTool('bpftool', 'btfgen comparison with live bpftool')
  for (const k of kernels) {
    it.skipIf(!haveBpftool)(`all four objects at once on ${k.release} (live bpftool)`, async () => {
      const out = join(scratchDir(), `bpftool-min-${k.release}.btf`)
      run('bpftool', ['gen', 'min_core_btf', k.path, out, ...OBJECTS.map((o) => objPath(o))])
      const objs = await Promise.all(OBJECTS.map((o) => loadBpfObject(objPath(o))))
      const r = minimizeBtf(parseBtf(k.btf), objs)
      expect(Buffer.from(r.bytes).equals(readFileSync(out))).toBe(true)
      const compact = minimizeBtf(parseBtf(k.btf), objs, {compact: true})
      expect(compact.bytes.length).toBeLessThan(r.bytes.length)
    })
  }
})

/**
 * libbpf's decisions with `min` must be those with `full`. TYPE_ID_TARGET writes a type
 * id, which necessarily differs between the two BTFs: there the ids must name the same
 * type (kind and name).
 */
function expectSameDecisions(full: LibbpfDecision[], min: LibbpfDecision[], fullBtf: string, minBtf: string): void {
  expect(min.length).toBe(full.length)
  const fb = parseBtf(readFileSync(fullBtf))
  const mb = parseBtf(readFileSync(minBtf))
  const byKey = new Map(min.map((d) => [`${d.program}#${d.index}`, d]))
  for (const d of full) {
    const m = byKey.get(`${d.program}#${d.index}`)
    expect(m, `${d.program}#${d.index}`).toBeDefined()
    if (d.insnClass === 'LDIMM64' && d.status === 'patched' && d.value !== m!.value && d.value !== 0n) {
      // a target type id: compare what the ids name
      const a = fb.typeById(Number(d.value))
      const b = mb.typeById(Number(m!.value))
      expect(`${b.kind} ${b.name}`, `${d.program}#${d.index}`).toBe(`${a.kind} ${a.name}`)
      continue
    }
    expect(show({...m, original: undefined, target: undefined}), `${d.program}#${d.index}`).toBe(show({...d, original: undefined, target: undefined}))
  }
}

describe('libbpf patches the same instructions with the minimized BTF as with the full BTF', () => {
  const haveHarness = requireHarness('minimized vs full BTF with libbpf')
  for (const k of kernels) {
    for (const compact of [false, true]) {
      it.skipIf(!haveHarness)(`every fixture object on ${k.release}${compact ? ' (--compact)' : ''}`, async () => {
        const objs = await Promise.all(OBJECTS.map((o) => loadBpfObject(objPath(o))))
        const min = writeTmp(`min-${k.release}`, minimizeBtf(parseBtf(k.btf), objs, {compact}).bytes)
        for (const name of OBJECTS) {
          const kallsyms = writeTmp(`${name}-kallsyms`, new TextEncoder().encode(`${objs[OBJECTS.indexOf(name)]!.elf.symbols().filter((s) => s.shndx === 0 && s.name).map((s) => `ffffffff81000000 D ${s.name}`).join('\n')}\n`))
          const kconfig = writeTmp(`${k.release}-config`, new Uint8Array(spawnSync('xz', ['-dc', join(FIXTURES, 'kernels', `${k.release}.config.xz`)]).stdout))
          const opts = {vmlinux: k.path, kallsyms, kconfig}
          const full = runHarness(objPath(name), k.path, opts)
          const small = runHarness(objPath(name), min, opts)
          expect(full.decisions.length, full.log.slice(-2000)).toBeGreaterThan(0)
          expectSameDecisions(full.decisions, small.decisions, k.path, min)
        }
      })
    }
  }
})

describe('compiled cases: narrowing, flavors, TYPE_MATCHES, failures', () => {
  const ready = requireTool('clang', 'btfgen compiled cases') && requireHarness('btfgen compiled cases')
  it.skipIf(!ready)('several candidates and narrowing: libbpf decides the same with the minimized BTF', async () => {
    const kernel = compileC('kmin', `struct dup { int a; int b; int only_in_first; struct dup *next; }; struct dup___2 { int a; int c; int b; }; struct dup g1; struct dup___2 g2;
      enum e { E_A, E_B, E_C, E_D }; enum e g3;`)
    const prog = compileC(
      'pmin',
      `#include <linux/types.h>
      #include <bpf/bpf_helpers.h>
      #include <bpf/bpf_core_read.h>
      #define __pai __attribute__((preserve_access_index))
      __u64 out[8];
      struct dup { int a; int b; int only_in_first; struct dup *next; } __pai;
      struct dup___mine { int b; } __pai;
      enum e { E_C = 7 };
      SEC("kprobe/x") int prog(struct dup *d) {
        out[0] = BPF_CORE_READ(d, a);
        out[1] = BPF_CORE_READ(d, only_in_first);
        out[2] = BPF_CORE_READ(d, next, b);
        out[3] = bpf_core_type_exists(struct dup___mine); /* both candidates: 1 */
        out[4] = bpf_core_enum_value(enum e, E_C);
        return 0;
      }
      char LICENSE[] SEC("license") = "GPL";`,
    )
    const obj = await loadBpfObject(prog)
    const loaded = await loadBtf(kernel)
    const kb = loaded.parsed
    const raw = writeTmp('kmin-raw', loaded.btf)
    for (const compact of [false, true]) {
      const r = minimizeBtf(kb, [obj], {compact})
      expect(r.failures).toEqual([])
      const min = writeTmp('pmin', r.bytes)
      expectSameDecisions(runHarness(prog, kernel).decisions, runHarness(prog, min).decisions, raw, min)
      if (compact) {
        const e = parseBtf(r.bytes).types.find((t) => t.name === 'e')
        expect(e && 'values' in e ? e.values.map((v) => v.name) : []).toEqual(['E_C'])
      }
    }
    if (findTool('bpftool')) {
      const out = join(scratchDir(), 'pmin-bpftool.btf')
      run('bpftool', ['gen', 'min_core_btf', raw, out, prog])
      expect(Buffer.from(minimizeBtf(kb, [obj]).bytes).equals(readFileSync(out))).toBe(true)
    }
  })

  it.skipIf(!ready)('ambiguous candidates are reported, and kcompat btfgen writes nothing and exits 1', async () => {
    const kernel = compileC('kamb2', `struct dup { int a; int b; }; struct dup___2 { int a; int c; int b; }; struct dup g1; struct dup___2 g2;`)
    const prog = compileC(
      'pamb2',
      `#include <linux/types.h>
      #include <bpf/bpf_helpers.h>
      #include <bpf/bpf_core_read.h>
      struct dup { int a; int b; } __attribute__((preserve_access_index));
      __u64 out[2];
      SEC("kprobe/x") int prog(struct dup *d) { out[0] = BPF_CORE_READ(d, b); return 0; }
      char LICENSE[] SEC("license") = "GPL";`,
    )
    const obj: BpfObject = await loadBpfObject(prog)
    const r = minimizeBtf((await loadBtf(kernel)).parsed, [obj])
    expect(r.failures.map((f) => [f.code, f.local])).toEqual([['CORE_AMBIGUOUS', 'struct dup.b']])
    const out = join(scratchDir(), 'amb-out.btf')
    const cli = kcompat(['btfgen', '--btf', kernel, '--object', prog, '--out', out])
    expect(cli.status).toBe(1)
    expect(cli.stdout).toContain('CORE_AMBIGUOUS')
    expect(existsSync(out)).toBe(false)
  })
})

describe('kcompat btfgen', () => {
  const k = kernels[0]
  it.skipIf(!k)('--btf: writes bpftool\'s bytes; --compact is smaller', () => {
    const out = join(scratchDir(), 'cli-min.btf')
    const r = kcompat(['btfgen', '--btf', k!.path, '--object', objPath('core_types'), '--out', out])
    expect(r.status, r.stderr).toBe(0)
    expect(readFileSync(out).equals(readFileSync(join(FIXTURES, 'golden', 'core', `core_types__${k!.release}.min.btf`)))).toBe(true)
    const c = kcompat(['btfgen', '--btf', k!.path, '--object', objPath('core_types'), '--out', `${out}.c`, '--compact', '--json'])
    expect(c.status).toBe(0)
    const rep = JSON.parse(c.stdout) as {kernels: {bytes: number; failures: unknown[]}[]}
    expect(rep.kernels[0]!.failures).toEqual([])
    expect(rep.kernels[0]!.bytes).toBeLessThan(readFileSync(out).length / 2)
  })

  it.skipIf(kernels.length < 2)('--all: every archived kernel in the archive layout, as a tree or one .tar.xz', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kcompat-btfgen-archive-'))
    for (const kk of kernels) {
      await addKernel(
        root,
        {release: kk.release, distro: 'debian', version: '12', arch: kk.release.includes('arm64') ? 'arm64' : 'x86_64', flavor: 'cloud', btf: 'in-kernel', config: null, source: {method: 'kernel-image'}},
        kk.btf,
      )
    }
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-btfgen-out-'))
    const objs = ['--object', objPath('core_fields'), '--object', objPath('progs')]
    const r = kcompat(['btfgen', '--all', '--archive', root, ...objs, '--out', dir])
    expect(r.status, r.stderr + r.stdout).toBe(0)
    const tar = join(dir, 'all.tar.xz')
    expect(kcompat(['btfgen', '--all', '--archive', root, ...objs, '--out', tar, '--tar']).status).toBe(0)
    const entries = await readTar(xzDecompress(readFileSync(tar)))
    expect(entries.length).toBe(kernels.length)
    for (const kk of kernels) {
      const arch = kk.release.includes('arm64') ? 'arm64' : 'x86_64'
      const rel = `debian/12/${arch}/${kk.release}.btf`
      const expected = minimizeBtf(parseBtf(kk.btf), [await loadBpfObject(objPath('core_fields')), await loadBpfObject(objPath('progs'))]).bytes
      expect(readFileSync(join(dir, rel)).equals(Buffer.from(expected)), rel).toBe(true)
      expect(Buffer.from(entries.find((e) => e.name === rel)!.data).equals(Buffer.from(expected))).toBe(true)
    }
    expect(readdirSync(join(dir, 'debian', '12')).sort()).toEqual([...new Set(kernels.map((kk) => (kk.release.includes('arm64') ? 'arm64' : 'x86_64')))].sort())
    // spread over worker threads (-j 3: two workers and the main thread), the same files and report
    const dir3 = mkdtempSync(join(tmpdir(), 'kcompat-btfgen-out-j3-'))
    const r3 = kcompat(['btfgen', '--all', '--archive', root, ...objs, '--out', dir3, '-j', '3', '--json'])
    expect(r3.status, r3.stderr).toBe(0)
    const r1 = kcompat(['btfgen', '--all', '--archive', root, ...objs, '--out', dir3, '-j', '1', '--json'])
    expect(r3.stdout).toBe(r1.stdout)
    for (const kk of kernels) {
      const rel = `debian/12/${kk.release.includes('arm64') ? 'arm64' : 'x86_64'}/${kk.release}.btf`
      expect(readFileSync(join(dir3, rel)).equals(readFileSync(join(dir, rel))), rel).toBe(true)
    }
    // an error in a worker keeps its code: a corrupt cached BTF of the last kernel
    const last = readManifest(root).kernels.at(-1)!
    writeFileSync(join(root, '.cache', 'btf', `${last.sha256}.btf`), Buffer.alloc(last.size!, 0x41))
    for (const j of ['1', '3']) {
      const bad = kcompat(['btfgen', '--all', '--archive', root, ...objs, '--out', dir3, '-j', j, '--json'])
      expect(bad.status).not.toBe(0)
      expect(bad.stderr + bad.stdout).toMatch(/BTF_BAD_MAGIC/)
    }
  })
})

/**
 * Kernels that ship no BTF: their BTF in the archive was generated from the debug
 * package with pahole. The minimized BTF made from it must let libbpf decide every
 * relocation as the whole generated BTF does (issue: custom BTF for kernels without BTF).
 */
describe('minimized BTF of the archive\'s generated kernels (s390x, i686) serves libbpf as the full one does', async () => {
  const haveHarness = requireHarness('minimized vs full generated BTF with libbpf')
  const {resolveArchiveDir, readKernelBtf} = await import('../../src/archive/archive.js')
  const {readManifest} = await import('../../src/archive/manifest.js')
  const root = resolveArchiveDir()
  const generated = ['s390x', 'i686'].flatMap((arch) => readManifest(root).kernels.filter((e) => e.btf === 'generated' && e.arch === arch).slice(0, 1))
  it('the shipped archive holds generated BTF for s390x and i686', () => {
    expect(generated.map((e) => e.arch).sort()).toEqual(['i686', 's390x'])
  })
  const CORE_OBJECTS = ['core_fields', 'core_types', 'progs']
  for (const e of generated) {
    it.skipIf(!haveHarness)(`fixture CO-RE objects on ${e.arch} ${e.release}`, async () => {
      const fullBytes = await readKernelBtf(root, e)
      const fullPath = writeTmp(`generated-${e.release}`, fullBytes)
      const objs = await Promise.all(CORE_OBJECTS.map((o) => loadBpfObject(objPath(o))))
      const min = writeTmp(`min-generated-${e.release}`, minimizeBtf(parseBtf(fullBytes), objs).bytes)
      for (const [i, name] of CORE_OBJECTS.entries()) {
        const kallsyms = writeTmp(`${name}-kallsyms`, new TextEncoder().encode(`${objs[i]!.elf.symbols().filter((s) => s.shndx === 0 && s.name).map((s) => `ffffffff81000000 D ${s.name}`).join('\n')}\n`))
        const opts = {vmlinux: fullPath, kallsyms}
        const full = runHarness(objPath(name), fullPath, opts)
        const small = runHarness(objPath(name), min, opts)
        expect(full.decisions.length, full.log.slice(-2000)).toBeGreaterThan(0)
        expectSameDecisions(full.decisions, small.decisions, fullPath, min)
      }
    })
  }
})
