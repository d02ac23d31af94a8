/**
 * `archive sync btfhub` against a BTFHub-layout tree built from real BTFHub-format files
 * (the shipped archive's `<os>/<version>/<arch>/<release>.btf.tar.xz`, copied to the
 * paths btfhub-archive uses), served on loopback:
 * - as a git repository behind `git http-backend` (the smart-HTTP protocol hosting sites
 *   speak), for the partial sparse clone; git itself says which blobs the clone lacks
 *   (`git rev-list --missing=print`) and what each blob id is (`git ls-tree`);
 * - as a static mirror by `python3 -m http.server` (its directory listings are the
 *   autoindex pages the walk reads), and with a `SHA256SUMS` written by `sha256sum`.
 * The imported BTF must equal what `tar -xJO` (GNU tar + xz) unpacks from the source
 * tarball, compared by sha256.
 */
import {spawn, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readKernelBtf} from '../../src/archive/archive.js'
import {gitBlobId, parseAutoindex, parseLsTree, parseSha256Sums, syncBtfhub} from '../../src/archive/btfhub.js'
import {readManifest} from '../../src/archive/manifest.js'
import {type GitHttpServer, startGitHttp} from '../helpers/git-http.js'
import {requireTool, run} from '../helpers/tools.js'

const SHIPPED = join(import.meta.dirname, '..', '..', 'archive')
// three real tarballs at btfhub-archive paths; the selections below take one folder each
const TREE = ['debian/12/s390x/6.1.0-50-s390x.btf.tar.xz', 'debian/12/ppc64le/6.1.0-54-powerpc64le.btf.tar.xz', 'debian/12/i686/6.1.0-54-686.btf.tar.xz']
const haveTools = requireTool('git', 'btfhub git sync') && requireTool('tar', 'btfhub sync') && requireTool('xz', 'btfhub sync')

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const git = (cwd: string, ...args: string[]): string => run('git', ['-C', cwd, ...args]).toString('utf8')
/** The BTF in a tarball, as GNU tar and xz unpack it: the oracle for what is imported. */
const tarBtf = (file: string): Buffer => run('tar', ['-xJOf', file])

let work: string
let tree: string

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kcompat-btfhub-'))
  tree = join(work, 'tree')
  for (const p of TREE) {
    mkdirSync(join(tree, p, '..'), {recursive: true})
    copyFileSync(join(SHIPPED, p), join(tree, p))
  }
  writeFileSync(join(tree, 'README.md'), 'BTF files of kernels without BTF\n')
})

