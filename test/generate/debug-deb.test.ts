/**
 * Debug packages end to end, on packages built here: the streaming reader (xz in many
 * blocks, one block, through the xz tool; gzip, zstd, none; dpkg-deb's own output),
 * symlinked and modules-path layouts, corrupt and hostile packages; archiving generated
 * BTF (config kept, provenance, refusals); `archive sync --generate` against a
 * loopback mirror (checksums, retries, resumption, cache reuse); `archive add
 * --debug-deb` as a user runs it. The vmlinux stand-in is an object compiled with -g,
 * and the BTF is checked against pahole run directly on it.
 */
import {spawnSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {decompressSync} from '@napi-rs/lzma/xz'
import tarStream from 'tar-stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {addKernel, readKernelBtf} from '../../src/archive/archive.js'
import {addDebugDeb, extractDebugVmlinux, findDebugStanza} from '../../src/archive/debug-deb.js'
import {readManifest} from '../../src/archive/manifest.js'
import {syncDebian, type SyncEvent} from '../../src/archive/sync.js'
import {FIXTURES} from '../helpers/fixtures.js'
import {type StaticSite, serveSite} from '../helpers/static-site.js'
import {writeAptRelease} from '../helpers/apt-release.js'
import {findTool, requireTool, run} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const work = mkdtempSync(join(tmpdir(), 'kcompat-dbgdeb-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))
const cc = findTool('clang') ? 'clang' : findTool('gcc') ? 'gcc' : undefined
const haveXz = requireTool('xz', 'debug package streaming')
const havePahole = requireTool('pahole', 'BTF generation from debug packages')
const RELEASE = '6.1.0-77-686-pae'

interface Entry {
  name: string
  data?: Buffer
  type?: 'file' | 'symlink' | 'link' | 'directory'
  linkname?: string
}

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack()
  const chunks: Buffer[] = []
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer))
    pack.on('end', resolve)
    pack.on('error', reject)
  })
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({name: e.name, type: e.type ?? 'file', mode: e.type === 'directory' ? 0o755 : 0o644, mtime: new Date(0), ...(e.linkname ? {linkname: e.linkname} : {})}, e.data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    )
  }
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}

function ar(members: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n')]
  for (const [name, data] of members) {
    const h = `${`${name}/`.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n`
    parts.push(Buffer.from(h, 'latin1'), data)
    if (data.length & 1) parts.push(Buffer.from('\n'))
  }
  return Buffer.concat(parts)
}

type Compression = 'xz-blocks' | 'xz-single' | 'gzip' | 'zstd' | 'none'

function compress(kind: Compression, data: Buffer): [string, Buffer] {
  switch (kind) {
    case 'xz-blocks':
      return ['.xz', run('xz', ['-c', '-T1', '--block-size=65536', '-0'], {input: data})]
    case 'xz-single':
      return ['.xz', run('xz', ['-c', '-T1', '-0'], {input: data})]
    case 'gzip':
      return ['.gz', gzipSync(data)]
    case 'zstd':
      return ['.zst', run('zstd', ['-c', '-q'], {input: data})]
    case 'none':
      return ['', data]
  }
}

async function buildDeb(name: string, control: Record<string, string>, entries: Entry[], kind: Compression = 'xz-blocks'): Promise<string> {
  const controlText = `${Object.entries(control).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`
  const controlTar = await tarOf([{name: './', type: 'directory'}, {name: './control', data: Buffer.from(controlText)}])
  const [suffix, data] = compress(kind, await tarOf(entries))
  const file = join(work, name)
  writeFileSync(file, ar([['debian-binary', Buffer.from('2.0\n')], ['control.tar.xz', run('xz', ['-c'], {input: controlTar})], [`data.tar${suffix}`, data]]))
  return file
}

const dbgControl = (pkg = `linux-image-${RELEASE}-dbg`, version = '6.1.999-1'): Record<string, string> => ({
  Package: pkg,
  Source: 'linux',
  Version: version,
  Architecture: 'i386',
  Maintainer: 'test <test@localhost>',
  Description: 'debug symbols for the test kernel',
})

