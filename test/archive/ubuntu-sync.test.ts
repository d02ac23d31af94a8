/**
 * `archive sync ubuntu`, shards and `archive merge`, end to end against an Ubuntu-style
 * repository served on loopback, built from a REAL Debian kernel package
 * (linux-image-6.1.0-N-cloud-amd64, fetched by scripts/fetch-debs.sh with apt-get download)
 * repackaged the way Ubuntu splits a kernel, with dpkg-deb:
 *
 * - linux-image-unsigned-<R>: the real /boot/vmlinuz;
 * - linux-modules-<R>: the real /boot/config and the real modules outside drivers/;
 * - linux-modules-extra-<R>: the real modules under drivers/;
 * - and, for a kernel built without BTF, a dbgsym .ddeb in a separate ddebs repository
 *   (its vmlinux is an object compiled here with -g: Debian's real debug package is
 *   ~1 GiB) beside an image without BTF.
 *
 * The modules' vermagic names the Debian release; Ubuntu's release strings differ, so each
 * module's `vermagic=` string in .modinfo is rewritten in place (same length, padded with
 * spaces) — the .BTF sections are untouched. Packages, Release and InRelease are made
 * by apt-ftparchive, dpkg-scanpackages (the .ddeb index) and gpg (clearsigning), at
 * Ubuntu's paths (pool/main/l/linux/…, dists/jammy-updates/main/binary-amd64/Packages.xz).
 *
 * Oracles: the kernel BTF is the .BTF section llvm-objcopy dumps from the vmlinux that
 * the system decompressor (lz4/zstd/gzip/xz, as scripts/extract-vmlinux does) takes out
 * of the real vmlinuz; module BTF is each module file's .BTF at the offset and size
 * llvm-readelf gives;
 * generated BTF is pahole's own output on the dbgsym's vmlinux; config facts are grepped
 * from the config file; Ubuntu's series table is distro-info-data's ubuntu.csv.
 */
import {execFile, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import {homedir, tmpdir} from 'node:os'
import {basename, join, relative} from 'node:path'
import {gzipSync} from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {addKernel, readKernelBtf} from '../../src/archive/archive.js'
import {parseReleaseFile, stripClearsign} from '../../src/archive/apt-repo.js'
import {readManifest} from '../../src/archive/manifest.js'
import {mergeArchives} from '../../src/archive/merge.js'
import {readModuleBtfs} from '../../src/archive/modules.js'
import {parseShard, shardOf} from '../../src/archive/shard.js'
import {syncUbuntu} from '../../src/archive/ubuntu-sync.js'
import {UBUNTU_SERIES, ubuntuKernels, ubuntuVersionOfSuite} from '../../src/archive/ubuntu.js'
import {KcompatError} from '../../src/errors.js'
import {requireTool, run} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const CACHE = process.env.KCOMPAT_TEST_CACHE ?? join(homedir(), '.cache', 'kcompat-test')
const DEBS = join(CACHE, 'debs')
const FETCH = join(import.meta.dirname, '..', '..', 'scripts', 'fetch-debs.sh')
const DEB_NAME = /^linux-image-6\.1\.0-\d+-cloud-amd64_.*_amd64\.deb$/

/** The cached real package; fetched (apt-get download) under CI or KCOMPAT_TEST_DOWNLOAD=1. */
function realDeb(): string | undefined {
  const find = (): string | undefined => {
    if (!existsSync(DEBS)) return undefined
    const hits = readdirSync(DEBS).filter((f) => DEB_NAME.test(f)).sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))
    return hits.length ? join(DEBS, hits[hits.length - 1]!) : undefined
  }
  let deb = find()
  if (!deb && (process.env.CI === 'true' || process.env.KCOMPAT_TEST_DOWNLOAD === '1')) {
    const r = spawnSync('bash', [FETCH, 'amd64'], {encoding: 'utf8', env: {...process.env, KCOMPAT_TEST_CACHE: CACHE}})
    if (r.status !== 0) console.warn(`scripts/fetch-debs.sh amd64 failed:\n${r.stderr}`)
    deb = find()
  }
  if (!deb) {
    const msg = `skipping the Ubuntu loopback repository: no package matching ${DEB_NAME} in ${DEBS} (run scripts/fetch-debs.sh amd64, or set KCOMPAT_TEST_DOWNLOAD=1)`
    if (process.env.CI === 'true') throw new Error(msg)
    console.warn(msg)
  }
  return deb
}

