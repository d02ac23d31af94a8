/**
 * End to end: `archive sync rpm` and `archive add --rpm` against yum/dnf repositories
 * served on loopback (node http, port 0), made with the real tools: `rpmbuild` packs the
 * files of a real Debian kernel package (6.1.0-56-cloud-amd64: its bzImage, config and
 * some of its modules) at the paths of three distribution families, and `createrepo_c`
 * writes each repository's repodata:
 *
 * - RHEL 7 (`el7/`): `kernel` with /boot/vmlinuz-R, /boot/config-R and the modules,
 *   xz payload; a `kernel-tools` package that is not a kernel;
 * - RHEL 8 (`el8/`): `kernel` (meta, no files), `kernel-core` with
 *   /lib/modules/R/vmlinuz and config (/boot/vmlinuz-R a %ghost) and some modules, zstd
 *   payload; `kernel-modules` with the rest, xz payload;
 * - Fedora (`fc39/`): `kernel-core` (zstd), `kernel-modules-core` (gzip, modules as
 *   .ko.zst) and `kernel-modules` (zstd).
 *
 * Oracles: the BTF is compared byte for byte with what the reference tools take out of
 * the image that `rpm2cpio | cpio` unpacks (lz4 -dc of its payload, llvm-objcopy
 * --dump-section .BTF), each module's BTF with llvm-objcopy's dump of the module file
 * cpio unpacks, the recorded package name/version with `rpm -qp --qf`. Bad input: a
 * repomd.xml whose primary checksum is wrong, a package that does not match primary.xml's
 * sha256, a server that lies about sizes, a truncated package: each a coded error and
 * nothing written to the archive.
 *
 * Shards: the three repositories are synced unsharded into one archive (centos/7,
 * almalinux/8, fedora/39: keys chosen so that both halves of --shard I/2 hold kernels),
 * then with --shard 1/2 and 2/2 into two others, which `archive merge` must combine into
 * the unsharded archive byte for byte; the shard of each key is computed here from the
 * rule's definition (sha256 of the key, first 4 bytes big-endian, mod N), and the release
 * in the key is the one the packages were built with. filelists.xml, which the shard
 * step reads, is checked against `rpm -qlp`.
 */
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {addKernelRpm, rpmDistroOf, rpmKernelImage} from '../../src/archive/add-rpm.js'
import {readKernelBtf} from '../../src/archive/archive.js'
import {fetchKernelImage} from '../../src/archive/image.js'
import {kernelKey, readManifest} from '../../src/archive/manifest.js'
import {mergeArchives} from '../../src/archive/merge.js'
import {readModuleBtfs} from '../../src/archive/modules.js'
import {kernelBuilds, syncRpm} from '../../src/archive/sync-rpm.js'
import {type RepoPackage, fetchRepoFilelists, fetchRepoIndex} from '../../src/pkg/rpm-repo.js'
import {
  RELEASE,
  buildRpm,
  debianKernelDeb,
  haveRpmTools,
  referenceBtfOfBzImage,
  referenceModuleBtf,
  rpm2cpio,
  rpmQuery,
  someModules,
  unpackDeb,
} from '../helpers/rpm.js'
import {requireTool, run} from '../helpers/tools.js'

const tools = haveRpmTools('loopback RPM repository sync') && requireTool('llvm-objcopy', 'RPM BTF oracle') && requireTool('lz4', 'RPM BTF oracle')
const work = mkdtempSync(join(tmpdir(), 'kcompat-sync-rpm-'))
const repos = join(work, 'repos')
let skip: string | undefined
let server: Server
let base = ''
/** Per-path misbehaviour of the server. */
const lies = new Map<string, (res: import('node:http').ServerResponse, body: Buffer) => void>()
const served: string[] = []
const rpms: Record<string, string> = {}
let refBtf: Buffer
let refImageSha = ''
const refModules = new Map<string, Buffer>()