afterAll(() => {
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('listings', () => {
  it('reads git ls-tree, sha256sum and autoindex output as the tools print them', () => {
    if (!haveTools) return
    const repo = join(work, 'ls')
    mkdirSync(repo)
    git(repo, 'init', '-q')
    copyFileSync(join(SHIPPED, TREE[0]!), join(repo, 'a b.btf.tar.xz'))
    git(repo, 'add', '.')
    git(repo, '-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-qm', 'x')
    const ls = parseLsTree(git(repo, 'ls-tree', '-r', 'HEAD'))
    expect(ls).toEqual([{path: 'a b.btf.tar.xz', blob: git(repo, 'hash-object', 'a b.btf.tar.xz').trim()}])
    expect(gitBlobId(readFileSync(join(repo, 'a b.btf.tar.xz')))).toBe(ls[0]!.blob)
    const sums = parseSha256Sums(run('sha256sum', [join(SHIPPED, TREE[0]!)], {}).toString().replace(SHIPPED + '/', ''))
    expect(sums).toEqual([{path: TREE[0], sha256: sha(readFileSync(join(SHIPPED, TREE[0]!)))}])
    const html = '<ul><li><a href="../">../</a></li><li><a href="debian/">debian/</a></li><li><a href="6.1.0%2B1.btf.tar.xz">x</a></li><li><a href="http://elsewhere/x/">y</a></li><li><a href="?C=N;O=D">Name</a></li></ul>'
    expect(parseAutoindex(html)).toEqual([
      {name: 'debian', dir: true},
      {name: '6.1.0+1.btf.tar.xz', dir: false},
    ])
  })
})

describe('git: partial, sparse clone over smart HTTP', () => {
  let srv: GitHttpServer
  let bare: string
  beforeAll(async () => {
    if (!haveTools) return
    const src = join(work, 'src')
    run('cp', ['-r', tree, src])
    git(src, 'init', '-q', '-b', 'main')
    git(src, 'add', '.')
    git(src, '-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-qm', 'btfhub tree')
    bare = join(work, 'srv', 'btfhub-archive.git')
    run('git', ['clone', '-q', '--bare', src, bare])
    // hosting sites accept partial-clone filters; git's own server does when told to
    git(bare, 'config', 'uploadpack.allowFilter', 'true')
    srv = await startGitHttp(join(work, 'srv'))
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('fetches only the selected folder, checks blob ids, imports, and a re-run fetches nothing', async () => {
    if (!haveTools) return
    const root = join(work, 'archive-git')
    const cache = join(work, 'cache-git')
    const from = `${srv.url}/btfhub-archive.git`
    const events: string[] = []
    const r = await syncBtfhub(root, {from, distro: 'debian', version: '12', arch: 's390x', cacheDir: cache, onEvent: (e) => events.push(e.type)})
    expect(r.transport).toBe('git')
    expect(r.failed).toEqual([])
    expect(r.selected.map((f) => f.path)).toEqual([TREE[0]])
    expect(r.added).toEqual([TREE[0]])
    expect(r.fetched).toBe(1)
    expect(events).toContain('git') // git's progress lines reach the callback
    // git's view of the clone: the unselected tarballs' blobs were never fetched
    const ids = new Map(parseLsTree(git(bare, 'ls-tree', '-r', 'HEAD')).map((f) => [f.path, f.blob!]))
    const missing = git(cache, 'rev-list', '--objects', '--all', '--missing=print').split('\n').filter((l) => l.startsWith('?')).map((l) => l.slice(1))
    expect(missing.sort()).toEqual([ids.get(TREE[1])!, ids.get(TREE[2])!].sort())
    expect(git(cache, 'config', 'remote.origin.partialclonefilter').trim()).toBe('blob:none')
    // the BTF archived is the BTF GNU tar unpacks from the source tarball
    const entry = readManifest(root).kernels.find((k) => k.release === '6.1.0-50-s390x')!
    expect(entry.source.method).toBe('btfhub-import')
    expect(sha(await readKernelBtf(root, entry, {cache: false}))).toBe(sha(tarBtf(join(tree, TREE[0]!))))
    // a re-run: git fetch brings nothing new, nothing is imported twice
    const posts = srv.log.filter((l) => l.startsWith('POST')).length
    const again = await syncBtfhub(root, {from, arch: 's390x', cacheDir: cache})
    expect(again.fetched).toBe(0)
    expect(again.added).toEqual([])
    expect(again.unchanged).toEqual([TREE[0]])
    // one negotiation (the fetch finds nothing to get), no blob fetch
    expect(srv.log.filter((l) => l.startsWith('POST')).length - posts).toBeLessThanOrEqual(2)
    const missingAfter = git(cache, 'rev-list', '--objects', '--all', '--missing=print').split('\n').filter((l) => l.startsWith('?'))
    expect(missingAfter.length).toBe(2)
  })

  it('a dry run lists from trees alone: no blob is fetched', async () => {
    if (!haveTools) return
    const cache = join(work, 'cache-dry')
    const r = await syncBtfhub(join(work, 'archive-dry'), {from: `${srv.url}/btfhub-archive.git`, arch: 'ppc64le', cacheDir: cache, dryRun: true})
    expect(r.selected.map((f) => f.path)).toEqual([TREE[1]])
    const missing = git(cache, 'rev-list', '--objects', '--all', '--missing=print').split('\n').filter((l) => l.startsWith('?'))
    expect(missing.length).toBe(4) // three tarballs and the README
    expect(existsSync(join(work, 'archive-dry', 'manifest.json'))).toBe(false)
  })

  it('a remote that disappears mid-fetch: BTFHUB_GIT_FAILED, nothing written; when it is back the next run completes', async () => {
    if (!haveTools) return
    const root = join(work, 'archive-cut')
    const cache = join(work, 'cache-cut')
    const from = (s: GitHttpServer): string => `${s.url}/btfhub-archive.git`
    // cut inside the first pack (the clone's commits and trees): no clone is left behind
    const early = await startGitHttp(join(work, 'srv'))
    early.cut = {bytes: 200}
    await expect(syncBtfhub(root, {from: from(early), arch: 'i686', cacheDir: cache})).rejects.toMatchObject({code: 'BTFHUB_GIT_FAILED'})
    expect(existsSync(join(cache, '.git'))).toBe(false)
    // the server is gone now: still a coded error, not a hang
    await expect(syncBtfhub(root, {from: from(early), arch: 'i686', cacheDir: cache})).rejects.toMatchObject({code: 'BTFHUB_GIT_FAILED'})
    // cut inside the blob fetch of the checkout (the clone itself completed)
    const late = await startGitHttp(join(work, 'srv'))
    late.cut = {bytes: 20_000}
    await expect(syncBtfhub(root, {from: from(late), arch: 'i686', cacheDir: cache})).rejects.toMatchObject({code: 'BTFHUB_GIT_FAILED'})
    expect(existsSync(join(root, 'manifest.json'))).toBe(false)
    await late.reopen()
    try {
      const r = await syncBtfhub(root, {from: from(late), arch: 'i686', cacheDir: cache})
      expect(r.added).toEqual([TREE[2]])
    } finally {
      await late.close()
    }
  })

  it('a cache directory cloned from another source is refused', async () => {
    if (!haveTools) return
    await expect(syncBtfhub(join(work, 'archive-x'), {from: `${srv.url}/other.git`, arch: 's390x', cacheDir: join(work, 'cache-git')})).rejects.toMatchObject({
      code: 'BTFHUB_CACHE_MISMATCH',
    })
  })
})

/** `python3 -m http.server` on port 0 in `dir`; its request log is collected. */
async function pythonServer(dir: string): Promise<{url: string; log: string[]; stop: () => void}> {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1'], {cwd: dir, stdio: ['ignore', 'pipe', 'pipe']})
  const log: string[] = []
  child.stderr.on('data', (c: Buffer) => log.push(...c.toString().split('\n').filter(Boolean)))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /port (\d+)/.exec(out)
      if (m) resolve(`http://127.0.0.1:${m[1]}`)
    })
    child.on('exit', (code) => reject(new Error(`python3 http.server exited ${code}`)))
  })
  return {url, log, stop: () => child.kill()}
}

