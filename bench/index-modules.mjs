#!/usr/bin/env node
/**
 * What module BTF adds to the index, and what it costs to build: builds the index of an
 * archive as it is (module BTF included) and of a copy of it without module BTF (no
 * legacy `.modules.tar.xz`, and a manifest without the kernels' `modules` entries; the
 * pack stays, as it may hold vmlinux BTF no tarball has), and prints both sizes against
 * the module BTF the archive stores (the pack segments that hold modules, vmlinux units
 * included, plus any legacy tarballs), with each build's wall and CPU time and the load
 * average around it. Both
 * copies start without a BTF cache, as a fresh clone does.
 *
 *   npm run build && node bench/index-modules.mjs --archive DIR [--fast]
 */
import {cpSync, existsSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

const ROOT = join(import.meta.dirname, '..')
const dist = (p) => import(join(ROOT, 'dist', p))
const {buildIndex} = await dist('store/build.js')
const {readManifest, writeManifest} = await dist('archive/manifest.js')

const {values} = parseArgs({options: {archive: {type: 'string'}, fast: {type: 'boolean'}}})
if (!values.archive) throw new Error('usage: node bench/index-modules.mjs --archive DIR [--fast]')
const compression = values.fast ? 'fast' : 'small'
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ')
const work = mkdtempSync(join(tmpdir(), 'kcompat-index-modules-'))
const skip = (s) => s.endsWith('.sqlite') || s.endsWith('.sqlite-wal') || s.endsWith('.sqlite-shm') || s.includes('.cache')

async function timed(root, db) {
  const before = load()
  const cpu = process.cpuUsage()
  const t = performance.now()
  const r = await buildIndex(root, db, {compression})
  const ms = performance.now() - t
  const c = process.cpuUsage(cpu)
  return {r, ms, cpu: (c.user + c.system) / 1000, load: `${before} -> ${load()}`}
}

try {
  const full = join(work, 'with')
  cpSync(values.archive, full, {recursive: true, filter: (s) => !skip(s)})
  const bare = join(work, 'without')
  // the pack stays: it may hold vmlinux BTF that no tarball has
  cpSync(values.archive, bare, {recursive: true, filter: (s) => !skip(s) && !s.endsWith('.modules.tar.xz')})
  const m = readManifest(bare)
  writeManifest(bare, {...m, kernels: m.kernels.map(({modules: _m, ...k}) => k)})

  // the segments that hold some kernel's modules (vmlinux units included)
  let moduleBytes = 0
  const withModules = new Set(m.kernels.map((k) => k.modules?.unit !== undefined && k.modules.path).filter(Boolean))
  for (const s of m.pack?.segments ?? []) if (withModules.has(s.path)) moduleBytes += statSync(join(values.archive, s.path)).size
  let modules = 0
  for (const k of m.kernels) {
    if (!k.modules?.path) continue
    modules += k.modules.count
    if (k.modules.unit === undefined && existsSync(join(values.archive, k.modules.path))) moduleBytes += statSync(join(values.archive, k.modules.path)).size
  }

  const a = await timed(full, join(work, 'with.sqlite'))
  const b = await timed(bare, join(work, 'without.sqlite'))
  const mb = (n) => (n / 1e6).toFixed(2)
  const s = (n) => (n / 1000).toFixed(1)
  const grow = a.r.indexBytes - b.r.indexBytes
  console.log(`kernels: ${m.kernels.length}, modules with BTF: ${modules}, module BTF stored: ${mb(moduleBytes)} MB (pack segments and legacy tarballs)`)
  console.log(`index without modules: ${mb(b.r.indexBytes)} MB, build ${s(b.ms)} s wall, ${s(b.cpu)} s CPU (load ${b.load})`)
  console.log(`index with modules:    ${mb(a.r.indexBytes)} MB, build ${s(a.ms)} s wall, ${s(a.cpu)} s CPU (load ${a.load})`)
  console.log(`growth: ${mb(grow)} MB = ${((100 * grow) / moduleBytes).toFixed(1)}% of the module BTF stored (goal: at most 25%), ${compression} compression`)
} finally {
  rmSync(work, {recursive: true, force: true})
}