let vmlinux: Buffer
const pad = randomBytes(300 * 1024) // incompressible, so data.tar.xz has many blocks
function layout(release = RELEASE, extra: Entry[] = []): Entry[] {
  return [
    {name: './', type: 'directory'},
    {name: './usr/lib/debug/.build-id/ab/', type: 'directory'},
    {name: './usr/lib/debug/.build-id/ab/cdef.debug', type: 'symlink', linkname: `../../boot/vmlinux-${release}`},
    {name: './usr/lib/debug/boot/', type: 'directory'},
    {name: `./usr/lib/debug/boot/System.map-${release}`, data: pad},
    {name: `./usr/lib/debug/boot/vmlinux-${release}`, data: vmlinux},
    {name: `./usr/lib/debug/lib/modules/${release}/kernel/fs/x.ko`, data: randomBytes(200 * 1024)},
    ...extra,
  ]
}

describe.skipIf(!cc || !haveXz)('debug packages (streamed from disk)', () => {
  beforeAll(() => {
    const c = join(work, 'vmlinux.c')
    writeFileSync(
      c,
      `struct task_struct { int pid; long state; struct task_struct *parent; };\nstruct rq { struct task_struct *curr; unsigned int nr_running; };\n` +
        `int schedule(struct rq *rq) { return rq->curr->pid + (int)rq->nr_running; }\nconst char linux_banner[] = "Linux version ${RELEASE} (test) #1 SMP";\n`,
    )
    run(cc!, ['-g', '-O0', '-c', c, '-o', join(work, 'vmlinux.o')])
    vmlinux = readFileSync(join(work, 'vmlinux.o'))
  })

  for (const kind of ['xz-blocks', 'xz-single', 'gzip', 'zstd', 'none'] as const) {
    it.skipIf(kind === 'zstd' && !findTool('zstd'))(`data.tar${kind === 'none' ? '' : ` (${kind})`}: the vmlinux comes out byte for byte`, async () => {
      const deb = await buildDeb(`k-${kind}.deb`, dbgControl(), layout(), kind)
      const progress: number[] = []
      const x = await extractDebugVmlinux(deb, join(work, `out-${kind}`), {onProgress: (p) => progress.push(p.written)})
      expect(x.release).toBe(RELEASE)
      expect(x.entry).toBe(`usr/lib/debug/boot/vmlinux-${RELEASE}`)
      expect(x.info).toMatchObject({package: `linux-image-${RELEASE}-dbg`, version: '6.1.999-1', architecture: 'i386'})
      expect(Buffer.compare(readFileSync(x.path), vmlinux)).toBe(0)
      expect(progress.at(-1)).toBe(vmlinux.length)
      expect(readdirSync(join(work, `out-${kind}`))).toEqual([`vmlinux-${RELEASE}`]) // no partial files
    })
  }

  it('an xz block too large to hold goes through the xz tool, with the same result', async () => {
    const deb = await buildDeb('k-tool.deb', dbgControl(), layout(), 'xz-single')
    const x = await extractDebugVmlinux(deb, join(work, 'out-tool'), {maxXzBlock: 1024})
    expect(Buffer.compare(readFileSync(x.path), vmlinux)).toBe(0)
  })

  it.skipIf(!findTool('dpkg-deb'))("dpkg-deb's own package (sorted tree, its xz settings)", async () => {
    const root = join(work, 'pkgroot')
    mkdirSync(join(root, 'DEBIAN'), {recursive: true})
    mkdirSync(join(root, 'usr/lib/debug/boot'), {recursive: true})
    mkdirSync(join(root, `usr/lib/debug/lib/modules/${RELEASE}/kernel`), {recursive: true})
    writeFileSync(join(root, 'DEBIAN/control'), `${Object.entries(dbgControl()).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`)
    writeFileSync(join(root, `usr/lib/debug/boot/vmlinux-${RELEASE}`), vmlinux)
    writeFileSync(join(root, `usr/lib/debug/lib/modules/${RELEASE}/kernel/y.ko`), pad)
    const deb = join(work, 'dpkg.deb')
    run('dpkg-deb', ['-Zxz', '--root-owner-group', '--build', root, deb])
    const x = await extractDebugVmlinux(deb, join(work, 'out-dpkg'))
    expect(Buffer.compare(readFileSync(x.path), vmlinux)).toBe(0)
  })

  it('the modules-path layout, and a symlink met before its target', async () => {
    const deb = await buildDeb('k-mod.deb', dbgControl(), [
      {name: `./usr/lib/debug/lib/modules/${RELEASE}/vmlinux`, data: vmlinux},
      {name: './usr/lib/debug/zz', data: pad},
    ])
    const x = await extractDebugVmlinux(deb, join(work, 'out-mod'))
    expect(x.entry).toBe(`usr/lib/debug/lib/modules/${RELEASE}/vmlinux`)
    expect(Buffer.compare(readFileSync(x.path), vmlinux)).toBe(0)
    const deb2 = await buildDeb('k-link.deb', dbgControl(), [
      {name: `./usr/lib/debug/boot/vmlinux-${RELEASE}`, type: 'symlink', linkname: `../lib/modules/${RELEASE}/vmlinux-real`},
      {name: `./usr/lib/debug/lib/modules/${RELEASE}/vmlinux-real`, data: vmlinux},
    ])
    const y = await extractDebugVmlinux(deb2, join(work, 'out-link'))
    expect(y.release).toBe(RELEASE)
    expect(Buffer.compare(readFileSync(y.path), vmlinux)).toBe(0)
  })

  it('reading stops right after the vmlinux: a corrupt tail of data.tar is never decompressed', async () => {
    const tar = await tarOf(layout(RELEASE, [{name: './usr/lib/debug/lib/modules/big.ko', data: randomBytes(4 * 1024 * 1024)}]))
    const gz = gzipSync(tar)
    gz.fill(0x55, gz.length - 200_000) // the last bytes belong to big.ko
    const deb = join(work, 'k-tail.deb')
    const control = run('xz', ['-c'], {input: await tarOf([{name: './control', data: Buffer.from('Package: linux-image-x-dbg\nVersion: 1\nArchitecture: i386\n')}])})
    writeFileSync(deb, ar([['debian-binary', Buffer.from('2.0\n')], ['control.tar.xz', control], ['data.tar.gz', gz]]))
    const x = await extractDebugVmlinux(deb, join(work, 'out-tail'))
    expect(Buffer.compare(readFileSync(x.path), vmlinux)).toBe(0)
  })

  it('refuses: no vmlinux, a cut download, a corrupt xz block, an unsafe path — with codes', async () => {
    const code = async (p: Promise<unknown>): Promise<string> => p.then(() => 'no error', (e: {code?: string}) => e.code ?? String(e))
    const none = await buildDeb('k-none.deb', dbgControl('linux-headers-x'), [{name: './usr/share/doc/x', data: pad}])
    expect(await code(extractDebugVmlinux(none, join(work, 'o1')))).toBe('DEBUG_DEB_NO_VMLINUX')
    const good = readFileSync(await buildDeb('k-good.deb', dbgControl(), layout()))
    const cut = join(work, 'k-cut.deb')
    writeFileSync(cut, good.subarray(0, good.length - 5000))
    await expect(extractDebugVmlinux(cut, join(work, 'o2'))).rejects.toThrow(/runs past the end of the file .*is the download complete/)
    const bad = Buffer.from(good)
    const dataAt = bad.indexOf('data.tar.xz')
    for (let i = dataAt + 60 + 200; i < dataAt + 60 + 400; i++) bad[i] ^= 0xff // inside the first xz block
    const corrupt = join(work, 'k-corrupt.deb')
    writeFileSync(corrupt, bad)
    expect(await code(extractDebugVmlinux(corrupt, join(work, 'o3')))).toBe('INPUT_CORRUPT_XZ')
    const evil = await buildDeb('k-evil.deb', dbgControl(), [{name: '../../etc/evil', data: Buffer.from('x')}, ...layout()])
    expect(await code(extractDebugVmlinux(evil, join(work, 'o4')))).toBe('INPUT_BAD_TAR_PATH')
    expect(existsSync(join(work, 'etc'))).toBe(false)
    const notDeb = join(work, 'not.deb')
    writeFileSync(notDeb, 'hello')
    expect(await code(extractDebugVmlinux(notDeb, join(work, 'o5')))).toBe('INPUT_BAD_DEB')
  })

  it.skipIf(!findTool('zstd'))('a control.tar.zst that expands past 64 MiB is refused (INPUT_TOO_LARGE), not expanded', async () => {
    // 65 MiB of zeros: zstd makes a few kilobytes of it
    const bomb = run('zstd', ['-c', '-q', '-19'], {input: Buffer.alloc(65 * 1024 * 1024)})
    expect(bomb.length).toBeLessThan(64 * 1024)
    const deb = join(work, 'k-zstbomb.deb')
    writeFileSync(deb, ar([['debian-binary', Buffer.from('2.0\n')], ['control.tar.zst', bomb], ['data.tar', await tarOf(layout())]]))
    await expect(extractDebugVmlinux(deb, join(work, 'o6'))).rejects.toMatchObject({code: 'INPUT_TOO_LARGE'})
  })

  describe.skipIf(!havePahole)('archiving generated BTF', () => {
    const config = {CONFIG_BPF: 'y', CONFIG_DEBUG_INFO_BTF: null, CONFIG_BPF_SYSCALL: 'y'}
    const imageSource = {method: 'kernel-image' as const, package: `linux-image-${RELEASE}`, packageVersion: '6.1.999-1', file: `linux-image-${RELEASE}_6.1.999-1_i386.deb`, fileSha256: 'ab'.repeat(32)}
    const archiveWith = async (btf: 'none' | 'in-kernel', packageVersion = '6.1.999-1'): Promise<string> => {
      const root = mkdtempSync(join(work, 'archive-'))
      await addKernel(root, {release: RELEASE, distro: 'debian', version: '12', arch: 'i686', flavor: 'pae', btf, config, source: {...imageSource, packageVersion}}, btf === 'none' ? undefined : vmlinux.subarray(0, 0))
      return root
    }

    it('a kernel recorded without BTF gets generated BTF; its config is kept; provenance names the -dbg package and pahole', async () => {
      const root = await archiveWith('none')
      const deb = await buildDeb('k-arch.deb', dbgControl(), layout())
      const temp = mkdtempSync(join(work, 'tmp-'))
      const r = await addDebugDeb(root, deb, {workDir: temp})
      expect(r.changed).toBe(true)
      const e = readManifest(root).kernels[0]!
      expect(e).toMatchObject({release: RELEASE, arch: 'i686', version: '12', flavor: 'pae', btf: 'generated', config, path: `debian/12/i686/${RELEASE}.btf.tar.xz`})
      expect(e.source).toMatchObject({
        method: 'debug-info',
        package: `linux-image-${RELEASE}-dbg`,
        packageVersion: '6.1.999-1',
        file: 'k-arch.deb',
        fileSha256: createHash('sha256').update(readFileSync(deb)).digest('hex'),
        generator: {tool: 'pahole', version: run('pahole', ['--version']).toString().trim().slice(1)},
        kernelImage: {package: imageSource.package, packageVersion: '6.1.999-1'},
      })
      // the archived BTF is what pahole makes of that vmlinux with the recorded flags
      writeFileSync(join(work, 'v.o'), vmlinux)
      run('pahole', [...e.source.generator!.flags, `--btf_encode_detached=${join(work, 'v.btf')}`, join(work, 'v.o')])
      expect(Buffer.compare(Buffer.from(await readKernelBtf(root, e)), readFileSync(join(work, 'v.btf')))).toBe(0)
      expect(r.timings.vmlinuxSize).toBe(vmlinux.length)
      expect(readdirSync(temp)).toEqual([]) // the extracted vmlinux is gone
      // again: nothing changes
      expect((await addDebugDeb(root, deb)).changed).toBe(false)
    })

    it('refuses to replace a kernel\'s own BTF, and debug info from another build', async () => {
      const deb = await buildDeb('k-refuse.deb', dbgControl(), layout())
      await expect(addDebugDeb(await archiveWith('in-kernel'), deb)).rejects.toMatchObject({code: 'ARCHIVE_HAS_BTF'})
      await expect(addDebugDeb(await archiveWith('none', '6.1.998-1'), deb)).rejects.toMatchObject({code: 'ARCHIVE_VERSION_MISMATCH'})
    })

    it('a kernel not in the archive is added without config, with a warning', async () => {
      const root = mkdtempSync(join(work, 'archive-'))
      const r = await addDebugDeb(root, await buildDeb('k-new.deb', dbgControl(), layout()))
      expect(r.entry).toMatchObject({btf: 'generated', config: null, flavor: 'pae'})
      expect(r.warnings.join('\n')).toMatch(/added without its kernel config/)
    })

    it('kcompat archive add --debug-deb FILE (CLI)', async () => {
      const root = await archiveWith('none')
      const deb = await buildDeb('k-cli.deb', dbgControl(), layout())
      const r = spawnSync(process.execPath, [BIN, 'archive', 'add', '--archive', root, '--debug-deb', deb], {encoding: 'utf8'})
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^added: debian 12 i686 ${RELEASE} \\(pae\\), BTF: generated -> debian/12/i686/${RELEASE}\\.btf\\.tar\\.xz`))
      expect(r.stdout).toMatch(/pahole 1\.\d+: -F dwarf --btf_gen_floats/)
      expect(r.stdout).toMatch(/extract [\d.]+ s .*pahole [\d.]+ s/)
      const none = spawnSync(process.execPath, [BIN, 'archive', 'add', '--archive', root], {encoding: 'utf8'})
      expect(none.status).toBe(2)
    })
  })
})

describe.skipIf(!cc || !haveXz || !havePahole || !findTool('dpkg-deb'))('archive sync --generate (loopback mirror)', () => {
  let server: StaticSite
  let mirror: string
  let hits: Map<string, number>
  let cutOnce: Set<string>
  let failOnce: Set<string>
  let imageFile = ''
  let dbgFile = ''
  const site = join(work, 'site')

  beforeAll(async () => {
    const c = join(work, 'k.c')
    writeFileSync(c, 'struct sk_buff { unsigned int len; void *data; };\nint xmit(struct sk_buff *skb) { return (int)skb->len; }\n')
    run(cc!, ['-g', '-O0', '-c', c, '-o', join(work, 'k.o')])
    vmlinux = readFileSync(join(work, 'k.o'))
    // the image package: a kernel built without BTF (as Debian 12's i386 kernels)
    const cfg = decompressSync(readFileSync(join(FIXTURES, 'kernels', '6.1.0-56-cloud-amd64.config.xz'))).toString().replace(/^CONFIG_DEBUG_INFO_BTF=y$/m, '# CONFIG_DEBUG_INFO_BTF is not set')
    const root = join(work, 'img-root')
    mkdirSync(join(root, 'DEBIAN'), {recursive: true})
    mkdirSync(join(root, 'boot'), {recursive: true})
    writeFileSync(join(root, 'DEBIAN/control'), `Package: linux-image-${RELEASE}\nVersion: 6.1.999-1\nArchitecture: i386\nMaintainer: t <t@localhost>\nSource: linux-signed-i386 (6.1.999+1)\nDescription: test\n`)
    run(cc!, ['-c', c, '-o', join(work, 'k-stripped.o')])
    writeFileSync(join(root, 'boot', `vmlinuz-${RELEASE}`), gzipSync(readFileSync(join(work, 'k-stripped.o'))))
    writeFileSync(join(root, 'boot', `config-${RELEASE}`), cfg)
    const img = join(work, `linux-image-${RELEASE}_6.1.999-1_i386.deb`)
    run('dpkg-deb', ['-Zxz', '--build', root, img])
    const dbg = await buildDeb(`linux-image-${RELEASE}-dbg_6.1.999-1_i386.deb`, dbgControl(), layout())
    const lines: string[] = []
    mkdirSync(join(site, 'pool/main/l/linux'), {recursive: true})
    for (const [file, pkg] of [[img, `linux-image-${RELEASE}`], [dbg, `linux-image-${RELEASE}-dbg`]] as const) {
      const rel = `pool/main/l/linux/${file.split('/').pop()}`
      copyFileSync(file, join(site, rel))
      const data = readFileSync(file)
      lines.push(`Package: ${pkg}\nSource: linux\nVersion: 6.1.999-1\nArchitecture: i386\nFilename: ${rel}\nSize: ${data.length}\nSHA256: ${createHash('sha256').update(data).digest('hex')}\nDescription: x\n`)
      if (pkg.endsWith('-dbg')) dbgFile = `/${rel}`
      else imageFile = `/${rel}`
    }
    const index = join(site, 'dists/bookworm-security/main/binary-i386')
    mkdirSync(index, {recursive: true})
    writeFileSync(join(index, 'Packages'), lines.join('\n'))
    run('xz', ['-k', join(index, 'Packages')])
    writeAptRelease(site, 'bookworm-security', {arches: ['i386']})
    server = await serveSite(site)
    mirror = server.url
    hits = server.hits
    cutOnce = server.cutOnce
    failOnce = server.failOnce
  })
  afterAll(() => server?.close())

  it('finds the -dbg package in the index, downloads it (retried, resumed), generates, keeps the config; a re-run does nothing', async () => {
    const archive = mkdtempSync(join(work, 'sync-'))
    failOnce.add(dbgFile)
    cutOnce.add(dbgFile)
    const events: SyncEvent[] = []
    const r = await syncDebian(archive, {mirror, suite: 'bookworm-security', arches: ['i386'], generate: true, retryDelayMs: 5, onEvent: (e) => events.push(e)})
    expect(r.failed).toEqual([])
    expect(r.added).toEqual([{release: RELEASE, arch: 'i386', btf: 'generated'}])
    const e = readManifest(archive).kernels[0]!
    expect(e).toMatchObject({btf: 'generated', arch: 'i686', flavor: 'pae'})
    expect(e.config?.CONFIG_BPF_SYSCALL).toBe('y')
    expect(e.config?.CONFIG_DEBUG_INFO_BTF).toBeNull()
    expect(e.source).toMatchObject({method: 'debug-info', package: `linux-image-${RELEASE}-dbg`, packageVersion: '6.1.999-1', kernelImage: {package: `linux-image-${RELEASE}`}})
    expect(e.source.fileSha256).toBe(createHash('sha256').update(readFileSync(join(site, dbgFile))).digest('hex'))
    // the bootable image is the image package's, recorded at ingest and kept through generation
    const imageBytes = readFileSync(join(site, imageFile))
    expect(e.source.image).toMatchObject({
      format: 'deb', package: `linux-image-${RELEASE}`, path: imageFile.slice(1), sha256: createHash('sha256').update(imageBytes).digest('hex'),
      repo: {type: 'debian', suite: 'bookworm-security'}, member: `boot/vmlinuz-${RELEASE}`,
      memberSha256: createHash('sha256').update(gzipSync(readFileSync(join(work, 'k-stripped.o')))).digest('hex'),
    })
    expect(hits.get(dbgFile)).toBe(3) // 503, cut mid-body, then complete (resumed when part of it reached the disk)
    const gen = events.find((x) => x.type === 'generated')
    expect(gen).toMatchObject({type: 'generated', release: RELEASE, timings: {vmlinuxSize: vmlinux.length}})
    expect(events.some((x) => x.type === 'generate' && x.progress.phase === 'pahole')).toBe(true)
    const again = await syncDebian(archive, {mirror, suite: 'bookworm-security', arches: ['i386'], generate: true})
    expect(again.added).toEqual([])
    expect(again.skipped).toHaveLength(1)
    expect(hits.get(dbgFile)).toBe(3)
  })

  it('a kernel already recorded without BTF: only the -dbg package is fetched; a kept download is reused, not fetched again', async () => {
    const archive = mkdtempSync(join(work, 'sync-'))
    await syncDebian(archive, {mirror, suite: 'bookworm-security', arches: ['i386']})
    expect(readManifest(archive).kernels[0]!.btf).toBe('none')
    const cache = mkdtempSync(join(work, 'cache-'))
    const img = hits.get(imageFile)
    const dbg = hits.get(dbgFile) ?? 0
    const dry = await syncDebian(archive, {mirror, suite: 'bookworm-security', arches: ['i386'], generate: true, dryRun: true})
    expect(dry.planned).toEqual([{release: RELEASE, arch: 'i386', package: `linux-image-${RELEASE}-dbg`, version: '6.1.999-1', size: statSync(join(site, dbgFile)).size}])
    const r = await syncDebian(archive, {mirror, suite: 'bookworm-security', arches: ['i386'], generate: true, cacheDir: cache, keep: true})
    expect(r.added).toEqual([{release: RELEASE, arch: 'i386', btf: 'generated'}])
    expect(hits.get(imageFile)).toBe(img)
    expect(hits.get(dbgFile)).toBe(dbg + 1)
    expect(readdirSync(cache)).toEqual([dbgFile.split('/').pop()])
    // another archive, same cache: generated from the cached package
    const other = mkdtempSync(join(work, 'sync-'))
    await syncDebian(other, {mirror, suite: 'bookworm-security', arches: ['i386'], generate: true, cacheDir: cache})
    expect(readManifest(other).kernels[0]!.btf).toBe('generated')
    expect(hits.get(dbgFile)).toBe(dbg + 1)
    expect(readdirSync(cache)).toEqual([dbgFile.split('/').pop()]) // not ours to delete: it was there before
  })

  it('the -dbg package missing from the index: DEBUG_PACKAGE_NOT_FOUND, the kernel stays recorded without BTF', async () => {
    expect(findDebugStanza([], 'linux-image-x')).toBeUndefined()
    const archive = mkdtempSync(join(work, 'sync-'))
    const idx = join(site, 'dists/bookworm-security/main/binary-i386')
    const saved = readFileSync(join(idx, 'Packages.xz'))
    const only = readFileSync(join(idx, 'Packages'), 'utf8').split('\n\n').filter((s) => !s.includes('-dbg\n')).join('\n\n')
    rmSync(join(idx, 'Packages.xz'))
    writeFileSync(join(idx, 'Packages.only'), only)
    run('sh', ['-c', `xz -c ${join(idx, 'Packages.only')} > ${join(idx, 'Packages.xz')}`])
    rmSync(join(idx, 'Packages.only'))
    // the mirror's Release file lists the index it now serves
    writeAptRelease(site, 'bookworm-security', {arches: ['i386']})
    try {
      const r = await syncDebian(archive, {mirror, suite: 'bookworm-security', arches: ['i386'], generate: true})
      expect(r.failed).toMatchObject([{release: RELEASE, code: 'DEBUG_PACKAGE_NOT_FOUND'}])
      expect(readManifest(archive).kernels[0]!.btf).toBe('none')
    } finally {
      writeFileSync(join(idx, 'Packages.xz'), saved)
      writeAptRelease(site, 'bookworm-security', {arches: ['i386']})
    }
  })
})
