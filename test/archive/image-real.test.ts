/**
 * The real thing: `fetchKernelImage` gets the Debian 12 cloud-amd64 kernel image of the
 * shipped manifest from the mirror this machine's apt sources name for its suite, and the
 * image is the one Debian's package holds: its sha256 matches the manifest (recorded from
 * the package whose sha256 Debian's index gives), `dpkg-deb` + tar extract the same bytes
 * from the downloaded package, and it is an x86 bzImage (the "HdrS" boot protocol magic at
 * 0x202, Documentation/arch/x86/boot.rst).
 *
 * Needs the network: without apt sources for the suite or a reachable mirror it prints why
 * and skips; under CI (`CI=true`, where the Debian mirror is reachable) it must run.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {defaultArchiveDir} from '../../src/archive/archive.js'
import {fetchKernelImage} from '../../src/archive/image.js'
import {readManifest} from '../../src/archive/manifest.js'
import {mirrorForSuite} from '../../src/kernel/apt.js'
import {findTool} from '../helpers/tools.js'

const RELEASE = '6.1.0-56-cloud-amd64'
const entry = readManifest(defaultArchiveDir()).kernels.find((k) => k.release === RELEASE && k.arch === 'x86_64')
const suite = entry?.source.image?.repo?.suite
const mirror = suite ? mirrorForSuite(suite) : undefined

/** Why the test cannot run here, or undefined. */
async function unavailable(): Promise<string | undefined> {
  if (!entry?.source.image) return `the shipped manifest has no image provenance for ${RELEASE}`
  if (!mirror) return `no apt source lists suite ${suite}`
  try {
    const res = await request(`${mirror.replace(/\/+$/, '')}/dists/${suite}/Release`, {method: 'HEAD', headersTimeout: 15_000})
    await res.body.dump()
    if (res.statusCode !== 200) return `the mirror of ${suite} answers HTTP ${res.statusCode}`
  } catch (e) {
    return `the mirror of ${suite} is unreachable (${(e as Error).message})`
  }
  return undefined
}

describe('fetchKernelImage on the real Debian mirror', () => {
  let skip: string | undefined
  let cacheDir: string
  beforeAll(async () => {
    skip = await unavailable()
    if (skip) {
      if (process.env.CI === 'true') throw new Error(`cannot fetch the real image under CI: ${skip}`)
      console.warn(`skipping the real image fetch: ${skip}`)
    }
    cacheDir = mkdtempSync(join(tmpdir(), 'kcompat-real-image-'))
  })
  afterAll(() => rmSync(cacheDir, {recursive: true, force: true}))

  it(`gets ${RELEASE}'s image from apt's mirror, byte for byte the package's, then from the cache`, async (ctx) => {
    if (skip) return ctx.skip()
    const img = entry!.source.image!
    const r = await fetchKernelImage(defaultArchiveDir(), entry!, {cacheDir, keepPackage: true})
    const bytes = readFileSync(r.path)
    expect(r).toMatchObject({sha256: img.memberSha256, size: img.memberSize, cached: false})
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(img.memberSha256)
    expect(bytes.toString('latin1', 0x202, 0x206)).toBe('HdrS')
    // the kept package: Debian's index checksum (recorded at sync), and dpkg-deb's reading of it
    const deb = join(cacheDir, 'packages', `${img.sha256}.deb`)
    expect(createHash('sha256').update(readFileSync(deb)).digest('hex')).toBe(img.sha256)
    if (findTool('dpkg-deb')) {
      const tar = spawnSync('dpkg-deb', ['--fsys-tarfile', deb], {maxBuffer: 1 << 30})
      expect(tar.status).toBe(0)
      const member = spawnSync('tar', ['-xO', `./${img.member}`], {input: tar.stdout, maxBuffer: 1 << 28})
      expect(member.status).toBe(0)
      expect(Buffer.compare(member.stdout, bytes)).toBe(0)
    }
    rmSync(join(cacheDir, 'packages'), {recursive: true, force: true})
    const again = await fetchKernelImage(defaultArchiveDir(), entry!, {cacheDir, mirror: 'http://127.0.0.1:9/unused'})
    expect(again).toEqual({...r, cached: true})
    expect(readdirSync(cacheDir)).toEqual([img.memberSha256])
  }, 600_000)
})