const why = 'the Ubuntu loopback repository'
const tools = ['dpkg-deb', 'apt-ftparchive', 'dpkg-scanpackages', 'llvm-objcopy', 'llvm-readelf', 'clang', 'pahole', 'xz', 'lz4', 'gpg'].every((t) => requireTool(t, why))
const DEB = tools ? realDeb() : undefined
const SUITE = 'jammy-updates'

/** Runs a tool in a directory (index paths are relative to the repository root); stdout, or throws with stderr. */
function runIn(cwd: string, cmd: string, args: string[]): Buffer {
  const r = spawnSync(cmd, args, {cwd, maxBuffer: 1 << 28})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('Ubuntu suites, Release files and shards (pure)', () => {
  it("the series table agrees with distro-info-data's ubuntu.csv", () => {
    const csv = '/usr/share/distro-info/ubuntu.csv'
    if (!existsSync(csv)) {
      if (process.env.CI === 'true') throw new Error(`${csv} missing (CI installs distro-info-data)`)
      return void console.warn(`skipping the series table check: ${csv} is not installed (package distro-info-data)`)
    }
    const rows = new Map(readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')).map((c) => [c[2]!, c[0]!.replace(/ LTS$/, '')]))
    for (const [series, version] of Object.entries(UBUNTU_SERIES)) expect([series, rows.get(series)]).toEqual([series, version])
    expect(ubuntuVersionOfSuite('jammy-security')).toBe('22.04')
    expect(() => ubuntuVersionOfSuite('bookworm')).toThrow(expect.objectContaining({code: 'UBUNTU_UNKNOWN_SUITE'}))
  })

  it('InRelease: the clearsign armor is dropped and dash-escaped lines restored; a Release without SHA256 is refused', () => {
    const body = `Suite: jammy-updates\nSHA256:\n ${'a'.repeat(64)} 12 main/binary-amd64/Packages.xz\n`
    const signed = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${body.replace('Suite', '- Suite')}\n-----BEGIN PGP SIGNATURE-----\n\nxyz\n-----END PGP SIGNATURE-----\n`
    expect(stripClearsign(signed).trim()).toBe(body.trim())
    const r = parseReleaseFile(signed, 'InRelease')
    expect(r.fields.Suite).toBe('jammy-updates')
    expect(r.sha256.get('main/binary-amd64/Packages.xz')).toEqual({sha256: 'a'.repeat(64), size: 12})
    expect(() => parseReleaseFile('Suite: x\n')).toThrow(expect.objectContaining({code: 'REPO_BAD_RELEASE'}))
  })

  it('--shard I/N: parsed strictly; every key falls in exactly one shard, always the same', () => {
    expect(parseShard('2/8')).toEqual({index: 2, count: 8})
    for (const bad of ['0/2', '3/2', '1', 'a/b', '1/0']) expect(() => parseShard(bad)).toThrow(expect.objectContaining({code: 'SHARD_BAD_SPEC'}))
    const keys = Array.from({length: 200}, (_, i) => `ubuntu/22.04/x86_64/5.15.0-${i}-generic`)
    const counts = [0, 0, 0, 0]
    for (const k of keys) counts[shardOf(k, 4) - 1]!++
    expect(counts.reduce((a, b) => a + b)).toBe(200)
    expect(Math.min(...counts)).toBeGreaterThan(20) // spread, not all in one
    // the documented rule, computed with the sha256 tool
    const k = keys[7]!
    const hex = run('sha256sum', [], {input: Buffer.from(k)}).toString().slice(0, 8)
    expect(shardOf(k, 4)).toBe((parseInt(hex, 16) % 4) + 1)
  })

  it('kernels of an index: unsigned image preferred, modules packages paired by version, meta and dbgsym ignored, HWE from Source', () => {
    const st = (pkg: string, source = 'linux', version = '6.8.0-49.49~22.04.1') =>
      ({package: pkg, version, architecture: 'amd64', filename: `pool/main/l/${source}/${pkg}.deb`, size: 1, sha256: '0'.repeat(64), source, fields: {}})
    const ks = ubuntuKernels([
      st('linux-image-6.8.0-49-generic', 'linux-signed-hwe-6.8'),
      st('linux-image-unsigned-6.8.0-49-generic', 'linux-hwe-6.8'),
      st('linux-modules-6.8.0-49-generic', 'linux-hwe-6.8'),
      st('linux-modules-extra-6.8.0-49-generic', 'linux-hwe-6.8', '6.8.0-49.49~22.04.0'),
      st('linux-image-unsigned-6.8.0-49-generic-dbgsym', 'linux-hwe-6.8'),
      st('linux-image-generic-hwe-22.04', 'linux-meta-hwe-6.8', '6.8.0.49.49~22.04.1'),
      st('linux-image-unsigned-6.8.0-060800-generic', 'linux-mainline'), // a mainline build, not an Ubuntu kernel
    ])
    expect(ks).toHaveLength(1)
    expect(ks[0]).toMatchObject({release: '6.8.0-49-generic', series: '6.8', flavor: 'generic', hwe: true, image: {package: 'linux-image-unsigned-6.8.0-49-generic'}, modules: {package: 'linux-modules-6.8.0-49-generic'}})
    expect(ks[0]!.modulesExtra).toBeUndefined() // another version
  })
})

interface UKernel {
  release: string
  version: string
  source: string
  /** Which real modules go where: linux-modules keeps those `keep` accepts, extra the rest under drivers/. */
  modules: 'all' | 'netfilter' | 'none'
  btf: boolean
}

// Three Ubuntu kernels made of the one real Debian kernel (and one without BTF)
const KERNELS: UKernel[] = [
  {release: '6.1.0-56-generic', version: '6.1.0-56.56', source: 'linux', modules: 'all', btf: true},
  {release: '6.1.0-1056-aws', version: '6.1.0-1056.56', source: 'linux-aws', modules: 'netfilter', btf: true},
  {release: '6.1.0-57-lowlatency', version: '6.1.0-57.57', source: 'linux-lowlatency', modules: 'none', btf: false},
]

describe.skipIf(!DEB)('archive sync ubuntu (loopback repository from a real kernel)', () => {
  const work = mkdtempSync(join(tmpdir(), 'kcompat-ubuntu-'))
  const site = join(work, 'site')
  const repo = join(site, 'ubuntu')
  const ddebs = join(site, 'ddebs')
  let server: Server
  let url = ''
  const hits = new Map<string, number>()
  let debRelease = ''
  let vmlinuz: Buffer
  let config: string
  let vmlinuxBtf: Buffer
  let dbgVmlinux = ''
  /** Module file (as packaged) → [kernel release, file path on disk]. */
  const moduleFiles = new Map<string, string[]>()
  let full = '' // the unsharded archive

  /** Rewrites `vermagic=<debian release> …` in a module's .modinfo to name `release`, keeping the length. */
  const patchVermagic = (ko: Buffer, from: string, to: string): Buffer => {
    const at = ko.indexOf(`vermagic=${from} `)
    if (at < 0) return ko
    const end = ko.indexOf(0, at)
    const old = ko.subarray(at, end).toString('latin1')
    const now = old.replace(from, to)
    const out = Buffer.from(ko)
    out.write(now.padEnd(old.length, ' '), at, 'latin1')
    return out
  }

  const control = (pkg: string, k: UKernel, extra = ''): string =>
    `Package: ${pkg}\nVersion: ${k.version}\nArchitecture: amd64\nMaintainer: test <test@localhost>\nSource: ${k.source}\nSection: kernel\nPriority: optional\n${extra}Description: Linux kernel for testing\n`

  const build = (name: string, root: string, ext = 'deb', dest = join(repo, 'pool/main/l', KERNELS[0]!.source)): string => {
    mkdirSync(dest, {recursive: true})
    const out = join(dest, `${name}.${ext}`)
    run('dpkg-deb', ['-Zzstd', '--root-owner-group', '--build', root, out])
    return out
  }

  beforeAll(async () => {
    // the real package, unpacked
    const orig = join(work, 'orig')
    run('dpkg-deb', ['-x', DEB!, orig])
    debRelease = readdirSync(join(orig, 'lib/modules'))[0]!
    vmlinuz = readFileSync(join(orig, 'boot', `vmlinuz-${debRelease}`))
    config = readFileSync(join(orig, 'boot', `config-${debRelease}`), 'utf8')
    const koAll: string[] = []
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const p = join(d, n)
        if (statSync(p).isDirectory()) walk(p)
        else if (n.endsWith('.ko')) koAll.push(relative(join(orig, 'lib/modules', debRelease), p))
      }
    }
    walk(join(orig, 'lib/modules', debRelease))
    koAll.sort()

    for (const k of KERNELS) {
      const pool = join(repo, 'pool/main/l', k.source)
      // linux-image-unsigned-<R>
      const img = join(work, `img-${k.release}`)
      mkdirSync(join(img, 'DEBIAN'), {recursive: true})
      mkdirSync(join(img, 'boot'), {recursive: true})
      writeFileSync(join(img, 'DEBIAN/control'), control(`linux-image-unsigned-${k.release}`, k))
      let kcfg = config
      if (k.btf) writeFileSync(join(img, 'boot', `vmlinuz-${k.release}`), vmlinuz)
      else {
        // a kernel built without BTF: an object without .BTF stands in for its image, its dbgsym holds the -g build
        const c = join(work, 'k.c')
        writeFileSync(c, 'struct sk_buff { unsigned int len; void *data; };\nint xmit(struct sk_buff *skb) { return (int)skb->len; }\n')
        run('clang', ['-c', '-target', 'x86_64-linux-gnu', c, '-o', join(work, 'k-stripped.o')])
        run('clang', ['-g', '-O0', '-c', '-target', 'x86_64-linux-gnu', c, '-o', join(work, 'k.o')])
        writeFileSync(join(img, 'boot', `vmlinuz-${k.release}`), gzipSync(readFileSync(join(work, 'k-stripped.o'))))
        kcfg = config.replace(/^CONFIG_DEBUG_INFO_BTF=y$/m, '# CONFIG_DEBUG_INFO_BTF is not set').replace(/^CONFIG_DEBUG_INFO_BTF_MODULES=y$/m, '')
        const dbg = join(work, `dbg-${k.release}`)
        mkdirSync(join(dbg, 'DEBIAN'), {recursive: true})
        mkdirSync(join(dbg, 'usr/lib/debug/boot'), {recursive: true})
        writeFileSync(join(dbg, 'DEBIAN/control'), control(`linux-image-unsigned-${k.release}-dbgsym`, k, 'Package-Type: ddeb\n'))
        dbgVmlinux = join(dbg, 'usr/lib/debug/boot', `vmlinux-${k.release}`)
        writeFileSync(dbgVmlinux, readFileSync(join(work, 'k.o')))
        build(`linux-image-unsigned-${k.release}-dbgsym_${k.version}_amd64`, dbg, 'ddeb', join(ddebs, 'pool/main/l', k.source))
      }
      build(`linux-image-unsigned-${k.release}_${k.version}_amd64`, img, 'deb', pool)
      // linux-modules-<R> (config + modules outside drivers/), linux-modules-extra-<R> (drivers/)
      const mods = join(work, `mods-${k.release}`)
      const extra = join(work, `extra-${k.release}`)
      for (const r of [mods, extra]) mkdirSync(join(r, 'DEBIAN'), {recursive: true})
      mkdirSync(join(mods, 'boot'), {recursive: true})
      writeFileSync(join(mods, 'boot', `config-${k.release}`), kcfg)
      writeFileSync(join(mods, 'DEBIAN/control'), control(`linux-modules-${k.release}`, k))
      writeFileSync(join(extra, 'DEBIAN/control'), control(`linux-modules-extra-${k.release}`, k))
      const chosen = k.modules === 'all' ? koAll : k.modules === 'netfilter' ? koAll.filter((p) => p.startsWith('kernel/net/netfilter/')) : []
      const files: string[] = []
      for (const rel of chosen) {
        const into = k.modules === 'all' && rel.startsWith('kernel/drivers/') ? extra : mods
        const dest = join(into, 'lib/modules', k.release, rel)
        mkdirSync(join(dest, '..'), {recursive: true})
        writeFileSync(dest, patchVermagic(readFileSync(join(orig, 'lib/modules', debRelease, rel)), debRelease, k.release))
        files.push(dest)
      }
      moduleFiles.set(k.release, files)
      build(`linux-modules-${k.release}_${k.version}_amd64`, mods, 'deb', pool)
      if (k.modules === 'all') build(`linux-modules-extra-${k.release}_${k.version}_amd64`, extra, 'deb', pool)
    }
    // a meta package, which is not a kernel
    const meta = join(work, 'meta')
    mkdirSync(join(meta, 'DEBIAN'), {recursive: true})
    writeFileSync(join(meta, 'DEBIAN/control'), control('linux-image-generic', {...KERNELS[0]!, version: '6.1.0.56.56'}, `Depends: linux-image-unsigned-${KERNELS[0]!.release}\n`))
    build('linux-image-generic_6.1.0.56.56_amd64', meta, 'deb', join(repo, 'pool/main/l/linux-meta'))

    // indices and Release files, as Ubuntu's: apt-ftparchive (debs), dpkg-scanpackages (ddebs), gpg clearsign
    const gnupg = mkdtempSync(join(work, 'gnupg-'))
    const env = {...process.env, GNUPGHOME: gnupg}
    const gpg = (args: string[]): void => {
      const r = spawnSync('gpg', ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {env})
      if (r.status !== 0) throw new Error(`gpg ${args.join(' ')}: ${r.stderr}`)
    }
    gpg(['--quick-gen-key', 'kcompat test repository <test@localhost>', 'ed25519', 'sign', 'never'])
    for (const [root, scan] of [[repo, 'apt-ftparchive'], [ddebs, 'dpkg-scanpackages']] as const) {
      const dir = join(root, 'dists', SUITE, 'main/binary-amd64')
      mkdirSync(dir, {recursive: true})
      const packages = scan === 'apt-ftparchive' ? runIn(root, 'apt-ftparchive', ['packages', 'pool/main']) : runIn(root, 'dpkg-scanpackages', ['-t', 'ddeb', '-m', 'pool/main'])
      writeFileSync(join(dir, 'Packages'), packages)
      run('xz', ['-k', '-f', join(dir, 'Packages')])
      writeFileSync(join(dir, 'Packages.gz'), gzipSync(packages))
      const rel = run('apt-ftparchive', ['-o', `APT::FTPArchive::Release::Suite=${SUITE}`, '-o', 'APT::FTPArchive::Release::Codename=jammy', '-o', 'APT::FTPArchive::Release::Architectures=amd64', '-o', 'APT::FTPArchive::Release::Components=main', 'release', join(root, 'dists', SUITE)])
      writeFileSync(join(root, 'dists', SUITE, 'Release'), rel)
      gpg(['--clearsign', '-o', join(root, 'dists', SUITE, 'InRelease'), join(root, 'dists', SUITE, 'Release')])
    }
    // a suite whose Release lies about its Packages.xz (right size, wrong sha256)
    const bad = join(repo, 'dists', 'jammy-security')
    cpSync(join(repo, 'dists', SUITE), bad, {recursive: true})
    rmSync(join(bad, 'InRelease'))
    const xzSum = sha(readFileSync(join(bad, 'main/binary-amd64/Packages.xz')))
    writeFileSync(join(bad, 'Release'), readFileSync(join(bad, 'Release'), 'utf8').replaceAll(xzSum, 'f'.repeat(64)))

    server = createServer((req, res) => {
      const path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
      hits.set(path, (hits.get(path) ?? 0) + 1)
      let body: Buffer
      try {
        body = readFileSync(join(site, path))
      } catch {
        return void res.writeHead(404).end()
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
      if (range) {
        const from = Number(range[1])
        res.writeHead(206, {'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`})
        return void res.end(body.subarray(from))
      }
      res.writeHead(200, {'content-length': body.length}).end(body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as {port: number}).port}`

    // the oracle for the kernel BTF: decompress the real vmlinuz as scripts/extract-vmlinux does, dump .BTF
    const ORACLE = String.raw`
      set -euo pipefail
      img=$1; out=$2; work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
      for spec in "1f8b08:gzip -dc" "fd377a585a00:xz -dc" "28b52ffd:zstd -dc" "02214c18:lz4 -dc"; do
        magic=$(echo "$${'{'}spec%%:*}" | sed 's/../\\x&/g'); cmd=$${'{'}spec#*:}
        for off in $(LC_ALL=C grep -obUaP "$magic" "$img" | cut -d: -f1); do
          tail -c +$((off + 1)) "$img" | $cmd > "$work/vmlinux" 2>/dev/null || true
          if [[ "$(od -An -tx1 -N4 "$work/vmlinux" | tr -d ' ')" == 7f454c46 ]] && llvm-objcopy --dump-section ".BTF=$out" "$work/vmlinux" 2>/dev/null; then exit 0; fi
        done
      done
      exit 1`
    const vmz = join(work, 'vmlinuz')
    writeFileSync(vmz, vmlinuz)
    const r = spawnSync('bash', ['-c', ORACLE, 'oracle', vmz, join(work, 'vmlinux.btf')], {encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`the extract-vmlinux oracle failed: ${r.stderr}`)
    vmlinuxBtf = readFileSync(join(work, 'vmlinux.btf'))
  }, 600_000)
  afterAll(() => {
    server?.close()
    rmSync(work, {recursive: true, force: true})
  })

  const cli = (args: string[]): Promise<{code: number; stdout: string; stderr: string}> =>
    new Promise((resolve) =>
      execFile('node', [BIN, ...args], {maxBuffer: 1 << 26, env: {...process.env, NO_COLOR: '1'}}, (e, stdout, stderr) =>
        resolve({code: e ? ((e as {code?: number}).code ?? 1) : 0, stdout, stderr}),
      ),
    )

  it('syncs every kernel: BTF = the real image\'s .BTF, module BTF = each module\'s .BTF, config from linux-modules, generated BTF = pahole\'s', async () => {
    full = mkdtempSync(join(work, 'full-'))
    const events: string[] = []
    const r = await syncUbuntu(full, {
      mirror: `${url}/ubuntu`, suite: SUITE, arches: ['amd64'], generate: true, ddebs: `${url}/ddebs`, retryDelayMs: 1,
      onEvent: (e) => events.push(e.type),
    })
    expect(r.failed).toEqual([])
    expect(r.added.map((a) => a.release).sort()).toEqual(KERNELS.map((k) => k.release).sort())
    expect(hits.get(`/ubuntu/dists/${SUITE}/InRelease`)).toBe(1) // InRelease read, its Release twin not needed
    expect(hits.get(`/ubuntu/dists/${SUITE}/Release`)).toBeUndefined()
    const m = readManifest(full)
    for (const k of KERNELS) {
      const e = m.kernels.find((x) => x.release === k.release)!
      expect(e).toMatchObject({distro: 'ubuntu', version: '22.04', arch: 'x86_64', flavor: k.release.split('-').slice(2).join('-')})
      expect(e.source.image).toMatchObject({format: 'deb', package: `linux-image-unsigned-${k.release}`, packageVersion: k.version, repo: {type: 'ubuntu', suite: SUITE, component: 'main'}, member: `boot/vmlinuz-${k.release}`})
      if (k.btf) {
        expect(e.btf).toBe('in-kernel')
        expect(Buffer.compare(Buffer.from(await readKernelBtf(full, e, {cache: false})), vmlinuxBtf)).toBe(0)
        // config facts from linux-modules' /boot/config, against grep
        for (const sym of ['CONFIG_DEBUG_INFO_BTF', 'CONFIG_DEBUG_INFO_BTF_MODULES', 'CONFIG_BPF_LSM']) {
          const line = new RegExp(`^${sym}=(.*)$`, 'm').exec(config)
          expect([sym, e.config?.[sym] ?? null]).toEqual([sym, line ? line[1]!.replace(/^"|"$/g, '') : null])
        }
      } else {
        expect(e.btf).toBe('generated')
        expect(e.source).toMatchObject({method: 'debug-info', package: `linux-image-unsigned-${k.release}-dbgsym`, packageVersion: k.version})
        const out = join(work, 'pahole.btf')
        run('pahole', [...e.source.generator!.flags, `--btf_encode_detached=${out}`, dbgVmlinux])
        expect(Buffer.compare(Buffer.from(await readKernelBtf(full, e, {cache: false})), readFileSync(out))).toBe(0)
        expect(e.config?.CONFIG_DEBUG_INFO_BTF ?? null).toBeNull()
      }
    }
    // module BTF: each module file's .BTF where llvm-readelf places it, from both packages
    for (const k of KERNELS.filter((x) => x.modules !== 'none')) {
      const e = m.kernels.find((x) => x.release === k.release)!
      // one llvm-readelf run lists every module's sections; .BTF is cut out at the offset and size it gives
      const files = moduleFiles.get(k.release)!
      const out = runIn(work, 'llvm-readelf', ['-S', '--wide', ...files]).toString()
      const want = new Map<string, Buffer>()
      for (const part of out.split(/^File: /m).slice(1)) {
        const file = part.slice(0, part.indexOf('\n')).trim()
        const sec = /\]\s+\.BTF\s+PROGBITS\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(part)
        if (!sec) continue
        const off = parseInt(sec[1]!, 16)
        want.set(basename(file, '.ko').replaceAll('-', '_'), readFileSync(file).subarray(off, off + parseInt(sec[2]!, 16)))
      }
      expect(want.size).toBeGreaterThan(0)
      const got = await readModuleBtfs(full, e)
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort())
      for (const [name, b] of want) expect([name, sha(got.get(name)!)]).toEqual([name, sha(b)])
      expect(e.modules).toMatchObject({count: want.size, withoutBtf: moduleFiles.get(k.release)!.length - want.size})
      if (k.modules === 'all') {
        // both packages contributed
        expect([...got.keys()].some((n) => moduleFiles.get(k.release)!.some((f) => f.includes('/drivers/') && basename(f, '.ko').replaceAll('-', '_') === n))).toBe(true)
        expect(got.has('nft_ct')).toBe(true)
      }
    }
    // again: nothing downloaded, all skipped
    const before = [...hits.entries()].filter(([p]) => p.includes('/pool/')).reduce((a, [, n]) => a + n, 0)
    const again = await syncUbuntu(full, {mirror: `${url}/ubuntu`, suite: SUITE, arches: ['amd64'], generate: true, ddebs: `${url}/ddebs`})
    expect(again.added).toEqual([])
    expect(again.skipped).toHaveLength(KERNELS.length)
    expect([...hits.entries()].filter(([p]) => p.includes('/pool/')).reduce((a, [, n]) => a + n, 0)).toBe(before)
  }, 600_000)

  it('two shards (--shard 1/2, 2/2 through the CLI) merge into the unsharded archive, byte for byte, and the index covers them', async () => {
    expect(full).not.toBe('')
    const keys = KERNELS.map((k) => `ubuntu/22.04/x86_64/${k.release}`)
    const shards = [1, 2].map((i) => keys.filter((k) => shardOf(k, 2) === i))
    expect(shards.every((s) => s.length > 0)).toBe(true) // the names were chosen so that both shards hold kernels
    const dirs: string[] = []
    for (const i of [1, 2]) {
      const dir = join(work, `shard-${i}`)
      dirs.push(dir)
      const r = await cli(['archive', 'sync', 'ubuntu', '--suite', SUITE, '--arch', 'amd64', '--mirror', `${url}/ubuntu`, '--ddebs', `${url}/ddebs`, '--generate', '--shard', `${i}/2`, '--archive', dir, '--json'])
      expect(r.code, r.stderr).toBe(0)
      const out = JSON.parse(r.stdout) as {added: {release: string}[]}
      expect(out.added.map((a) => `ubuntu/22.04/x86_64/${a.release}`).sort()).toEqual(shards[i - 1]!.sort())
    }
    const out = join(work, 'merged')
    const r = await cli(['archive', 'merge', ...dirs, '--archive', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout) as {kernels: number; index: {kernels: number; indexed: string[]}}
    expect(res.kernels).toBe(KERNELS.length)
    expect(res.index.kernels).toBe(KERNELS.length)
    expect(existsSync(join(out, 'index.sqlite'))).toBe(true)
    const strip = (root: string): unknown => readManifest(root).kernels.map((k) => ({...k, added: undefined}))
    expect(strip(out)).toEqual(strip(full))
    for (const k of readManifest(full).kernels) {
      for (const p of [k.path, k.modules?.path].filter((x): x is string => !!x)) expect([p, sha(readFileSync(join(out, p)))]).toEqual([p, sha(readFileSync(join(full, p)))])
    }
    // merging the same shards again adds nothing
    const again = await mergeArchives(out, dirs)
    expect(again.added).toEqual([])
    expect(again.same.length).toBe(KERNELS.length)
  }, 600_000)

  it('a conflict (same kernel, other BTF) is refused with MERGE_CONFLICT and nothing is written', async () => {
    const other = mkdtempSync(join(work, 'other-'))
    const e = readManifest(full).kernels.find((k) => k.release === KERNELS[0]!.release)!
    const btf = Buffer.from(await readKernelBtf(full, e))
    // the same kernel key with different BTF bytes (the real BTF with its string section one byte longer)
    const altered = Buffer.concat([btf, Buffer.from([0])])
    altered.writeUInt32LE(btf.readUInt32LE(20) + 1, 20)
    await addKernel(other, {...e, modules: undefined, sha256: undefined, size: undefined, path: undefined} as never, altered)
    const out = mkdtempSync(join(work, 'conflict-out-'))
    const r = await cli(['archive', 'merge', full, other, '--archive', out, '--json'])
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject({error: {code: 'MERGE_CONFLICT'}})
    expect(readdirSync(out)).toEqual([])
    await expect(mergeArchives(out, [full, other])).rejects.toMatchObject({code: 'MERGE_CONFLICT', conflicts: [expect.objectContaining({key: `ubuntu/22.04/x86_64/${KERNELS[0]!.release}`})]})
  }, 120_000)

  it('refuses an index that does not match the Release file, an unknown suite; dry run with a shard downloads nothing', async () => {
    const root = mkdtempSync(join(work, 'bad-'))
    await expect(syncUbuntu(root, {mirror: `${url}/ubuntu`, suite: 'jammy-security', arches: ['amd64'], retryDelayMs: 1})).rejects.toMatchObject({code: 'REPO_INDEX_CHECKSUM'})
    await expect(syncUbuntu(root, {mirror: `${url}/ubuntu`, suite: 'jammy-backports', arches: ['amd64'], retryDelayMs: 1})).rejects.toMatchObject({code: 'REPO_NO_RELEASE'})
    await expect(syncUbuntu(root, {mirror: `${url}/ubuntu`, suite: 'trixie', arches: ['amd64'], retryDelayMs: 1})).rejects.toBeInstanceOf(KcompatError)
    // an arch the Release file does not list (a ports arch on the archive mirror): named, before any index
    const indexHits = (): number => [...hits.entries()].filter(([p]) => p.includes('/binary-')).reduce((a, [, n]) => a + n, 0)
    const idx = indexHits()
    await expect(syncUbuntu(root, {mirror: `${url}/ubuntu`, suite: SUITE, arches: ['amd64', 'arm64'], dryRun: true})).rejects.toMatchObject({code: 'REPO_UNKNOWN_ARCH', message: expect.stringContaining(`${SUITE}: amd64`)})
    await expect(syncUbuntu(root, {mirror: `${url}/ubuntu`, suite: SUITE, arches: ['amd64'], components: ['multiverse'], dryRun: true})).rejects.toMatchObject({code: 'REPO_UNKNOWN_COMPONENT'})
    expect(indexHits()).toBe(idx)
    // --arch all: the arches it lists (amd64 here)
    const plan = async (arches: string[]): Promise<string[]> => (await syncUbuntu(root, {mirror: `${url}/ubuntu`, suite: SUITE, arches, dryRun: true})).planned.map((p) => `${p.arch} ${p.package}`).sort()
    expect(await plan(['all'])).toEqual(await plan(['amd64']))
    expect(existsSync(join(root, 'manifest.json'))).toBe(false)
    const before = [...hits.entries()].filter(([p]) => p.includes('/pool/')).reduce((a, [, n]) => a + n, 0)
    const r = await cli(['archive', 'sync', 'ubuntu', '--suite', SUITE, '--arch', 'amd64', '--mirror', `${url}/ubuntu`, '--shard', '1/2', '--dry-run', '--archive', root, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const planned = (JSON.parse(r.stdout) as {planned: {release: string; package: string}[]}).planned
    expect(new Set(planned.map((p) => p.release))).toEqual(new Set(KERNELS.map((k) => k.release).filter((x) => shardOf(`ubuntu/22.04/x86_64/${x}`, 2) === 1)))
    expect([...hits.entries()].filter(([p]) => p.includes('/pool/')).reduce((a, [, n]) => a + n, 0)).toBe(before)
    const bad = await cli(['archive', 'sync', 'ubuntu', '--suite', SUITE, '--arch', 'amd64', '--mirror', `${url}/ubuntu`, '--shard', '3/2', '--archive', root, '--json'])
    expect(bad.code).toBe(1)
    expect(bad.stdout + bad.stderr).toContain('SHARD_BAD_SPEC')
  }, 120_000)
})

