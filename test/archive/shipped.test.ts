/**
 * The shipped archive as a fresh clone of the repository holds it: what git commits, not
 * what a developer's working tree happens to have (a staged tarball, a cache, an index).
 *
 * - Files: every file the manifest names is committed (its segments with their sha256 and
 *   size; each kernel's tarball or, for a kernel kept in the pack only, its group in a
 *   listed segment), and `archive/` commits nothing the manifest does not name.
 * - BTF: every kernel's BTF reads back from the clone alone (tarball or pack), matches the
 *   manifest's sha256 (taken from the package at sync), and bpftool parses it.
 * - Answers: the index built from the clone lists every kernel, and `kcompat check` answers
 *   for every kernel offline, saying the kernel has BTF of its own exactly when the
 *   manifest says the package carried it.
 */
import {spawn, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {readKernelBtf} from '../../src/archive/archive.js'
import {type KernelEntry, type Manifest, readManifest} from '../../src/archive/manifest.js'
import {requireTool, run} from '../helpers/tools.js'

const REPO = join(import.meta.dirname, '..', '..')
const BIN = join(REPO, 'bin', 'run.js')
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const haveGit = spawnSync('git', ['-C', REPO, 'rev-parse', 'HEAD']).status === 0

/** Runs the CLI without network or remote archive, resolving with its exit status and stdout. */
function kcompat(args: string[], env: NodeJS.ProcessEnv): Promise<{status: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], {env})
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    p.on('close', (status) => resolve({status, stdout, stderr}))
  })
}

