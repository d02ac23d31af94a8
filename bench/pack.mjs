#!/usr/bin/env node
// The BTF pack of an archive (src/archive/pack): what it weighs against the kernels'
// vmlinux .btf.tar.xz (issue 13's goal: module BTF adds no more than that), what is in
// each segment, and how long a first (nothing cached) and a warm read of one module and of
// all modules of a kernel take, as whole processes, alternating. Prints markdown.
//
//   node bench/pack.mjs [ARCHIVE] [--kernel RELEASE] [--module NAME] [--runs N] [--no-times]
//   (npm run build first; ARCHIVE defaults to the shipped archive/, RELEASE to
//   6.1.0-56-cloud-amd64 and NAME to nft_ct)
//
// "first" = a fresh KCOMPAT_BTF_CACHE directory: the process decodes every pack segment,
// unpacks the kernel's vmlinux .btf.tar.xz, rebuilds the kernel's modules and caches them;
// "warm" = the same directory afterwards (the rebuilt modules' tar is read and checked).
// In an archive that keeps kernels in the pack only, the same for one such kernel's
// vmlinux BTF ("first": segments decoded and the vmlinux unit rebuilt; "warm": the raw
// BTF cache).
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readManifest} from '../dist/archive/manifest.js'
import {decodePack} from '../dist/archive/pack/pack.js'

const args = process.argv.slice(2)
let root = join(import.meta.dirname, '..', 'archive')
let release = '6.1.0-56-cloud-amd64'
let module = 'nft_ct'
let runs = 3
let times = true
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--kernel') release = args[++i]
  else if (a === '--module') module = args[++i]
  else if (a === '--runs') runs = Number(args[++i])
  else if (a === '--no-times') times = false
  else if (a.startsWith('--')) throw new Error(`unknown flag ${a}`)
  else root = a
}
const mb = (n) => (n / 1e6).toFixed(2)
const manifest = readManifest(root)
const segments = manifest.pack?.segments ?? []
if (segments.length === 0) {
  console.log(`${root} has no BTF pack (run kcompat archive repack)`)
  process.exit(0)
}

// ---------------------------------------------------------------- sizes
const pack = await decodePack(root, segments)
const byKey = new Map(manifest.kernels.map((k) => [`${k.distro}/${k.version}/${k.arch}/${k.release}`, k]))
console.log(`# BTF pack of ${root}\n`)
console.log('| segment | bytes | kernels | units | units kept raw | strings | keys | records |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
// table counts per segment: decode again one segment at a time is costly; count from the groups
for (let i = 0; i < segments.length; i++) {
  const g = pack.groups[i]
  const units = g.reduce((n, x) => n + 1 + x.modules.length, 0)
  const raw = g.reduce((n, x) => n + (x.vmlinux.raw ? 1 : 0) + x.modules.filter(([, u]) => u.raw).length, 0)
  const last = i === segments.length - 1
  console.log(`| ${segments[i].path} | ${segments[i].size} | ${g.length} | ${units} | ${raw} | ${last ? pack.tables.strings.length : ''} | ${last ? pack.tables.keys.length : ''} | ${last ? pack.tables.recordCount : ''} |`)
}
console.log('\n(strings, keys, records: totals over all segments)\n')
console.log('| kernel | arch | modules | raw module BTF MB | module types | exceptions | units with a string permutation | vmlinux .btf.tar.xz MB |')
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
let vmTotal = 0
let rawTotal = 0
const packedKernels = []
for (const groups of pack.groups) {
  for (const g of groups) {
    const k = byKey.get(g.kernel)
    if (!k || k.modules?.unit === undefined) continue // a group replaced later
    packedKernels.push(k)
    const vm = statSync(join(root, k.path)).size
    vmTotal += vm
    rawTotal += k.modules.size
    const types = g.modules.reduce((n, [, u]) => n + u.rec.length, 0)
    const exc = g.modules.reduce((n, [, u]) => n + u.exceptions.length / 3, 0)
    const perm = g.modules.filter(([, u]) => u.strRanks).length
    console.log(`| ${k.release} | ${k.arch} | ${k.modules.count} | ${mb(k.modules.size)} | ${types} | ${exc} | ${perm} | ${mb(vm)} |`)
  }
}
const packBytes = segments.reduce((n, s) => n + s.size, 0)
console.log(
  `\n${packedKernels.length} kernels: ${mb(rawTotal)} MB of raw module BTF; pack ${mb(packBytes)} MB (with their vmlinux records) ` +
    `against ${mb(vmTotal)} MB of their vmlinux .btf.tar.xz: ${(packBytes / vmTotal).toFixed(2)}x.`,
)

// ---------------------------------------------------------------- read times
if (times) {
  const bin = join(import.meta.dirname, '..', 'bin', 'run.js')
  const entry = manifest.kernels.find((k) => k.release === release && k.modules?.unit !== undefined)
  if (!entry) throw new Error(`${release} has no module BTF in the pack`)
  const allScript = `import('${join(import.meta.dirname, '..', 'dist', 'archive', 'modules.js')}').then(async (m) => {
    const {readManifest} = await import('${join(import.meta.dirname, '..', 'dist', 'archive', 'manifest.js')}')
    const e = readManifest(${JSON.stringify(root)}).kernels.find((k) => k.release === ${JSON.stringify(release)} && k.arch === ${JSON.stringify(entry.arch)})
    const all = await m.readModuleBtfs(${JSON.stringify(root)}, e)
    if (all.size !== ${entry.modules.count}) process.exit(3)
  })`
  const cmds = {
    one: [bin, 'btf', 'dump', '--kernel', release, '--arch', entry.arch, '--module', module, '--format', 'raw', '--archive', root],
    all: ['--input-type=module', '-e', allScript],
  }
  // a kernel kept in the pack only (no tarball): its vmlinux BTF is rebuilt from the pack
  const packOnly = manifest.kernels.find((k) => k.vmlinux && k.path && !existsSync(join(root, k.path)))
  if (packOnly) cmds.vmlinux = [bin, 'btf', 'dump', '--kernel', packOnly.release, '--arch', packOnly.arch, '--format', 'raw', '--archive', root]
  const timeRun = (argv, cache) => {
    const t = process.hrtime.bigint()
    const r = spawnSync(process.execPath, argv, {env: {...process.env, KCOMPAT_BTF_CACHE: cache}, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28})
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`)
    return Number(process.hrtime.bigint() - t) / 1e9
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  console.log(`\nRead times, ${release} (${entry.arch}), ${runs} runs each, alternating first / warm (median seconds):\n`)
  console.log('| read | first | warm | first / warm |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const [what, argv] of Object.entries(cmds)) {
    const first = []
    const warm = []
    for (let i = 0; i < runs; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'kcompat-pack-bench-'))
      try {
        first.push(timeRun(argv, dir))
        warm.push(timeRun(argv, dir))
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    }
    const f = median(first)
    const w = median(warm)
    const label = {
      one: `one module (${module}, \`btf dump --format raw\`)`,
      all: `all ${entry.modules.count} modules (readModuleBtfs)`,
      vmlinux: `vmlinux of pack-only ${packOnly?.release} (${packOnly?.arch}, \`btf dump --format raw\`)`,
    }[what]
    console.log(`| ${label} | ${f.toFixed(2)} | ${w.toFixed(2)} | ${(f / w).toFixed(1)} |`)
  }
}
