#!/usr/bin/env node
// Start-up time and memory of every query command, and of `btf dump`, as a user runs
// them: a fresh process each time, its output read through a pipe. Each command runs
// alternately with its reference in the same loop, so both see the same machine state:
//   - the query commands (check, find func|field, kernels, archive list, relocate) on the
//     shipped archive, against a bare `node -e 0` (goal: ≤ 1.5× its wall time);
//   - `btf dump` raw and c of the 6.12 kernel fixture against `bpftool btf dump`
//     (goal: ≤ 1.5× bpftool's wall time and ≤ 64 MiB peak RSS).
// Prints, per command, the median wall time of both, the ratio, and peak RSS (GNU time's
// %M, max over the runs).
//
// NODE_EXTRA_CA_CERTS is taken out of the environment of every timed process (both the
// command and its reference): with it, Node reads and parses that certificate bundle
// before running any code, on every start. On the VM these figures come from it is set
// to the system bundle (~140 certificates), which made `node -e 0` execute 516 M
// instructions instead of 85 M (callgrind) and take ~40 ms more CPU, flattering every
// ratio against it; a user's shell does not usually set it. --keep-env keeps it.
//
//   node bench/startup.mjs [--runs N] [--only NAME-SUBSTRING] [--keep-env]    (npm run build first)
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}
const runs = Number(arg('runs', '11'))
const only = arg('only', '') // runs only the commands whose name contains this
const haveTime = existsSync('/usr/bin/time')
const scratch = mkdtempSync(join(tmpdir(), 'kcompat-startup-'))
process.on('exit', () => rmSync(scratch, {recursive: true, force: true}))
const rssFile = join(scratch, 'rss')
const keepEnv = process.argv.includes('--keep-env')
const env = {...process.env}
if (!keepEnv) delete env.NODE_EXTRA_CA_CERTS
const bin = join(root, 'bin', 'run.js')

/** Runs argv once with stdout and stderr read through pipes; returns wall ms and peak RSS in KiB. */
function once(argv) {
  const [cmd, ...args] = haveTime ? ['/usr/bin/time', '-f', '%M %U %S', '-o', rssFile, ...argv] : argv
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, {cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28})
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`)
  const [rssKb, user, sys] = haveTime ? readFileSync(rssFile, 'utf8').trim().split('\n').pop().split(' ').map(Number) : [NaN, NaN, NaN]
  return {ms, rssKb, cpuMs: (user + sys) * 1000}
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Alternates ours and ref `runs` times (after one untimed run of each); prints and returns the figures. */
function compare(name, ours, ref, refName) {
  once(ref)
  once(ours)
  const a = []
  const b = []
  for (let i = 0; i < runs; i++) {
    a.push(once(ref))
    b.push(once(ours))
  }
  const r = {
    name,
    refMs: median(a.map((x) => x.ms)),
    oursMs: median(b.map((x) => x.ms)),
    refRssMiB: Math.max(...a.map((x) => x.rssKb)) / 1024,
    oursRssMiB: Math.max(...b.map((x) => x.rssKb)) / 1024,
  }
  r.ratio = r.oursMs / r.refMs
  // CPU time (user + system, GNU time's 10 ms resolution): steadier than wall time when
  // other work shares the machine
  r.refCpuMs = median(a.map((x) => x.cpuMs))
  r.oursCpuMs = median(b.map((x) => x.cpuMs))
  console.log(
    `${name.padEnd(24)} ${refName} ${r.refMs.toFixed(1).padStart(6)} ms ${r.refRssMiB.toFixed(0).padStart(3)} MiB | ` +
      `kcompat ${r.oursMs.toFixed(1).padStart(6)} ms ${r.oursRssMiB.toFixed(0).padStart(3)} MiB | wall ${r.ratio.toFixed(2)}x` +
      ` | cpu ${r.refCpuMs.toFixed(0)} / ${r.oursCpuMs.toFixed(0)} ms = ${(r.oursCpuMs / r.refCpuMs).toFixed(2)}x`,
  )
  return r
}

// --- the query commands on the shipped archive ------------------------------------------
// The first `find`/`kernels` builds the index; the first `check` of a kernel fills the
// raw-BTF cache. Both are one-off costs: make them before timing.
const obj = join(root, 'fixtures', 'bpf', 'core_fields.bpfel.o')
const queries = [
  ['check --prog', ['check', '--kernel', '6.1.0-56-cloud-amd64', '--prog', 'fentry/do_sys_open']],
  ['check --prog --json', ['check', '--kernel', '6.12.117+deb12-amd64', '--prog', 'lsm/file_open', '--json']],
  ['check --object', ['check', '--kernel', '6.12.117+deb12-cloud-amd64', '--object', obj]],
  ['find func', ['find', 'func', 'tcp_v4_connect']],
  ['find field', ['find', 'field', 'task_struct.state']],
  ['kernels', ['kernels']],
  ['archive list', ['archive', 'list']],
  ['relocate', ['relocate', '--object', obj, '--kernel', '6.1.0-56-cloud-amd64']],
]
const results = []
const selected = (name) => only === '' || name.includes(only)
// other work on the machine moves wall times most; CPU time (user + system) much less
console.log(`node ${process.version}, ${runs} runs each, median wall time, peak RSS; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
console.log(
  process.env.NODE_EXTRA_CA_CERTS === undefined
    ? 'NODE_EXTRA_CA_CERTS: not set'
    : `NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}: ${keepEnv ? 'kept (--keep-env): every Node start also loads it' : 'removed from the timed processes (--keep-env keeps it)'}`,
)
for (const [name, argv] of queries) {
  if (!selected(name)) continue
  const cmd = [bin, ...argv] // as a user runs it: through its first lines (#!/bin/sh, which starts node)
  spawnSync(cmd[0], cmd.slice(1), {cwd: root, env, stdio: 'ignore'}) // index and raw-BTF cache
  results.push(compare(name, cmd, [process.execPath, '-e', '0'], 'node -e 0'))
}

// --- btf dump against bpftool -----------------------------------------------------------
const bpftool = ['/usr/sbin/bpftool', '/usr/bin/bpftool', '/sbin/bpftool'].find((p) => existsSync(p))
const kdir = join(root, 'fixtures', 'kernels')
const fixture = existsSync(kdir) ? readdirSync(kdir).find((f) => /^6\.12\..*\.btf\.xz$/.test(f) && !f.includes('__')) : undefined
if (!bpftool) console.log('btf dump: skipped (bpftool is not installed: apt-get install bpftool)')
else if (!fixture) console.log('btf dump: skipped (no 6.12 kernel fixture under fixtures/kernels)')
else {
  const btf = join(scratch, 'vmlinux.btf')
  writeFileSync(btf, spawnSync('xz', ['-dc', join(kdir, fixture)], {maxBuffer: 1 << 28}).stdout)
  for (const format of ['raw', 'c']) {
    const name = `btf dump --format ${format}`
    if (!selected(name)) continue
    // bin/run.js as a user runs it: the node flags its shell line gives `btf dump` apply
    results.push(compare(name, [bin, 'btf', 'dump', btf, '--format', format], [bpftool, 'btf', 'dump', 'file', btf, 'format', format], 'bpftool  '))
  }
}
console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
if (process.env.BENCH_JSON) console.log(JSON.stringify(results))
