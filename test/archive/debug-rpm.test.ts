/**
 * BTF generated from RPM debug-info packages: `archive sync rpm --generate
 * [--debuginfo-repo URL]` and `archive add --rpm … --debuginfo-rpm …`, against yum
 * repositories served on loopback (node http, port 0) and made with the real tools
 * (`rpmbuild`, `createrepo_c`):
 *
 * - the kernel: `kernel` 6.1.190-1.el7.i686 holding /boot/vmlinuz-R and /boot/config-R of
 *   a real Debian kernel built without BTF (6.1.0-54-686: Debian 12's i386 kernels have
 *   none), as RHEL/CentOS 7 lay a kernel out;
 * - its debug info: `kernel-debuginfo` of the same build holding
 *   /usr/lib/debug/lib/modules/R/vmlinux, as RHEL/Fedora do. A real debug vmlinux is
 *   about 1 GiB, too big for CI: a small object compiled with `gcc -m32 -g` stands in for
 *   it (what the code does with it, find it, stream it out, run pahole, is the same).
 *
 * Oracles: the generated BTF must equal what pahole itself writes from that object with
 * the flags recorded in the entry (`pahole <flags> --btf_encode_detached=F vmlinux`); the
 * config facts kept must match grep of the config file; the recorded package names and
 * versions match `rpm -qp --qf`.
 */
import {spawn} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readKernelBtf} from '../../src/archive/archive.js'
import {addDebugRpm, rpmDebugVmlinux} from '../../src/archive/debug-rpm.js'
import {readManifest} from '../../src/archive/manifest.js'
import {debugNameOf, syncRpm} from '../../src/archive/sync-rpm.js'
import {buildRpm, debianKernelDeb, haveRpmTools, rpmQuery, unpackDeb} from '../helpers/rpm.js'
import {requireTool, run} from '../helpers/tools.js'

const R = '6.1.0-54-686'
const V = '6.1.190'
const REL = '1.el7'
const tools = haveRpmTools('RPM debug-info generation') && requireTool('gcc', 'a debug vmlinux stand-in') && requireTool('pahole', 'the BTF oracle')
const work = mkdtempSync(join(tmpdir(), 'kcompat-debug-rpm-'))
const repos = join(work, 'repos')
let skip: string | undefined
let server: Server
let base = ''
const served: string[] = []
const rpms: Record<string, string> = {}
let vmlinux = ''
let config = ''

