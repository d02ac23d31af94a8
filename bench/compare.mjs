#!/usr/bin/env node
// Times whole processes, kcompat against a reference tool, alternating runs so both see
// the same machine state, and prints median wall time, max RSS and the ratio.
//
//   node bench/compare.mjs --runs 9 --name "format c" \
//     --ref 'bpftool btf dump file F format c' --ours './bin/run.js btf dump F --format c'
//
// Output goes to /dev/null for both. Max RSS comes from GNU time (/usr/bin/time -f %M).
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}
const runs = Number(arg('runs', '7'))
const name = arg('name', 'bench')
const ref = arg('ref')
const ours = arg('ours')
if (!ref || !ours) {
  console.error('usage: compare.mjs --ref CMD --ours CMD [--runs N] [--name NAME]')
  process.exit(2)
}
const haveTime = existsSync('/usr/bin/time')

const scratch = mkdtempSync(join(tmpdir(), 'kcompat-bench-'))
process.on('exit', () => rmSync(scratch, {recursive: true, force: true}))
const rssFile = join(scratch, 'rss')

function once(cmd) {
  const wrapped = haveTime ? `/usr/bin/time -f '%M' -o ${rssFile} sh -c '${cmd.replace(/'/g, "'\\''")} >/dev/null'` : `${cmd} >/dev/null`
  const t0 = process.hrtime.bigint()
  const r = spawnSync('sh', ['-c', wrapped], {encoding: 'utf8', maxBuffer: 1 << 26})
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`)
  const rssKb = haveTime ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : NaN
  return {ms, rssKb}
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

// one warm-up each (page cache, JIT caches), not counted
once(ref)
once(ours)
const a = []
const b = []
for (let i = 0; i < runs; i++) {
  a.push(once(ref))
  b.push(once(ours))
}
const refMs = median(a.map((x) => x.ms))
const oursMs = median(b.map((x) => x.ms))
const refRss = Math.max(...a.map((x) => x.rssKb)) / 1024
const oursRss = Math.max(...b.map((x) => x.rssKb)) / 1024
const result = {
  name,
  runs,
  reference: {cmd: ref, medianMs: +refMs.toFixed(1), maxRssMiB: +refRss.toFixed(1)},
  kcompat: {cmd: ours, medianMs: +oursMs.toFixed(1), maxRssMiB: +oursRss.toFixed(1)},
  ratio: +(oursMs / refMs).toFixed(2),
}
console.log(
  `${name}: reference ${result.reference.medianMs} ms (${result.reference.maxRssMiB} MiB), ` +
    `kcompat ${result.kcompat.medianMs} ms (${result.kcompat.maxRssMiB} MiB), ratio ${result.ratio}x`,
)
if (process.env.BENCH_JSON) console.log(JSON.stringify(result))
