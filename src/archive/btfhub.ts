/**
 * `archive sync btfhub`: imports kernels from BTFHub's archive (the btfhub-archive git
 * repository, or a static HTTP mirror of its tree) without fetching all of it.
 *
 * The tree is `<os-id>/<version>/<arch>/<release>.btf.tar.xz` (layout.ts). A selection
 * (`distro`, `version`, `arch`, each optional) picks files by their path; only those
 * files are fetched, each file's identity is checked, and each is imported through
 * import.ts (unpacked, BTF validated, added with provenance `btfhub-import`).
 *
 * Two transports:
 *
 * - **git** (`--from` a git URL, or a path to a repository): a partial, sparse clone
 *   through the `git` client, kept in a cache directory. The first run is
 *   `git clone --filter=blob:none --sparse --no-checkout`: commits and trees only, no
 *   file contents. The tree is listed with `git ls-tree -r` (trees are there), the
 *   selection made from the paths, `git sparse-checkout set` names the selected folders
 *   and `git checkout` then fetches only those folders' blobs. Each selected file is then
 *   hashed with `git hash-object` and must equal the blob id the tree names (git's own
 *   identity: sha1 of "blob <size>\0" + content). A re-run does `git fetch` (new
 *   commits and trees only) and checks out the new tip: blobs already present are not
 *   fetched again, and kernels already imported with the same BTF change nothing.
 *
 * - **http** (`--from` an http(s) URL): a static mirror of the tree. Static servers have
 *   no API, so the mirror is listed one of three ways: a tree listing in GitHub's git
 *   trees API format (`listing`; each file is checked against its git blob id and size);
 *   a `SHA256SUMS` file at its root (the
 *   output of `sha256sum` run at the tree's root, `<hex>  <path>` per line; every file
 *   is then checked against its sha256), else the servers' own directory listings (the
 *   HTML "autoindex" pages nginx, Apache and `python3 -m http.server` produce): the
 *   walk goes down `<os>/<version>/<arch>/` following `<a href>` links, entering only
 *   the folders the selection keeps. Without `SHA256SUMS` nothing names a checksum, so a
 *   file's identity is what the transfer and the format give: its length must match the
 *   server's Content-Length, the xz stream's own CRC checks must pass and its BTF must
 *   parse. Downloads go to a cache directory (temporary name, renamed when complete and
 *   checked); a file already in the cache with the listed sha256 (or, without one, a
 *   file already there) is not fetched again.
 */
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'
import {KcompatError} from '../errors.js'
import {download, fetchBytes} from './download.js'
import {importBtfhubTarball} from './import.js'
import {normalizeArch, parseBtfPath} from './layout.js'

export class BtfhubError extends KcompatError {}

export interface BtfhubSelection {
  distro?: string
  version?: string
  arch?: string
}

export interface BtfhubSyncOptions extends BtfhubSelection {
  /** A git URL or repository path, or an http(s) URL of a static mirror. */
  from: string
  /** `git` or `http`; default: http for http(s) URLs that do not end in `.git`, else git. */
  transport?: 'git' | 'http'
  /** Where the clone or the downloads are kept (default: ~/.cache/kcompat/btfhub-<hash of from>). */
  cacheDir?: string
  dryRun?: boolean
  /**
   * http: a listing of the tree in the format of GitHub's git trees API (`GET
   * /repos/{owner}/{repo}/git/trees/{sha}?recursive=1`: `{"tree": [{"path", "type",
   * "sha", "size"}], "truncated"}`), e.g. saved beside a raw-file mirror; each file is
   * then checked against its git blob id and size.
   */
  listing?: string
  /** git executable (default `git`). */
  git?: string
  retryDelayMs?: number
  onEvent?: (e: BtfhubEvent) => void
}

export type BtfhubEvent =
  | {type: 'git'; line: string}
  | {type: 'listed'; files: number; selected: number}
  | {type: 'download'; file: string; received: number; total: number | undefined}
  | {type: 'verified'; file: string; by: 'sha256' | 'git-blob' | 'none'}
  | {type: 'imported'; file: string; changed: boolean}
  | {type: 'failed'; file: string; code: string; message: string}

export interface BtfhubFile {
  /** Path in the btfhub layout. */
  path: string
  size?: number
  sha256?: string
  /** git blob id (sha1), for the git transport. */
  blob?: string
}

