/**
 * The commands as a user runs them (built CLI): `archive sync btfhub` from a local git
 * repository (file://, partial clone allowed), `archive publish`, `archive sync --from`
 * (served by a loopback HTTP server in a child process, since spawnSync blocks this
 * one), `btf dump --kernel` on the lazy copy, and the usage errors of the shared sync command.
 */
import {spawn, spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {requireTool} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const SHIPPED = join(import.meta.dirname, '..', '..', 'archive')
const FILE = 'debian/12/s390x/6.1.0-50-s390x.btf.tar.xz'
const haveGit = requireTool('git', 'archive sync btfhub (CLI)')

function kc(args: string[], env: Record<string, string> = {}): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 28, env: {...process.env, ...env}})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

let work: string
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kcompat-btfhub-cli-'))
})
afterAll(() => {
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('archive sync: usage', () => {
  it('btfhub needs --from; no distro needs --from; debian still needs --suite and --arch', () => {
    const a = kc(['archive', 'sync', 'btfhub', '--archive', join(work, 'u')])
    expect(a.status).toBe(2)
    expect(a.stderr).toContain('--from')
    const b = kc(['archive', 'sync', '--archive', join(work, 'u')])
    expect(b.status).toBe(2)
    const c = kc(['archive', 'sync', 'debian', '--arch', 'amd64', '--archive', join(work, 'u')])
    expect(c.status).toBe(2)
    expect(c.stderr).toContain('--suite')
    expect(existsSync(join(work, 'u'))).toBe(false)
  })
})

describe.skipIf(!haveGit)('archive sync btfhub, publish, sync --from (CLI)', () => {
  it('imports from git, publishes, and serves a lazy copy', async () => {
    const repo = join(work, 'repo')
    mkdirSync(join(repo, FILE, '..'), {recursive: true})
    copyFileSync(join(SHIPPED, FILE), join(repo, FILE))
    const git = (...args: string[]): void => void spawnSync('git', ['-C', repo, ...args], {stdio: 'ignore'})
    git('init', '-q', '-b', 'main')
    git('add', '.')
    git('-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-qm', 'tree')
    git('config', 'uploadpack.allowFilter', 'true')
    const archive = join(work, 'archive')
    const s = kc(['archive', 'sync', 'btfhub', '--from', `file://${repo}`, '--distro', 'debian', '--version', '12', '--arch', 's390x', '--cache-dir', join(work, 'cache'), '--archive', archive, '--json'])
    expect(s.status, s.stderr).toBe(0)
    const r = JSON.parse(s.stdout) as {added: string[]; verifiedBy: string; transport: string}
    expect(r).toMatchObject({transport: 'git', verifiedBy: 'git-blob', added: [FILE]})

    const pub = join(work, 'pub')
    const p = kc(['archive', 'publish', '--archive', archive, '--out', pub, '--json'])
    expect(p.status, p.stderr).toBe(0)
    expect(JSON.parse(p.stdout)).toMatchObject({kernels: 1, index: true})

    // a static server in a child process (this process blocks in spawnSync while the CLI runs)
    const server = spawn(process.execPath, ['-e', `
      const http = require('node:http'), fs = require('node:fs'), path = require('node:path')
      const root = ${JSON.stringify(pub)}
      const s = http.createServer((req, res) => {
        const f = path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname))
        if (!f.startsWith(root) || !fs.existsSync(f) || fs.statSync(f).isDirectory()) { res.statusCode = 404; return res.end() }
        process.stderr.write(req.url + '\\n')
        res.end(fs.readFileSync(f))
      })
      s.listen(0, '127.0.0.1', () => console.log(s.address().port))`], {stdio: ['ignore', 'pipe', 'pipe']})
    const seen: string[] = []
    server.stderr.on('data', (c: Buffer) => seen.push(...c.toString().split('\n').filter(Boolean)))
    try {
      const port = await new Promise<string>((resolve) => server.stdout.once('data', (c: Buffer) => resolve(c.toString().trim())))
      const lazy = join(work, 'lazy')
      const q = kc(['archive', 'sync', '--from', `http://127.0.0.1:${port}`, '--archive', lazy, '--json'])
      expect(q.status, q.stderr).toBe(0)
      expect(JSON.parse(q.stdout)).toMatchObject({kernels: 1, local: 0, index: true})
      const d = kc(['btf', 'dump', '--kernel', '6.1.0-50-s390x', '--archive', lazy, '--format', 'raw'])
      expect(d.status, d.stderr).toBe(0)
      const direct = kc(['btf', 'dump', '--kernel', '6.1.0-50-s390x', '--archive', archive, '--format', 'raw'])
      expect(d.stdout).toBe(direct.stdout)
      await new Promise((r) => setTimeout(r, 100))
      expect(seen.filter((u) => u.endsWith('.btf.tar.xz'))).toEqual([`/${FILE}`])
      expect(readFileSync(join(lazy, FILE))).toEqual(readFileSync(join(pub, FILE)))
    } finally {
      server.kill()
    }
  })
})
