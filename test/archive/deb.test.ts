/**
 * The .deb reader on packages built here with `dpkg-deb --build` (xz, gzip, zstd, none;
 * and a data.tar.xz with many xz blocks, assembled with binutils `ar`), compared with
 * what dpkg-deb itself reports (`-f` fields, `-c` listing, `-x` contents). Malformed
 * packages must give an InputError with a stable code, never a crash or a hang.
 */
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import tarStream from 'tar-stream'
import {describe, expect, it} from 'vitest'
import {gzipPieces, parseControl, readAr, readDeb, type DebEntry} from '../../src/archive/deb.js'
import {KcompatError} from '../../src/errors.js'
import {findTool, requireTool, run} from '../helpers/tools.js'

const HAVE_DPKG = requireTool('dpkg-deb', '.deb tests')

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kcompat-deb-'))
}

const CONTROL = `Package: kcompat-test
Source: kcompat-src (1.2-3)
Version: 1:1.2-3+b1
Architecture: all
Maintainer: Test <test@example.invalid>
Installed-Size: 10
Description: a package for tests
 It has a long description,
 .
 over several lines.
`

/** A predictable 1.5 MiB file, so compressed data.tar has several blocks when asked. */
const BIG = Buffer.alloc(1536 * 1024)
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 2654435761) >>> 27

/** A small package tree: regular files, a symlink, an empty directory, a big file. */
function tree(): string {
  const dir = tmp()
  mkdirSync(join(dir, 'DEBIAN'))
  writeFileSync(join(dir, 'DEBIAN', 'control'), CONTROL)
  mkdirSync(join(dir, 'boot'))
  writeFileSync(join(dir, 'boot', 'vmlinuz-1.0-test'), Buffer.from('not really a kernel\n'))
  writeFileSync(join(dir, 'boot', 'config-1.0-test'), 'CONFIG_BPF=y\n# CONFIG_X is not set\n')
  mkdirSync(join(dir, 'usr', 'share', 'doc', 'kcompat-test'), {recursive: true})
  writeFileSync(join(dir, 'usr', 'share', 'doc', 'kcompat-test', 'big.bin'), BIG)
  writeFileSync(join(dir, 'usr', 'share', 'doc', 'kcompat-test', 'empty'), '')
  chmodSync(join(dir, 'usr', 'share', 'doc', 'kcompat-test', 'empty'), 0o600)
  symlinkSync('../../../boot/config-1.0-test', join(dir, 'usr', 'share', 'doc', 'kcompat-test', 'link'))
  mkdirSync(join(dir, 'var', 'empty-dir'), {recursive: true})
  return dir
}

