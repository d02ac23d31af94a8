#!/usr/bin/env node
// Simulated large archive for the release matrix: N kernels derived from the shipped
// archive's real ones, each with seeded drift of the kind real kernels show between
// releases (functions renamed away, struct members dropped or renamed), then one cold
// `kcompat matrix` over all of them (every CO-RE object of Debian's libbpf-tools, or the
// fixture objects) and one warm run. A benchmark, not a test.
//
//   npm run build && node bench/matrix-sim.mjs [--kernels 1000] [--objects DIR] [--keep DIR]
//
// Derived kernels are raw .btf files given with --btf (named by file name), so the run
// measures the matrix, not xz. Drift reuses strings already in each kernel's string table
// (a function "renamed" takes another existing name), which keeps every file valid BTF.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}
const N = Number(arg('kernels', '1000'))
const {resolveArchiveDir, readKernelBtf} = await import(join(root, 'dist/archive/archive.js'))
const {readManifest} = await import(join(root, 'dist/archive/manifest.js'))
const {parseBtf} = await import(join(root, 'dist/btf/decode.js'))
const {encodeBtf} = await import(join(root, 'dist/btf/encode.js'))
const {Btf} = await import(join(root, 'dist/btf/btf.js'))
const {Kind} = await import(join(root, 'dist/btf/wire.js'))

const work = arg('keep') ?? mkdtempSync(join(tmpdir(), 'kcompat-matrix-sim-'))
mkdirSync(join(work, 'btf'), {recursive: true})
// a kept directory's index from an earlier run would make the "cold" run warm
for (const f of ['index.sqlite', 'index.sqlite-wal', 'index.sqlite-shm']) rmSync(join(work, f), {force: true})
const archive = resolveArchiveDir()
const bases = []
for (const e of readManifest(archive).kernels.filter((k) => k.path)) bases.push({e, btf: parseBtf(await readKernelBtf(archive, e))})

// mulberry32
let seed = 1
const rnd = () => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

function derive(base, i) {
  const types = base.btf.types.slice()
  const pick = () => Math.floor(rnd() * types.length)
  const donor = () => {
    for (;;) {
      const t = types[pick()]
      if (t.nameOff !== 0) return t
    }
  }
  let funcs = 0
  let members = 0
  // ~40 functions renamed away and ~40 struct members dropped or renamed per kernel
  for (let tries = 0; (funcs < 40 || members < 40) && tries < 100000; tries++) {
    const id = pick()
    const t = types[id]
    if (t.kind === Kind.FUNC && funcs < 40) {
      const d = donor()
      types[id] = {...t, name: d.name, nameOff: d.nameOff}
      funcs++
    } else if ((t.kind === Kind.STRUCT || t.kind === Kind.UNION) && t.members.length > 1 && members < 40) {
      const ms = t.members.slice()
      const at = Math.floor(rnd() * ms.length)
      if (rnd() < 0.5) ms.splice(at, 1)
      else {
        const d = donor()
        ms[at] = {...ms[at], name: d.name, nameOff: d.nameOff}
      }
      types[id] = {...t, members: ms}
      members++
    }
  }
  const btf = new Btf({types, strings: base.btf.strings, littleEndian: base.btf.littleEndian, header: base.btf.header})
  // a release string of the same shape as the base's, with its own ABI number (the
  // matrix names --btf kernels by file name and reads them as uname -r)
  const release = base.e.release.replace(/^(\d+\.\d+)\.0-\d+-/, `$1.0-${1000 + i}-`).replace(/^(\d+\.\d+)\.\d+\+deb/, `$1.${1000 + i}+deb`)
  const file = join(work, 'btf', `${release}.btf`)
  writeFileSync(file, encodeBtf(btf))
  return file
}

const t0 = performance.now()
const files = []
for (let i = 0; i < N; i++) files.push(derive(bases[i % bases.length], i))
console.log(`derived ${N} kernels from ${bases.length} archived ones in ${((performance.now() - t0) / 1000).toFixed(1)} s (${work}/btf)`)

let objDir = arg('objects')
if (!objDir) {
  objDir = join(root, 'fixtures', 'bpf')
  console.log('objects: the fixture BPF objects (give --objects DIR for e.g. libbpf-tools objects extracted by bench/matrix.sh)')
}
const objects = readdirSync(objDir).filter((f) => f.endsWith('.o') && !f.includes('bpfeb')).map((f) => join(objDir, f))
const argsFile = join(work, 'args')
const args = [join(root, 'bin', 'run.js'), 'matrix', '--only-btf', ...files.flatMap((f) => ['--btf', f]), ...objects.flatMap((o) => ['--object', o]), '--db', join(work, 'index.sqlite'), '--format', 'json', '--out', join(work, 'm.json')]
writeFileSync(argsFile, args.join('\n'))
const timed = (label) => {
  const s = performance.now()
  const r = spawnSync(process.execPath, ['--min-semi-space-size=64', '--max-semi-space-size=128', ...args], {encoding: 'utf8', maxBuffer: 1 << 28})
  const secs = (performance.now() - s) / 1000
  if (r.status !== 0 && r.status !== 1 && r.status !== 3) throw new Error(`matrix failed (${r.status}): ${r.stderr.slice(-2000)}`)
  console.log(`${label}: ${secs.toFixed(1)} s`)
  return secs
}
timed(`cold matrix, ${N} kernels x ${objects.length} objects`)
timed('warm (cached)')
// The JSON of a large matrix is over a gigabyte: count verdicts with grep, not JSON.parse.
const out = join(work, 'm.json')
const count = (v) => Number(spawnSync('grep', ['-c', `"verdict": "${v}"`, out], {encoding: 'utf8'}).stdout.trim() || 0)
const verdicts = Object.fromEntries(['supported', 'possible', 'unknown', 'unsupported'].map((v) => [v, count(v)]))
console.log(`${(statSync(out).size / 1e6).toFixed(0)} MB of JSON; cells by verdict: ${JSON.stringify(verdicts)}`)
if (!arg('keep')) rmSync(work, {recursive: true, force: true})
