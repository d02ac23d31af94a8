/**
 * The matrix cache in the index database: a kernel's cells read in one go, rows written
 * per kernel with the same final contents as writing each put at once (older rows of an
 * object name dropped, the last put of a key kept), --btf kernel identities, and file
 * hashes memoized by stat.
 */
import {createHash} from 'node:crypto'
import {mkdtempSync, renameSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {describe, expect, it} from 'vitest'
import {openMatrixCache} from '../../src/store/matrix-cache.js'

const tmp = (): string => mkdtempSync(join(tmpdir(), 'kcompat-matrix-cache-'))
// the store keeps the matrix's text as it is
const cells = (tag: string): string => `["p-${tag}","kprobe/x","supported",0,0]\n{"text": "${tag}"}`

function rows(db: string): Array<{kernel_key: string; object_sha256: string; object_name: string; kernel_name: string; cells: string}> {
  const d = new Database(db, {readonly: true})
  try {
    return d.prepare('SELECT kernel_key, object_sha256, object_name, kernel_name, cells FROM matrix_cache ORDER BY kernel_key, object_sha256').all() as never
  } finally {
    d.close()
  }
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
