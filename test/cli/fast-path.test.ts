/**
 * The start-up fast path (src/lib/fast.ts, run from the bundle dist/fast.cjs) against the
 * full oclif CLI (KCOMPAT_NO_FASTPATH=1): for every command the fast path serves, argv
 * forms that succeed, fail in the library (exit 1), fail as usage errors (exit 2, 3),
 * with --json and without, must give the same stdout bytes, stderr and exit status both
 * ways. Forms the fast path must not take (--help, bad flags, missing values) must go to
 * oclif: the test checks which forms the bundle serves, so a form that silently fell
 * back would not make the comparison vacuous.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {scratchDir} from '../helpers/fixtures.js'
import {fixtureArchive, fixtureKernels, tempDb} from '../store/helpers.js'

const ROOT = join(import.meta.dirname, '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
const BUNDLE = join(ROOT, 'dist', 'fast.cjs')
const OBJ = join(ROOT, 'fixtures', 'bpf', 'core_fields.bpfel.o')
const OBJ_NO_CORE = join(ROOT, 'fixtures', 'bpf', 'maps.bpfel.o')

interface Run {
  status: number
  stdout: string
  stderr: string
}

function oclif(args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 28, env: {...process.env, KCOMPAT_NO_FASTPATH: '1'}})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

/** Runs args through the bundle's tryFastPath in a fresh process; `served` says whether it took them. */
function fastPath(args: string[], env: Record<string, string> = {}): Run & {served: boolean} {
  const mark = join(scratchDir(), 'served')
  const script = `require(${JSON.stringify(BUNDLE)}).tryFastPath(${JSON.stringify(args)}).then((r) => require('node:fs').writeFileSync(${JSON.stringify(mark)}, String(r)))`
  const r = spawnSync(process.execPath, ['-e', script], {encoding: 'utf8', maxBuffer: 1 << 28, env: {...process.env, KCOMPAT_NO_FASTPATH: '', ...env}})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, served: readFileSync(mark, 'utf8') === 'true'}
}

function expectSame(args: string[]): Run {
  const fast = fastPath(args)
  expect(fast.served, `the fast path must serve: ${args.join(' ')}`).toBe(true)
  const slow = oclif(args)
  expect({args, status: fast.status, stderr: fast.stderr}).toEqual({args, status: slow.status, stderr: slow.stderr})
  expect(fast.stdout === slow.stdout, `stdout differs for ${args.join(' ')}`).toBe(true)
  return slow
}

function expectOclif(args: string[]): void {
  const fast = fastPath(args)
  expect(fast.served, `the fast path must leave to oclif: ${args.join(' ')}`).toBe(false)
  expect(fast.stdout + fast.stderr).toBe('')
}

const kernels = fixtureKernels()
const k61 = kernels.find((k) => k.release === '6.1.0-56-cloud-amd64')