export interface BtfhubSyncResult {
  transport: 'git' | 'http'
  from: string
  /** The commit imported (git). */
  commit?: string
  /** How the files' identity was checked. */
  verifiedBy: 'sha256' | 'git-blob' | 'none'
  selected: BtfhubFile[]
  /** Selected files transferred by this run (http: downloads; git: blobs the clone lacked before checkout). */
  fetched: number
  added: string[]
  unchanged: string[]
  failed: {file: string; code: string; message: string}[]
}

/** A file of the tree kept by the selection (distro, version, arch compared as BTFHub spells them; arch normalised). */
export function selects(sel: BtfhubSelection, path: string): boolean {
  const loc = parseBtfPath(path)
  if (!loc) return false
  if (sel.distro && loc.distro !== sel.distro) return false
  if (sel.version && loc.version !== sel.version) return false
  if (sel.arch && normalizeArch(loc.arch) !== normalizeArch(sel.arch)) return false
  return true
}

/** The default cache directory for a source. */
export function btfhubCacheDir(from: string): string {
  const tag = createHash('sha256').update(from).digest('hex').slice(0, 16)
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kcompat', `btfhub-${tag}`)
}

function transportOf(from: string): 'git' | 'http' {
  return /^https?:\/\//i.test(from) && !/\.git\/?$/i.test(from) ? 'http' : 'git'
}

/** Imports the selected kernels of a BTFHub tree into the archive at `root`. */
export async function syncBtfhub(root: string, o: BtfhubSyncOptions): Promise<BtfhubSyncResult> {
  const transport = o.transport ?? transportOf(o.from)
  const cacheDir = o.cacheDir ?? btfhubCacheDir(o.from)
  return transport === 'git' ? syncGit(root, cacheDir, o) : syncHttp(root, cacheDir, o)
}

async function importFiles(root: string, dir: string, files: BtfhubFile[], r: BtfhubSyncResult, o: BtfhubSyncOptions): Promise<void> {
  for (const f of files) {
    try {
      const changed = (await importBtfhubTarball(root, f.path, readFileSync(join(dir, f.path)))) === 'added'
      ;(changed ? r.added : r.unchanged).push(f.path)
      o.onEvent?.({type: 'imported', file: f.path, changed})
    } catch (e) {
      if (!(e instanceof KcompatError)) throw e
      // a download nothing vouched for (no checksum) and that fails to import is not kept: the next run fetches it again
      if (r.transport === 'http' && r.verifiedBy === 'none') rmSync(join(dir, f.path), {force: true})
      r.failed.push({file: f.path, code: e.code, message: e.message})
      o.onEvent?.({type: 'failed', file: f.path, code: e.code, message: e.message})
    }
  }
}

// ---------------------------------------------------------------------------- git

interface GitRun {
  stdout: string
  stderr: string
}

/**
 * Runs git; its progress lines (stderr, split on CR and LF) go to onEvent.
 * @throws InputError `TOOL_MISSING` when git cannot be started; BtfhubError
 *   `BTFHUB_GIT_FAILED` (with git's last message) when it exits non-zero.
 */
function git(o: BtfhubSyncOptions, args: string[], cwd?: string, input?: string): Promise<GitRun> {
  const exe = o.git ?? 'git'
  return new Promise((resolve, reject) => {
    // GIT_TERMINAL_PROMPT=0: a remote asking for credentials fails instead of waiting on a tty
    const child = spawn(exe, args, {cwd, env: {...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C'}, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']})
    const out: Buffer[] = []
    let err = ''
    child.stdout!.on('data', (c: Buffer) => out.push(c))
    child.stderr!.on('data', (c: Buffer) => {
      const s = c.toString('utf8')
      err += s
      if (err.length > 65536) err = err.slice(-32768)
      for (const line of s.split(/[\r\n]+/)) if (line.trim()) o.onEvent?.({type: 'git', line: line.trim()})
    })
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' ? new KcompatError('TOOL_MISSING', `${exe} not found: install git`) : new BtfhubError('BTFHUB_GIT_FAILED', `${exe}: ${e.message}`))
    })
    child.on('close', (code, signal) => {
      if (code === 0) resolve({stdout: Buffer.concat(out).toString('utf8'), stderr: err})
      else {
        const last = err.split(/[\r\n]+/).filter((l) => /^(fatal|error):/.test(l.trim())).slice(-2).join('; ') || err.trim().split(/[\r\n]+/).slice(-1)[0] || ''
        reject(new BtfhubError('BTFHUB_GIT_FAILED', `git ${args[0]} failed (${signal ?? `exit ${code}`}): ${last}`))
      }
    })
    if (child.stdin) {
      child.stdin.on('error', () => undefined) // git exiting early: its exit status says why
      child.stdin.end(input)
    }
  })
}

