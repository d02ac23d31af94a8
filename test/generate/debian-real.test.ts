/**
 * Proof on real data: BTF generated from a real Debian debug package must carry the same
 * types as the BTF the kernel ships. The kernel is the Debian 12 6.1 arm64 cloud kernel
 * of the shipped archive (which holds its in-image BTF); its debug package,
 * linux-image-<release>-dbg (~250 MiB), is taken from the download cache
 * ($KCOMPAT_DEB_CACHE, default <tmpdir>/kcompat-cache/debs) or, with
 * KCOMPAT_TEST_DOWNLOAD=1, fetched from the bookworm-security mirror apt uses (checked
 * against the index and kept in the cache). Otherwise the test prints why and skips.
 * `bash bench/generate.sh` always runs it.
 *
 * Every difference is printed with its explanation; the test fails on any unexplained
 * one (see explainDifferences in src/generate/compare.ts).
 */
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {defaultArchiveDir, readKernelBtf} from '../../src/archive/archive.js'
import {extractDebugVmlinux, findDebugStanza} from '../../src/archive/debug-deb.js'
import {fetchPackagesIndex} from '../../src/archive/debian.js'
import {download} from '../../src/archive/download.js'
import {readManifest} from '../../src/archive/manifest.js'
import {parseBtf} from '../../src/btf/decode.js'
import {compareBtf, explainDifferences, formatComparison} from '../../src/generate/compare.js'
import {generateBtf} from '../../src/generate/generate.js'
import {mirrorForSuite} from '../../src/kernel/apt.js'
import {findTool, run} from '../helpers/tools.js'

const CACHE = process.env.KCOMPAT_DEB_CACHE || join(tmpdir(), 'kcompat-cache', 'debs')
const SUITE = 'bookworm-security'
const work = mkdtempSync(join(tmpdir(), 'kcompat-real-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))

const archive = defaultArchiveDir()
const entry = readManifest(archive).kernels.find((k) => k.arch === 'arm64' && /^6\.1\.0-\d+-cloud-arm64$/.test(k.release) && k.btf === 'in-kernel')

async function debugPackage(): Promise<{path?: string; reason?: string; downloadMs?: number}> {
  if (!entry?.source.package || !entry.source.packageVersion) return {reason: 'the archive has no Debian 6.1 cloud-arm64 kernel with its own BTF'}
  const name = `${entry.source.package}-dbg_${entry.source.packageVersion.replace(/^\d+:/, '')}_arm64.deb`
  const cached = join(CACHE, name)
  if (existsSync(cached)) return {path: cached, downloadMs: 0}
  if (process.env.KCOMPAT_TEST_DOWNLOAD !== '1') {
    return {reason: `${name} is not in ${CACHE}; set KCOMPAT_TEST_DOWNLOAD=1 to download it (~250 MiB), or run bash bench/generate.sh`}
  }
  const mirror = mirrorForSuite(SUITE)
  if (!mirror) return {reason: `no apt source lists ${SUITE}`}
  const stanza = findDebugStanza(await fetchPackagesIndex(mirror, SUITE, 'arm64'), entry.source.package, entry.source.packageVersion)
  if (!stanza) return {reason: `${mirror} no longer lists ${entry.source.package}-dbg ${entry.source.packageVersion} in ${SUITE}`}
  mkdirSync(CACHE, {recursive: true})
  const t = Date.now()
  await download(`${mirror.replace(/\/+$/, '')}/${stanza.filename}`, cached, {sha256: stanza.sha256, size: stanza.size})
  return {path: cached, downloadMs: Date.now() - t}
}

describe('generated BTF of a real Debian kernel against the BTF it ships', () => {
  it(
    `${entry?.release ?? 'Debian 6.1 cloud-arm64'}: the same structs, unions, functions, typedefs, enums and variables`,
    async (ctx) => {
      if (!findTool('pahole')) {
        console.warn('skipping the real-data comparison: pahole is not installed')
        return ctx.skip()
      }
      const deb = await debugPackage()
      if (!deb.path) {
        console.warn(`skipping the real-data comparison: ${deb.reason}`)
        return ctx.skip()
      }
      const t0 = Date.now()
      const x = await extractDebugVmlinux(deb.path, work, {release: entry!.release})
      const extractMs = Date.now() - t0
      const g = await generateBtf(x.path, {kernel: entry!.release, tmpDir: work})
      rmSync(x.path, {force: true})
      const shipped = parseBtf(await readKernelBtf(archive, entry!))
      const t1 = Date.now()
      const c = compareBtf(g.parsed, shipped)
      const compareMs = Date.now() - t1
      console.log(
        [
          `${entry!.release}: ${x.entry} from ${deb.path} (${deb.downloadMs ? `downloaded in ${(deb.downloadMs / 1000).toFixed(1)} s` : 'cached'})`,
          `extract ${(extractMs / 1000).toFixed(1)} s (${(x.size / 2 ** 20).toFixed(0)} MiB), pahole ${g.pahole.version.text} ${g.generator.flags.join(' ')}: ${(g.elapsedMs / 1000).toFixed(1)} s, peak ${g.peakKiB ? `${(g.peakKiB / 1024).toFixed(0)} MiB` : 'unknown'}; compare ${compareMs} ms`,
          `generated: ${g.parsed.lastId} types, ${g.btf.length} bytes; shipped: ${shipped.lastId} types, ${(await readKernelBtf(archive, entry!)).length} bytes`,
          formatComparison(c, {a: 'generated', b: 'shipped'}),
        ].join('\n'),
      )
      const unexplained = explainDifferences(c).filter((e) => !e.reason)
      expect(unexplained.map((e) => `${e.difference.category} ${e.difference.key}`)).toEqual([])
      for (const cat of ['struct', 'typedef', 'enum', 'var'] as const) {
        expect([cat, c.counts[cat].a, c.counts[cat].same]).toEqual([cat, c.counts[cat].b, c.counts[cat].b])
      }
      // the same function names; only prototypes of ambiguous static names may differ
      expect(c.counts.func.a).toBe(c.counts.func.b)
      expect(c.counts.func.a).toBeGreaterThan(40_000)
      if (findTool('bpftool')) {
        const file = join(work, 'generated.btf')
        writeFileSync(file, g.btf)
        expect(run('bpftool', ['btf', 'dump', 'file', file]).toString()).toMatch(/STRUCT 'task_struct'/)
      }
    },
    30 * 60_000,
  )
})
