#!/usr/bin/env node
// How fast can a Node.js `btf dump` be at best? Splits a whole-process run into what
// Node costs before any kcompat code runs and what the dump costs once the JIT has
// warmed up, and compares their sum with bpftool's whole run:
//
//   node bench/btf-dump-floor.mjs FILE [--format c|raw] [--runs N]
//
// - bpftool: `bpftool btf dump file FILE format F`, whole process, median of N;
// - node start: `node` with bin/run.js's flags running an empty script, median of N;
// - start-up + code load: `bin/run.js btf dump` on an empty file (fails at once, after
//   loading everything the dump needs), median of N;
// - in-process: parse + dump N times in one process (with bin/run.js's node flags); the first (cold) run and the
//   median of the last half (warm JIT) are printed.
//
// The floor is node start + the warm in-process time: a process cannot do better than
// starting Node and then running fully optimized code. Runs alternate between the
// spawned commands so they see the same machine state.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}
const file = argv.find((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')))
if (!file) {
  console.error('usage: btf-dump-floor.mjs FILE [--format c|raw] [--runs N]')
  process.exit(2)
}
const format = opt('format', 'c')
const runs = Number(opt('runs', '9'))

// in-process timing: parse + dump `runs` times in one process, as the fast path calls
// the library. Run in a child started with bin/run.js's node flags (--in-process).
if (argv.includes('--in-process')) {
  const {btfDump} = await import(join(root, 'dist/lib/btf-dump.js'))
  const times = []
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    await btfDump(file, {format}, () => {})
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  console.log(JSON.stringify(times))
  process.exit(0)
}

// the node flags bin/run.js's shell line starts `btf dump` with (its second line)
const launcher = /'btf dump'\)([^;]*);;/.exec(readFileSync(join(root, 'bin/run.js'), 'utf8').split('\n')[1] ?? '')
const nodeFlags = launcher ? launcher[1].split(/\s+/).filter((w) => w.startsWith('--')) : []

const scratch = mkdtempSync(join(tmpdir(), 'kcompat-floor-'))
process.on('exit', () => rmSync(scratch, {recursive: true, force: true}))
const empty = join(scratch, 'empty.mjs')
writeFileSync(empty, '')
const emptyBtf = join(scratch, 'empty.btf')
writeFileSync(emptyBtf, '')

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
function timeRun(cmd, args, okStatus = [0]) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, {stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8'})
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (!okStatus.includes(r.status)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return ms
}

const commands = {
  bpftool: () => timeRun('bpftool', ['btf', 'dump', 'file', file, 'format', format]),
  'node start': () => timeRun(process.execPath, [...nodeFlags, empty]),
  'start-up + code load': () =>
    timeRun(process.execPath, [...nodeFlags, join(root, 'bin/run.js'), 'btf', 'dump', emptyBtf, '--format', format], [1]),
  'kcompat (whole)': () =>
    timeRun(process.execPath, [...nodeFlags, join(root, 'bin/run.js'), 'btf', 'dump', file, '--format', format]),
}
const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
for (const run of Object.values(commands)) run() // warm-up: page cache
for (let i = 0; i < runs; i++) for (const [k, run] of Object.entries(commands)) times[k].push(run())

const child = spawnSync(
  process.execPath,
  [...nodeFlags, fileURLToPath(import.meta.url), file, '--format', format, '--runs', String(Math.max(runs, 6)), '--in-process'],
  {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']},
)
if (child.status !== 0) throw new Error(`in-process run exited ${child.status}`)
const inProcess = JSON.parse(child.stdout)
const warm = median(inProcess.slice(Math.floor(inProcess.length / 2)))

const ref = median(times.bpftool)
const row = (label, ms) => console.log(`${label.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / ref).toFixed(2)}x bpftool`)
console.log(`btf dump --format ${format} of ${file}; node ${process.version} ${nodeFlags.join(' ')}; median of ${runs}`)
row('bpftool (whole process)', ref)
row('kcompat (whole process)', median(times['kcompat (whole)']))
row('node start (empty script)', median(times['node start']))
row('node start + kcompat code load', median(times['start-up + code load']))
row('in-process parse + dump, cold', inProcess[0])
row('in-process parse + dump, warm', warm)
row('floor: node start + warm', median(times['node start']) + warm)
