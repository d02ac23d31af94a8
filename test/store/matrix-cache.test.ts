/**
 * The matrix cache in the index database: a kernel's cells read in one go, rows written
 * per kernel with the same final contents as writing each put at once (older rows of an
 * object name dropped, the last put of a key kept), each distinct cells text stored
 * once and compressed, and deleted with its last row, damaged stored texts read as
 * misses and repaired by the next put, --btf kernel identities, and file hashes
 * memoized by stat.
 */
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {inflateSync} from 'node:zlib'
import {decompressSync} from '@napi-rs/lzma/xz'
import Database from 'better-sqlite3'
import {describe, expect, it} from 'vitest'
import {buildMatrix, withPaths, withoutPaths} from '../../src/matrix/matrix.js'
import {openMatrixCache} from '../../src/store/matrix-cache.js'
import {fixtureArchive} from '../check/fixture-archive.js'
import {FIXTURES} from '../helpers/fixtures.js'

const tmp = (): string => mkdtempSync(join(tmpdir(), 'kcompat-matrix-cache-'))
// the store keeps the matrix's text as it is
const cells = (tag: string): string => `["p-${tag}","kprobe/x","supported",0,0]\n{"text": "${tag}"}`
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
const jsonInner = (s: string): string => JSON.stringify(s).slice(1, -1)
/** The kernel keys the tests use: rows name theirs by its sha256. */
const KEYS = ['K1', 'K2', 'K3', 'K4', 'OLD', 'NEW']

function query<T>(db: string, sql: string, ...params: unknown[]): T[] {
  const d = new Database(db, {readonly: true})
  try {
    return d.prepare(sql).all(...params) as T[]
  } finally {
    d.close()
  }
}

/** The rows, with their kernel key and their cells text, by kernel key then object. */
function rows(db: string): Array<{kernel_key: string; object_sha256: string; object_name: string; kernel_name: string; cells: string}> {
  const byHash = new Map(KEYS.map((k) => [sha(k), k]))
  const raw = query<{kernel_hash: Buffer; object_sha256: string; object_name: string; kernel_name: string; latin1: number; body: Buffer}>(
    db,
    'SELECT r.kernel_hash, r.object_sha256, r.object_name, r.kernel_name, c.latin1, c.body FROM matrix_cache r JOIN matrix_cells c ON c.id = r.cells',
  )
  return raw
    .map((r) => ({
      kernel_key: byHash.get(r.kernel_hash.toString('hex')) ?? r.kernel_hash.toString('hex'),
      object_sha256: r.object_sha256,
      object_name: r.object_name,
      kernel_name: r.kernel_name,
      cells: inflateSync(r.body).toString(r.latin1 ? 'latin1' : 'utf8'),
    }))
    .sort((a, b) => (a.kernel_key < b.kernel_key ? -1 : a.kernel_key > b.kernel_key ? 1 : a.object_sha256 < b.object_sha256 ? -1 : 1))
}

/** The stored cells texts, by sha256 (hex), each as the text it inflates to. */
function bodies(db: string): Map<string, string> {
  const raw = query<{sha: Buffer; latin1: number; body: Buffer}>(db, 'SELECT sha, latin1, body FROM matrix_cells')
  return new Map(raw.map((b) => [b.sha.toString('hex'), inflateSync(b.body).toString(b.latin1 ? 'latin1' : 'utf8')]))
}