describe('the fast path gives the same bytes, stderr and exit status as oclif', () => {
  it('check: supported, unsupported, --json, --verbose, several programs, objects, and its usage errors', () => {
    const K = ['--kernel', '6.1.0-56-cloud-amd64']
    const statuses = new Set<number>()
    for (const args of [
      ['check', ...K, '--prog', 'fentry/do_sys_open'],
      ['check', '-k', '6.12.117+deb12-amd64', '-p', 'lsm/file_open', '--json'],
      ['check', ...K, '--prog', 'fentry/no_such_function_in_any_kernel', '-v'], // in neither vmlinux nor any archived module: unsupported

      ['check', ...K, '--prog', 'fentry/nft_ct_get_eval'], // in module nft_ct only: possible (exit 3)
      ['check', ...K, '--prog', 'fentry/do_sys_open', 'kprobe/do_unlinkat', '--json'], // --prog takes both (oclif's multiple flags are greedy)
      ['check', ...K, '--prog', 'tp_btf/sched_switch', '--prog', 'xdp', '--verbose'],
      ['check', '--kernel=6.12.117+deb12-cloud-amd64', `--object=${OBJ}`],
      ['check', '--kernel', '3.10.0-957', '--prog', 'fentry/do_sys_open'], // distro facts only
      ['check', ...K, '--object', '/nonexistent/prog.o'],
      ['check', ...K, '--object', '/nonexistent/prog.o', '--json'],
      ['check', '--kernel', 'not-a-kernel', '--prog', 'xdp'],
      ['check', '--kernel', 'not-a-kernel', '--prog', 'xdp', '--json'],
      ['check', ...K],
      ['check', '--kernel', '6.1.0-56-cloud-amd64', '--prog', 'xdp', '--archive', '/nonexistent/archive'],
    ]) {
      statuses.add(expectSame(args).status)
    }
    // the forms above reach every exit status check has
    expect([...statuses].sort()).toEqual([0, 1, 2, 3])
  })

  it('relocate: text, --json, --libbpf, an object without CO-RE, errors', () => {
    const statuses = new Set<number>()
    for (const args of [
      ['relocate', '--object', OBJ, '--kernel', '6.1.0-56-cloud-amd64'],
      ['relocate', '-o', OBJ, '--kernel', '6.12.117+deb12-cloud-amd64', '--json', '--libbpf', '1.6'],
      ['relocate', '--object', OBJ_NO_CORE, '--kernel', '6.1.0-56-cloud-amd64'],
      ...(k61 ? [['relocate', '--object', OBJ, '--btf', k61.path, '--json']] : []),
      ['relocate', '--object', OBJ, '--kernel', 'no-such-release'],
      ['relocate', '--object', '/nonexistent.o', '--btf', '/nonexistent.btf', '--json'],
    ]) {
      statuses.add(expectSame(args).status)
    }
    expect([...statuses].sort()).toEqual([0, 1])
  })

  it('archive list: table and --json, shipped and missing archive', () => {
    for (const args of [
      ['archive', 'list'],
      ['archive', 'list', '--json'],
      ['archive', 'list', '--archive', '/nonexistent/archive'],
      ['archive', 'list', '--archive', '/nonexistent/archive', '--json'],
    ]) {
      expectSame(args)
    }
  })

  it('btf dump: raw, c, --json, errors', () => {
    const args0 = k61 ? [k61.path] : []
    for (const args of [
      ...(k61 ? [['btf', 'dump', ...args0, '--format', 'c'], ['btf', 'dump', ...args0, '-f', 'raw', '--json']] : []),
      ['btf', 'dump', OBJ],
      ['btf', 'dump', '/nonexistent'],
      ['btf', 'dump', '/nonexistent', '--json'],
    ]) {
      expectSame(args)
    }
  })

  describe.skipIf(kernels.length === 0)('on an index', () => {
    let at: string[]
    beforeAll(async () => {
      at = ['--archive', await fixtureArchive(), '--db', tempDb()]
      // the index is built once here, so neither run below prints the build's progress
      expect(oclif(['index', 'build', ...at]).status).toBe(0)
    })

    it('find func, find field, kernels: answers, --json, near-name suggestions, errors', () => {
      for (const args of [
        ['find', 'func', 'do_sys_open', ...at],
        ['find', 'func', 'do_sys_opne', ...at, '--json'],
        ['find', 'func', 'sched_switch', '--tracepoint', ...at],
        ['find', 'func', 'btf_trace_sched_switch', ...at, '--json'],
        ['find', 'field', 'task_struct.state', ...at],
        ['find', 'field', 'sk_buff.len', ...at, '--json'],
        ['find', 'field', 'no_dot_here', ...at],
        ['find', 'field', 'no_dot_here', ...at, '--json'],
        ['kernels', ...at],
        ['kernels', ...at, '--arch', 'arm64', '--json'],
        ['kernels', '--archive', '/nonexistent/archive', '--json'],
      ]) {
        expectSame(args)
      }
    })
  })
})

