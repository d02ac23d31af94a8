#!/usr/bin/env node
/**
 * What module BTF adds to the index: builds the index of an archive as it is (module
 * BTF included) and of a copy of it without the module tarballs and the manifest's
 * `modules` entries, and prints both sizes against the module tarballs' size, with the
 * build times.
 *
 *   npm run build && node bench/index-modules.mjs --archive DIR
 */
import {cpSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

const ROOT = join(import.meta.dirname, '..')
const dist = (p) => import(join(ROOT, 'dist', p))
const {buildIndex} = await dist('store/build.js')
const {readManifest, writeManifest} = await dist('archive/manifest.js')

const {values} = parseArgs({options: {archive: {type: 'string'}}})
if (!values.archive) throw new Error('usage: node bench/index-modules.mjs --archive DIR')
const work = mkdtempSync(join(tmpdir(), 'kcompat-index-modules-'))
try {
  const full = join(work, 'with')
  cpSync(values.archive, full, {recursive: true, filter: (s) => !s.endsWith('.sqlite') && !s.includes('.cache')})
  const bare = join(work, 'without')
  cpSync(values.archive, bare, {recursive: true, filter: (s) => !s.endsWith('.sqlite') && !s.includes('.cache') && !s.endsWith('.modules.tar.xz')})
  const m = readManifest(bare)
  writeManifest(bare, {...m, kernels: m.kernels.map(({modules: _m, ...k}) => k)})
  let t = performance.now()
  const a = await buildIndex(full, join(work, 'with.sqlite'))
  const msWith = performance.now() - t
  t = performance.now()
  const b = await buildIndex(bare, join(work, 'without.sqlite'))
  const msWithout = performance.now() - t
  let tarballs = 0
  let modules = 0
  for (const k of m.kernels) {
    if (!k.modules?.path) continue
    tarballs += statSync(join(values.archive, k.modules.path)).size
    modules += k.modules.count
  }
  const grow = a.indexBytes - b.indexBytes
  console.log(`kernels: ${m.kernels.length}, modules with BTF: ${modules}, module tarballs: ${(tarballs / 1e6).toFixed(2)} MB`)
  console.log(`index without modules: ${(b.indexBytes / 1e6).toFixed(2)} MB (${(msWithout / 1000).toFixed(1)} s)`)
  console.log(`index with modules:    ${(a.indexBytes / 1e6).toFixed(2)} MB (${(msWith / 1000).toFixed(1)} s)`)
  console.log(`growth: ${(grow / 1e6).toFixed(2)} MB = ${((100 * grow) / tarballs).toFixed(1)}% of the module tarballs (goal: at most 25%)`)
} finally {
  rmSync(work, {recursive: true, force: true})
}