describe('matrix cache', () => {
  it('reads the asked objects of one kernel key, and the identity recorded with it', () => {
    const db = join(tmp(), 'i.sqlite')
    let c = openMatrixCache(db)
    c.put('s1', 'K1', {object: 'a.o', kernel: 'k1'}, cells('a1'))
    c.put('s2', 'K1', {object: 'b.o', kernel: 'k1'}, cells('b1'))
    c.putIdentity('K1', 'k1', {upstream: '6.1.0', arch: 'arm64', distro: 'debian', version: '12', flavor: 'cloud'})
    c.put('s1', 'K2', {object: 'a.o', kernel: 'k2'}, cells('a2'))
    c.close()
    c = openMatrixCache(db)
    const k1 = c.getKernel('K1', ['s1', 's2', 's3'])
    expect([...k1.cells]).toEqual([
      ['s1', cells('a1')],
      ['s2', cells('b1')],
    ])
    expect(k1.identity).toEqual({upstream: '6.1.0', arch: 'arm64', distro: 'debian', version: '12', flavor: 'cloud'})
    expect([...c.getKernel('K1', ['s2']).cells.keys()]).toEqual(['s2'])
    const k2 = c.getKernel('K2', ['s1', 's2'])
    expect([...k2.cells]).toEqual([['s1', cells('a2')]])
    expect(k2.identity).toBeUndefined()
    // rows put for one kernel are readable once the next kernel is read, before close
    c.put('s9', 'K3', {object: 'z.o', kernel: 'k3'}, cells('z'))
    c.getKernel('K4', [])
    expect([...c.getKernel('K3', ['s9']).cells]).toEqual([['s9', cells('z')]])
    c.close()
  })

  it('writes a kernel\'s rows when a put for another kernel comes', () => {
    const db = join(tmp(), 'i.sqlite')
    const c = openMatrixCache(db)
    c.put('s1', 'K1', {object: 'a.o', kernel: 'k1'}, cells('a1'))
    c.putIdentity('K1', 'k1', {upstream: '6.1.0', arch: 'x86_64', distro: '', version: '', flavor: null})
    c.put('s2', 'K1', {object: 'b.o', kernel: 'k1'}, cells('b1'))
    expect(rows(db)).toEqual([])
    c.putIdentity('K2', 'k2', {upstream: '6.12.0', arch: 'x86_64', distro: '', version: '', flavor: null})
    expect(rows(db).map((r) => [r.kernel_key, r.object_sha256])).toEqual([
      ['K1', 's1'],
      ['K1', 's2'],
    ])
    c.put('s1', 'K2', {object: 'a.o', kernel: 'k2'}, cells('a2'))
    expect(rows(db)).toHaveLength(2)
    c.close()
    expect(rows(db).map((r) => [r.kernel_key, r.object_sha256])).toEqual([
      ['K1', 's1'],
      ['K1', 's2'],
      ['K2', 's1'],
    ])
  })

  it('a kernel written at once ends as if each put were written in turn', () => {
    const db = join(tmp(), 'i.sqlite')
    let c = openMatrixCache(db)
    // an earlier run: x.o and y.o on kernel k under an older key
    c.put('sx', 'OLD', {object: 'x.o', kernel: 'k'}, cells('old-x'))
    c.put('sy', 'OLD', {object: 'y.o', kernel: 'k'}, cells('old-y'))
    c.putIdentity('OLD', 'k', {upstream: '1', arch: 'x86_64', distro: '', version: '', flavor: null})
    c.close()
    c = openMatrixCache(db)
    // one object file under three names (same sha256): the last put's row is the one kept
    c.put('sx', 'NEW', {object: 'x.o', kernel: 'k'}, cells('x'))
    c.put('sx', 'NEW', {object: 'x2.o', kernel: 'k'}, cells('x2'))
    c.put('sx', 'NEW', {object: 'x3.o', kernel: 'k'}, cells('x3'))
    // two different files both named z.o: the second put drops the first one's row
    c.put('sz1', 'NEW', {object: 'z.o', kernel: 'k'}, cells('z1'))
    c.put('sz2', 'NEW', {object: 'z.o', kernel: 'k'}, cells('z2'))
    c.putIdentity('NEW', 'k', {upstream: '2', arch: 'x86_64', distro: '', version: '', flavor: null})
    c.close()
    expect(rows(db)).toEqual([
      {kernel_key: 'NEW', object_sha256: 'sx', object_name: 'x3.o', kernel_name: 'k', cells: cells('x3')},
      {kernel_key: 'NEW', object_sha256: 'sz2', object_name: 'z.o', kernel_name: 'k', cells: cells('z2')},
      // y.o was not put again: its older row stays; x.o's older row is gone
      {kernel_key: 'OLD', object_sha256: 'sy', object_name: 'y.o', kernel_name: 'k', cells: cells('old-y')},
    ])
    c = openMatrixCache(db)
    expect(c.getKernel('OLD', ['sy']).identity).toBeUndefined()
    expect(c.getKernel('NEW', []).identity).toEqual({upstream: '2', arch: 'x86_64', distro: '', version: '', flavor: null})
    c.close()
  })

  it('stores each distinct cells text once, compressed, under its sha256; one byte a character when all fit', () => {
    const db = join(tmp(), 'i.sqlite')
    // a text the size of a real row: many reasons, most of them alike
    const big = Array.from({length: 200}, (_, i) => `{"rule":"config:bpf-syscall","status":"pass","message":"needs CONFIG_BPF_SYSCALL=y (${i % 7})","source":"features.md §11"}`).join('\n')
    // characters beyond U+00FF (and a surrogate pair) are kept as UTF-8
    const wide = cells('b \u2026 \u{1f600} ü')
    let c = openMatrixCache(db)
    for (const k of ['K1', 'K2', 'K3']) c.put('s1', k, {object: 'a.o', kernel: k.toLowerCase()}, big)
    c.put('s2', 'K2', {object: 'b.o', kernel: 'k2'}, wide)
    c.close()
    expect(rows(db)).toHaveLength(4)
    expect(query<{n: number}>(db, 'SELECT count(*) AS n FROM matrix_cells')[0]!.n).toBe(2)
    expect(bodies(db)).toEqual(
      new Map([
        [sha(big), big],
        [sha(wide), wide],
      ]),
    )
    const stored = (text: string) => query<{latin1: number; n: number}>(db, 'SELECT latin1, length(body) AS n FROM matrix_cells WHERE sha = ?', Buffer.from(sha(text), 'hex'))[0]!
    expect(stored(big).latin1).toBe(1)
    expect(stored(big).n).toBeLessThan(big.length / 10)
    expect(stored(wide).latin1).toBe(0)
    c = openMatrixCache(db)
    for (const k of ['K1', 'K2', 'K3']) expect(c.getKernel(k, ['s1']).cells.get('s1')).toBe(big)
    expect(c.getKernel('K2', ['s2']).cells.get('s2')).toBe(wide)
    c.close()
  })

  it('a stored text goes with the last row naming it: rows replaced, dropped for a new key, or deleted by hand', () => {
    const db = join(tmp(), 'i.sqlite')
    let c = openMatrixCache(db)
    c.put('s1', 'K1', {object: 'a.o', kernel: 'k1'}, cells('A'))
    c.put('s2', 'K1', {object: 'b.o', kernel: 'k1'}, cells('B'))
    c.put('s1', 'K2', {object: 'a.o', kernel: 'k2'}, cells('A'))
    c.close()
    expect([...bodies(db).values()].sort()).toEqual([cells('A'), cells('B')])
    // k1 gets a new key: its rows' older versions are dropped as they are put again;
    // A is still named by k2's row, B by nothing once b.o is put again
    c = openMatrixCache(db)
    c.put('s1', 'K3', {object: 'a.o', kernel: 'k1'}, cells('A'))
    c.put('s2', 'K3', {object: 'b.o', kernel: 'k1'}, cells('C'))
    c.close()
    expect(rows(db).map((r) => [r.kernel_key, r.object_sha256, r.cells])).toEqual([
      ['K2', 's1', cells('A')],
      ['K3', 's1', cells('A')],
      ['K3', 's2', cells('C')],
    ])
    expect([...bodies(db).values()].sort()).toEqual([cells('A'), cells('C')])
    // the same key and object with another text (the row is updated in place)
    c = openMatrixCache(db)
    c.put('s2', 'K3', {object: 'b.o', kernel: 'k1'}, cells('D'))
    c.close()
    expect([...bodies(db).values()].sort()).toEqual([cells('A'), cells('D')])
    // A's rows go one by one: it stays until the last one is gone
    const d = new Database(db)
    d.prepare('DELETE FROM matrix_cache WHERE kernel_name = ?').run('k2')
    expect([...bodies(db).values()].sort()).toEqual([cells('A'), cells('D')])
    d.prepare('DELETE FROM matrix_cache').run()
    d.close()
    expect(bodies(db).size).toBe(0)
  })

  it('a stored text that does not inflate is a miss; putting that text again repairs it for every row that names it', () => {
    const db = join(tmp(), 'i.sqlite')
    const text = Array.from({length: 50}, (_, i) => `{"rule":"target","message":"FUNC f${i} is in this kernel's BTF"}`).join('\n')
    let c = openMatrixCache(db)
    c.put('s1', 'K1', {object: 'a.o', kernel: 'k1'}, text)
    c.put('s2', 'K1', {object: 'b.o', kernel: 'k1'}, cells('b'))
    c.put('s1', 'K2', {object: 'a.o', kernel: 'k2'}, text)
    c.close()
    // one byte changed in the middle of the compressed text: the adler32 check fails
    const d = new Database(db)
    const {body} = d.prepare('SELECT body FROM matrix_cells WHERE sha = ?').get(Buffer.from(sha(text), 'hex')) as {body: Buffer}
    const bad = Buffer.from(body)
    bad[bad.length >> 1]! ^= 0x20
    expect(() => inflateSync(bad)).toThrow()
    d.prepare('UPDATE matrix_cells SET body = ? WHERE sha = ?').run(bad, Buffer.from(sha(text), 'hex'))
    // and b.o's is not zlib at all
    d.prepare('UPDATE matrix_cells SET body = ? WHERE sha = ?').run('plain text', Buffer.from(sha(cells('b')), 'hex'))
    d.close()
    c = openMatrixCache(db)
    expect([...c.getKernel('K1', ['s1', 's2']).cells]).toEqual([])
    // the matrix computes a.o again on k1 and puts it; k2's row names the same text
    c.put('s1', 'K1', {object: 'a.o', kernel: 'k1'}, text)
    expect([...c.getKernel('K2', ['s1']).cells]).toEqual([['s1', text]])
    expect([...c.getKernel('K1', ['s1', 's2']).cells]).toEqual([['s1', text]])
    c.close()
    expect(query<{n: number}>(db, 'SELECT count(*) AS n FROM matrix_cells')[0]!.n).toBe(2)
    // a stored text is only believed as it inflates: a fresh connection does not know b.o's was bad,
    // and still reads it as a miss
    c = openMatrixCache(db)
    expect([...c.getKernel('K1', ['s2']).cells]).toEqual([])
    c.put('s2', 'K1', {object: 'b.o', kernel: 'k1'}, cells('b'))
    c.close()
    expect(bodies(db).get(sha(cells('b')))).toBe(cells('b'))
  })

  it('the matrix stores cells without their paths, and gives each reader its own back', () => {
    const obj = '/objs/x.bpf.o'
    const btf = '6.1.0-9-amd64.btf'
    const text = [
      `{"text":"${obj}: p"}`,
      // the --btf file, and the archive's BTF of the same release, whose path holds its name
      `{"text":"--btf ${btf}","message":"CO-RE against the BTF file ${btf} (as btf_custom_path)"}`,
      `{"text":"generated BTF (debian/12/x86_64/${btf}.tar.xz); ${btf}-old; x${btf}"}`,
      `{"text":"${JSON.stringify('a "quoted" \\ path').slice(1, -1)}"}`,
    ].join('\n')
    const stored = withoutPaths(text, obj, btf)
    expect(stored).not.toContain(obj)
    expect(stored.split('<kcompat:kernel-path>')).toHaveLength(3)
    expect(stored).toContain(`debian/12/x86_64/${btf}.tar.xz`)
    expect(stored).toContain(`${btf}-old; x${btf}`)
    expect(withPaths(stored, obj, btf)).toBe(text)
    // the same content read for a moved --btf file and another copy of the object
    expect(withPaths(stored, '/o2/y.bpf.o', `moved/${btf}`)).toBe(text.replaceAll(obj, '/o2/y.bpf.o').replace(`--btf ${btf}`, `--btf moved/${btf}`).replace(`file ${btf} (`, `file moved/${btf} (`))
    // paths inside each other, paths with JSON escapes, no kernel path: the text comes back as it was
    for (const [o, k] of [
      ['/a/k.btf.o', '/a/k.btf'],
      ['/a/x.o', '/a/x.o'],
      ['/a/"q".o', '/b/\\k.btf'],
      ['/a/x.o', null],
    ] as Array<[string, string | null]>) {
      const t = `{"text":"${jsonInner(o)} ${k ? jsonInner(k) : ''} (${k ? jsonInner(k) : ''})"}\n{"text":"--btf ${k ? jsonInner(k) : ''}"}`
      expect(withPaths(withoutPaths(t, o, k), o, k)).toBe(t)
    }
    // a relative object path inside a longer name is not the object's path
    const rel = `{"text":"a.o: p"}\n{"text":"reads data.o and a.o.orig"}`
    expect(withPaths(withoutPaths(rel, 'a.o', null), 'objs/b.o', null)).toBe(`{"text":"objs/b.o: p"}\n{"text":"reads data.o and a.o.orig"}`)
  })

  it('through the matrix: a --btf kernel read back from the cache names its file where it is now, not where it was', async () => {
    const archive = await fixtureArchive()
    const dir = tmp()
    const db = join(dir, 'i.sqlite')
    const objects = [join(FIXTURES, 'bpf', 'progs.bpfel.o')]
    const bytes = decompressSync(readFileSync(join(FIXTURES, 'kernels', '6.1.0-56-cloud-amd64.btf.xz')))
    const at = (sub: string): string => {
      mkdirSync(join(dir, sub))
      const f = join(dir, sub, '6.1.0-56-cloud-amd64.btf')
      writeFileSync(f, bytes)
      return f
    }
    const first = at('before')
    let c = openMatrixCache(db)
    const cold = await buildMatrix({objects, archive, btf: [first], noArchive: true, cache: c})
    c.close()
    expect(cold.cache).toEqual({hits: 0, misses: 1})
    expect(JSON.stringify(cold.cells)).toContain(first)
    // the same file (same name and content: same key) somewhere else
    const moved = at('after')
    c = openMatrixCache(db)
    const warm = await buildMatrix({objects, archive, btf: [moved], noArchive: true, cache: c})
    c.close()
    expect(warm.cache).toEqual({hits: 1, misses: 0})
    const computed = await buildMatrix({objects, archive, btf: [moved], noArchive: true})
    expect(JSON.stringify(warm.cells)).toBe(JSON.stringify(computed.cells))
    expect(JSON.stringify(warm.cells)).not.toContain(join(dir, 'before'))
    // stored without either path
    const [stored] = bodies(db).values()
    expect(stored).toContain('<kcompat:kernel-path>')
    expect(stored).not.toContain(dir)
  })

  it('file hashes: read from the memo while the stat is unchanged, recomputed when it changes, not memoized while the file is new', () => {
    const dir = tmp()
    const db = join(dir, 'i.sqlite')
    const f = join(dir, 'k.btf')
    const sha = (s: string) => createHash('sha256').update(s).digest('hex')
    writeFileSync(f, 'first content')
    // a whole-millisecond mtime, which a replacement below can copy exactly
    utimesSync(f, new Date(1_700_000_000_000), new Date(1_700_000_000_000))
    const memo = (): Array<{path: string; stat: string; sha256: string}> => {
      const d = new Database(db)
      try {
        return d.prepare('SELECT path, stat, sha256 FROM file_hash').all() as never
      } finally {
        d.close()
      }
    }
    // a file changed within the racy window is hashed but not memoized
    let c = openMatrixCache(db)
    expect(c.fileSha256(f)).toBe(sha('first content'))
    c.close()
    expect(memo()).toEqual([])
    // racyMs 0 still needs the clock (ms) to have passed the file's ctime (ns)
    for (const until = Date.now() + 3; Date.now() < until; );
    c = openMatrixCache(db, {racyMs: 0})
    expect(c.fileSha256(f)).toBe(sha('first content'))
    c.close()
    const [row] = memo()
    const st = statSync(f, {bigint: true})
    expect(row).toEqual({path: f, stat: `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`, sha256: sha('first content')})
    // the memo answers while the stat matches (a planted value shows it is not re-read)
    const d = new Database(db)
    d.prepare('UPDATE file_hash SET sha256 = ? WHERE path = ?').run('planted', f)
    d.close()
    c = openMatrixCache(db, {racyMs: 0})
    expect(c.fileSha256(f)).toBe('planted')
    // relative paths name the same file
    expect(c.fileSha256(join(dir, '.', 'k.btf'))).toBe('planted')
    // replaced by a file of the same size and mtime (written aside and renamed over it,
    // as editors and package tools do): another inode, so the content is hashed again
    const {atime, mtime} = statSync(f)
    writeFileSync(`${f}.new`, 'other content')
    utimesSync(`${f}.new`, atime, mtime)
    renameSync(`${f}.new`, f)
    expect(statSync(f).size).toBe('first content'.length)
    expect(statSync(f, {bigint: true}).mtimeNs).toBe(st.mtimeNs)
    expect(statSync(f).ino).not.toBe(Number(st.ino))
    for (const until = Date.now() + 3; Date.now() < until; );
    expect(c.fileSha256(f)).toBe(sha('other content'))
    c.close()
    expect(memo()[0]!.sha256).toBe(sha('other content'))
  })
})
