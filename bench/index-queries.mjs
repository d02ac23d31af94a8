#!/usr/bin/env node
// Index benchmark: builds (or updates) the index of an archive, prints its size against
// the archive's BTF tarballs, then times each query N times and prints the median, the
// 90th percentile and the first (cold) run, in milliseconds.
//
//   npm run build && node bench/index-queries.mjs [--archive DIR] [--db FILE] [-n N]
//
// Without --archive, an archive is made from the committed kernel fixtures
// (fixtures/kernels/<release>.btf.xz, as the tests do) in the temp directory, once.
// Without --db, the index goes to a fresh temp file, so the build is a full one.
// A benchmark, not a test: nothing here fails on slowness.
import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {decompressSync} from '@napi-rs/lzma/xz'

const ROOT = join(import.meta.dirname, '..')
const dist = (p) => import(join(ROOT, 'dist', p))
const {addKernel} = await dist('archive/archive.js')
const {debianFlavor} = await dist('archive/layout.js')
const {buildIndex} = await dist('store/build.js')
const {KernelIndex} = await dist('store/query.js')

const {values: opts} = parseArgs({
  options: {archive: {type: 'string'}, db: {type: 'string'}, n: {type: 'string', short: 'n', default: '50'}},
})
const N = Number(opts.n)

async function fixtureArchive() {
  const dir = join(ROOT, 'fixtures', 'kernels')
  const files = readdirSync(dir).filter((f) => f.endsWith('.btf.xz') && !f.includes('__')).sort()
  const id = createHash('sha256')
  for (const f of files) id.update(`${f}:${readFileSync(join(dir, f)).length}`)
  const out = join(tmpdir(), `kcompat-bench-archive-${id.digest('hex').slice(0, 16)}`)
  if (existsSync(join(out, 'manifest.json'))) return out
  const work = mkdtempSync(join(tmpdir(), 'kcompat-bench-build-'))
  for (const f of files) {
    const release = f.slice(0, -'.btf.xz'.length)
    const arch = release.endsWith('-arm64') ? 'arm64' : 'x86_64'
    process.stderr.write(`adding ${release}\n`)
    await addKernel(
      work,
      {release, distro: 'debian', version: '12', arch, flavor: debianFlavor(release), btf: 'in-kernel', config: null, source: {method: 'kernel-image'}},
      decompressSync(readFileSync(join(dir, f))),
    )
  }
  renameSync(work, out)
  return out
}

const archive = opts.archive ?? (await fixtureArchive())
const db = opts.db ?? join(mkdtempSync(join(tmpdir(), 'kcompat-bench-db-')), 'index.sqlite')
const build = await buildIndex(archive, db)
console.log(`archive ${archive}: ${build.kernels} kernels, ${(build.archiveBytes / 1e6).toFixed(2)} MB of .btf.tar.xz`)
console.log(
  `index   ${db}: ${(build.indexBytes / 1e6).toFixed(2)} MB = ${((100 * build.indexBytes) / build.archiveBytes).toFixed(1)}% ` +
    `(${build.records} distinct records, ${build.ksets} kernel sets; built ${build.indexed.length} kernels in ${(build.ms / 1000).toFixed(1)} s)`,
)

let t0 = performance.now()
const index = KernelIndex.open(db)
console.log(`open    ${(performance.now() - t0).toFixed(2)} ms\n`)

const queries = [
  ['findFunc tcp_v4_connect', () => index.findFunc('tcp_v4_connect')],
  ['findFunc bpf_lsm_file_open', () => index.findFunc('bpf_lsm_file_open')],
  ['findFunc (absent, suggestions)', () => index.findFunc('tcp_v4_conect')],
  ['findField task_struct.pid', () => index.findField('task_struct.pid')],
  ['findField sk_buff.dev (anonymous)', () => index.findField('sk_buff.dev')],
  ['findField file.f_path.dentry', () => index.findField('file.f_path.dentry')],
  ['findField task_struct.state (missing)', () => index.findField('task_struct.state')],
  ['findTracepoint sched_switch', () => index.findTracepoint('sched_switch')],
  ['findEnum bpf_func_id', () => index.findEnum('bpf_func_id')],
  ['listKernels debian x86_64', () => index.listKernels({distro: 'debian', arch: 'x86_64'})],
]

const rows = [['query', 'median', 'p90', 'first']]
for (const [name, f] of queries) {
  const times = []
  for (let i = 0; i < N; i++) {
    t0 = performance.now()
    f()
    times.push(performance.now() - t0)
  }
  const first = times[0]
  times.sort((a, b) => a - b)
  rows.push([name, times[Math.floor(N / 2)].toFixed(2), times[Math.floor(N * 0.9)].toFixed(2), first.toFixed(2)])
}
index.close()
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '))
console.log(`\n(milliseconds over ${N} runs; node ${process.version})`)
if (!opts.db) rmSync(db, {force: true})