/**
 * `git ls-tree -r` lines: `<mode> blob <id>\t<path>`. (Not `-l`: a blob's size needs the
 * blob, and in a blob-less clone asking for it fetches every blob of the tree.)
 */
export function parseLsTree(text: string): BtfhubFile[] {
  const files: BtfhubFile[] = []
  for (const line of text.split('\n')) {
    const m = /^\d+ blob ([0-9a-f]{40,64})\t(.+)$/.exec(line)
    if (m) files.push({path: m[2]!, blob: m[1]!})
  }
  return files
}

/** The folders (cone-mode sparse-checkout entries) that hold the selected files. */
function foldersOf(files: BtfhubFile[]): string[] {
  return [...new Set(files.map((f) => f.path.slice(0, f.path.lastIndexOf('/'))))].sort()
}

async function syncGit(root: string, dir: string, o: BtfhubSyncOptions): Promise<BtfhubSyncResult> {
  const r: BtfhubSyncResult = {transport: 'git', from: o.from, verifiedBy: 'git-blob', selected: [], fetched: 0, added: [], unchanged: [], failed: []}
  if (existsSync(join(dir, '.git'))) {
    // the cache is kept only for this source: another URL there is a mistake, not a cache
    const url = (await git(o, ['config', '--get', 'remote.origin.url'], dir)).stdout.trim()
    if (url !== o.from) throw new BtfhubError('BTFHUB_CACHE_MISMATCH', `${dir} is a clone of ${url}, not of ${o.from}: give another --cache-dir`)
    await git(o, ['fetch', '--progress', '--filter=blob:none', 'origin'], dir)
  } else {
    if (existsSync(dir) && readdirSync(dir).length > 0) throw new BtfhubError('BTFHUB_CACHE_NOT_EMPTY', `${dir} is neither empty nor a clone: give another --cache-dir`)
    // cloned beside it and renamed into place: a clone cut short leaves no half clone in the cache
    const tmp = `${dir}.clone-${process.pid}`
    rmSync(tmp, {recursive: true, force: true})
    mkdirSync(dirname(dir), {recursive: true})
    try {
      await git(o, ['clone', '--progress', '--filter=blob:none', '--sparse', '--no-checkout', o.from, tmp])
    } catch (e) {
      rmSync(tmp, {recursive: true, force: true})
      throw e
    }
    rmSync(dir, {recursive: true, force: true}) // empty, or absent
    renameSync(tmp, dir)
  }
  const commit = (await git(o, ['rev-parse', '--verify', 'refs/remotes/origin/HEAD^{commit}'], dir)).stdout.trim()
  r.commit = commit
  const all = parseLsTree((await git(o, ['ls-tree', '-r', '--full-tree', commit], dir)).stdout)
  r.selected = all.filter((f) => selects(o, f.path))
  o.onEvent?.({type: 'listed', files: all.length, selected: r.selected.length})
  if (o.dryRun || r.selected.length === 0) return r
  // which selected blobs are not here yet (rev-list reports missing objects without fetching them)
  const missing = new Set(
    (await git(o, ['rev-list', '--objects', '--missing=print', '-1', commit], dir)).stdout
      .split('\n')
      .filter((l) => l.startsWith('?'))
      .map((l) => l.slice(1).trim()),
  )
  await git(o, ['sparse-checkout', 'set', '--cone', ...foldersOf(r.selected)], dir)
  await git(o, ['-c', 'advice.detachedHead=false', 'checkout', '--progress', '--detach', commit], dir)
  // git's identity for each file: the blob id of the checked-out content must be the tree's
  const paths = r.selected.map((f) => f.path)
  const ids = (await git(o, ['hash-object', '--no-filters', '--stdin-paths'], dir, `${paths.join('\n')}\n`)).stdout.trim().split('\n')
  const good: BtfhubFile[] = []
  r.selected.forEach((f, i) => {
    if (ids[i] === f.blob) {
      good.push(f)
      o.onEvent?.({type: 'verified', file: f.path, by: 'git-blob'})
    } else {
      const message = `${f.path}: git hash-object gives ${ids[i]}, the tree names blob ${f.blob}`
      r.failed.push({file: f.path, code: 'BTFHUB_CHECKSUM', message})
      o.onEvent?.({type: 'failed', file: f.path, code: 'BTFHUB_CHECKSUM', message})
    }
  })
  r.fetched = r.selected.filter((f) => missing.has(f.blob!)).length
  await importFiles(root, dir, good, r, o)
  return r
}

