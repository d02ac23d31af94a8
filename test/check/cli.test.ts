/**
 * `kcompat check` as a user runs it: a real process (the built CLI, bin/run.js), exit
 * codes, human output and the JSON shape.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {FIXTURES} from '../helpers/fixtures.js'
import {fixtureArchive} from './fixture-archive.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const empty = mkdtempSync(join(tmpdir(), 'kcompat-cli-empty-'))
let archive: string

function kcompat(args: string[]): {status: number; stdout: string; stderr: string; ms: number} {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', env: {...process.env, KCOMPAT_ARCHIVE: empty}})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0}
}

/** The CLI runs from dist/: rebuild it when it is missing or older than the sources of check. */
function ensureBuilt(): void {
  const root = join(import.meta.dirname, '..', '..')
  const built = join(root, 'dist', 'commands', 'check.js')
  const newest = (dir: string): number =>
    Math.max(...readdirSync(dir, {recursive: true, encoding: 'utf8'}).map((f) => statSync(join(dir, f)).mtimeMs))
  const sources = Math.max(newest(join(root, 'src', 'check')), newest(join(root, 'src', 'kernel')), statSync(join(root, 'src', 'commands', 'check.ts')).mtimeMs)
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return
  spawnSync('npm', ['run', 'build'], {cwd: root, stdio: 'ignore'})
  if (!existsSync(built)) throw new Error('dist/commands/check.js is missing and npm run build did not produce it')
}

beforeAll(async () => {
  ensureBuilt()
  archive = await fixtureArchive()
}, 300_000)

describe('kcompat check', () => {
  it('the seed case: unsupported on RHEL/CentOS 7.6, exit 1, suggests kprobe/do_sys_open', () => {
    const r = kcompat(['check', '--kernel', '3.10.0-957', '--prog', 'fentry/do_sys_open'])
    expect(r.status).toBe(1)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^kernel {2}3\.10\.0-957: RHEL\/CentOS 7\.6/)
    expect(r.stdout).toMatch(/fentry\/do_sys_open: UNSUPPORTED/)
    expect(r.stdout).toMatch(/x prog-type .*BPF_PROG_TYPE_TRACING/)
    expect(r.stdout).toMatch(/x kernel-btf .*cannot stand in/)
    expect(r.stdout).toMatch(/x trampoline/)
    expect(r.stdout).toMatch(/-> kprobe\/do_sys_open \(supported\)/)
    // one screen
    expect(r.stdout.split('\n').length).toBeLessThan(25)
  })

  it('--json: {"kernel", "programs": [{"section", "verdict", "reasons", "suggestions"}]}', () => {
    const r = kcompat(['check', '--kernel', '3.10.0-957', '--prog', 'fentry/do_sys_open', '--prog', 'kprobe/do_sys_open', '--json'])
    expect(r.status).toBe(1)
    const j = JSON.parse(r.stdout)
    expect(Object.keys(j)).toEqual(['kernel', 'programs'])
    expect(j.kernel).toMatchObject({release: '3.10.0-957', distro: 'rhel', distroRelease: '7.6', upstream: '3.10.0', arch: 'x86_64', archAssumed: true})
    expect(j.programs).toHaveLength(2)
    const [fentry, kprobe] = j.programs
    expect(fentry).toMatchObject({section: 'fentry/do_sys_open', verdict: 'unsupported'})
    for (const reason of fentry.reasons) {
      expect(Object.keys(reason)).toEqual(expect.arrayContaining(['rule', 'status', 'message', 'evidence', 'source']))
    }
    expect(fentry.suggestions[0]).toMatchObject({kind: 'section', section: 'kprobe/do_sys_open', verdict: 'supported'})
    expect(kprobe).toMatchObject({section: 'kprobe/do_sys_open', verdict: 'supported', suggestions: []})
  })

  it('exit 0 when everything is supported (archived kernel)', () => {
    const r = kcompat(['check', '--kernel', '6.1.0-56-cloud-amd64', '--archive', archive, '--prog', 'fentry/do_unlinkat', '--prog', 'tp_btf/sched_switch'])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/facts from archive debian\/12\/x86_64/)
    console.log(`check on an archived kernel: ${r.ms.toFixed(0)} ms (whole process)`)
  })

  it('exit 3 when nothing is unsupported but something is possible or unknown', () => {
    const r = kcompat(['check', '--kernel', '6.1', '--prog', 'fentry/do_sys_open', '--prog', 'kprobe/do_sys_open'])
    expect(r.status).toBe(3)
    expect(r.stdout).toMatch(/UNKNOWN/)
  })

  it('--object checks every program of a compiled object', () => {
    const r = kcompat(['check', '--kernel', '6.1.0-56-cloud-amd64', '--archive', archive, '--object', join(FIXTURES, 'bpf', 'progs.bpfel.o'), '--json'])
    const j = JSON.parse(r.stdout)
    expect(j.programs.length).toBeGreaterThanOrEqual(15)
    expect(j.programs.every((p: {program?: string}) => typeof p.program === 'string')).toBe(true)
    expect(r.status).toBe(exitFor(j.programs.map((p: {verdict: string}) => p.verdict)))
  })

  it.each([
    [['check', '--kernel', 'linux-5', '--prog', 'socket'], /RELEASE_UNKNOWN/],
    [['check', '--kernel', '6.1'], /CHECK_NO_PROGRAMS/],
    [['check', '--prog', 'socket'], /kernel/i],
    [['check', '--kernel', '6.1', '--prog', 'socket', '--arch', 'vax'], /CHECK_BAD_ARCH/],
  ])('usage errors exit 2: %j', (args, message) => {
    const r = kcompat(args)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  it('usage errors under --json are a JSON error object', () => {
    const r = kcompat(['check', '--kernel', 'linux-5', '--prog', 'socket', '--json'])
    expect(r.status).toBe(2)
    expect(JSON.parse(r.stdout)).toMatchObject({error: {code: 'RELEASE_UNKNOWN'}})
  })

  it('an object that is not a BPF object is an input error (exit 1)', () => {
    const r = kcompat(['check', '--kernel', '6.1', '--object', join(FIXTURES, 'kernels', 'MANIFEST.md')])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/ELF_BAD_MAGIC/)
  })
})

function exitFor(verdicts: string[]): number {
  if (verdicts.includes('unsupported')) return 1
  return verdicts.every((v) => v === 'supported') ? 0 : 3
}