function build(compression: string): string {
  const out = join(tmp(), `test-${compression}.deb`)
  run('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '--build', tree(), out])
  return out
}

/** `dpkg-deb -c` as entries: path (no "./", no trailing "/"), type, size. */
function dpkgListing(deb: string): {path: string; type: string; size: number}[] {
  return run('dpkg-deb', ['-c', deb])
    .toString()
    .trim()
    .split('\n')
    .map((line) => {
      const m = /^(\S)\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.*)$/.exec(line)!
      let path = m[3]!.replace(/ -> .*$/, '').replace(/^\.\//, '').replace(/\/$/, '')
      if (path === '.') path = ''
      const type = {d: 'directory', '-': 'file', l: 'symlink', h: 'link'}[m[1]!] ?? m[1]!
      return {path, type, size: Number(m[2])}
    })
    .filter((e) => e.path !== '')
}

describe.runIf(HAVE_DPKG)('readDeb on packages built by dpkg-deb', () => {
  for (const compression of ['xz', 'gzip', 'zstd', 'none']) {
    it(`-Z${compression}: control fields, listing and contents equal dpkg-deb's`, async () => {
      const file = build(compression)
      const deb = await readDeb(readFileSync(file))
      expect(deb.formatVersion).toBe('2.0')
      expect(deb.dataCompression).toBe(compression)
      expect(deb.dataMember).toBe({xz: 'data.tar.xz', gzip: 'data.tar.gz', zstd: 'data.tar.zst', none: 'data.tar'}[compression])
      // control: every field dpkg-deb prints, value for value (continuation lines without their leading blank)
      const fieldNames = run('dpkg-deb', ['-f', file])
        .toString()
        .split('\n')
        .filter((l) => /^[A-Za-z][A-Za-z0-9-]*:/.test(l))
        .map((l) => l.slice(0, l.indexOf(':')))
      expect(Object.keys(deb.control).sort()).toEqual([...fieldNames].sort())
      for (const f of fieldNames) {
        const want = run('dpkg-deb', ['-f', file, f]).toString().replace(/\n$/, '').replace(/\n /g, '\n')
        expect(deb.control[f], f).toBe(want)
      }
      // listing
      const list = await deb.list()
      expect(list.map((e) => ({path: e.path, type: e.type, size: e.size}))).toEqual(dpkgListing(file))
      // contents of selected files, against dpkg-deb -x
      const x = tmp()
      run('dpkg-deb', ['-x', file, x])
      const files = await deb.files((e: DebEntry) => e.path.startsWith('boot/') || e.path.endsWith('big.bin') || e.path.endsWith('/empty'))
      expect(files.map((f) => f.path).sort()).toEqual([
        'boot/config-1.0-test',
        'boot/vmlinuz-1.0-test',
        'usr/share/doc/kcompat-test/big.bin',
        'usr/share/doc/kcompat-test/empty',
      ])
      for (const f of files) expect(f.data.equals(readFileSync(join(x, f.path))), f.path).toBe(true)
      expect(files.find((f) => f.path.endsWith('/empty'))!.mode).toBe(0o600)
      const link = list.find((e) => e.path.endsWith('/link'))!
      expect(link.type).toBe('symlink')
      expect(link.linkname).toBe('../../../boot/config-1.0-test')
    })
  }

  it('data.tar.bz2 and data.tar.lzma (old packages; ar assembled by binutils) read as dpkg-deb lists them', async () => {
    const file = build('none')
    for (const [suffix, cmd, tool] of [
      ['bz2', 'bzip2 -9 -c', 'bzip2'],
      ['lzma', 'xz --format=lzma -c', 'xz'],
    ] as const) {
      if (!findTool(tool)) {
        console.warn(`skipping data.tar.${suffix}: '${tool}' is not installed`)
        continue
      }
      const dir = tmp()
      run('sh', ['-c', `cd ${dir} && ar x ${file} && ${cmd} data.tar > data.tar.${suffix}`])
      const out = join(dir, `old-${suffix}.deb`)
      run('sh', ['-c', `cd ${dir} && ar rcD ${out} debian-binary control.tar data.tar.${suffix}`])
      const deb = await readDeb(readFileSync(out))
      expect(deb.dataCompression).toBe(suffix === 'bz2' ? 'bzip2' : 'lzma')
      expect((await deb.list()).map((e) => e.path)).toEqual(dpkgListing(out).map((e) => e.path))
      const [big] = await deb.files((e) => e.path.endsWith('big.bin'))
      expect(big!.data.equals(BIG)).toBe(true)
    }
  })

  it('stopWhen ends the scan early', async () => {
    const deb = await readDeb(readFileSync(build('xz')))
    const files = await deb.files(() => true, {stopWhen: (kept) => kept.length === 1})
    expect(files).toHaveLength(1)
  })

  it('a data.tar.xz of many xz blocks is decoded block by block (ar assembled by binutils)', async () => {
    const file = build('none')
    const dir = tmp()
    run('sh', ['-c', `cd ${dir} && ar x ${file} && xz --block-size=64KiB -T1 -c data.tar > data.tar.xz`])
    const blocks = run('xz', ['-lv', join(dir, 'data.tar.xz')]).toString()
    expect(Number(/Blocks:\s+(\d+)/.exec(blocks)![1])).toBeGreaterThan(10)
    const out = join(dir, 'multi.deb')
    run('sh', ['-c', `cd ${dir} && ar rcD ${out} debian-binary control.tar data.tar.xz`])
    run('dpkg-deb', ['-c', out]) // dpkg-deb accepts it
    const deb = await readDeb(readFileSync(out))
    expect(deb.dataCompression).toBe('xz')
    const [big] = await deb.files((e) => e.path.endsWith('big.bin'))
    expect(big!.data.equals(BIG)).toBe(true)
    expect((await deb.list()).map((e) => e.path)).toEqual(dpkgListing(out).map((e) => e.path))
  })
})

describe('control file', () => {
  it('parses fields, continuation lines, case-insensitive duplicates are an error', () => {
    expect(parseControl('Package: a\nDescription: x\n y\n .\n z\nVersion: 1\n\nPackage: ignored\n')).toEqual({
      Package: 'a',
      Description: 'x\ny\n.\nz',
      Version: '1',
    })
    expect(() => parseControl('Package: a\npackage: b\n')).toThrow(expect.objectContaining({code: 'INPUT_BAD_DEB'}))
    expect(() => parseControl(' continuation first\n')).toThrow(expect.objectContaining({code: 'INPUT_BAD_DEB'}))
    expect(() => parseControl('no colon here\n')).toThrow(expect.objectContaining({code: 'INPUT_BAD_DEB'}))
  })
})

/** An ar archive with the given members (written by hand for malformed cases). */
function ar(members: {name: string; data: Uint8Array; size?: string; fmag?: string}[]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')]
  for (const m of members) {
    const h = `${m.name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${(m.size ?? String(m.data.length)).padEnd(10)}${m.fmag ?? '`\n'}`
    parts.push(Buffer.from(h, 'latin1'), Buffer.from(m.data))
    if (m.data.length % 2) parts.push(Buffer.from('\n'))
  }
  return Buffer.concat(parts)
}

async function tarOf(entries: {name: string; data: string}[]): Promise<Buffer> {
  const pack = tarStream.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c: unknown) => chunks.push(c as Buffer))
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()))
  for (const e of entries) pack.entry({name: e.name}, e.data)
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}