describe.skipIf(!haveGit)('the shipped archive on a fresh clone', () => {
  let archive: string
  let manifest: Manifest
  let env: NodeJS.ProcessEnv
  let committed: Set<string>

  beforeAll(() => {
    const clone = mkdtempSync(join(tmpdir(), 'kcompat-clone-'))
    run('git', ['clone', '-q', REPO, clone])
    archive = join(clone, 'archive')
    manifest = readManifest(archive)
    committed = new Set(run('git', ['-C', clone, 'ls-files', 'archive']).toString().split('\n').filter(Boolean).map((p) => p.slice('archive/'.length)))
    const {KCOMPAT_REMOTE: _r, KCOMPAT_ARCHIVE: _a, KCOMPAT_INDEX: _i, ...rest} = process.env
    env = {...rest, KCOMPAT_BTF_CACHE: mkdtempSync(join(tmpdir(), 'kcompat-clone-cache-')), NO_COLOR: '1'}
  }, 120_000)

  it('commits every file the manifest names, and nothing else under archive/', () => {
    const named = new Set(['manifest.json'])
    for (const s of manifest.pack?.segments ?? []) {
      named.add(s.path)
      expect(committed.has(s.path), s.path).toBe(true)
      const bytes = readFileSync(join(archive, s.path))
      expect([bytes.length, sha256(bytes)], s.path).toEqual([s.size, s.sha256])
    }
    const segments = new Set((manifest.pack?.segments ?? []).map((s) => s.path))
    for (const k of manifest.kernels) {
      if (k.btf === 'none') {
        expect(k.path, k.release).toBeNull()
        continue
      }
      const inGit = committed.has(k.path!)
      if (inGit) named.add(k.path!)
      // a kernel without its tarball is one the pack holds
      expect(inGit || (k.vmlinux !== undefined && segments.has(k.vmlinux.path) && manifest.pack?.tarballs === false), `${k.arch} ${k.release}`).toBe(true)
      if (k.modules?.path) expect(segments.has(k.modules.path) || committed.has(k.modules.path), `${k.release} modules`).toBe(true)
      if (k.modules?.path && !segments.has(k.modules.path)) named.add(k.modules.path)
    }
    expect([...committed].filter((p) => !named.has(p))).toEqual([])
  })

  it("reads every kernel's BTF from the clone alone, as the manifest pins it, and bpftool parses each", async () => {
    if (!requireTool('bpftool', "parsing the shipped kernels' BTF")) return
    // read into the cache the CLI runs below use: a first read is checked like any other
    const saved = process.env.KCOMPAT_BTF_CACHE
    process.env.KCOMPAT_BTF_CACHE = env.KCOMPAT_BTF_CACHE
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-clone-btf-'))
    // bpftool runs beside the next read (two at most): the reads are this process's work,
    // the dumps a child's, and a 2-CPU runner does both at once
    const bpftool = (f: string): Promise<{status: number | null; head: string; stderr: string}> =>
      new Promise((resolve) => {
        const p = spawn('bpftool', ['btf', 'dump', 'file', f, 'format', 'raw'])
        let head = ''
        let stderr = ''
        p.stdout.on('data', (d: Buffer) => {
          if (head.length < 16) head += d.toString()
        })
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
        p.on('close', (status) => resolve({status, head, stderr}))
      })
    const running = new Set<Promise<void>>()
    const results: {what: string; status: number | null; head: string; stderr: string}[] = []
    try {
      for (const k of manifest.kernels.filter((x) => x.btf !== 'none')) {
        const btf = await readKernelBtf(archive, k)
        expect(sha256(btf), `${k.arch} ${k.release}`).toBe(k.sha256)
        const f = join(dir, `${k.arch}-${k.release}.btf`)
        writeFileSync(f, btf)
        const job: Promise<void> = bpftool(f).then((r) => {
          running.delete(job)
          rmSync(f, {force: true})
          results.push({what: `${k.arch} ${k.release}`, ...r})
        })
        running.add(job)
        if (running.size >= 2) await Promise.race(running)
      }
      await Promise.all(running)
      expect(results.length).toBe(manifest.kernels.filter((x) => x.btf !== 'none').length)
      for (const r of results) {
        expect(r.status, `bpftool on ${r.what}: ${r.stderr}`).toBe(0)
        expect(r.head.startsWith('[1] '), r.what).toBe(true)
      }
    } finally {
      if (saved === undefined) delete process.env.KCOMPAT_BTF_CACHE
      else process.env.KCOMPAT_BTF_CACHE = saved
    }
  }, 900_000)

  it('the index built from the clone lists every kernel, and check answers for each offline', async () => {
    const built = await kcompat(['index', 'build', '--archive', archive, '--json', '--fast'], env)
    expect(built.status, built.stderr).toBe(0)
    expect(statSync(join(archive, 'index.sqlite')).size).toBeGreaterThan(0)
    const listed = await kcompat(['kernels', '--archive', archive, '--json'], env)
    expect(listed.status, listed.stderr).toBe(0)
    const key = (k: Pick<KernelEntry, 'distro' | 'version' | 'arch' | 'release'>): string => `${k.distro}/${k.version}/${k.arch}/${k.release}`
    const rows = (JSON.parse(listed.stdout) as {kernels: KernelEntry[]}).kernels
    expect(rows.map(key).sort()).toEqual(manifest.kernels.map(key).sort())
    // two at a time: every kernel, one fresh process each, as a user runs it
    const queue = [...manifest.kernels]
    const answers: {k: KernelEntry; status: number | null; out: string; err: string}[] = []
    const worker = async (): Promise<void> => {
      for (let k = queue.shift(); k; k = queue.shift()) {
        const r = await kcompat(['check', '--kernel', k.release, '--arch', k.arch, '--prog', 'kprobe/do_sys_openat2', '--archive', archive, '--json'], env)
        answers.push({k, status: r.status, out: r.stdout, err: r.stderr})
      }
    }
    await Promise.all([worker(), worker()])
    expect(answers.length).toBe(manifest.kernels.length)
    for (const a of answers) {
      const what = `${a.k.arch} ${a.k.release}: ${a.err}`
      expect([0, 1, 3], what).toContain(a.status) // supported, unsupported, possible (README: exit status)
      const j = JSON.parse(a.out) as {kernel: {release: string; arch: string; origin: string; btf: {state: string}}}
      expect([j.kernel.release, j.kernel.arch, j.kernel.origin], what).toEqual([a.k.release, a.k.arch, 'archive'])
      expect(j.kernel.btf.state, what).toBe(a.k.btf === 'in-kernel' ? 'present' : 'absent')
    }
    expect(existsSync(join(archive, 'remote.json'))).toBe(false)
  }, 1_800_000)
})
