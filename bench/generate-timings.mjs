#!/usr/bin/env node
// Timings and memory of BTF generation for the archive's generated kernels (and the
// Debian 6.1 arm64 cloud kernel used by the comparison test): per kernel, the download
// of its -dbg package (unless cached), the streamed extraction of its vmlinux, and pahole
// run directly under /usr/bin/time (elapsed, peak RSS) with the flags the manifest
// records. It also checks that regenerating gives the archived BTF byte for byte
// (single-threaded pahole is deterministic).
//
//   node bench/generate-timings.mjs [--download] [--cache DIR]
//
// Packages are looked for in DIR (default $KCOMPAT_DEB_CACHE or <tmpdir>/kcompat-cache/debs);
// with --download, missing ones are fetched from the mirror apt uses (bookworm-security,
// then bookworm), checked against the index, and kept there.
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {defaultArchiveDir} from '../dist/archive/archive.js'
import {extractDebugVmlinux, findDebugStanza} from '../dist/archive/debug-deb.js'
import {fetchPackagesIndex} from '../dist/archive/debian.js'
import {download} from '../dist/archive/download.js'
import {readManifest} from '../dist/archive/manifest.js'
import {paholeFlags} from '../dist/generate/flags.js'
import {findPahole} from '../dist/generate/pahole.js'
import {mirrorForSuite} from '../dist/kernel/apt.js'

const args = process.argv.slice(2)
const want = (f) => args.includes(f)
const cacheIdx = args.indexOf('--cache')
const CACHE = cacheIdx >= 0 ? args[cacheIdx + 1] : process.env.KCOMPAT_DEB_CACHE || join(tmpdir(), 'kcompat-cache', 'debs')
const DEBARCH = {x86_64: 'amd64', arm64: 'arm64', i686: 'i386', ppc64le: 'ppc64el', s390x: 's390x'}
const archive = defaultArchiveDir()
const kernels = readManifest(archive).kernels.filter(
  (k) => k.btf === 'generated' || (k.arch === 'arm64' && /^6\.1\.0-\d+-cloud-arm64$/.test(k.release) && k.btf === 'in-kernel'),
)
const pahole = await findPahole()
const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined
const work = mkdtempSync(join(tmpdir(), 'kcompat-bench-gen-'))
const rows = []
try {
  for (const k of kernels) {
    const debArch = DEBARCH[k.arch] ?? k.arch
    const pkg = k.btf === 'generated' ? k.source.package : `${k.source.package}-dbg`
    const version = k.source.packageVersion
    const file = k.btf === 'generated' ? k.source.file : `${pkg}_${version}_${debArch}.deb`
    let deb = join(CACHE, file)
    let downloadMs = 0
    if (!existsSync(deb)) {
      if (!want('--download')) {
        console.log(`${k.release} (${k.arch}): ${file} not in ${CACHE}; run with --download`)
        continue
      }
      let done = false
      for (const suite of ['bookworm-security', 'bookworm']) {
        const mirror = mirrorForSuite(suite)
        if (!mirror) continue
        let stanzas
        try {
          stanzas = await fetchPackagesIndex(mirror, suite, debArch)
        } catch {
          continue
        }
        const s = findDebugStanza(stanzas, pkg.replace(/-dbg$/, ''), version)
        if (!s) continue
        mkdirSync(CACHE, {recursive: true})
        const t = Date.now()
        await download(`${mirror.replace(/\/+$/, '')}/${s.filename}`, deb, {sha256: s.sha256, size: s.size})
        downloadMs = Date.now() - t
        done = true
        break
      }
      if (!done) {
        console.log(`${k.release} (${k.arch}): ${pkg} ${version} is in no index apt knows`)
        continue
      }
    }
    const t0 = Date.now()
    const x = await extractDebugVmlinux(deb, work, {release: k.release})
    const extractMs = Date.now() - t0
    const flags = k.source.generator?.flags ?? paholeFlags(pahole, {kernel: k.release}).flags
    const out = join(work, 'out.btf')
    const cmd = [...(time ? [time, '-f', '%e %M'] : []), pahole.command, ...flags, `--btf_encode_detached=${out}`, x.path]
    const r = spawnSync(cmd[0], cmd.slice(1), {encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`)
    const [secs, kib] = time ? r.stderr.trim().split('\n').pop().split(' ').map(Number) : [NaN, NaN]
    const gen = readFileSync(out)
    const same = k.btf === 'generated' ? createHash('sha256').update(gen).digest('hex') === k.sha256 : undefined
    rows.push({
      kernel: `${k.arch} ${k.release}`,
      deb: `${(statSync(deb).size / 2 ** 20).toFixed(0)} MiB`,
      download: downloadMs ? `${(downloadMs / 1000).toFixed(1)} s` : 'cached',
      extract: `${(extractMs / 1000).toFixed(1)} s`,
      vmlinux: `${(x.size / 2 ** 20).toFixed(0)} MiB`,
      pahole: `${secs.toFixed(1)} s`,
      peak: `${(kib / 1024).toFixed(0)} MiB`,
      btf: `${(gen.length / 2 ** 20).toFixed(1)} MiB`,
      reproduces: same === undefined ? '(ships BTF)' : same ? 'yes' : 'NO',
    })
    rmSync(x.path, {force: true})
    rmSync(out, {force: true})
  }
} finally {
  rmSync(work, {recursive: true, force: true})
}
console.log(`pahole ${pahole.version.text}; ${rows.length} kernels; times are wall-clock on this machine`)
const cols = ['kernel', 'deb', 'download', 'extract', 'vmlinux', 'pahole', 'peak', 'btf', 'reproduces']
console.log(`| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |`)
for (const row of rows) console.log(`| ${cols.map((c) => row[c]).join(' | ')} |`)
if (rows.some((r) => r.reproduces === 'NO')) process.exit(1)