// --------------------------------------------------------------------------- http

/** `sha256sum` output: `<64 hex>  <path>` (or ` *<path>` in binary mode). */
export function parseSha256Sums(text: string): BtfhubFile[] {
  const files: BtfhubFile[] = []
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{64}) [ *](?:\.\/)?(.+)$/.exec(line.trimEnd())
    if (m) files.push({path: m[2]!, sha256: m[1]!.toLowerCase()})
  }
  return files
}

/**
 * The entries of an HTML directory listing (autoindex): every `<a href>` that names a
 * child of the page (relative, no query, no `..`, no scheme), percent-decoded; names
 * ending in `/` are folders.
 */
export function parseAutoindex(html: string): {name: string; dir: boolean}[] {
  const out: {name: string; dir: boolean}[] = []
  const seen = new Set<string>()
  for (const m of html.matchAll(/<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    const href = (m[1] ?? m[2] ?? m[3] ?? '').replace(/&amp;/g, '&')
    if (!href || /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('/') || href.startsWith('?') || href.startsWith('#')) continue
    let name: string
    try {
      name = decodeURIComponent(href.replace(/^\.\//, '').split(/[?#]/)[0]!)
    } catch {
      continue
    }
    const dir = name.endsWith('/')
    const base = dir ? name.slice(0, -1) : name
    if (!base || base === '.' || base === '..' || base.includes('/')) continue
    if (seen.has(name)) continue
    seen.add(name)
    out.push({name: base, dir})
  }
  return out
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.split('/').map(encodeURIComponent).join('/')}`
}

/** Walks the autoindex pages of `<os>/<version>/<arch>/`, entering only selected folders. */
async function walkAutoindex(o: BtfhubSyncOptions): Promise<BtfhubFile[]> {
  const page = async (rel: string): Promise<{name: string; dir: boolean}[]> => {
    const html = (await fetchBytes(rel ? `${joinUrl(o.from, rel)}/` : `${o.from.replace(/\/+$/, '')}/`, {retryDelayMs: o.retryDelayMs, maxBytes: 64 * 1024 * 1024})).toString('utf8')
    return parseAutoindex(html)
  }
  const keep = [o.distro, o.version, o.arch && normalizeArch(o.arch)]
  const files: BtfhubFile[] = []
  const walk = async (rel: string, depth: number): Promise<void> => {
    for (const e of await page(rel)) {
      const path = rel ? `${rel}/${e.name}` : e.name
      if (e.dir && depth < 3) {
        const want = keep[depth]
        if (e.name.startsWith('.')) continue
        if (want && (depth === 2 ? normalizeArch(e.name) : e.name) !== want) continue
        await walk(path, depth + 1)
      } else if (!e.dir && depth === 3 && e.name.endsWith('.btf.tar.xz')) files.push({path})
    }
  }
  await walk('', 0)
  return files.sort((a, b) => (a.path < b.path ? -1 : 1))
}

/**
 * A tree listing in GitHub's git trees API format: the blobs (type `blob`) with their ids
 * and sizes. A listing the API marked `truncated` is incomplete and refused.
 * @throws BtfhubError `BTFHUB_BAD_LISTING`.
 */
export function parseGitTreeJson(text: string, where: string): BtfhubFile[] {
  let j: {tree?: unknown; truncated?: unknown}
  try {
    j = JSON.parse(text) as typeof j
  } catch (e) {
    throw new BtfhubError('BTFHUB_BAD_LISTING', `${where} is not JSON: ${(e as Error).message}`)
  }
  if (!j || !Array.isArray(j.tree)) throw new BtfhubError('BTFHUB_BAD_LISTING', `${where} has no "tree" array`)
  if (j.truncated === true) throw new BtfhubError('BTFHUB_BAD_LISTING', `${where} is truncated (incomplete): list the tree folder by folder`)
  const files: BtfhubFile[] = []
  for (const t of j.tree as {path?: unknown; type?: unknown; sha?: unknown; size?: unknown}[]) {
    if (t.type !== 'blob') continue
    if (typeof t.path !== 'string' || typeof t.sha !== 'string' || !/^[0-9a-f]{40}$/.test(t.sha) || typeof t.size !== 'number') {
      throw new BtfhubError('BTFHUB_BAD_LISTING', `${where}: a blob entry lacks path, sha or size`)
    }
    files.push({path: t.path, blob: t.sha, size: t.size})
  }
  return files
}

/** git's identity of a file: sha1 of `blob <size>\0` followed by the content (what `git hash-object` prints). */
export function gitBlobId(data: Uint8Array): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex')
}

async function syncHttp(root: string, dir: string, o: BtfhubSyncOptions): Promise<BtfhubSyncResult> {
  let listed: BtfhubFile[]
  let verifiedBy: 'sha256' | 'git-blob' | 'none' = 'sha256'
  if (o.listing) {
    verifiedBy = 'git-blob'
    listed = parseGitTreeJson((await fetchBytes(o.listing, {retryDelayMs: o.retryDelayMs, maxBytes: 256 * 1024 * 1024})).toString('utf8'), o.listing)
  } else {
    try {
      listed = parseSha256Sums((await fetchBytes(joinUrl(o.from, 'SHA256SUMS'), {retryDelayMs: o.retryDelayMs, maxBytes: 256 * 1024 * 1024})).toString('utf8'))
    } catch (e) {
      if (!(e instanceof KcompatError && e.code === 'DOWNLOAD_NOT_FOUND')) throw e
      verifiedBy = 'none'
      listed = await walkAutoindex(o)
    }
  }
  const r: BtfhubSyncResult = {transport: 'http', from: o.from, verifiedBy, selected: [], fetched: 0, added: [], unchanged: [], failed: []}
  r.selected = listed.filter((f) => selects(o, f.path))
  o.onEvent?.({type: 'listed', files: listed.length, selected: r.selected.length})
  if (o.dryRun) return r
  const good: BtfhubFile[] = []
  for (const f of r.selected) {
    const dest = join(dir, f.path)
    try {
      if (f.blob && existsSync(dest) && gitBlobId(readFileSync(dest)) === f.blob) {
        good.push(f) // fetched by an earlier run
        continue
      }
      if (!f.sha256 && !f.blob && existsSync(dest)) {
        good.push(f) // no checksum to compare with: a file already downloaded whole is kept (BTFHub never rewrites a release's file)
        continue
      }
      mkdirSync(join(dest, '..'), {recursive: true})
      const d = await download(joinUrl(o.from, f.path), dest, {
        sha256: f.sha256,
        size: f.size,
        retryDelayMs: o.retryDelayMs,
        highWaterMark: 512 * 1024 * 1024, // see download.ts: BTFHub tarballs are a few MB, buffered whole
        onProgress: (p) => o.onEvent?.({type: 'download', file: f.path, received: p.received, total: p.total}),
      })
      if (!d.reused) r.fetched++
      if (f.blob) {
        const id = gitBlobId(readFileSync(dest))
        if (id !== f.blob) {
          rmSync(dest, {force: true})
          throw new BtfhubError('BTFHUB_CHECKSUM', `${f.path}: its git blob id is ${id}, the listing names ${f.blob}`)
        }
      }
      o.onEvent?.({type: 'verified', file: f.path, by: verifiedBy})
      good.push(f)
    } catch (e) {
      if (!(e instanceof KcompatError)) throw e
      r.failed.push({file: f.path, code: e.code, message: e.message})
      o.onEvent?.({type: 'failed', file: f.path, code: e.code, message: e.message})
    }
  }
  await importFiles(root, dir, good, r, o)
  return r
}
