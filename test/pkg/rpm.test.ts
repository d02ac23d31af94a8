/**
 * The RPM reader (src/pkg/rpm.ts, src/pkg/cpio.ts) against rpm's own tools: packages
 * built with `rpmbuild` from files of a real Debian kernel package (its config and some
 * of its modules, at RHEL's paths; a symlink, a hard link and a %ghost like kernel-core's
 * /boot/vmlinuz), with xz, zstd and gzip payloads. `rpm -qp --qf` is the oracle for the
 * header (name, version, release, arch, compressor, every file's path, size and mode),
 * `rpm2cpio | cpio -idm` for the payload's bytes; rpm's own `rpm.vercmp` (rpm --eval
 * with its Lua interpreter) for version order. Bad input: truncated packages, a changed
 * header byte, a changed payload byte, and a payload digest that does not match.
 */
import {copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readRpmFiles, readRpmHeaders, rpmMembers} from '../../src/pkg/rpm.js'
import {compareEvr, rpmvercmp} from '../../src/pkg/rpm-version.js'
import {RELEASE, buildRpm, debianKernelDeb, haveRpmTools, rpm2cpio, rpmQuery, someModules, unpackDeb} from '../helpers/rpm.js'
import {findTool, run} from '../helpers/tools.js'

const tools = haveRpmTools('RPM format tests')
const work = mkdtempSync(join(tmpdir(), 'kcompat-rpm-'))
const built: Record<'xz' | 'zstd' | 'gzip', string> = {xz: '', zstd: '', gzip: ''}
let skip: string | undefined

beforeAll(async () => {
  if (!tools) return
  const deb = await debianKernelDeb()
  if (!deb) {
    skip = 'no Debian kernel package'
    return
  }
  const root = unpackDeb(deb, join(work, 'deb'))
  const mods = someModules(root, 6)
  const files: Parameters<typeof buildRpm>[1]['files'] = [
    {dest: `/lib/modules/${RELEASE}/config`, src: join(root, 'boot', `config-${RELEASE}`)},
    {dest: `/boot/vmlinuz-${RELEASE}`, ghost: true},
    {dest: `/boot/config-${RELEASE}`, symlinkTo: `../lib/modules/${RELEASE}/config`},
    ...mods.map((m) => ({dest: m.slice(root.length), src: m})),
    {dest: `/lib/modules/${RELEASE}/System.map`, src: join(root, 'boot', `System.map-${RELEASE}`)},
    {dest: `/lib/modules/${RELEASE}/System.map.link`, hardlinkOf: `/lib/modules/${RELEASE}/System.map`},
  ]
  built.xz = buildRpm(work, {name: 'kernel-core', version: '6.1.192', release: '2.el8', payload: 'w2.xzdio', files, compressModules: 'xz'})
  built.zstd = buildRpm(work, {name: 'kernel-core', version: '6.1.192', release: '2.el9', payload: 'w3.zstdio', files, compressModules: 'xz'})
  built.gzip = buildRpm(work, {name: 'kernel-modules-core', version: '6.1.192', release: '2.fc39', payload: 'w6.gzdio', files, compressModules: 'zstd'})
}, 300_000)

afterAll(() => rmSync(work, {recursive: true, force: true}))

