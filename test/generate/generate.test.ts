/**
 * `btf generate` on small objects compiled here with DWARF (clang and gcc), against
 * pahole run directly with the same flags (the oracle: the output must be the same
 * bytes) and bpftool's dump of both; split BTF on a base; every failure mode (missing,
 * old, failing, killed pahole; no DWARF; not ELF; bad output) through the library and
 * the CLI.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {Kind} from '../../src/btf/wire.js'
import {compareBtf} from '../../src/generate/compare.js'
import {probeElf} from '../../src/generate/elf-probe.js'
import {generateBtf} from '../../src/generate/generate.js'
import {GenerateError} from '../../src/generate/pahole.js'
import {firstDifference, findTool, requireTool, run} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const work = mkdtempSync(join(tmpdir(), 'kcompat-generate-'))
const havePahole = requireTool('pahole', 'BTF generation')
const haveBpftool = requireTool('bpftool', 'BTF generation oracle dumps')
const compilers = ['clang', 'gcc'].filter((c) => findTool(c))
afterAll(() => rmSync(work, {recursive: true, force: true}))

const SOURCE = `
typedef unsigned int u32;
typedef unsigned long long u64;
enum color { RED, GREEN = 5, BLUE = -1 };
enum big { BIG_A = 0x100000000ULL, BIG_B = 1 };
struct inner { int a; char b[3]; };
struct outer {
  struct inner in;
  u32 flags:3, mode:5;
  union { int i; float f; } u;
  struct { long x; short y; } anon;
  struct outer *next;
  const volatile int *cv;
  void (*cb)(int, struct outer *);
  double d;
  enum color color;
  char tail[];
};
typedef struct outer outer_t;
__attribute__((section(".data..percpu"))) int pcpu_counter;
int global_counter;
static int helper(struct outer *o, int k) { return o->flags + k; }
int use(outer_t *o, enum color c, enum big b) { return helper(o, c) + (int)b + global_counter + pcpu_counter; }
long variadic(const char *fmt, ...) { return fmt[0]; }
const char linux_banner[] = "Linux version 6.1.0-99-test (kcompat@test) (cc) #1 SMP\\n";
`

function compile(cc: string, name: string, source = SOURCE, extra: string[] = []): string {
  const c = join(work, `${name}.c`)
  writeFileSync(c, source)
  const o = join(work, `${name}.o`)
  run(cc, ['-g', '-O0', '-c', c, '-o', o, ...extra])
  return o
}

function kcompat(args: string[], env: Record<string, string> = {}): {status: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', env: {...process.env, ...env}})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

function fake(name: string, body: string): string {
  const p = join(work, name)
  writeFileSync(p, `#!/bin/sh\ncase "$1" in --version) echo v1.24; exit 0;; --help) echo "      --btf_encode_detached=FILENAME"; echo "      --btf_gen_floats"; exit 0;; esac\n${body}\n`)
  chmodSync(p, 0o755)
  return p
}

async function codeOf(p: Promise<unknown>): Promise<{code: string; message: string}> {
  try {
    await p
  } catch (e) {
    return {code: (e as GenerateError).code, message: (e as Error).message}
  }
  return {code: 'no error', message: ''}
}

const expectSame = (a: string, b: string): void => {
  const d = firstDifference(a, b)
  expect(d, d).toBeUndefined()
}

describe.skipIf(!havePahole || compilers.length === 0)('btf generate against pahole run directly', () => {
  for (const cc of compilers) {
    it(`${cc} -g object: the same bytes as pahole with the recorded flags, the same bpftool dump`, async () => {
      const o = compile(cc, `obj-${cc}`)
      const out = join(work, `obj-${cc}.btf`)
      const r = await generateBtf(o, {out})
      expect(r.kernel).toBe('6.1.0-99-test') // read from the banner in .rodata
      expect(r.generator).toEqual({tool: 'pahole', version: run('pahole', ['--version']).toString().trim().replace(/^v/, ''), flags: r.generator.flags})
      expect(r.generator.flags).toContain('--btf_gen_floats')
      const oracle = join(work, `obj-${cc}.oracle.btf`)
      run('pahole', [...r.generator.flags, `--btf_encode_detached=${oracle}`, o])
      expect(Buffer.compare(readFileSync(out), readFileSync(oracle))).toBe(0)
      expect(Buffer.compare(Buffer.from(r.btf), readFileSync(out))).toBe(0)
      // what it holds, by name, as kcompat sees it and as bpftool prints it
      const btf = parseBtf(readFileSync(out))
      const outer = btf.typeById(btf.findByName('outer', Kind.STRUCT)!)
      expect(outer.kind === Kind.STRUCT && outer.members.map((m) => m.name)).toEqual(['in', 'flags', 'mode', 'u', 'anon', 'next', 'cv', 'cb', 'd', 'color', 'tail'])
      expect(btf.findByName('use', Kind.FUNC)).toBeDefined()
      expect(btf.findByName('pcpu_counter', Kind.VAR)).toBeDefined()
      expect(btf.findByName('big', Kind.ENUM64)).toBeDefined()
      expect(compareBtf(btf, parseBtf(readFileSync(oracle))).differences).toEqual([])
      if (haveBpftool) {
        const dumped = run('bpftool', ['btf', 'dump', 'file', out]).toString()
        expectSame(dumped, run('bpftool', ['btf', 'dump', 'file', oracle]).toString())
        const ours = kcompat(['btf', 'dump', out])
        expect(ours.status).toBe(0)
        expectSame(ours.stdout, dumped)
        expect(dumped).toMatch(/FUNC 'helper' type_id=\d+ linkage=static/)
      }
    })
  }

  it('--libbpf 0.7 and --kernel 5.10 leave out the kinds they cannot parse (and pahole agrees byte for byte)', async () => {
    const o = compile(compilers[0]!, 'limits')
    for (const [opts, absent] of [
      [{libbpf: '0.7'}, [Kind.ENUM64]],
      [{kernel: '5.10'}, [Kind.ENUM64, Kind.FLOAT]],
    ] as const) {
      const r = await generateBtf(o, opts)
      const kinds = new Set<number>()
      for (let id = 1; id <= r.parsed.lastId; id++) kinds.add(r.parsed.typeById(id).kind)
      for (const k of absent) expect(kinds.has(k), `kind ${k} with ${JSON.stringify(opts)}`).toBe(false)
      const oracle = join(work, 'limits.oracle.btf')
      run('pahole', [...r.generator.flags, `--btf_encode_detached=${oracle}`, o])
      expect(Buffer.compare(Buffer.from(r.btf), readFileSync(oracle))).toBe(0)
      if (haveBpftool) run('bpftool', ['btf', 'dump', 'file', oracle])
    }
  })

  it('split BTF on a base (--base-btf, as for a module): pahole --btf_base gives the same bytes, bpftool reads it on the base', async () => {
    const base = compile(compilers[0]!, 'base', 'struct shared { int x; long y; };\nint base_fn(struct shared *s) { return s->x; }\n')
    const mod = compile(compilers[0]!, 'mod', 'struct shared { int x; long y; };\nstruct mine { struct shared s; char c; };\nint mod_fn(struct mine *m) { return m->c; }\n')
    const baseBtf = join(work, 'base.btf')
    await generateBtf(base, {out: baseBtf})
    const out = join(work, 'mod.btf')
    const r = await generateBtf(mod, {out, baseBtf})
    const oracle = join(work, 'mod.oracle.btf')
    run('pahole', [...r.generator.flags, `--btf_base=${baseBtf}`, `--btf_encode_detached=${oracle}`, mod])
    expect(Buffer.compare(readFileSync(out), readFileSync(oracle))).toBe(0)
    expect(r.parsed.startId).toBeGreaterThan(1)
    if (haveBpftool) {
      const theirs = run('bpftool', ['-B', baseBtf, 'btf', 'dump', 'file', out]).toString()
      expect(theirs).toMatch(/STRUCT 'mine'/)
      expect(theirs).not.toMatch(/STRUCT 'shared'/) // it comes from the base
      expectSame(kcompat(['btf', 'dump', out, '--base-btf', baseBtf]).stdout, theirs)
    }
  })

  it('reports progress while pahole runs (elapsed time, memory, its last line)', async () => {
    const o = compile(compilers[0]!, 'progress')
    const real = findTool('pahole')!
    const slow = fake('slow-pahole', `echo "encoding..." >&2; sleep 0.8; exec ${real} "$@"`)
    const seen: {elapsedMs: number; rssKiB?: number; lastLine?: string}[] = []
    const r = await generateBtf(o, {pahole: slow, onProgress: (p) => seen.push(p)})
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.some((p) => p.lastLine === 'encoding...')).toBe(true)
    if (existsSync('/proc/self/status')) expect(seen.some((p) => (p.rssKiB ?? 0) > 0)).toBe(true)
    expect(r.paholeOutput).toBe('encoding...')
  })
})

describe('btf generate failures', () => {
  const obj = compilers.length > 0 ? compile(compilers[0]!, 'fail') : ''

  it.skipIf(!obj)('pahole failing: TOOL_FAILED with its stderr verbatim and the command; the old output is untouched, nothing left behind', async () => {
    const out = join(work, 'keep', 'x.btf')
    await generateBtf(obj, {out, pahole: findTool('pahole')}).catch(() => undefined)
    const before = existsSync(out) ? readFileSync(out) : undefined
    const stderr = 'die__process_unit: DW_TAG_label (0xa) @ <0x1234> not handled!\nbtf_encoder__encode: Error emitting BTF type'
    const p = fake('fail-pahole', `printf '%s\\n' "${stderr.replace(/\n/g, '" "')}" >&2; exit 2`)
    const e = await codeOf(generateBtf(obj, {out, pahole: p}))
    expect(e.code).toBe('TOOL_FAILED')
    expect(e.message).toContain(`pahole said:\n${stderr}`)
    expect(e.message).toMatch(/exited with status 2 .* while encoding BTF from .*fail\.o/)
    expect(e.message).toMatch(/command: .*fail-pahole -F dwarf --btf_gen_floats --btf_encode_detached=.*x\.btf\.tmp-/)
    if (before) expect(Buffer.compare(readFileSync(out), before)).toBe(0)
    expect(readdirSync(join(work, 'keep')).filter((f) => f.includes('.tmp-'))).toEqual([])
  })

  it.skipIf(!obj)('pahole killed: the signal, its peak memory and the out-of-memory hint', async () => {
    const e = await codeOf(generateBtf(obj, {pahole: fake('killed-pahole', 'sleep 0.4; kill -9 $$')}))
    expect(e.code).toBe('TOOL_FAILED')
    expect(e.message).toMatch(/killed by SIGKILL.*out-of-memory killer/)
  })

  it.skipIf(!obj)('pahole writing nothing or garbage: GENERATE_NO_OUTPUT, GENERATE_BAD_OUTPUT (with the parser code)', async () => {
    expect((await codeOf(generateBtf(obj, {pahole: fake('silent-pahole', 'echo "warning: nothing to do" >&2; exit 0')}))).code).toBe('GENERATE_NO_OUTPUT')
    const garbage = fake('garbage-pahole', 'for a in "$@"; do case "$a" in --btf_encode_detached=*) printf "\\237\\353\\001\\000xxxx" > "${a#--btf_encode_detached=}";; esac; done')
    const e = await codeOf(generateBtf(obj, {pahole: garbage}))
    expect(e.code).toBe('GENERATE_BAD_OUTPUT')
    expect(e.message).toMatch(/does not parse: \[BTF_/)
  })

  it('input without DWARF, not ELF, missing: GENERATE_NO_DWARF (pointing to the -dbg package), INPUT_NOT_ELF, INPUT_NOT_FOUND', async () => {
    const stripped = join(work, 'stripped')
    if (compilers.length > 0) {
      run(compilers[0]!, ['-c', '-O0', join(work, 'fail.c'), '-o', stripped])
      const e = await codeOf(generateBtf(stripped))
      expect(e.code).toBe('GENERATE_NO_DWARF')
      expect(e.message).toMatch(/linux-image-<release>-dbg/)
    }
    const text = join(work, 'text.txt')
    writeFileSync(text, 'not an elf file\n')
    expect((await codeOf(generateBtf(text))).code).toBe('INPUT_NOT_ELF')
    expect((await codeOf(generateBtf(join(work, 'nope.o')))).code).toBe('INPUT_NOT_FOUND')
  })

  it.skipIf(!obj)('probeElf reads DWARF version, banner and sections without loading the file', async () => {
    const p = await probeElf(obj)
    expect(p.hasDwarf).toBe(true)
    expect(p.dwarfVersion).toBeGreaterThanOrEqual(4)
    expect(p.type).toBe(1)
    expect(p.hasBtf).toBe(false)
  })
})

describe.skipIf(compilers.length === 0)('kcompat btf generate (CLI)', () => {
  const obj = compilers.length > 0 ? compile(compilers[0]!, 'cli') : ''

  it.skipIf(!havePahole)('writes the BTF and says what it did; --json has the generator', () => {
    const out = join(work, 'cli.btf')
    const r = kcompat(['btf', 'generate', obj, '--out', out])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^wrote .*cli\.btf: \d+ types/)
    expect(r.stdout).toMatch(/pahole v1\.\d+: -F dwarf --btf_gen_floats/)
    const j = kcompat(['btf', 'generate', obj, '--out', out, '--json', '--libbpf', '0.7'])
    expect(j.status).toBe(0)
    const res = JSON.parse(j.stdout) as {generator: {flags: string[]}; sha256: string; kernel: string}
    expect(res.generator.flags).toContain('--skip_encoding_btf_enum64')
    expect(res.kernel).toBe('6.1.0-99-test')
  })

  it('pahole not installed (PATH without it): exit 1, TOOL_MISSING naming dwarves', () => {
    const empty = mkdtempSync(join(tmpdir(), 'kcompat-empty-path-'))
    const r = kcompat(['btf', 'generate', obj, '--out', join(work, 'x.btf')], {PATH: empty, KCOMPAT_PAHOLE: ''})
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/^kcompat: error \[TOOL_MISSING\]: pahole is needed .* not found on PATH: install dwarves/)
  })

  it('pahole failing: exit 1 and its stderr verbatim', () => {
    const p = fake('cli-fail-pahole', 'echo "libbpf: failed to find .BTF ELF section" >&2; echo "pahole: x.o: Invalid argument" >&2; exit 255')
    const r = kcompat(['btf', 'generate', obj, '--out', join(work, 'x.btf'), '--pahole', p])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('kcompat: error [TOOL_FAILED]: pahole exited with status 255')
    expect(r.stderr).toContain('  pahole said:\nlibbpf: failed to find .BTF ELF section\npahole: x.o: Invalid argument\n')
  })

  it('pahole too old: exit 1, TOOL_TOO_OLD', () => {
    const p = join(work, 'old-pahole')
    writeFileSync(p, '#!/bin/sh\necho v1.21\n')
    chmodSync(p, 0o755)
    const r = kcompat(['btf', 'generate', obj, '--out', join(work, 'x.btf'), '--pahole', p])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/\[TOOL_TOO_OLD\]: pahole v1\.21 is too old/)
  })
})
