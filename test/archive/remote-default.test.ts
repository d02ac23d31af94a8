/**
 * KCOMPAT_REMOTE as the default source after the default archive, for every command,
 * without a prior `archive sync --from`: the default archive holds one real kernel
 * (6.1.0-50-s390x), a published archive (`archive publish`, served on loopback) holds it
 * and a second one (6.1.0-56-cloud-amd64). The first command that needs the remote takes
 * its manifest and index itself; whole-archive commands (`archive list`, `kernels`,
 * `find func|field`, `btfgen --all`, `matrix`) answer for both kernels.
 *
 * Oracles: the server's request log (what was fetched, when); bpftool (which kernel's BTF
 * has a FUNC, and `gen min_core_btf`'s bytes), pahole (a member's offset), each run on
 * the shipped tarballs' BTF; the published manifest's own entries.
 */
import {execFile} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {loadArchiveKernels, readKernelBtf} from '../../src/archive/archive.js'
import {type KernelEntry, type Manifest, readManifest, writeManifest} from '../../src/archive/manifest.js'
import {publishArchive} from '../../src/archive/publish.js'
import {type RemoteProgress, onRemoteProgress} from '../../src/archive/remote.js'
import {ensureIndex} from '../../src/store/index.js'
import {FIXTURES} from '../helpers/fixtures.js'
import {type StaticSite as Static, serveSite as serve} from '../helpers/static-site.js'
import {requireTool, run} from '../helpers/tools.js'

const ROOT = join(import.meta.dirname, '..', '..')
const SHIPPED = join(ROOT, 'archive')
const BIN = join(ROOT, 'bin', 'run.js')
const S390 = '6.1.0-50-s390x'
const AMD64 = '6.1.0-56-cloud-amd64'

let work: string
let local: string
let entries: KernelEntry[]
let srv: Static
/** Each kernel's raw BTF, from the shipped tarballs (for the reference tools). */
const rawBtf = new Map<string, string>()

const ENV = ['KCOMPAT_ARCHIVE', 'KCOMPAT_REMOTE', 'KCOMPAT_REMOTE_TTL', 'XDG_CACHE_HOME', 'KCOMPAT_INDEX'] as const
function setEnv(v: Partial<Record<(typeof ENV)[number], string>>): () => void {
  const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]))
  for (const k of ENV) {
    if (v[k] === undefined) delete process.env[k]
    else process.env[k] = v[k]
  }
  return () => {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  }
}

/** Runs the CLI without blocking this process (the loopback server answers it). */
async function kcompat(args: string[], env: Record<string, string>): Promise<{status: number; stdout: string; stderr: string}> {
  const childEnv: NodeJS.ProcessEnv = {...process.env, ...env}
  delete childEnv.KCOMPAT_INDEX
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], {env: childEnv, maxBuffer: 1 << 28, encoding: 'utf8'})
    return {status: 0, stdout: r.stdout, stderr: r.stderr}
  } catch (e) {
    const x = e as {code?: number; stdout?: string; stderr?: string}
    return {status: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? ''}
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kcompat-remote-default-'))
  const src = join(work, 'published-src')
  local = join(work, 'local')
  const shipped = readManifest(SHIPPED)
  entries = shipped.kernels.filter((k) => k.release === S390 || k.release === AMD64)
  expect(entries.map((k) => k.release).sort()).toEqual([S390, AMD64])
  const place = (dir: string, p: string): void => {
    mkdirSync(join(dir, p, '..'), {recursive: true})
    copyFileSync(join(SHIPPED, p), join(dir, p))
  }
  for (const k of entries) for (const p of [k.path, k.modules?.path]) if (p) place(src, p)
  // module BTF lives in the shipped archive's pack: the published archive carries its segments
  for (const seg of shipped.pack?.segments ?? []) place(src, seg.path)
  writeManifest(src, {version: shipped.version, kernels: entries, ...(shipped.pack ? {pack: shipped.pack} : {})} as Manifest)
  const {dbPath} = await ensureIndex(src, {db: join(work, 'published.sqlite')})
  await publishArchive(src, join(work, 'pub'), {index: dbPath})
  // the default archive: the s390x kernel only
  const s390 = entries.find((k) => k.release === S390)!
  place(local, s390.path!)
  writeManifest(local, {version: shipped.version, kernels: [s390]} as Manifest)
  for (const k of entries) {
    const file = join(work, `${k.release}.btf`)
    writeFileSync(file, await readKernelBtf(SHIPPED, k, {cache: false}))
    rawBtf.set(k.release, file)
  }
  srv = await serve(join(work, 'pub'))
})

