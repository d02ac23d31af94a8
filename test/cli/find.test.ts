/**
 * `kcompat index build`, `find func`, `find field` and `kernels` as a user runs them: a
 * real process on the fixture archive. Answers themselves are checked against bpftool
 * in test/store; here the CLI must give the library's answers in the documented JSON
 * shapes, readable tables, and the documented errors and exit codes.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {beforeAll, describe, expect, it} from 'vitest'
import {KernelIndex} from '../../src/store/query.js'
import {NO_BTF, copyArchive, fixtureArchive, fixtureKernels, tempDb} from '../store/helpers.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const kernels = fixtureKernels()

function kcompat(args: string[], env: Record<string, string> = {}): {status: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 28, env: {...process.env, ...env}})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

describe.skipIf(kernels.length === 0)('index and find commands', () => {
  let archive: string
  let db: string
  let at: string[]

  beforeAll(async () => {
    archive = await fixtureArchive()
    db = tempDb()
    at = ['--archive', archive, '--db', db]
  })

  it('index build: builds, then finds nothing to do; --json gives the build summary', () => {
    const first = kcompat(['index', 'build', ...at, '--json', '--fast'])
    expect(first.stderr).toContain('indexing kernel 1/')
    expect(first.status).toBe(0)
    const summary = JSON.parse(first.stdout) as {kernels: number; indexed: string[]; indexBytes: number; archiveBytes: number}
    expect(summary.kernels).toBe(kernels.length + 1)
    expect(summary.indexed.length).toBe(kernels.length + 1)
    expect(summary.indexBytes).toBeGreaterThan(0)
    const again = kcompat(['index', 'build', ...at])
    expect(again.status).toBe(0)
    expect(again.stdout).toMatch(/0 indexed, 0 updated, 0 removed, \d+ unchanged/)
    expect(again.stdout).toMatch(/% of the archive's/)
  })

  it('find func --json: the library answer, {query, kernels: [{release, arch, …, prototype}]}', () => {
    const r = kcompat(['find', 'func', 'do_sys_open', ...at, '--json'])
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout)
    const index = KernelIndex.open(db)
    try {
      expect(out).toEqual(JSON.parse(JSON.stringify(index.findFunc('do_sys_open'))))
    } finally {
      index.close()
    }
    expect(out.query).toBe('do_sys_open')
    expect(out.kernels.length).toBe(kernels.length)
    for (const k of out.kernels) {
      expect(Object.keys(k).sort()).toEqual(['arch', 'distro', 'flavor', 'module', 'prototype', 'release', 'version'])
      expect(k.module).toBeNull() // a vmlinux function
      expect(k.prototype).toMatch(/do_sys_open\(int dfd, const char \*filename, int flags, umode_t mode\)$/)
    }
    expect(out.noBtf.map((k: {release: string}) => k.release)).toEqual([NO_BTF.release])
  })

  it('find func: a table grouped by distro/version/arch, the prototype once when all agree', () => {
    const r = kcompat(['find', 'func', 'do_sys_open', ...at])
    expect(r.status).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe(`function do_sys_open: in ${kernels.length} of ${kernels.length} kernels with BTF`)
    expect(lines[1]).toMatch(/^ {2}long int do_sys_open\(int dfd, const char \*filename, int flags, umode_t mode\)$/)
    for (const k of kernels) expect(r.stdout).toContain(k.release)
    expect(r.stdout).toContain(`no BTF (unknown): debian 10 x86_64: ${NO_BTF.release}`)
    // a group is printed once, on its first row
    const amd = kernels.filter((k) => k.arch === 'x86_64').length
    expect(r.stdout.split('debian 12 x86_64').length - 1).toBe(amd > 0 ? 1 : 0)
  })

  it('find func: differing prototypes are numbered and each kernel points at its own', () => {
    // a function whose prototype differs between the fixture kernels, found through the library
    const index = KernelIndex.open(db)
    let name: string | undefined
    try {
      const funcs = index.kernelFuncs(kernels[0]!)
      for (const n of [...funcs.keys()].sort()) {
        if (index.findFunc(n).prototypes.length > 1) {
          name = n
          break
        }
      }
    } finally {
      index.close()
    }
    expect(name).toBeDefined()
    const r = kcompat(['find', 'func', name!, ...at])
    expect(r.stdout).toMatch(/\d+ different prototypes/)
    expect(r.stdout).toMatch(/^ {2}\[1\] /m)
    expect(r.stdout).toMatch(/^ {2}\[2\] /m)
    expect(r.stdout).toMatch(/PROTOTYPE/)
  })

  it('find func: nothing found says so and suggests near names', () => {
    const r = kcompat(['find', 'func', 'tcp_v4_conect', ...at])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain(`function tcp_v4_conect: not found in any of the ${kernels.length} kernels with BTF.`)
    expect(r.stdout).toContain('Did you mean: tcp_v4_connect')
  })

  it('find func --tracepoint (and a btf_trace_ name) looks up raw tracepoints', () => {
    const r = kcompat(['find', 'func', 'sched_switch', '-t', ...at])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('tracepoint sched_switch: in')
    expect(r.stdout).toContain('typedef void (*btf_trace_sched_switch)(void *, bool, struct task_struct *, struct task_struct *')
    const j = JSON.parse(kcompat(['find', 'func', 'btf_trace_sched_switch', ...at, '--json']).stdout)
    expect(j.kind).toBe('tracepoint')
    expect(j.kernels.length).toBe(kernels.length)
  })

  it('find field --json equals the library answer; the table shows byte and bit offsets and types', () => {
    const r = kcompat(['find', 'field', 'task_struct.pid', ...at, '--json'])
    expect(r.status).toBe(0)
    const index = KernelIndex.open(db)
    try {
      expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(index.findField('task_struct.pid'))))
    } finally {
      index.close()
    }
    const t = kcompat(['find', 'field', 'task_struct.pid', ...at])
    expect(t.stdout).toMatch(/^task_struct\.pid: in \d+ of \d+ kernels with BTF$/m)
    expect(t.stdout).toMatch(/RELEASE +OFFSET +BIT OFFSET +BITFIELD +TYPE/)
    for (const h of JSON.parse(r.stdout).kernels as {release: string; byteOffset: number; bitOffset: number}[]) {
      expect(t.stdout).toMatch(new RegExp(`${h.release.replace(/[.+]/g, '\\$&')} +${h.byteOffset} +${h.bitOffset} +- +pid_t`))
    }
  })

  it('find field task_struct.state: not there, and where __state is', () => {
    const r = kcompat(['find', 'field', 'task_struct.state', ...at])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain(`task_struct.state: task_struct has no member state in any of the ${kernels.length} kernels that have task_struct.`)
    expect(r.stdout).toMatch(new RegExp(`^ {2}__state: in ${kernels.length} of ${kernels.length} kernels`, 'm'))
  })

  it('find field: a struct that does not exist suggests near names', () => {
    const r = kcompat(['find', 'field', 'task_strct.pid', ...at])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('no struct or union task_strct')
    expect(r.stdout).toContain('Did you mean: task_struct')
  })

  it('kernels: a table, filters, and {"kernels": [...]} under --json', () => {
    const t = kcompat(['kernels', ...at])
    expect(t.status).toBe(0)
    expect(t.stdout.split('\n')[0]).toMatch(/^DISTRO +VERSION +ARCH +RELEASE +FLAVOR +BTF +FUNCS +STRUCTS +TRACEPOINTS +MODULES$/)
    expect(t.stdout).toContain(`${kernels.length + 1} kernels`)
    const j = JSON.parse(kcompat(['kernels', ...at, '--json']).stdout) as {kernels: {release: string; arch: string; btf: string}[]}
    expect(j.kernels.length).toBe(kernels.length + 1)
    expect(j.kernels.find((k) => k.release === NO_BTF.release)?.btf).toBe('none')
    const arm = JSON.parse(kcompat(['kernels', ...at, '--arch', 'aarch64', '--json']).stdout) as {kernels: {arch: string}[]}
    expect(arm.kernels.every((k) => k.arch === 'arm64')).toBe(true)
    expect(kcompat(['kernels', ...at, '--distro', 'nosuch']).stdout).toBe('No kernels match.\n')
  })

  it('errors: exit 1 with a stable code, as JSON under --json', () => {
    const bad = kcompat(['find', 'field', 'task_struct', ...at])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('kcompat: error [INDEX_BAD_QUERY]')
    const badJson = kcompat(['find', 'field', 'task_struct', ...at, '--json'])
    expect(badJson.status).toBe(1)
    expect(JSON.parse(badJson.stdout).error.code).toBe('INDEX_BAD_QUERY')
    const missing = kcompat(['kernels', '--archive', '/nonexistent/archive'])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toContain('[INDEX_NO_ARCHIVE]')
    const future = join(mkdtempSync(join(tmpdir(), 'kcompat-cli-')), 'future.sqlite')
    const f = new Database(future)
    f.pragma('user_version = 999')
    f.close()
    const tooNew = kcompat(['kernels', '--archive', archive, '--db', future])
    expect(tooNew.status).toBe(1)
    expect(tooNew.stderr).toContain('[INDEX_TOO_NEW]')
    expect(kcompat(['find', 'func', ...at]).status).toBe(2) // missing argument: usage error
  })

  it('the first query builds <archive>/index.sqlite itself, with progress on stderr; KCOMPAT_INDEX is honoured', () => {
    const copy = copyArchive(archive)
    const r = kcompat(['kernels', '--archive', copy])
    expect(r.status).toBe(0)
    expect(r.stderr).toMatch(/kcompat: index: indexing kernel 1\/\d+ /)
    expect(existsSync(join(copy, 'index.sqlite'))).toBe(true)
    const again = kcompat(['kernels', '--archive', copy])
    expect(again.stderr).toBe('')
    const envDb = tempDb()
    const viaEnv = kcompat(['kernels', '--archive', copy, '--json'], {KCOMPAT_INDEX: envDb})
    expect(viaEnv.status).toBe(0)
    expect(existsSync(envDb)).toBe(true)
  })
})