describe("the fast path through V8's code cache (src/lib/code-cache.ts)", () => {
  it('gives the same bytes with no cache (writing it), with it, with a corrupt one (rewritten) and with caching off', () => {
    const forms = [
      ['check', '--kernel', '6.1.0-56-cloud-amd64', '--prog', 'fentry/do_sys_open'],
      ['check', '--kernel', '6.12.117+deb12-cloud-amd64', '--object', OBJ, '--json'],
      ['relocate', '--object', OBJ, '--kernel', '6.1.0-56-cloud-amd64'],
      ['archive', 'list'],
      ['btf', 'dump', OBJ],
      ['btf', 'dump', OBJ, '--format', 'c'], // sets a V8 flag after start-up: the cache must still be accepted
      ['check', '--kernel', 'not-a-kernel', '--prog', 'xdp'],
    ]
    for (const args of forms) {
      const dir = join(scratchDir(), `code-cache-${args[0]}-${forms.indexOf(args)}`)
      mkdirSync(dir)
      const env = {KCOMPAT_CODE_CACHE: dir}
      const ref = oclif(args)
      const same = (r: Run & {served: boolean}, how: string): void => {
        expect(r.served, `${how}: the fast path must serve ${args.join(' ')}`).toBe(true)
        expect({how, args, status: r.status, stderr: r.stderr}).toEqual({how, args, status: ref.status, stderr: ref.stderr})
        expect(r.stdout === ref.stdout, `${how}: stdout differs for ${args.join(' ')}`).toBe(true)
      }
      same(fastPath(args, env), 'no cache yet')
      const files = readdirSync(dir).filter((f) => f.endsWith('.v8'))
      expect(files, `one cache file written for ${args.join(' ')}`).toHaveLength(1)
      const file = join(dir, files[0]!)
      const written = readFileSync(file)
      same(fastPath(args, env), 'with the cache')
      expect(readFileSync(file).equals(written), 'a cache V8 accepted is not rewritten').toBe(true)
      const garbage = Buffer.alloc(written.length, 0x5a)
      writeFileSync(file, garbage)
      same(fastPath(args, env), 'with a corrupt cache')
      const rewritten = readFileSync(file)
      expect(rewritten.equals(garbage), 'a cache V8 rejected is written again').toBe(false)
      // with every function, as the first one: not the top-level code V8 compiled lazily
      // when it rejected the cache (which it would hand back from its compilation cache)
      expect(rewritten.length, `the rewritten cache is as complete as the first (${args.join(' ')})`).toBeGreaterThan(written.length * 0.9)
      same(fastPath(args, {KCOMPAT_CODE_CACHE: 'off'}), 'caching off')
    }
  })
})

describe('argv the fast path leaves to oclif', () => {
  it('--help, unknown or repeated flags, missing values and arguments, broken flag relations', () => {
    for (const args of [
      ['check', '--help'],
      ['check', '-h'],
      ['check', '--prog', 'xdp'], // --kernel is required
      ['check', '--kernel'],
      ['check', '--kernel', 'a', '--kernel', 'b', '--prog', 'xdp'],
      ['check', '--kernel', '6.1.0-56-cloud-amd64', '--prog', 'xdp', '--bogus'],
      ['check', '-k6.1.0-56-cloud-amd64', '--prog', 'xdp'],
      ['check', '--kernel', '6.1.0-56-cloud-amd64', '--prog', '--json'],
      ['relocate', '--object', OBJ], // exactly one of --btf and --kernel
      ['relocate', '--object', OBJ, '--btf', 'a', '--kernel', 'b'],
      ['relocate', '--object', OBJ, '--btf', 'a', '--arch', 'x86_64'], // --arch depends on --kernel
      ['relocate', '--object', OBJ, '--kernel', 'k', '--libbpf', '1.0'],
      ['find', 'func'],
      ['find', 'func', 'a', 'b'],
      ['find', 'field', '--', 'x.y'],
      ['btf', 'dump', OBJ, '--format', 'c', '--json'], // refused in the command's run()
      ['btf', 'dump', OBJ, '--format', 'yaml'],
      ['btf', 'dump'],
      ['archive', 'list', '--json=true'],
      ['kernels', '--no-json'],
      ['matrix', '--object', OBJ],
      ['index', 'build'],
      ['help', 'check'],
      ['--version'],
      [],
    ]) {
      expectOclif(args)
    }
  })

  it('oclif answers them as before (usage errors exit 2)', () => {
    expect(oclif(['check', '--prog', 'xdp']).status).toBe(2)
    expect(oclif(['relocate', '--object', OBJ]).status).toBe(2)
    const help = spawnSync(process.execPath, [BIN, 'check', '--help'], {encoding: 'utf8'})
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('--kernel')
  })
})

