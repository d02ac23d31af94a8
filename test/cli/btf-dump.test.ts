/**
 * The `kcompat btf dump` command as a user runs it: a real process, real files in every
 * supported container, output compared with bpftool's.
 */
import {spawnSync} from 'node:child_process'
import {copyFileSync, cpSync, existsSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {describe, expect, it} from 'vitest'
import {bpfObjectFixtures, kernelFixtures, moduleFixtures, scratchDir, sysVmlinux} from '../helpers/fixtures.js'
import {firstDifference, requireTool, run} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')

function kcompat(args: string[], env: Record<string, string> = {}): {status: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 30, env: {...process.env, ...env}})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

function expectSame(actual: string, expected: string): void {
  const diff = firstDifference(actual, expected)
  expect(diff, diff).toBeUndefined()
}

const kernel = kernelFixtures()[0]
const haveBpftool = requireTool('bpftool', 'btf dump CLI comparisons')

describe('kcompat btf dump reads every container bpftool reads, and BTFHub tarballs', () => {
  it.skipIf(!kernel || !haveBpftool)('raw BTF, .btf.tar.xz (BTFHub layout), .xz and .gz give the same dump as bpftool', () => {
    const expected = run('bpftool', ['btf', 'dump', 'file', kernel!.path, 'format', 'raw']).toString()
    const dir = scratchDir()
    const name = `${kernel!.release}.btf`
    copyFileSync(kernel!.path, join(dir, name))
    // the BTFHub layout, made with the system's tar and xz (not kcompat)
    run('tar', ['-C', dir, '-cJf', join(dir, `${name}.tar.xz`), name])
    writeFileSync(join(dir, `${name}.gz`), gzipSync(kernel!.btf))
    for (const file of [kernel!.path, join(dir, `${name}.tar.xz`), join(dir, `${name}.gz`)]) {
      const r = kcompat(['btf', 'dump', file])
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expectSame(r.stdout, expected)
    }
  })

  for (const obj of bpfObjectFixtures().slice(0, 4)) {
    it.skipIf(!haveBpftool)(`BPF object ${obj.split('/').pop()} (ELF), raw and JSON`, () => {
      const r = kcompat(['btf', 'dump', obj, '--format', 'raw'])
      expect(r.status).toBe(0)
      expectSame(r.stdout, run('bpftool', ['btf', 'dump', 'file', obj, 'format', 'raw']).toString())
      const j = kcompat(['btf', 'dump', obj, '--json'])
      expect(j.status).toBe(0)
      const ours = JSON.parse(j.stdout) as {types: Record<string, unknown>[]}
      const theirs = JSON.parse(run('bpftool', ['-j', 'btf', 'dump', 'file', obj, 'format', 'raw']).toString()) as {
        types: Record<string, unknown>[]
      }
      // bpftool prints 64-bit enum values as JSON numbers; kcompat as exact strings.
      // bpftool 7.1 also sign-extends unsigned 32-bit enum values in JSON (it reads them
      // as s32, so 0xffffffff prints as 2^64-1, while its text output says 4294967295);
      // kcompat prints the unsigned value, so compare those modulo 2^32.
      const norm = (t: Record<string, unknown>): unknown =>
        t.kind === 'ENUM64' ? {...t, values: (t.values as {name: string}[]).map((v) => v.name)} : t
      const fix = (t: Record<string, unknown>): unknown => {
        if (t.kind !== 'ENUM' || t.encoding !== 'UNSIGNED') return norm(t)
        return {...t, values: (t.values as {name: string; val: number}[]).map((v) => ({...v, val: v.val >= 0x80000000 ? 'sign-extended' : v.val}))}
      }
      expect(ours.types.map(fix)).toEqual(theirs.types.map(fix))
    })
  }

  for (const m of moduleFixtures().slice(0, 1)) {
    it.skipIf(!haveBpftool)(`module ${m.module} with --base-btf`, () => {
      const r = kcompat(['btf', 'dump', m.path, '--base-btf', m.base.path])
      expect(r.status).toBe(0)
      expectSame(r.stdout, run('bpftool', ['-B', m.base.path, 'btf', 'dump', 'file', m.path, 'format', 'raw']).toString())
    })
  }

  it.skipIf(!kernel || !haveBpftool)('format c of a Debian kernel equals bpftool format c', () => {
    const r = kcompat(['btf', 'dump', kernel!.path, '--format', 'c'])
    expect(r.status).toBe(0)
    expectSame(r.stdout, run('bpftool', ['btf', 'dump', 'file', kernel!.path, 'format', 'c']).toString())
  })
})

describe('the start-up fast path and oclif give the same results', () => {
  const oclif = {KCOMPAT_NO_FASTPATH: '1'}
  it.skipIf(!kernel)('same output for raw, c, json and -B forms, same errors', () => {
    const m = moduleFixtures()[0]
    const forms: string[][] = [
      ['btf', 'dump', kernel!.path],
      ['btf', 'dump', kernel!.path, '-f', 'c'],
      ['btf', 'dump', '--format=c', kernel!.path],
      ['btf', 'dump', kernel!.path, '--json'],
      ['btf', 'dump', '/nonexistent'],
      ['btf', 'dump', '/nonexistent', '--json'],
      ...(m ? [['btf', 'dump', m.path, '-B', m.base.path], ['btf', 'dump', m.path, '--base-btf', m.base.path, '--format', 'c']] : []),
    ]
    for (const args of forms) {
      const fast = kcompat(args)
      const slow = kcompat(args, oclif)
      expect({args, status: fast.status, stderr: fast.stderr}).toEqual({args, status: slow.status, stderr: slow.stderr})
      expect(fast.stdout === slow.stdout, `stdout differs for ${args.join(' ')}`).toBe(true)
    }
  })
})