describe.runIf(HAVE_DPKG)('malformed packages', () => {
  const good = readFileSync(build('xz'))
  const members = readAr(good)

  it('reads the ar members dpkg-deb wrote', () => {
    expect(members.map((m) => m.name)).toEqual(['debian-binary', 'control.tar.xz', 'data.tar.xz'])
    expect(Buffer.from(members[0]!.data).toString()).toBe('2.0\n')
  })

  const cases: [string, () => Uint8Array | Promise<Uint8Array>, string, number | undefined][] = [
    ['not an ar archive', () => Buffer.from('hello world, not a deb'), 'INPUT_BAD_DEB', 0],
    ['empty file', () => new Uint8Array(0), 'INPUT_BAD_DEB', 0],
    ['truncated inside a member header', () => good.subarray(0, 8 + 30), 'INPUT_BAD_DEB', 8],
    ['bad header terminator', () => ar([{name: 'debian-binary', data: Buffer.from('2.0\n'), fmag: 'xx'}]), 'INPUT_BAD_DEB', 8 + 58],
    ['bad size field', () => ar([{name: 'debian-binary', data: Buffer.from('2.0\n'), size: '12a'}]), 'INPUT_BAD_DEB', 8 + 48],
    ['member runs past the end', () => good.subarray(0, good.length - 100), 'INPUT_BAD_DEB', members[2]!.offset - 60 + 48],
    ['first member is not debian-binary', () => ar([{name: 'control.tar', data: Buffer.alloc(10)}]), 'INPUT_BAD_DEB', 8],
    ['format version 3.0', () => ar([{name: 'debian-binary', data: Buffer.from('3.0\n')}]), 'INPUT_BAD_DEB', 68],
    [
      'no data member',
      () => ar([{name: 'debian-binary', data: Buffer.from('2.0\n')}, {name: 'control.tar.xz', data: members[1]!.data}]),
      'INPUT_BAD_DEB',
      undefined,
    ],
    [
      'unknown data compression',
      () =>
        ar([
          {name: 'debian-binary', data: Buffer.from('2.0\n')},
          {name: 'control.tar.xz', data: members[1]!.data},
          {name: 'data.tar.foo', data: Buffer.alloc(100)},
        ]),
      'INPUT_BAD_DEB',
      undefined,
    ],
  ]
  for (const [what, make, code, offset] of cases) {
    it(`${what} → ${code}`, async () => {
      const bytes = await make()
      const err = await readDeb(bytes).then(
        (d) => d.list().then(() => undefined),
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(KcompatError)
      expect((err as KcompatError).code).toBe(code)
      if (offset !== undefined) expect((err as KcompatError).offset).toBe(offset)
    })
  }

  it('a data.tar entry with a ".." path is INPUT_BAD_TAR_PATH', async () => {
    const tar = await tarOf([
      {name: './boot/ok', data: 'fine'},
      {name: './../../etc/evil', data: 'nope'},
    ])
    const deb = ar([
      {name: 'debian-binary', data: Buffer.from('2.0\n')},
      {name: 'control.tar.xz', data: members[1]!.data},
      {name: 'data.tar.xz', data: run('xz', ['-c'], {input: tar})},
    ])
    const d = await readDeb(deb)
    await expect(d.files(() => true)).rejects.toMatchObject({code: 'INPUT_BAD_TAR_PATH'})
    const abs = ar([
      {name: 'debian-binary', data: Buffer.from('2.0\n')},
      {name: 'control.tar.xz', data: members[1]!.data},
      {name: 'data.tar', data: await tarOf([{name: '/etc/passwd', data: 'x'}])},
    ])
    await expect((await readDeb(abs)).list()).rejects.toMatchObject({code: 'INPUT_BAD_TAR_PATH'})
  })

  it('corrupt xz in data.tar.xz is INPUT_CORRUPT_XZ', async () => {
    const bad = Buffer.from(good)
    const data = members[2]!
    for (let i = 200; i < 400; i++) bad[data.offset + i] ^= 0x55
    await expect((await readDeb(bad)).list()).rejects.toMatchObject({code: 'INPUT_CORRUPT_XZ'})
  })

  it('a data.tar that is not tar is INPUT_CORRUPT_TAR', async () => {
    const deb = ar([
      {name: 'debian-binary', data: Buffer.from('2.0\n')},
      {name: 'control.tar.xz', data: members[1]!.data},
      {name: 'data.tar', data: Buffer.alloc(2048, 0x41)},
    ])
    await expect((await readDeb(deb)).list()).rejects.toMatchObject({code: 'INPUT_CORRUPT_TAR'})
  })

  it('data.tar expanding past maxDataSize is INPUT_TOO_LARGE', async () => {
    const deb = await readDeb(good)
    await expect(deb.list({maxDataSize: 1000})).rejects.toMatchObject({code: 'INPUT_TOO_LARGE'})
    await expect(deb.files(() => true, {maxFileSize: 1000})).rejects.toMatchObject({code: 'INPUT_TOO_LARGE'})
  })

  it('truncations and byte flips never crash or hang', async () => {
    for (const compression of ['xz', 'gzip', 'zstd']) {
      const base = readFileSync(build(compression))
      let seed = 99
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff
        return seed % n
      }
      for (let i = 0; i < 30; i++) {
        let bytes: Buffer
        if (i % 2 === 0) bytes = base.subarray(0, rand(base.length))
        else {
          bytes = Buffer.from(base)
          for (let j = 0; j < 1 + rand(8); j++) bytes[rand(bytes.length)] = rand(256)
        }
        try {
          const d = await readDeb(bytes)
          await d.files((e) => e.path.startsWith('boot/'))
        } catch (e) {
          if (!(e instanceof KcompatError)) throw new Error(`${compression} case ${i}: ${String(e)}`)
        }
      }
    }
  })
})

describe('gzipPieces', () => {
  it('a source that fails part-way rejects with its error instead of waiting forever', async () => {
    const {gzipSync} = await import('node:zlib')
    const gz = gzipSync(BIG)
    const failing = (async function* () {
      yield gz.subarray(0, 1000)
      throw new KcompatError('INPUT_UNREADABLE', 'read failed')
    })()
    const drain = async (): Promise<number> => {
      let n = 0
      for await (const c of gzipPieces(failing)) n += c.length
      return n
    }
    await expect(drain()).rejects.toMatchObject({code: 'INPUT_UNREADABLE'})
  })
  it('a source that works gives the data back', async () => {
    const {gzipSync} = await import('node:zlib')
    const parts: Uint8Array[] = []
    const gz = gzipSync(BIG)
    for await (const c of gzipPieces([gz.subarray(0, 5000), gz.subarray(5000)])) parts.push(c)
    expect(Buffer.concat(parts).equals(BIG)).toBe(true)
  })
})