describe('http: a static mirror', () => {
  const havePython = haveTools && requireTool('python3', 'btfhub static mirror (python3 -m http.server)') && requireTool('sha256sum', 'btfhub static mirror')

  it('walks autoindex pages into the selected folders only, fetches once, imports', async () => {
    if (!havePython) return
    const py = await pythonServer(tree)
    try {
      const root = join(work, 'archive-http')
      const cache = join(work, 'cache-http')
      const r = await syncBtfhub(root, {from: py.url, arch: 'ppc64le', cacheDir: cache, retryDelayMs: 10})
      expect(r.verifiedBy).toBe('none')
      expect(r.added).toEqual([TREE[1]])
      expect(r.fetched).toBe(1)
      const gets = py.log.filter((l) => l.includes('"GET '))
      expect(gets.some((l) => l.includes('/debian/12/s390x'))).toBe(false) // unselected folders are not even listed
      expect(gets.filter((l) => l.includes('.btf.tar.xz')).length).toBe(1)
      const entry = readManifest(root).kernels[0]!
      expect(sha(await readKernelBtf(root, entry, {cache: false}))).toBe(sha(tarBtf(join(tree, TREE[1]!))))
      const before = py.log.filter((l) => l.includes('.btf.tar.xz')).length
      const again = await syncBtfhub(root, {from: py.url, arch: 'ppc64le', cacheDir: cache, retryDelayMs: 10})
      expect(again.fetched).toBe(0)
      expect(again.unchanged).toEqual([TREE[1]])
      expect(py.log.filter((l) => l.includes('.btf.tar.xz')).length).toBe(before)
    } finally {
      py.stop()
    }
  })

  it('a truncated file in an unlisted mirror fails on its xz stream (coded), the others import', async () => {
    if (!havePython) return
    const bad = join(work, 'tree-bad')
    run('cp', ['-r', tree, bad])
    const f = join(bad, TREE[2]!)
    writeFileSync(f, readFileSync(f).subarray(0, 300_000))
    const py = await pythonServer(bad)
    try {
      const root = join(work, 'archive-trunc')
      const r = await syncBtfhub(root, {from: py.url, distro: 'debian', version: '12', arch: 'i686', cacheDir: join(work, 'cache-trunc'), retryDelayMs: 10})
      expect(r.failed.map((x) => [x.file, x.code])).toEqual([[TREE[2], expect.stringMatching(/^INPUT_CORRUPT_XZ|INPUT_CORRUPT_TAR$/)]])
      expect(existsSync(join(root, 'manifest.json'))).toBe(false)
      // not kept in the cache: nothing vouched for it, so the next run fetches it again
      expect(existsSync(join(work, 'cache-trunc', TREE[2]!))).toBe(false)
    } finally {
      py.stop()
    }
  })

  it('SHA256SUMS (sha256sum output) lists the mirror; a wrong checksum is DOWNLOAD_CHECKSUM and nothing is kept', async () => {
    if (!havePython) return
    const mirror = join(work, 'tree-sums')
    run('cp', ['-r', tree, mirror])
    const sums = spawnSync('sh', ['-c', 'find . -name "*.btf.tar.xz" | sed "s|^./||" | sort | xargs sha256sum'], {cwd: mirror, encoding: 'utf8'}).stdout
    // the s390x line names another file's sha256: the mirror lies about it
    const lines = sums.split('\n').filter(Boolean)
    const other = lines.find((l) => l.endsWith(TREE[1]!))!.slice(0, 64)
    writeFileSync(join(mirror, 'SHA256SUMS'), lines.map((l) => (l.endsWith(TREE[0]!) ? `${other}  ${TREE[0]}` : l)).join('\n') + '\n')
    const py = await pythonServer(mirror)
    try {
      const root = join(work, 'archive-sums')
      const cache = join(work, 'cache-sums')
      const r = await syncBtfhub(root, {from: py.url, distro: 'debian', cacheDir: cache, retryDelayMs: 10})
      expect(r.verifiedBy).toBe('sha256')
      expect(r.selected.length).toBe(3)
      expect(r.failed).toEqual([expect.objectContaining({file: TREE[0], code: 'DOWNLOAD_CHECKSUM'})])
      expect(r.added.sort()).toEqual([TREE[1], TREE[2]].sort())
      expect(existsSync(join(cache, TREE[0]!))).toBe(false)
      expect(readdirSync(join(cache, 'debian/12/s390x'))).toEqual([])
      expect(readManifest(root).kernels.map((k) => k.arch).sort()).toEqual(['i686', 'ppc64le'])
    } finally {
      py.stop()
    }
  })
})

