#!/usr/bin/env node
/**
 * `archive merge` on real data: splits an archive (default: the shipped one) into N shard
 * directories by the same rule `archive sync --shard I/N` uses (shard.ts: sha256 of the
 * kernel key), merges them into an empty directory, and prints the time of the merge
 * (conflict check, every tarball checked against its manifest and copied, one manifest
 * rename) and of the index build that follows, and checks the merged manifest equals the
 * original.
 *
 *   npm run build && node bench/merge.mjs [--archive DIR] [--shards N]
 */
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {parseArgs} from 'node:util'

const ROOT = join(import.meta.dirname, '..')
const dist = (p) => import(join(ROOT, 'dist', p))
const {buildIndex} = await dist('store/build.js')
const {readManifest, writeManifest, kernelKey} = await dist('archive/manifest.js')
const {shardOf} = await dist('archive/shard.js')
const {mergeArchives} = await dist('archive/merge.js')

const {values} = parseArgs({options: {archive: {type: 'string'}, shards: {type: 'string'}}})
const src = values.archive ?? join(ROOT, 'archive')
const n = Number(values.shards ?? 4)
const work = mkdtempSync(join(tmpdir(), 'kcompat-bench-merge-'))
try {
  const m = readManifest(src)
  const dirs = Array.from({length: n}, (_, i) => join(work, `shard-${i + 1}`))
  let bytes = 0
  for (const [i, dir] of dirs.entries()) {
    const kernels = m.kernels.filter((k) => shardOf(kernelKey(k), n) === i + 1)
    for (const k of kernels) {
      for (const p of [k.path, k.modules?.path].filter(Boolean)) {
        mkdirSync(dirname(join(dir, p)), {recursive: true})
        copyFileSync(join(src, p), join(dir, p))
        bytes += statSync(join(src, p)).size
      }
    }
    mkdirSync(dir, {recursive: true})
    writeManifest(dir, {...m, kernels})
    console.log(`shard ${i + 1}/${n}: ${kernels.length} kernels`)
  }
  const out = join(work, 'merged')
  let t = performance.now()
  const r = await mergeArchives(out, dirs)
  const mergeMs = performance.now() - t
  t = performance.now()
  const idx = await buildIndex(out, join(out, 'index.sqlite'), {})
  const indexMs = performance.now() - t
  const same = readFileSync(join(out, 'manifest.json'), 'utf8') === JSON.stringify({version: m.version, kernels: readManifest(src).kernels}, null, 2) + '\n'
  console.log(`merged ${r.added.length} kernels (${(bytes / 1e6).toFixed(2)} MB of tarballs) in ${(mergeMs / 1000).toFixed(2)} s; index of ${idx.kernels} kernels built in ${(indexMs / 1000).toFixed(1)} s (${(idx.indexBytes / 1e6).toFixed(2)} MB); manifest identical to the original: ${same}`)
} finally {
  rmSync(work, {recursive: true, force: true})
}