describe.each(['xz', 'zstd', 'gzip'] as const)('an RPM with a %s payload', (kind) => {
  it('has the header rpm -qp reports: name, version, release, arch, compressor, files with sizes and modes', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const file = built[kind]
    const pkg = await readRpmHeaders(file)
    const q = rpmQuery(file, '%{NAME}\\n%{VERSION}\\n%{RELEASE}\\n%{ARCH}\\n%{PAYLOADCOMPRESSOR}\\n%{PAYLOADFORMAT}\\n').split('\n')
    expect([pkg.name, pkg.version, pkg.release, pkg.arch, pkg.payloadCompressor, pkg.payloadFormat]).toEqual(q.slice(0, 6))
    const listed = rpmQuery(file, '[%{FILENAMES}\\t%{FILESIZES}\\t%{FILEMODES:octal}\\t%{FILEDIGESTS}\\n]').trim().split('\n')
    expect(pkg.files.map((f) => `/${f.path}\t${f.size}\t${f.mode.toString(8)}\t${f.digest}`)).toEqual(listed)
    expect(pkg.files.filter((f) => f.ghost).map((f) => f.path)).toEqual([`boot/vmlinuz-${RELEASE}`])
    expect(pkg.payloadSha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('streams every member with the bytes rpm2cpio | cpio unpacks, links included', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const file = built[kind]
    const pkg = await readRpmHeaders(file)
    const ref = rpm2cpio(file, join(work, `ref-${kind}`))
    const seen: string[] = []
    for await (const m of rpmMembers(file, pkg)) {
      seen.push(m.path, ...m.links)
      if (m.type === 'file') {
        const data = await m.read()
        expect(data.equals(readFileSync(join(ref, m.path))), m.path).toBe(true)
        for (const l of m.links) expect(statSync(join(ref, l)).ino).toBe(statSync(join(ref, m.path)).ino)
      } else if (m.type === 'symlink') {
        expect(m.file?.linkTo).toBe(`../lib/modules/${RELEASE}/config`)
      }
    }
    // every payload file of the header was seen (ghosts are not in the payload)
    expect(seen.sort()).toEqual(pkg.files.filter((f) => !f.ghost).map((f) => f.path).sort())
  })

  it('stream() gives each member chunk by chunk with the bytes cpio unpacks; a stream left early does not disturb the next member', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const file = built[kind]
    const pkg = await readRpmHeaders(file)
    const ref = join(work, `ref-${kind}`)
    rpm2cpio(file, ref)
    let n = 0
    let whole = 0
    for await (const m of rpmMembers(file, pkg)) {
      if (m.type !== 'file') continue
      if (n++ % 2 === 1) {
        // one chunk, then leave: the reader must skip the rest of this member
        for await (const c of m.stream()) {
          expect(c.length).toBeGreaterThan(0)
          break
        }
        continue
      }
      const parts: Buffer[] = []
      for await (const c of m.stream()) parts.push(Buffer.from(c))
      expect(Buffer.concat(parts).equals(readFileSync(join(ref, m.path))), m.path).toBe(true)
      whole++
    }
    expect(whole).toBeGreaterThan(2)
  })

  it('stops reading once the selected files are out', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const file = built[kind]
    const pkg = await readRpmHeaders(file)
    const got = await readRpmFiles(file, pkg, (p) => p.endsWith('/config'))
    expect(got.map((f) => f.path)).toEqual([`lib/modules/${RELEASE}/config`])
    expect(got[0]!.data.equals(readFileSync(join(work, 'deb', 'boot', `config-${RELEASE}`)))).toBe(true)
  })
})

