/**
 * The newc writer against GNU cpio (Debian `cpio`) as the oracle: cpio lists the
 * archive with the names, modes, sizes, link targets and device numbers written, and
 * extracts every file byte for byte.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readlinkSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {writeCpio, type CpioEntry} from '../../src/verify/cpio.js'
import {scratchDir} from '../helpers/fixtures.js'
import {mulberry32} from '../helpers/random.js'
import {requireTool} from '../helpers/tools.js'

const hasCpio = requireTool('cpio', 'the cpio newc writer tests')

function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256)
  return b
}

function entries(): CpioEntry[] {
  const rand = mulberry32(12)
  return [
    {type: 'dir', path: 'bin'},
    {type: 'file', path: 'bin/tool', data: randomBytes(rand, 4093), mode: 0o755},
    {type: 'symlink', path: 'bin/sh', target: 'tool'},
    {type: 'dir', path: 'dev'},
    {type: 'char', path: 'dev/console', major: 5, minor: 1},
    {type: 'file', path: 'empty', data: new Uint8Array(0)},
    // names of every length modulo 4, so every header padding case is written
    ...[1, 2, 3, 4, 5].map((n): CpioEntry => ({type: 'file', path: 'x'.repeat(n), data: randomBytes(rand, n * 7)})),
    {type: 'dir', path: 'tmp', mode: 0o1777},
  ]
}

describe.skipIf(!hasCpio)('cpio newc writer (oracle: GNU cpio)', () => {
  const archive = writeCpio(entries())

  it('lists every entry with its type, mode, size, link target and device', () => {
    const names = spawnSync('cpio', ['-it', '--quiet'], {input: archive, encoding: 'utf8'})
    expect(names.status, names.stderr).toBe(0)
    expect(names.stdout.trim().split('\n')).toEqual(entries().map((e) => e.path))
    const r = spawnSync('cpio', ['-itv', '--quiet', '--numeric-uid-gid'], {input: archive, encoding: 'utf8'})
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n')
    const byName = new Map(lines.map((l) => [l.includes(' -> ') ? l.split(' ').at(-3)! : l.split(/\s+/).at(-1)!, l]))
    expect(byName.get('bin')).toMatch(/^drwxr-xr-x\s+2\s+0\s+0\s+0 /)
    expect(byName.get('bin/tool')).toMatch(/^-rwxr-xr-x\s+1\s+0\s+0\s+4093 /)
    expect(byName.get('bin/sh')).toMatch(/^lrwxrwxrwx .* bin\/sh -> tool$/)
    expect(byName.get('dev/console')).toMatch(/^crw-------\s+1\s+0\s+0\s+5,\s+1 /)
    expect(byName.get('tmp')).toMatch(/^drwxrwxrwt /)
    // mtime 0: 1970
    expect(byName.get('empty')).toMatch(/ 1970 empty$|Jan\s+1\s+1970 empty$/)
  })

  it('extracts every file byte for byte', () => {
    const dir = mkdtempSync(join(scratchDir(), 'cpio-'))
    const r = spawnSync('cpio', ['-id', '--quiet', '--no-absolute-filenames'], {input: archive, cwd: dir, encoding: 'utf8'})
    // creating dev/console needs privileges: cpio reports it and extracts the rest
    expect(r.status === 0 || /console/.test(r.stderr), r.stderr).toBe(true)
    for (const e of entries()) {
      const p = join(dir, e.path)
      if (e.type === 'file') {
        expect(new Uint8Array(readFileSync(p)), e.path).toEqual(e.data)
        expect(statSync(p).mode & 0o7777, e.path).toBe(e.mode ?? 0o644)
      } else if (e.type === 'symlink') {
        expect(readlinkSync(p)).toBe(e.target)
      } else if (e.type === 'dir') {
        expect(statSync(p).isDirectory()).toBe(true)
      }
    }
  })

  it('writes the same bytes as GNU cpio -o -H newc for the same tree, up to inode numbers and mtimes', () => {
    // GNU cpio reads a real tree, so its ino/mtime/uid differ; compare the rest of each header and all data
    const dir = mkdtempSync(join(scratchDir(), 'cpio-o-'))
    spawnSync('cpio', ['-id', '--quiet'], {input: archive, cwd: dir})
    const names = entries().filter((e) => e.type !== 'char').map((e) => e.path)
    const r = spawnSync('cpio', ['-o', '-H', 'newc', '--quiet', '--owner=0:0'], {input: `${names.join('\n')}\n`, cwd: dir})
    expect(r.status, r.stderr?.toString()).toBe(0)
    const ours = writeCpio(entries().filter((e) => e.type !== 'char'))
    const strip = (buf: Buffer): string[] => {
      const out: string[] = []
      let at = 0
      while (at < buf.length) {
        const h = buf.subarray(at, at + 110).toString('ascii')
        if (!h.startsWith('070701')) break
        const f = (i: number): number => parseInt(h.slice(6 + i * 8, 14 + i * 8), 16)
        const namesize = f(11)
        const size = f(6)
        const name = buf.subarray(at + 110, at + 110 + namesize - 1).toString()
        const dataAt = at + 110 + namesize + ((4 - ((110 + namesize) % 4)) % 4)
        // mode, nlink, filesize, rdev, namesize; the data
        out.push(`${name} ${f(1).toString(8)} ${f(4)} ${size} ${f(9)},${f(10)} ${buf.subarray(dataAt, dataAt + size).toString('hex')}`)
        at = dataAt + size + ((4 - (size % 4)) % 4)
        if (name === 'TRAILER!!!') break
      }
      return out
    }
    expect(strip(ours)).toEqual(strip(r.stdout))
  })

  it('is deterministic', () => {
    expect(writeCpio(entries()).equals(archive)).toBe(true)
  })
})