function serve(root: string): Promise<string> {
  server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
    served.push(path)
    const file = join(root, path)
    if (path.includes('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end()
      return
    }
    const body = readFileSync(file)
    const lie = lies.get(path)
    if (lie) return lie(res, body)
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    if (range) {
      const from = Number(range[1])
      if (from >= body.length) return void res.writeHead(416).end()
      res.writeHead(206, {'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`}).end(body.subarray(from))
      return
    }
    res.writeHead(200, {'content-length': body.length}).end(body)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as {port: number}).port}`)))
}

beforeAll(async () => {
  if (!tools) return
  const deb = await debianKernelDeb()
  if (!deb) {
    skip = 'no Debian kernel package'
    return
  }
  const root = unpackDeb(deb, join(work, 'deb'))
  const mods = someModules(root, 10)
  const core = mods.slice(0, 4)
  const rest = mods.slice(4)
  const image = join(root, 'boot', `vmlinuz-${RELEASE}`)
  const config = join(root, 'boot', `config-${RELEASE}`)
  const at = (m: string): {dest: string; src: string} => ({dest: m.slice(root.length), src: m})
  const lm = `/lib/modules/${RELEASE}`
  const v = '6.1.192'
  // RHEL 7
  mkdirSync(join(repos, 'el7', 'Packages'), {recursive: true})
  rpms.el7 = buildRpm(work, {name: 'kernel', version: v, release: '2.el7', payload: 'w2.xzdio', compressModules: 'xz', files: [
    {dest: `/boot/vmlinuz-${RELEASE}`, src: image}, {dest: `/boot/config-${RELEASE}`, src: config}, ...mods.map(at)]})
  rpms.el7tools = buildRpm(work, {name: 'kernel-tools', version: v, release: '2.el7', payload: 'w2.xzdio', files: [{dest: '/usr/share/kernel-tools/README', text: 'tools\n'}]})
  // RHEL 8
  rpms.el8meta = buildRpm(work, {name: 'kernel', version: v, release: '2.el8', payload: 'w3.zstdio', files: []})
  rpms.el8 = buildRpm(work, {name: 'kernel-core', version: v, release: '2.el8', payload: 'w3.zstdio', compressModules: 'xz', files: [
    {dest: `${lm}/vmlinuz`, src: image}, {dest: `${lm}/config`, src: config}, {dest: `/boot/vmlinuz-${RELEASE}`, ghost: true}, ...core.map(at)]})
  rpms.el8mods = buildRpm(work, {name: 'kernel-modules', version: v, release: '2.el8', payload: 'w2.xzdio', compressModules: 'xz', files: rest.map(at)})
  // Fedora
  rpms.fc39 = buildRpm(work, {name: 'kernel-core', version: v, release: '2.fc39', payload: 'w3.zstdio', files: [{dest: `${lm}/vmlinuz`, src: image}, {dest: `${lm}/config`, src: config}]})
  rpms.fc39modscore = buildRpm(work, {name: 'kernel-modules-core', version: v, release: '2.fc39', payload: 'w6.gzdio', compressModules: 'zstd', files: core.map(at)})
  rpms.fc39mods = buildRpm(work, {name: 'kernel-modules', version: v, release: '2.fc39', payload: 'w3.zstdio', compressModules: 'zstd', files: rest.map(at)})
  // primary.xml compressed three ways: xz, gzip (createrepo_c's default), zstd (as Fedora
  // publishes it; Debian 12's createrepo_c 0.17 cannot write it, so its gzip primary.xml is
  // recompressed with the zstd tool and repomd.xml's checksum, size and location updated
  // from sha256sum and stat, as createrepo_c ≥ 0.19 would write them)
  const place = (repo: string, keys: string[], compress: string): void => {
    mkdirSync(join(repos, repo, 'Packages'), {recursive: true})
    for (const k of keys) copyFileSync(rpms[k]!, join(repos, repo, 'Packages', rpms[k]!.split('/').pop()!))
    const dir = join(repos, repo, 'repodata')
    run('createrepo_c', ['-q', `--general-compress-type=${compress === 'zstd' ? 'gz' : compress}`, join(repos, repo)])
    if (compress === 'zstd') {
      const gz = readdirSync(dir).find((f) => /-primary\.xml\.gz$/.test(f))!
      const zst = gz.replace(/^[0-9a-f]+-/, '').replace(/\.gz$/, '.zst')
      writeFileSync(join(dir, zst), run('zstd', ['-q', '-c', '-19'], {input: run('gzip', ['-dc', join(dir, gz)])}))
      const sum = run('sha256sum', [join(dir, zst)]).toString().split(' ')[0]!
      const named = `${sum}-${zst}`
      renameSync(join(dir, zst), join(dir, named))
      rmSync(join(dir, gz))
      const repomd = readFileSync(join(dir, 'repomd.xml'), 'utf8').replace(/(<data type="primary">[\s\S]*?<\/data>)/, (d: string) =>
        d
          .replace(/<checksum type="sha256">[0-9a-f]+<\/checksum>/, `<checksum type="sha256">${sum}</checksum>`)
          .replace(/<location href="[^"]+"\/>/, `<location href="repodata/${named}"/>`)
          .replace(/<size>\d+<\/size>/, `<size>${statSync(join(dir, named)).size}</size>`),
      )
      writeFileSync(join(dir, 'repomd.xml'), repomd)
    }
    const primary = readdirSync(dir).filter((f) => /-primary\.xml\./.test(f))
    expect(primary, repo).toEqual([expect.stringMatching(compress === 'gz' ? /\.gz$/ : compress === 'xz' ? /\.xz$/ : /\.zst$/)])
  }
  place('el7', ['el7', 'el7tools'], 'xz')
  place('el8', ['el8meta', 'el8', 'el8mods'], 'gz')
  place('fc39', ['fc39', 'fc39modscore', 'fc39mods'], 'zstd')
  // the oracles: what rpm2cpio | cpio unpacks, read by the reference tools
  const unpacked = rpm2cpio(rpms.el8, join(work, 'ref-el8'))
  const img = join(unpacked, 'lib', 'modules', RELEASE, 'vmlinuz')
  refImageSha = createHash('sha256').update(readFileSync(img)).digest('hex')
  refBtf = referenceBtfOfBzImage(img, work)
  const unpackedMods = rpm2cpio(rpms.el7, join(work, 'ref-el7'))
  for (const m of mods) {
    const btf = referenceModuleBtf(join(unpackedMods, `${m.slice(root.length)}.xz`), work)
    if (btf) refModules.set(m.split('/').pop()!.replace(/\.ko$/, '').replaceAll('-', '_'), btf)
  }
  base = await serve(repos)
}, 600_000)

afterAll(() => {
  server?.close()
  rmSync(work, {recursive: true, force: true})
})

const fresh = (): string => mkdtempSync(join(work, 'archive-'))
/** The unsharded archive: the describe.each tests sync all three repositories into it. */
let full = ''
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Every file under dir (relative), for "nothing written" checks. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {recursive: true, withFileTypes: true}).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as {path: string}).path, e.name).slice(dir.length + 1)).sort()
}

describe.each([
  {repo: 'el7', distro: 'centos', version: '7', pkg: 'el7', name: 'kernel', member: `boot/vmlinuz-${RELEASE}`},
  {repo: 'el8', distro: 'almalinux', version: '8', pkg: 'el8', name: 'kernel-core', member: `lib/modules/${RELEASE}/vmlinuz`},
  {repo: 'fc39', distro: 'fedora', version: '39', pkg: 'fc39', name: 'kernel-core', member: `lib/modules/${RELEASE}/vmlinuz`},
])('archive sync rpm of a $repo repository', ({repo, distro, version, pkg, name, member}) => {
  it('adds the kernel with the BTF and module BTF the reference tools extract, then skips it on a re-run', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    full ||= fresh()
    const root = full
    const r = await syncRpm(root, {repo: `${base}/${repo}`, distro, version, retryDelayMs: 10})
    expect(r.failed).toEqual([])
    expect(r.added.map((a) => [a.package.split('-6.1')[0], a.release, a.arch, a.btf, a.modules])).toEqual([[name, RELEASE, 'x86_64', 'in-kernel', refModules.size]])
    const entry = readManifest(root).kernels.find((k) => k.distro === distro)
    expect(entry).toMatchObject({release: RELEASE, distro, version, arch: 'x86_64', flavor: 'generic', btf: 'in-kernel', path: `${distro}/${version}/x86_64/${RELEASE}.btf.tar.xz`})
    expect(Buffer.from(await readKernelBtf(root, entry!, {cache: false})).equals(refBtf)).toBe(true)
    const q = rpmQuery(rpms[pkg]!, '%{NAME} %{VERSION}-%{RELEASE}')
    expect(`${entry!.source.package} ${entry!.source.packageVersion}`).toBe(q)
    expect(entry!.source.image).toMatchObject({format: 'rpm', member, memberSha256: refImageSha, path: `Packages/${rpms[pkg]!.split('/').pop()}`})
    const mods = await readModuleBtfs(root, entry!)
    expect([...mods.keys()].sort()).toEqual([...refModules.keys()].sort())
    for (const [n, b] of mods) expect(Buffer.from(b).equals(refModules.get(n)!), n).toBe(true)
    // a second run downloads no package and changes nothing
    const before = readFileSync(join(root, 'manifest.json'))
    served.length = 0
    const again = await syncRpm(root, {repo: `${base}/${repo}`, distro, version, retryDelayMs: 10})
    expect(again.added).toEqual([])
    expect(again.skipped).toHaveLength(1)
    expect(served.filter((p) => p.endsWith('.rpm'))).toEqual([])
    expect(readFileSync(join(root, 'manifest.json')).equals(before)).toBe(true)
  })

  it("archive image: the recorded member streamed out of the RPM, byte for byte what rpm2cpio | cpio unpacks; then from the cache", async (ctx) => {
    if (!tools || skip || !full) return ctx.skip()
    const entry = readManifest(full).kernels.find((k) => k.distro === distro)!
    const cacheDir = mkdtempSync(join(work, 'images-'))
    // the repository root is not recorded: without --mirror, a clear error
    await expect(fetchKernelImage(full, entry, {cacheDir})).rejects.toMatchObject({code: 'IMAGE_NO_MIRROR', message: expect.stringContaining('archive sync rpm --repo')})
    served.length = 0
    const got = await fetchKernelImage(full, entry, {cacheDir, mirror: `${base}/${repo}`, retryDelayMs: 10})
    expect(served).toEqual([`/${repo}/Packages/${rpms[pkg]!.split('/').pop()}`])
    const ref = readFileSync(join(rpm2cpio(rpms[pkg]!, join(work, `img-${pkg}`)), member))
    expect(readFileSync(got.path).equals(ref)).toBe(true)
    expect(got).toMatchObject({cached: false, sha256: sha(ref), size: ref.length})
    expect(readdirSync(join(cacheDir, 'packages'))).toEqual([]) // the package is deleted once the image is out
    served.length = 0
    expect(await fetchKernelImage(full, entry, {cacheDir, mirror: `${base}/${repo}`})).toMatchObject({cached: true, path: got.path})
    expect(served).toEqual([])
    // a member that is not the recorded image: IMAGE_CHECKSUM, nothing cached
    const img = entry.source.image!
    const other = {...entry, source: {...entry.source, image: {...img, memberSha256: '0'.repeat(64)}}}
    const cache2 = mkdtempSync(join(work, 'images-'))
    await expect(fetchKernelImage(full, other, {cacheDir: cache2, mirror: `${base}/${repo}`})).rejects.toMatchObject({code: 'IMAGE_CHECKSUM'})
    expect(filesUnder(cache2)).toEqual([])
  })
})

describe('--shard I/N', () => {
  const SYNCS = [
    {repo: 'el7', distro: 'centos', version: '7'},
    {repo: 'el8', distro: 'almalinux', version: '8'},
    {repo: 'fc39', distro: 'fedora', version: '39'},
  ]
  /** The rule, from its definition (shard.ts): sha256(key)'s first 4 bytes, big-endian, mod N, plus one. */
  const shardByRule = (key: string, n: number): number => (createHash('sha256').update(key).digest().readUInt32BE(0) % n) + 1

  it("filelists.xml, which sharding reads, lists each package's files as rpm -qlp does", async (ctx) => {
    if (!tools || skip) return ctx.skip()
    let ghostsSeen = 0
    for (const repo of ['el7', 'el8', 'fc39']) {
      const cache = mkdtempSync(join(work, 'fl-'))
      const index = await fetchRepoIndex(`${base}/${repo}`, cache, () => true)
      const lists = await fetchRepoFilelists(`${base}/${repo}`, index.repomd, cache, () => true)
      for (const p of index.packages) {
        const file = Object.values(rpms).find((f) => f.endsWith(`/${p.name}-${p.version}-${p.release}.${p.arch}.rpm`))!
        const want = rpmQuery(file, '[%{FILENAMES}\n]').split('\n').filter(Boolean).sort()
        expect((lists.get(p.checksum.value) ?? []).map((f) => f.path).sort(), `${repo} ${p.name}`).toEqual(want)
        // the ghost, where there is one, is marked
        const ghosts = rpmQuery(file, '[%{FILENAMES} %{FILEFLAGS:fflags}\n]').split('\n').filter((l) => / \S*g\S*$/.test(l)).map((l) => l.split(' ')[0])
        expect((lists.get(p.checksum.value) ?? []).filter((f) => f.type === 'ghost').map((f) => f.path).sort()).toEqual(ghosts.sort())
        ghostsSeen += ghosts.length
      }
    }
    expect(ghostsSeen).toBe(1) // el8's /boot/vmlinuz-R
  })

  it('shards 1/2 and 2/2 of each repository merge into the unsharded archive (BTF byte for byte, module BTF the same bytes); a shard downloads only its kernels', async (ctx) => {
    if (!tools || skip || !full) return ctx.skip()
    const keyOf = (s: (typeof SYNCS)[number]): string => `${s.distro}/${s.version}/x86_64/${RELEASE}`
    const shardOfRepo = new Map(SYNCS.map((s) => [s.repo, shardByRule(keyOf(s), 2)]))
    expect(new Set(shardOfRepo.values())).toEqual(new Set([1, 2])) // the distros were chosen so that both shards hold kernels
    const dirs = [fresh(), fresh()]
    for (const i of [1, 2]) {
      for (const s of SYNCS) {
        served.length = 0
        const r = await syncRpm(dirs[i - 1]!, {repo: `${base}/${s.repo}`, distro: s.distro, version: s.version, shard: {index: i, count: 2}, retryDelayMs: 10})
        expect(r.failed).toEqual([])
        const mine = shardOfRepo.get(s.repo) === i
        expect(r.added.map((a) => a.release), `${s.repo} shard ${i}`).toEqual(mine ? [RELEASE] : [])
        expect(served.filter((p) => p.endsWith('.rpm')).length > 0, `${s.repo} shard ${i} downloads`).toBe(mine)
      }
    }
    const out = fresh()
    const m = await mergeArchives(out, dirs)
    expect(m.added.length).toBe(SYNCS.length)
    // where module BTF (and with it vmlinux) sits in the pack differs (the unsharded archive's
    // three syncs wrote three segments, the merge one): compare everything else, whether a
    // kernel has a group in the pack, and the module bytes themselves
    const strip = (root: string): unknown =>
      readManifest(root).kernels.map((k) => ({...k, added: undefined, modules: k.modules && {...k.modules, path: undefined, unit: undefined}, vmlinux: k.vmlinux && 'in the pack'}))
    expect(strip(out)).toEqual(strip(full))
    const outKernels = readManifest(out).kernels
    for (const k of readManifest(full).kernels) {
      if (k.path) expect([k.path, sha(readFileSync(join(out, k.path)))]).toEqual([k.path, sha(readFileSync(join(full, k.path)))])
      const o = outKernels.find((x) => kernelKey(x) === kernelKey(k))!
      if (k.modules?.path) expect([...(await readModuleBtfs(out, o))]).toEqual([...(await readModuleBtfs(full, k))])
    }
  }, 600_000)

  it('through the CLI: a dry run of a shard plans only its kernels; a bad spec is SHARD_BAD_SPEC', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
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
    for (const i of [1, 2]) {
      const r = await cli(['archive', 'sync', 'rpm', '--repo', `${base}/el7`, '--distro', 'centos', '--version', '7', '--shard', `${i}/2`, '--dry-run', '--json', '--archive', root])
      expect(r.status, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).planned.map((p: {package: string}) => p.package)).toEqual(shardByRule(`centos/7/x86_64/${RELEASE}`, 2) === i ? ['kernel'] : [])
    }
    const bad = await cli(['archive', 'sync', 'rpm', '--repo', `${base}/el7`, '--distro', 'centos', '--version', '7', '--shard', '3/2', '--archive', root])
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('SHARD_BAD_SPEC')
    expect(filesUnder(root)).toEqual([])
  })
})

describe('package selection', () => {
  it('takes kernel-core (not the kernel meta package) with its module packages; never kernel-tools', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
    const el8 = await syncRpm(root, {repo: `${base}/el8`, distro: 'almalinux', version: '8', dryRun: true})
    expect(el8.planned.map((p) => [p.package, p.version, p.modulePackages])).toEqual([['kernel-core', '6.1.192-2.el8', ['kernel-modules-6.1.192-2.el8.x86_64']]])
    const fc = await syncRpm(root, {repo: `${base}/fc39`, distro: 'fedora', version: '39', dryRun: true})
    expect(fc.planned[0]!.modulePackages).toEqual(['kernel-modules-core-6.1.192-2.fc39.x86_64', 'kernel-modules-6.1.192-2.fc39.x86_64'])
    const el7 = await syncRpm(root, {repo: `${base}/el7`, distro: 'rhel', version: '7', dryRun: true, arches: ['x86_64']})
    expect(el7.planned.map((p) => p.package)).toEqual(['kernel'])
    expect(filesUnder(root)).toEqual([])
  })

  it('--newest keeps the highest epoch:version-release of each package and arch (rpm order)', () => {
    const p = (name: string, version: string, release: string, arch = 'x86_64', epoch = 0): RepoPackage => ({
      name, arch, epoch, version, release, evr: `${epoch ? `${epoch}:` : ''}${version}-${release}`,
      checksum: {type: 'sha256', value: ''}, size: 1, href: `Packages/${name}-${version}-${release}.${arch}.rpm`,
    })
    const pkgs = [
      p('kernel', '5.14.0', '362.8.1.el9_3'), p('kernel-core', '5.14.0', '362.8.1.el9_3'), p('kernel-core', '5.14.0', '362.24.1.el9_3'),
      p('kernel-core', '5.14.0', '70.13.1.el9_0'), p('kernel-modules', '5.14.0', '362.24.1.el9_3'), p('kernel-core', '5.14.0', '362.24.1.el9_3', 'aarch64'),
      p('kernel-64k-core', '5.14.0', '362.24.1.el9_3', 'aarch64'), p('kernel-64k-modules', '5.14.0', '362.24.1.el9_3', 'aarch64'),
      p('kernel-devel', '5.14.0', '362.24.1.el9_3'), p('kernel-headers', '5.14.0', '362.24.1.el9_3'), p('kernel-debug-core', '5.14.0', '362.24.1.el9_3'),
    ]
    const got = kernelBuilds(pkgs, {newest: true}).map((b) => `${b.image.name}-${b.image.evr}.${b.image.arch} [${b.modules.map((m) => m.name).join(',')}]`)
    expect(got).toEqual([
      'kernel-64k-core-5.14.0-362.24.1.el9_3.aarch64 [kernel-64k-modules]',
      'kernel-core-5.14.0-362.24.1.el9_3.aarch64 []',
      'kernel-core-5.14.0-362.24.1.el9_3.x86_64 [kernel-modules]',
      'kernel-debug-core-5.14.0-362.24.1.el9_3.x86_64 []',
    ])
  })
})

describe('kernel package layouts', () => {
  const file = (path: string, o: {ghost?: boolean; mode?: number} = {}) => ({path, size: 1, mode: o.mode ?? 0o100644, digest: '', linkTo: '', ghost: o.ghost ?? false})
  const R = '5.14.21-150500.55.19-default'
  it('finds the image where each family puts it, never a ghost, a compressed copy or an hmac', () => {
    // SUSE kernel-default: /boot/vmlinuz-R beside /boot/vmlinux-R.gz and the .hmac
    expect(rpmKernelImage({files: [file(`boot/.vmlinuz-${R}.hmac`), file(`boot/System.map-${R}`), file(`boot/config-${R}`), file(`boot/vmlinux-${R}.gz`), file(`boot/vmlinuz-${R}`)]})).toEqual({path: `boot/vmlinuz-${R}`, release: R})
    // SUSE aarch64: /boot/Image-R
    expect(rpmKernelImage({files: [file(`boot/Image-${R}`), file(`boot/vmlinux-${R}.gz`)]})).toEqual({path: `boot/Image-${R}`, release: R})
    // RHEL 8+: lib/modules/R/vmlinuz; /boot/vmlinuz-R is a ghost
    const el = '4.18.0-513.5.1.el8_9.x86_64'
    expect(rpmKernelImage({files: [file(`boot/vmlinuz-${el}`, {ghost: true}), file(`lib/modules/${el}/.vmlinuz.hmac`), file(`lib/modules/${el}/config`), file(`lib/modules/${el}/vmlinuz`)]})).toEqual({path: `lib/modules/${el}/vmlinuz`, release: el})
    // usrmerged: usr/lib/modules/R/vmlinuz
    expect(rpmKernelImage({files: [file(`usr/lib/modules/${R}/vmlinuz`)]})).toEqual({path: `usr/lib/modules/${R}/vmlinuz`, release: R})
    // the kernel meta package: nothing; a symlink is not the image
    expect(rpmKernelImage({files: []})).toBeUndefined()
    expect(rpmKernelImage({files: [file(`boot/vmlinuz-${R}`, {mode: 0o120777})]})).toBeUndefined()
  })
  it('infers the distro and version where the release says them', () => {
    expect(rpmDistroOf('5.14.0-362.8.1.el9_3.x86_64')).toEqual({version: '9'})
    expect(rpmDistroOf('6.5.6-300.fc39.x86_64')).toEqual({distro: 'fedora', version: '39'})
    expect(rpmDistroOf('6.1.61-85.141.amzn2023.x86_64')).toEqual({distro: 'amzn', version: '2023'})
    expect(rpmDistroOf('4.14.336-257.562.amzn2.aarch64')).toEqual({distro: 'amzn', version: '2'})
    expect(rpmDistroOf('5.15.0-200.131.27.el8uek.x86_64')).toEqual({distro: 'ol', version: '8'})
    expect(rpmDistroOf('5.10.0-60.18.0.50.oe2203.x86_64')).toEqual({distro: 'openeuler', version: '22.03'})
    expect(rpmDistroOf(R)).toEqual({})
  })
})

describe('bad repositories and packages', () => {
  it('a repomd.xml whose primary checksum is wrong is RPM_REPO_CHECKSUM, nothing written', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
    lies.set('/el8/repodata/repomd.xml', (res, body) => {
      const xml = body.toString().replace(/(<data type="primary">\s*<checksum type="sha256">)([0-9a-f])/, (_, a: string, c: string) => `${a}${c === '0' ? '1' : '0'}`)
      res.writeHead(200, {'content-length': Buffer.byteLength(xml)}).end(xml)
    })
    try {
      await expect(syncRpm(root, {repo: `${base}/el8`, distro: 'almalinux', version: '8', retryDelayMs: 1})).rejects.toMatchObject({code: 'RPM_REPO_CHECKSUM'})
    } finally {
      lies.clear()
    }
    expect(filesUnder(root)).toEqual([])
  })

  it('a package that does not match primary.xml is DOWNLOAD_CHECKSUM, nothing written', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
    const path = `/el8/Packages/${rpms.el8!.split('/').pop()}`
    // the right size, one byte changed: only the sha256 tells
    lies.set(path, (res, body) => {
      const other = Buffer.from(body)
      other[other.length >> 1] ^= 1
      res.writeHead(200, {'content-length': other.length}).end(other)
    })
    try {
      const r = await syncRpm(root, {repo: `${base}/el8`, distro: 'almalinux', version: '8', retryDelayMs: 1})
      expect(r.failed.map((f) => f.code)).toEqual(['DOWNLOAD_CHECKSUM'])
    } finally {
      lies.clear()
    }
    expect(filesUnder(root)).toEqual([])
  })

  it('a server that lies about sizes (cuts the body short, or sends more than primary.xml says) fails cleanly', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const path = `/el8/Packages/${rpms.el8mods!.split('/').pop()}`
    for (const lie of ['short', 'long'] as const) {
      const root = fresh()
      lies.set(path, (res, body) => {
        if (lie === 'short') {
          // claims the full length, sends half, closes
          res.writeHead(200, {'content-length': body.length})
          res.write(body.subarray(0, body.length >> 1))
          res.destroy()
        } else {
          const more = Buffer.concat([body, Buffer.alloc(4096)])
          res.writeHead(200, {'content-length': more.length}).end(more)
        }
      })
      try {
        const r = await syncRpm(root, {repo: `${base}/el8`, distro: 'almalinux', version: '8', retryDelayMs: 1})
        expect(r.added).toEqual([])
        expect(r.failed.map((f) => f.code), lie).toEqual([lie === 'short' ? expect.stringMatching(/^DOWNLOAD_(NETWORK|SHORT)$/) : expect.stringMatching(/^DOWNLOAD_(SHORT|CHECKSUM)$/)])
      } finally {
        lies.clear()
      }
      expect(filesUnder(root), lie).toEqual([])
    }
  })

  it('a truncated package given to archive add is RPM_TRUNCATED, the archive unchanged', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
    const cut = join(work, 'cut.rpm')
    copyFileSync(rpms.el7!, cut)
    truncateSync(cut, statSync(cut).size - 100_000)
    await expect(addKernelRpm(root, cut, [], {distro: 'rhel', version: '7'})).rejects.toMatchObject({code: 'RPM_TRUNCATED'})
    expect(filesUnder(root)).toEqual([])
  })
})

describe('the CLI', () => {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
  // asynchronous: the loopback server runs in this process and must keep answering
  const cli = (args: string[]): Promise<{status: number | null; stdout: string; stderr: string}> =>
    new Promise((resolve) => {
      const c = spawn(bin, args)
      let stdout = ''
      let stderr = ''
      c.stdout.on('data', (d: Buffer) => (stdout += d))
      c.stderr.on('data', (d: Buffer) => (stderr += d))
      c.on('close', (status) => resolve({status, stdout, stderr}))
    })
  it('archive sync rpm --dry-run --json lists the plan; archive add --rpm adds one package', async (ctx) => {
    if (!tools || skip) return ctx.skip()
    const root = fresh()
    const dry = await cli(['archive', 'sync', 'rpm', '--repo', `${base}/fc39`, '--distro', 'fedora', '--version', '39', '--dry-run', '--json', '--archive', root])
    expect(dry.status, dry.stderr).toBe(0)
    expect(JSON.parse(dry.stdout).planned.map((p: {package: string}) => p.package)).toEqual(['kernel-core'])
    const add = await cli(['archive', 'add', '--rpm', rpms.el7!, '--distro', 'centos', '--os-version', '7', '--no-modules', '--json', '--archive', root])
    expect(add.status, add.stderr).toBe(0)
    expect(JSON.parse(add.stdout)).toMatchObject({distro: 'centos', version: '7', release: RELEASE, path: `centos/7/x86_64/${RELEASE}.btf.tar.xz`})
    const bad = await cli(['archive', 'sync', 'rpm', '--repo', `${base}/fc39`, '--distro', 'debian', '--version', '39', '--archive', root])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('ARCHIVE_UNKNOWN_DISTRO')
  })
})