describe('bin/run.js', () => {
  it('serves through the bundle what the bundle serves (a stand-in bundle says when it runs)', () => {
    // a copy of the CLI whose bundle says so instead of answering
    const root = scratchDir()
    spawnSync('cp', ['-r', join(ROOT, 'bin'), join(ROOT, 'dist'), join(ROOT, 'package.json'), root])
    writeFileSync(join(root, 'dist', 'fast.cjs'), "exports.tryFastPath = async (argv) => { process.stdout.write('bundle ' + argv.join(' ') + '\\n'); return true }\n")
    const r = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'kernels', '--json'], {encoding: 'utf8'})
    expect(r.stdout).toBe('bundle kernels --json\n')
  })

  it('run as a program (its #!/bin/sh lines, through a symlink as npm installs it) passes argv and exit status, with the V8 flag for btf dump and the malloc tunable for the rest', () => {
    const root = scratchDir()
    spawnSync('cp', ['-r', join(ROOT, 'bin'), join(ROOT, 'dist'), join(ROOT, 'package.json'), root])
    writeFileSync(
      join(root, 'dist', 'fast.cjs'),
      "exports.tryFastPath = async (argv) => { process.stdout.write(JSON.stringify({execArgv: process.execArgv, argv, tunables: process.env.GLIBC_TUNABLES ?? null}) + '\\n'); process.exitCode = 3; return true }\n",
    )
    mkdirSync(join(root, '.bin'))
    spawnSync('ln', ['-s', join(root, 'bin', 'run.js'), join(root, '.bin', 'kcompat')])
    const run = (args: string[], tunables?: string) => {
      const env: NodeJS.ProcessEnv = {...process.env}
      delete env.GLIBC_TUNABLES
      if (tunables !== undefined) env.GLIBC_TUNABLES = tunables
      const r = spawnSync(join(root, '.bin', 'kcompat'), args, {encoding: 'utf8', env})
      return {status: r.status, out: JSON.parse(r.stdout) as {execArgv: string[]; argv: string[]; tunables: string | null}}
    }
    const odd = ['a b', "it's", '$HOME', '"q"', '']
    const huge = 'glibc.malloc.hugetlb=1'
    expect(run(['btf', 'dump', ...odd])).toEqual({status: 3, out: {execArgv: ['--no-concurrent-recompilation'], argv: ['btf', 'dump', ...odd], tunables: null}})
    expect(run(['kernels', ...odd])).toEqual({status: 3, out: {execArgv: [], argv: ['kernels', ...odd], tunables: huge}})
    expect(run(['btf'])).toEqual({status: 3, out: {execArgv: [], argv: ['btf'], tunables: huge}})
    // the user's tunables are kept, theirs for hugetlb too
    expect(run(['kernels'], 'glibc.malloc.check=0').out.tunables).toBe(`glibc.malloc.check=0:${huge}`)
    expect(run(['kernels'], 'glibc.malloc.hugetlb=0').out.tunables).toBe('glibc.malloc.hugetlb=0')
    expect(run(['btf', 'dump'], 'glibc.malloc.check=0').out.tunables).toBe('glibc.malloc.check=0')
  })
})
