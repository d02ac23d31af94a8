#!/usr/bin/env node
/**
 * Regenerates test/kernel/identity/releases.tsv: real kernel release strings with the
 * distro, distro release and arch their publisher files them under.
 *
 * Two sources, neither of them kcompat:
 *
 * 1. test/kernel/identity/btfhub-paths.txt: folder listings of BTFHub's archive
 *    (github.com/aquasecurity/btfhub-archive, `<os-id>/<version>/<arch>/<uname -r>.btf.tar.xz`).
 *    The folder is the expectation: `centos/7/arm64` → RHEL/CentOS 7, arm64.
 * 2. Debian's own Sources indices of every suite given (default: bullseye,
 *    bullseye-security, bookworm, bookworm-security, bookworm-backports, trixie,
 *    trixie-security, forky, sid): each `linux*` source stanza's `Package-List` names its
 *    binary packages with their architecture (`linux-image-6.1.0-28-amd64 deb kernel
 *    optional arch=amd64`). Every `linux-image-<release>` package that is a kernel (not a
 *    meta package, not `-dbg`, `-unsigned`, `-signed-template` or `-test`) gives a row: the suite is the Debian
 *    release (its Release file's `Version`, sid/forky: the next release number from the
 *    Release file of forky), the `arch=` field the arch.
 *
 * The mirror is the one apt uses (read from /etc/apt sources, as `archive sync` does), or
 * `--mirror URL` / `--security-mirror URL`. No host name is written here or in the output.
 *
 *   node scripts/identity-table.mjs [--mirror URL] [--security-mirror URL] [--suite S]...
 */
import {execFileSync} from 'node:child_process'
import {readFileSync, renameSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {aptSources} from '../dist/kernel/apt.js'
import {DEBIAN_ARCH_DIR} from '../dist/archive/layout.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dir = join(root, 'test/kernel/identity')

const args = process.argv.slice(2)
const flag = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const suites = []
for (let i = 0; i < args.length; i++) if (args[i] === '--suite') suites.push(args[i + 1])
if (suites.length === 0) suites.push('bullseye', 'bullseye-security', 'bookworm', 'bookworm-security', 'bookworm-backports', 'trixie', 'trixie-security', 'forky', 'sid')

const sources = aptSources()
const mirror = (flag('--mirror') ?? sources.find((s) => !s.suites.some((x) => x.endsWith('-security')))?.uri)?.replace(/\/$/, '')
const secMirror = (flag('--security-mirror') ?? sources.find((s) => s.suites.some((x) => x.endsWith('-security')))?.uri)?.replace(/\/$/, '')
if (!mirror) throw new Error('no Debian mirror in apt sources; pass --mirror URL')

/** Debian arches whose kernels the archive layout names (DEBIAN_ARCH_DIR), plus loong64. */
const ARCH = {...DEBIAN_ARCH_DIR, loong64: 'loong64'}

async function get(url) {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${res.status} for a ${url.split('/').slice(-3).join('/')} index`)
  return Buffer.from(await res.arrayBuffer())
}

/** The numeric Debian release of a suite, from its Release file (`Version: 12.8` → 12). */
async function suiteRelease(base, suite) {
  const text = (await get(`${base}/dists/${suite}/Release`)).toString('utf8')
  const v = /^Version:\s*(\d+)/m.exec(text)
  return v ? v[1] : null
}

const rows = []
const seen = new Set()
function add(release, distro, version, arch, source) {
  const key = `${release}\t${arch}`
  if (seen.has(key)) return
  seen.add(key)
  rows.push([release, distro, version, arch, source])
}

// 1. BTFHub's folder listings.
for (const line of readFileSync(join(dir, 'btfhub-paths.txt'), 'utf8').split('\n')) {
  if (line.startsWith('#') || line.trim() === '') continue
  const [folder, list] = line.split(': ')
  const [os, version, arch] = folder.split('/')
  for (const release of list.trim().split(/\s+/)) add(release, os, version, arch, `btfhub-archive ${folder}`)
}

// 2. Debian's Sources indices.
const forkyRelease = await suiteRelease(mirror, 'forky').catch(() => null)
for (const suite of suites) {
  const base = suite.endsWith('-security') ? secMirror : mirror
  if (!base) {
    console.error(`skip ${suite}: no security mirror in apt sources`)
    continue
  }
  // A -backports or -security suite belongs to its base suite's release.
  let version = await suiteRelease(base, suite).catch(() => null)
  if (version === null && /-(backports|security)$/.test(suite)) version = await suiteRelease(mirror, suite.replace(/-(backports|security)$/, '')).catch(() => null)
  if (version === null && (suite === 'sid' || suite === 'forky')) version = forkyRelease ?? '14'
  if (version === null) {
    console.error(`skip ${suite}: no Version in its Release file`)
    continue
  }
  let text
  try {
    text = execFileSync('xz', ['-dc'], {input: await get(`${base}/dists/${suite}/main/source/Sources.xz`), maxBuffer: 1 << 30}).toString('utf8')
  } catch (e) {
    console.error(`skip ${suite}: ${e.message}`)
    continue
  }
  let n = 0
  for (const stanza of text.split('\n\n')) {
    const pkg = /^Package:\s*(\S+)/m.exec(stanza)?.[1]
    if (!pkg || !/^linux(-\d[\d.]*)?(-signed-\S+)?$/.test(pkg)) continue
    const list = /^Package-List:[ \t]*\n((?:[ \t].*\n?)*)/m.exec(stanza)?.[1] ?? ''
    for (const entry of list.split('\n')) {
      const m = /^\s*linux-image-(\d\S*)\s+deb\s+\S+\s+\S+\s+arch=(\S+)/.exec(entry)
      if (!m) continue
      const [, release, archField] = m
      // Kernels only: not debug symbols, unsigned twins, signing templates, test builds or
      // series meta packages (`linux-image-6.12-amd64`, `linux-image-6.1-686`: no patch level).
      if (/-(dbg|unsigned|signed-template|test)$/.test(release) || !/^\d+\.\d+\.\d+[-+]/.test(release)) continue
      for (const a of archField.split(',')) {
        const arch = ARCH[a]
        if (!arch) continue
        add(release, 'debian', version, arch, `Debian ${suite} Sources (Package-List arch=${a})`)
        n++
      }
    }
  }
  console.error(`${suite}: Debian ${version}, ${n} kernel images`)
}

const header = '# release\tdistro\tdistro release\tarch\tsource (regenerate: node scripts/identity-table.mjs)\n'
const out = join(dir, 'releases.tsv')
writeFileSync(`${out}.tmp`, header + rows.map((r) => r.join('\t')).join('\n') + '\n')
renameSync(`${out}.tmp`, out)
console.error(`${rows.length} rows → ${out}`)