describe('the bundled fast path (dist/fast.cjs) is the same code as the modules', () => {
  const DIST = join(import.meta.dirname, '..', '..', 'dist')
  // runs tryFastPath from one of the two builds of it in a fresh process
  const viaBuild = (entry: string, args: string[]) => {
    const script = entry.endsWith('.cjs')
      ? `require(${JSON.stringify(entry)}).tryFastPath(${JSON.stringify(args)}).then((r) => { if (!r) process.exit(3) })`
      : `import(${JSON.stringify(entry)}).then((m) => m.tryFastPath(${JSON.stringify(args)})).then((r) => { if (!r) process.exit(3) })`
    const r = spawnSync(process.execPath, ['-e', script], {encoding: 'utf8', maxBuffer: 1 << 30})
    return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
  }
  it('npm run build wrote the bundle', () => {
    expect(existsSync(join(DIST, 'fast.cjs'))).toBe(true)
  })
  it.skipIf(!kernel)('bin/run.js takes the bundle only when it is not older than the modules', () => {
    // a copy of the CLI whose bundle, when it runs, says so instead of dumping
    const root = scratchDir()
    cpSync(join(DIST, '..', 'bin'), join(root, 'bin'), {recursive: true})
    cpSync(DIST, join(root, 'dist'), {recursive: true})
    copyFileSync(join(DIST, '..', 'package.json'), join(root, 'package.json'))
    const fake = join(root, 'dist', 'fast.cjs')
    writeFileSync(fake, "exports.tryFastPath = async () => { process.stdout.write('from the bundle\\n'); return true }\n")
    const modules = join(root, 'dist', 'lib', 'fast.js')
    const dump = () => spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'btf', 'dump', kernel!.path], {encoding: 'utf8', maxBuffer: 1 << 30}).stdout
    const expected = kcompat(['btf', 'dump', kernel!.path]).stdout
    utimesSync(modules, new Date(1_000_000_000_000), new Date(1_000_000_000_000))
    utimesSync(fake, new Date(1_000_000_001_000), new Date(1_000_000_001_000))
    expect(dump()).toBe('from the bundle\n')
    utimesSync(fake, new Date(999_999_999_000), new Date(999_999_999_000))
    expect(dump() === expected, 'a bundle older than the modules must not run').toBe(true)
    rmSync(fake)
    expect(dump() === expected, 'without a bundle the modules run').toBe(true)
  })
  it.skipIf(!kernel)('same output and errors from the bundle and from dist/lib/fast.js, xz input included', () => {
    const dir = scratchDir()
    const xzFile = join(dir, 'k.btf.xz')
    writeFileSync(xzFile, run('xz', ['-c', kernel!.path]))
    const forms = [
      ['btf', 'dump', kernel!.path, '--format', 'c'],
      ['btf', 'dump', xzFile],
      ['btf', 'dump', '/nonexistent', '--json'],
    ]
    for (const args of forms) {
      const bundled = viaBuild(join(DIST, 'fast.cjs'), args)
      const modules = viaBuild(join(DIST, 'lib', 'fast.js'), args)
      expect({args, status: bundled.status, stderr: bundled.stderr}).toEqual({args, status: modules.status, stderr: modules.stderr})
      expect(bundled.stdout.length).toBeGreaterThan(0)
      expect(bundled.stdout === modules.stdout, `stdout differs for ${args.join(' ')}`).toBe(true)
    }
  })
})

describe('kcompat btf dump: errors', () => {
  it('missing file: exit 1 with INPUT_NOT_FOUND', () => {
    const r = kcompat(['btf', 'dump', '/nonexistent/file.btf'])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('[INPUT_NOT_FOUND]')
  })
  it('not BTF: exit 1 with INPUT_UNKNOWN_FORMAT; --json gives a JSON error', () => {
    const f = join(scratchDir(), 'text.txt')
    writeFileSync(f, 'hello world, not BTF\n')
    const r = kcompat(['btf', 'dump', f])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('[INPUT_UNKNOWN_FORMAT]')
    const j = kcompat(['btf', 'dump', f, '--json'])
    expect(j.status).toBe(1)
    expect(JSON.parse(j.stdout)).toMatchObject({error: {code: 'INPUT_UNKNOWN_FORMAT'}})
  })
  it.skipIf(!kernel)('truncated BTF: exit 1 with a BTF_ code and the file name', () => {
    const f = join(scratchDir(), 'cut.btf')
    writeFileSync(f, kernel!.btf.subarray(0, 1000))
    const r = kcompat(['btf', 'dump', f])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/\[BTF_TRUNCATED\]: .*cut\.btf/)
  })
  it('an ELF file without .BTF: INPUT_NO_BTF', () => {
    const r = kcompat(['btf', 'dump', process.execPath])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('[INPUT_NO_BTF]')
  })
  it('bad flag value: usage error, exit 2', () => {
    const r = kcompat(['btf', 'dump', '/sys/kernel/btf/vmlinux', '--format', 'yaml'])
    expect(r.status).toBe(2)
  })
  it.skipIf(!sysVmlinux())('a closed pipe ends quietly', () => {
    const r = spawnSync('sh', ['-c', `node ${BIN} btf dump /sys/kernel/btf/vmlinux | head -1`], {encoding: 'utf8'})
    expect(r.stdout).toMatch(/^\[1\] /)
    expect(r.stderr).toBe('')
  })
})