describe('http: a raw-file mirror with a git tree listing', () => {
  it("checks each file against the listing's git blob id (ids and sizes from git ls-tree -l); a wrong id is BTFHUB_CHECKSUM, nothing kept", async () => {
    if (!haveTools || !requireTool('python3', 'btfhub raw mirror (python3 -m http.server)')) return
    const mirror = join(work, 'tree-raw')
    run('cp', ['-r', tree, mirror])
    git(mirror, 'init', '-q')
    git(mirror, 'add', '.')
    git(mirror, '-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-qm', 'tree')
    // GitHub's git trees API format, filled in from git's own listing
    const entries = git(mirror, 'ls-tree', '-r', '-l', 'HEAD')
      .trim()
      .split('\n')
      .map((l) => /^(\d+) (\w+) ([0-9a-f]+) +(\d+)\t(.+)$/.exec(l)!)
      .map((m) => ({path: m[5], mode: m[1], type: m[2], sha: m[3], size: Number(m[4])}))
    const listing = (tree: typeof entries): string => JSON.stringify({sha: git(mirror, 'rev-parse', 'HEAD^{tree}').trim(), tree, truncated: false})
    writeFileSync(join(mirror, 'tree.json'), listing(entries))
    const lying = entries.map((e) => (e.path === TREE[1] ? {...e, sha: entries.find((x) => x.path === TREE[2])!.sha} : e))
    writeFileSync(join(mirror, 'lying.json'), listing(lying))
    writeFileSync(join(mirror, 'truncated.json'), JSON.stringify({tree: entries, truncated: true}))
    writeFileSync(join(mirror, 'sizes.json'), listing(entries.map((e) => (e.path === TREE[1] ? {...e, size: e.size - 1000} : e))))
    const py = await pythonServer(mirror)
    try {
      const root = join(work, 'archive-raw')
      const cache = join(work, 'cache-raw')
      const r = await syncBtfhub(root, {from: py.url, listing: `${py.url}/tree.json`, arch: 'ppc64le', cacheDir: cache, retryDelayMs: 10})
      expect(r.verifiedBy).toBe('git-blob')
      expect(r.added).toEqual([TREE[1]])
      const again = await syncBtfhub(root, {from: py.url, listing: `${py.url}/tree.json`, arch: 'ppc64le', cacheDir: cache, retryDelayMs: 10})
      expect(again.fetched).toBe(0)
      const bad = await syncBtfhub(join(work, 'archive-raw2'), {from: py.url, listing: `${py.url}/lying.json`, arch: 'ppc64le', cacheDir: join(work, 'cache-raw2'), retryDelayMs: 10})
      expect(bad.failed.map((f) => f.code)).toEqual(['BTFHUB_CHECKSUM'])
      expect(existsSync(join(work, 'cache-raw2', TREE[1]!))).toBe(false)
      expect(existsSync(join(work, 'archive-raw2', 'manifest.json'))).toBe(false)
      await expect(syncBtfhub(root, {from: py.url, listing: `${py.url}/truncated.json`, cacheDir: cache})).rejects.toMatchObject({code: 'BTFHUB_BAD_LISTING'})
      // a listing that lies about a size: the transfer does not match it, nothing is kept under the file's name
      const sized = await syncBtfhub(join(work, 'archive-raw3'), {from: py.url, listing: `${py.url}/sizes.json`, arch: 'ppc64le', cacheDir: join(work, 'cache-raw3'), retryDelayMs: 1})
      expect(sized.failed.map((f) => f.code)).toEqual(['DOWNLOAD_SHORT'])
      expect(existsSync(join(work, 'cache-raw3', TREE[1]!))).toBe(false)
      expect(existsSync(join(work, 'archive-raw3', 'manifest.json'))).toBe(false)
    } finally {
      py.stop()
    }
  })
})