afterAll(async () => {
  await srv?.close()
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('KCOMPAT_REMOTE without a prior archive sync --from', () => {
  it('the first command needing it takes manifest and index itself; within the TTL nothing again; past it, again', async () => {
    const restore = setEnv({KCOMPAT_ARCHIVE: local, KCOMPAT_REMOTE: srv.url, XDG_CACHE_HOME: join(work, 'xdg-lib')})
    const events: RemoteProgress[] = []
    onRemoteProgress((e) => events.push(e))
    try {
      srv.log.length = 0
      // a release the default archive has needs no remote at all
      expect((await loadArchiveKernels(local, S390)).map((k) => k.release)).toEqual([S390])
      expect(srv.log).toEqual([])
      // two callers at once: one transfer
      const [a, b] = await Promise.all([loadArchiveKernels(local), loadArchiveKernels(local)])
      expect(a.map((k) => k.release)).toEqual([S390, AMD64])
      expect(b.map((k) => k.release)).toEqual([S390, AMD64])
      expect(srv.log).toEqual(['SHA256SUMS', 'manifest.json', 'index.sqlite'])
      expect(events.map((e) => e.type)).toEqual(['syncing', 'synced'])
      expect(events[0]).toMatchObject({reason: 'first'})
      // another archive given explicitly is not widened
      expect((await loadArchiveKernels(join(work, 'published-src'))).length).toBe(2)
      // within the TTL (default a day): nothing fetched
      await loadArchiveKernels(local)
      expect(srv.log.length).toBe(3)
      // past it: SHA256SUMS and the manifest again (the index only when SHA256SUMS says it changed)
      process.env.KCOMPAT_REMOTE_TTL = '0'
      await loadArchiveKernels(local)
      expect(srv.log.slice(3)).toEqual(['SHA256SUMS', 'manifest.json'])
      expect(events.at(-2)).toMatchObject({type: 'syncing', reason: 'stale'})
      // the publisher gone: the copy taken earlier is used, and said to be
      srv.override.set('SHA256SUMS', 404)
      expect((await loadArchiveKernels(local)).map((k) => k.release)).toEqual([S390, AMD64])
      expect(events.at(-1)).toMatchObject({type: 'stale', url: srv.url})
      // ... but with no copy at all, the error
      process.env.XDG_CACHE_HOME = join(work, 'xdg-none')
      await expect(loadArchiveKernels(local)).rejects.toMatchObject({code: 'REMOTE_NOT_PUBLISHED'})
      srv.override.clear()
      process.env.KCOMPAT_REMOTE_TTL = 'soon'
      await expect(loadArchiveKernels(local)).rejects.toMatchObject({code: 'REMOTE_BAD_TTL'})
    } finally {
      srv.override.clear()
      onRemoteProgress(undefined)
      restore()
    }
  })
})

describe('whole-archive commands see the published kernels (CLI, fresh cache each)', () => {
  const env = (tag: string): Record<string, string> => ({KCOMPAT_ARCHIVE: local, KCOMPAT_REMOTE: srv.url, XDG_CACHE_HOME: join(work, `xdg-${tag}`)})

  it('archive list and kernels: both kernels; the remote one named as such, its facts the published manifest\'s', async () => {
    srv.log.length = 0
    const list = await kcompat(['archive', 'list', '--json'], env('list'))
    expect(list.status, list.stderr).toBe(0)
    expect(srv.log).toEqual(['SHA256SUMS', 'manifest.json', 'index.sqlite'])
    expect(list.stderr).toBe('') // progress only on a terminal
    const rows = JSON.parse(list.stdout) as {release: string; sha256: string; remote: string | null}[]
    expect(rows.map((r) => [r.release, r.remote])).toEqual([[S390, null], [AMD64, srv.url]])
    expect(rows[1]!.sha256).toBe(entries.find((k) => k.release === AMD64)!.sha256)
    const text = await kcompat(['archive', 'list'], env('list'))
    expect(text.stdout).toContain(`2 kernels: 1 in ${local}, 1 from ${srv.url} (KCOMPAT_REMOTE)`)

    const k = await kcompat(['kernels', '--json'], env('kernels'))
    expect(k.status, k.stderr).toBe(0)
    const ks = (JSON.parse(k.stdout) as {kernels: {release: string; sha256: string}[]}).kernels
    expect(ks.map((x) => x.release)).toEqual([S390, AMD64])
    for (const x of ks) expect(x.sha256).toBe(entries.find((e) => e.release === x.release)!.sha256)
    // the published index answered for the remote kernel: no BTF fetched
    expect(srv.log.filter((p) => p.endsWith('.tar.xz'))).toEqual([])
    // a refresh takes SHA256SUMS and the manifest; the index, which the query opened (and
    // may have written its own bookkeeping to), only if the publisher's changed
    srv.log.length = 0
    const refreshed = await kcompat(['kernels', '--json'], {...env('kernels'), KCOMPAT_REMOTE_TTL: '0'})
    expect(refreshed.status, refreshed.stderr).toBe(0)
    expect(srv.log).toEqual(['SHA256SUMS', 'manifest.json'])
    const filtered = await kcompat(['kernels', '--arch', 'x86_64', '--json'], env('kernels'))
    expect((JSON.parse(filtered.stdout) as {kernels: {release: string}[]}).kernels.map((x) => x.release)).toEqual([AMD64])
  })

  it('find func: the kernels bpftool finds the FUNC in, across both archives', async () => {
    if (!requireTool('bpftool', 'find func across archives')) return
    for (const fn of ['do_syscall_64', '__do_syscall', 'do_sys_openat2']) {
      const has = [S390, AMD64].filter((r) => run('bpftool', ['btf', 'dump', 'file', rawBtf.get(r)!]).toString().includes(`FUNC '${fn}' `))
      expect(has.length, fn).toBeGreaterThan(0)
      const r = await kcompat(['find', 'func', fn, '--json'], env('find'))
      expect(r.status, r.stderr).toBe(0)
      const out = JSON.parse(r.stdout) as {kernels: {release: string}[]; absent: {release: string}[]; prototypes: string[]}
      expect([...new Set(out.kernels.map((h) => h.release))], fn).toEqual(has)
      expect(out.absent.map((h) => h.release), fn).toEqual([S390, AMD64].filter((x) => !has.includes(x)))
      expect(out.prototypes.length).toBeGreaterThan(0)
    }
  })

  it("find field: each kernel's offset as pahole reads it from that kernel's BTF", async () => {
    if (!requireTool('pahole', 'find field across archives')) return
    const r = await kcompat(['find', 'field', 'task_struct.pid', '--json'], env('find'))
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as {kernels: {release: string; byteOffset: number}[]}
    expect(out.kernels.map((h) => h.release)).toEqual([S390, AMD64])
    for (const h of out.kernels) {
      const line = run('pahole', ['-C', 'task_struct', '-F', 'btf', rawBtf.get(h.release)!]).toString().split('\n').find((l) => /\bpid;/.test(l))!
      expect(h.byteOffset, h.release).toBe(Number(/\/\*\s*(\d+)/.exec(line)![1]))
    }
  })

  it("btfgen --all: the remote kernel too, bpftool gen min_core_btf's bytes", async () => {
    if (!requireTool('bpftool', 'btfgen --all across archives')) return
    const obj = join(FIXTURES, 'bpf', 'core_types.bpfel.o')
    const out = join(work, 'btfgen')
    srv.log.length = 0
    const r = await kcompat(['btfgen', '--all', '--no-modules', '--object', obj, '--out', out, '-j', '2', '--json'], env('btfgen'))
    expect(r.status, r.stderr).toBe(0)
    const rep = JSON.parse(r.stdout) as {kernels: {kernel: string; out: string}[]}
    expect(rep.kernels.map((k) => k.kernel.split(' ')[0])).toEqual([S390, AMD64])
    expect(srv.log).toContain('debian/12/x86_64/6.1.0-56-cloud-amd64.btf.tar.xz')
    const ref = join(work, 'ref.btf')
    run('bpftool', ['gen', 'min_core_btf', rawBtf.get(AMD64)!, ref, obj])
    expect(readFileSync(join(out, 'debian', '12', 'x86_64', `${AMD64}.btf`)).equals(readFileSync(ref))).toBe(true)
  })

  it('matrix and check: the remote kernel is a row, and check --kernel resolves it', async () => {
    const obj = join(ROOT, 'test', 'matrix', 'fixtures', 'core_guard.bpfel.o')
    const m = await kcompat(['matrix', '--object', obj, '--json'], env('matrix'))
    expect(m.status, m.stderr).toBe(0)
    const j = JSON.parse(m.stdout) as {kernels: {release: string}[]}
    expect(j.kernels.map((k) => k.release)).toEqual([S390, AMD64])
    const c = await kcompat(['check', '--kernel', AMD64, '--object', obj, '--json'], env('check'))
    expect([0, 1]).toContain(c.status)
    expect(c.stdout).toContain(AMD64)
    expect(c.stderr).not.toContain('REMOTE_NOT_SYNCED')
    // archive image finds the remote kernel's recorded package (here a mirror without it: IMAGE_GONE, not ARCHIVE_UNKNOWN_KERNEL)
    const img = await kcompat(['archive', 'image', '--kernel', AMD64, '--mirror', srv.url, '--json'], {...env('image'), KCOMPAT_IMAGE_CACHE: join(work, 'images')})
    expect(img.status).toBe(1)
    expect(img.stdout + img.stderr).toContain('IMAGE_GONE')
  })
})