beforeAll(async () => {
  if (!tools) return
  const deb = await debianKernelDeb(R, 'i686')
  if (!deb) {
    skip = `no Debian ${R} package`
    return
  }
  const root = unpackDeb(deb, join(work, 'deb'))
  config = readFileSync(join(root, 'boot', `config-${R}`), 'utf8')
  const c = join(work, 'k.c')
  writeFileSync(c, 'struct sk_buff { unsigned int len; void *data; };\nint xmit(struct sk_buff *skb) { return (int)skb->len; }\n')
  vmlinux = join(work, 'vmlinux.o')
  run('gcc', ['-m32', '-g', '-O0', '-c', c, '-o', vmlinux])
  rpms.kernel = buildRpm(work, {name: 'kernel', version: V, release: REL, arch: 'i686', payload: 'w2.xzdio', files: [
    {dest: `/boot/vmlinuz-${R}`, src: join(root, 'boot', `vmlinuz-${R}`)}, {dest: `/boot/config-${R}`, src: join(root, 'boot', `config-${R}`)}]})
  rpms.debuginfo = buildRpm(work, {name: 'kernel-debuginfo', version: V, release: REL, arch: 'i686', payload: 'w2.xzdio', files: [
    {dest: `/usr/lib/debug/lib/modules/${R}/vmlinux`, src: vmlinux}, {dest: `/usr/lib/debug/.build-id/00/kcompat-test`, text: 'a file before the vmlinux\n'}]})
  const place = (repo: string, keys: string[]): void => {
    mkdirSync(join(repos, repo, 'Packages'), {recursive: true})
    for (const k of keys) copyFileSync(rpms[k]!, join(repos, repo, 'Packages', rpms[k]!.split('/').pop()!))
    run('createrepo_c', ['-q', join(repos, repo)])
  }
  place('os', ['kernel']) // the debug-info package in its own repository, as distributions publish them
  place('debug', ['debuginfo'])
  place('both', ['kernel', 'debuginfo'])
  server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
    served.push(path)
    const file = join(repos, path)
    if (path.includes('..') || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end()
    const body = readFileSync(file)
    res.writeHead(200, {'content-length': body.length}).end(body)
  })
  base = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as {port: number}).port}`)))
}, 600_000)

afterAll(() => {
  server?.close()
  rmSync(work, {recursive: true, force: true})
})

const fresh = (): string => mkdtempSync(join(work, 'archive-'))

/** pahole's own BTF of the stand-in vmlinux, with the flags the entry records. */
function paholeBtf(flags: string[]): Buffer {
  const out = join(work, `pahole-${served.length}.btf`)
  run('pahole', [...flags, `--btf_encode_detached=${out}`, vmlinux])
  const btf = readFileSync(out)
  expect(btf.includes('sk_buff')).toBe(true) // real BTF of the object, not an empty file
  return btf
}

/** The config value grep finds (null when unset). */
const grepConfig = (sym: string): string | null => new RegExp(`^${sym}=(.*)$`, 'm').exec(config)?.[1]?.replace(/^"|"$/g, '') ?? null

describe('archive sync rpm --generate', () => {
  it('a kernel without BTF gets pahole\'s BTF of its kernel-debuginfo vmlinux (separate debug repository); a re-run downloads nothing', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    expect(grepConfig('CONFIG_DEBUG_INFO_BTF')).toBeNull() // the premise: the real kernel was built without BTF
    const root = fresh()
    const r = await syncRpm(root, {repo: `${base}/os`, debugRepo: `${base}/debug`, distro: 'centos', version: '7', generate: true, retryDelayMs: 10})
    expect(r.failed).toEqual([])
    expect(r.added.map((a) => [a.release, a.arch, a.btf])).toEqual([[R, 'i686', 'generated']])
    const [e] = readManifest(root).kernels
    expect(e).toMatchObject({release: R, distro: 'centos', version: '7', arch: 'i686', flavor: 'generic', btf: 'generated', path: `centos/7/i686/${R}.btf.tar.xz`})
    expect(e!.source).toMatchObject({
      method: 'debug-info',
      package: 'kernel-debuginfo',
      packageVersion: rpmQuery(rpms.debuginfo!, '%{VERSION}-%{RELEASE}'),
      kernelImage: {package: 'kernel', packageVersion: rpmQuery(rpms.kernel!, '%{VERSION}-%{RELEASE}')},
      image: {format: 'rpm', member: `boot/vmlinuz-${R}`},
    })
    expect(Buffer.from(await readKernelBtf(root, e!, {cache: false})).equals(paholeBtf(e!.source.generator!.flags))).toBe(true)
    for (const sym of ['CONFIG_DEBUG_INFO_BTF', 'CONFIG_BPF_SYSCALL', 'CONFIG_BPF_JIT']) expect([sym, e!.config?.[sym] ?? null]).toEqual([sym, grepConfig(sym)])
    served.length = 0
    const again = await syncRpm(root, {repo: `${base}/os`, debugRepo: `${base}/debug`, distro: 'centos', version: '7', generate: true, retryDelayMs: 10})
    expect(again.added).toEqual([])
    expect(again.skipped).toHaveLength(1)
    expect(served.filter((p) => p.endsWith('.rpm'))).toEqual([])
  })

  it('a kernel archived without BTF is taken up by a later --generate run, which downloads only the debug-info package', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
    const first = await syncRpm(root, {repo: `${base}/both`, distro: 'centos', version: '7', retryDelayMs: 10})
    expect(first.added.map((a) => a.btf)).toEqual(['none'])
    served.length = 0
    const r = await syncRpm(root, {repo: `${base}/both`, distro: 'centos', version: '7', generate: true, retryDelayMs: 10})
    expect(r.failed).toEqual([])
    expect(r.added.map((a) => a.btf)).toEqual(['generated'])
    expect(served.filter((p) => p.endsWith('.rpm'))).toEqual([`/both/Packages/${rpms.debuginfo!.split('/').pop()}`])
    const [e] = readManifest(root).kernels
    expect(readManifest(root).kernels).toHaveLength(1)
    expect(Buffer.from(await readKernelBtf(root, e!, {cache: false})).equals(paholeBtf(e!.source.generator!.flags))).toBe(true)
    expect(e!.config?.CONFIG_BPF_SYSCALL ?? null).toBe(grepConfig('CONFIG_BPF_SYSCALL'))
  })

  it('no debug-info package for the build is DEBUG_PACKAGE_NOT_FOUND; the kernel stays archived without BTF', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
    const r = await syncRpm(root, {repo: `${base}/os`, distro: 'centos', version: '7', generate: true, retryDelayMs: 10})
    expect(r.failed.map((f) => f.code)).toEqual(['DEBUG_PACKAGE_NOT_FOUND'])
    expect(readManifest(root).kernels.map((k) => k.btf)).toEqual(['none'])
  })
})

describe('archive add --debuginfo-rpm', () => {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
  const cli = (args: string[]): Promise<{status: number | null; stdout: string; stderr: string}> =>
    new Promise((resolve) => {
      const c = spawn(bin, args)
      let stdout = ''
      let stderr = ''
      c.stdout.on('data', (d: Buffer) => (stdout += d))
      c.stderr.on('data', (d: Buffer) => (stderr += d))
      c.on('close', (status) => resolve({status, stdout, stderr}))
    })

  it('with --rpm: adds the kernel, then its generated BTF; a package without a debug vmlinux is DEBUG_RPM_NO_VMLINUX', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
    const r = await cli(['archive', 'add', '--rpm', rpms.kernel!, '--debuginfo-rpm', rpms.debuginfo!, '--distro', 'rocky', '--os-version', '7', '--json', '--archive', root])
    expect(r.status, r.stderr).toBe(0)
    const e = JSON.parse(r.stdout)
    expect(e).toMatchObject({distro: 'rocky', version: '7', release: R, btf: 'generated', source: {method: 'debug-info', package: 'kernel-debuginfo'}})
    expect(Buffer.from(await readKernelBtf(root, e, {cache: false})).equals(paholeBtf(e.source.generator.flags))).toBe(true)
    const bad = fresh()
    await expect(addDebugRpm(bad, rpms.kernel!, {distro: 'centos', version: '7'})).rejects.toMatchObject({code: 'DEBUG_RPM_NO_VMLINUX'})
    expect(readdirSync(bad)).toEqual([])
  })
})

describe('debug vmlinux paths and debug-info package names', () => {
  const file = (path: string, o: {ghost?: boolean; mode?: number} = {}) => ({path, size: 1, mode: o.mode ?? 0o100644, digest: '', linkTo: '', ghost: o.ghost ?? false})
  it('RHEL/Fedora lib/modules/R/vmlinux, SUSE boot/vmlinux-R.debug; never a symlink', () => {
    const el = '4.18.0-513.5.1.el8_9.x86_64'
    expect(rpmDebugVmlinux({files: [file(`usr/lib/debug/.build-id/ab/cdef`, {mode: 0o120777}), file(`usr/lib/debug/lib/modules/${el}/vmlinux`)]})).toEqual({path: `usr/lib/debug/lib/modules/${el}/vmlinux`, release: el, size: 1})
    const suse = '5.14.21-150500.55.19-default'
    expect(rpmDebugVmlinux({files: [file(`usr/lib/debug/boot/vmlinux-${suse}.debug`)]})?.release).toBe(suse)
    expect(rpmDebugVmlinux({files: [file(`usr/lib/debug/boot/vmlinux-${suse}`, {mode: 0o120777})]})).toBeUndefined()
    expect(rpmDebugVmlinux({files: [file(`usr/src/debug/kernel-${el}/linux/init/main.c`)]})).toBeUndefined()
  })
  it('kernel-core and kernel have kernel-debuginfo; variants keep their name', () => {
    expect(['kernel', 'kernel-core', 'kernel-64k-core', 'kernel-uek', 'kernel-default'].map((name) => debugNameOf({name}))).toEqual([
      'kernel-debuginfo', 'kernel-debuginfo', 'kernel-64k-debuginfo', 'kernel-uek-debuginfo', 'kernel-default-debuginfo',
    ])
  })
})