describe('http: a server that cuts a transfer short', () => {
  it('retries (resuming with a Range request from what it kept) and checks the whole file', async () => {
    if (!haveTools) return
    const body = readFileSync(join(tree, TREE[1]!))
    const sums = `${sha(body)}  ${TREE[1]}\n`
    let cuts = 0
    const ranges: string[] = []
    const server: Server = createServer((req, res) => {
      if (req.url === '/SHA256SUMS') return void res.end(sums)
      if (req.url !== `/${TREE[1]}`) {
        res.statusCode = 404
        return void res.end()
      }
      const range = /bytes=(\d+)-/.exec(req.headers.range ?? '')
      ranges.push(req.headers.range ?? '')
      if (range) {
        const from = Number(range[1])
        res.writeHead(206, {'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`})
        return void res.end(body.subarray(from))
      }
      res.writeHead(200, {'content-length': body.length})
      if (cuts > 0) return void res.end(body)
      cuts++
      // a FIN after the first 100,000 bytes (a reset could drop bytes already sent): the
      // client has them, and the declared length is not reached
      res.write(body.subarray(0, 100_000), () => res.socket?.end())
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const r = await syncBtfhub(join(work, 'archive-resume'), {from: url, cacheDir: join(work, 'cache-resume'), retryDelayMs: 10})
      expect(cuts).toBe(1)
      // the second request continues where the kept part ends
      // (what the client had written to its .part when the connection ended: up to 100,000
      // bytes; a Range request when it kept any)
      expect(ranges.length).toBe(2)
      expect(ranges[0]).toBe('')
      const m = /^bytes=(\d+)-$/.exec(ranges[1]!)
      if (m) expect(Number(m[1])).toBeLessThanOrEqual(100_000)
      else expect(ranges[1]).toBe('')
      expect(r.added).toEqual([TREE[1]])
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })
})