describe('bad RPMs', () => {
  const copy = (name: string): string => {
    const f = join(work, name)
    copyFileSync(built.zstd, f)
    return f
  }

  it('a truncated package is RPM_TRUNCATED, whether cut in the header or in the payload', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const size = statSync(built.zstd).size
    for (const at of [50, 200, 2000, Math.floor(size / 2), size - 1]) {
      const f = copy(`cut-${at}.rpm`)
      truncateSync(f, at)
      await expect(readRpmHeaders(f), `cut at ${at}`).rejects.toMatchObject({code: 'RPM_TRUNCATED'})
    }
  })

  it('not an RPM is RPM_BAD_LEAD', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const f = join(work, 'not.rpm')
    writeFileSync(f, Buffer.alloc(4096, 7))
    await expect(readRpmHeaders(f)).rejects.toMatchObject({code: 'RPM_BAD_LEAD'})
  })

  it('a changed byte in the main header is RPM_CHECKSUM (the signature sha256)', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const pkg = await readRpmHeaders(built.zstd)
    const f = copy('hdr.rpm')
    const b = readFileSync(f)
    // a byte of the NAME string in the store: still a valid header, a different digest
    const at = b.indexOf(Buffer.from('kernel-core\0'), pkg.header.offset)
    b[at] = 'K'.charCodeAt(0)
    writeFileSync(f, b)
    await expect(readRpmHeaders(f)).rejects.toMatchObject({code: 'RPM_CHECKSUM'})
  })

  it('a changed payload byte fails (corrupt stream, file digest or payload digest), never silently', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const pkg = await readRpmHeaders(built.gzip)
    const f = join(work, 'payload.rpm')
    const b = readFileSync(built.gzip)
    b[pkg.payloadOffset + Math.floor(pkg.payloadSize / 2)] ^= 0x55
    writeFileSync(f, b)
    const p2 = await readRpmHeaders(f) // the header is intact
    const read = async (): Promise<void> => {
      for await (const m of rpmMembers(f, p2)) if (m.type === 'file') await m.read()
    }
    await expect(read()).rejects.toMatchObject({code: expect.stringMatching(/^(INPUT_CORRUPT_GZIP|RPM_CHECKSUM|INPUT_CORRUPT_CPIO)$/)})
  })
})

describe('rpmvercmp', () => {
  const pairs: [string, string][] = [
    ['1.0', '1.0'], ['1.0', '2.0'], ['2.0.1', '2.0'], ['1.0a', '1.0'], ['1.0', '1.0~rc1'], ['1.0~rc1', '1.0~rc2'],
    ['1.0^git1', '1.0'], ['1.0^git1', '1.0.1'], ['1.0~rc1^git1', '1.0~rc1'], ['5.14.0-362.8.1.el9_3', '5.14.0-362.24.1.el9_3'],
    ['4.18.0-513.5.1.el8_9', '4.18.0-80.el8'], ['010', '10'], ['a', '1'], ['1.a', '1.1'], ['2.6.32', '2.6.32.1'], ['abc', 'abd'],
    ['1_0', '1.0'], ['1..0', '1.0'], ['1.0.', '1.0'], ['6.12.0-0.rc7.56.fc42', '6.12.0-55.fc42'], ['xyz10', 'xyz10.1'], ['1:1.0-1', '2.0-1'],
  ]
  // rpm.vercmp takes [epoch:]version[-release] strings: those with a '-' or ':' are compared as EVRs
  const evr = (s: string): {epoch?: number; version: string; release: string} => {
    const m = /^(?:(\d+):)?([^-]*)(?:-(.*))?$/.exec(s)!
    return {...(m[1] ? {epoch: Number(m[1])} : {}), version: m[2]!, release: m[3] ?? ''}
  }
  const ours = (a: string, b: string): number => (/[-:]/.test(a + b) ? compareEvr(evr(a), evr(b)) : rpmvercmp(a, b))
  it("orders versions as rpm's rpm.vercmp does", (ctx) => {
    if (!findTool('rpm')) return ctx.skip()
    // rpm's print() adds no newline: collect the results and print them once
    const lua = `local t = {} ${pairs.map(([a, b]) => `t[#t + 1] = rpm.vercmp("${a}", "${b}")`).join(' ')} print(table.concat(t, " "))`
    const want = run('rpm', ['--eval', `%{lua: ${lua}}`]).toString().trim().split(' ').map(Number)
    expect(pairs.map(([a, b]) => ours(a, b))).toEqual(want)
    expect(pairs.map(([a, b]) => ours(b, a))).toEqual(want.map((x) => -x || 0))
  })
  it('compares epoch first', () => {
    expect(compareEvr({epoch: 1, version: '1.0', release: '1'}, {version: '9.0', release: '1'})).toBe(1)
    expect(compareEvr({version: '1.0', release: '2'}, {version: '1.0', release: '10'})).toBe(-1)
  })
})
