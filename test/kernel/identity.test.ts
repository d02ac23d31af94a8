/**
 * Identity of real release strings. The table (test/kernel/identity/releases.tsv, made by
 * scripts/identity-table.mjs) holds release strings as their publishers file them: BTFHub's
 * archive folders (`centos/7/arm64/…`) and Debian's Sources indices (suite → Debian
 * release, `Package-List … arch=`). The folder or suite is the expectation; kcompat must
 * name the same distro, release and arch from the string alone.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type KernelRelease, parseRelease} from '../../src/kernel/release.js'

interface Row {
  release: string
  os: string
  version: string
  arch: string
  source: string
}

const ROWS: Row[] = readFileSync(join(__dirname, 'identity/releases.tsv'), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const [release, os, version, arch, source] = l.split('\t')
    return {release: release!, os: os!, version: version!, arch: arch!, source: source!}
  })

/** BTFHub os-ids (/etc/os-release ID) to the distro ids kcompat reports. */
const DISTROS: Record<string, string[]> = {
  centos: ['rhel'],
  rhel: ['rhel'],
  ol: ['rhel', 'oracle'],
  ubuntu: ['ubuntu'],
  debian: ['debian'],
  fedora: ['fedora'],
  amzn: ['amzn'],
  sles: ['sles'],
  'opensuse-leap': ['sles'],
}

/** Distros whose uname -r never names the arch. */
const NO_ARCH_IN_STRING = new Set(['ubuntu', 'sles'])

/** What is wrong with kcompat's reading of one row, or undefined. */
function mismatch(row: Row, r: KernelRelease): string | undefined {
  const distros = DISTROS[row.os]
  if (!distros) return `no expectation for os-id ${row.os}`
  if (!distros.includes(r.distro)) return `distro ${r.distro}, expected ${distros.join('|')}`
  const want = row.version.split('.').map(Number)
  switch (row.os) {
    case 'ubuntu': {
      // Ubuntu's string does not name the release: the expected one must be among those kcompat names.
      const named = [r.distroRelease, ...r.alternatives].filter((x): x is string => x !== null).map((x) => x.split(' ')[0])
      if (!named.includes(row.version)) return `Ubuntu ${row.version} not among ${named.join(', ')}`
      break
    }
    case 'sles':
    case 'opensuse-leap':
      if (JSON.stringify(r.distroVersion) !== JSON.stringify(want)) return `release ${r.distroRelease} (${JSON.stringify(r.distroVersion)}), expected ${row.version}`
      break
    case 'centos':
    case 'rhel':
    case 'ol':
      if (r.distroVersion?.[0] !== want[0]) return `release ${r.distroRelease}, expected EL${row.version}`
      break
    default:
      if (r.distroRelease !== row.version) return `release ${r.distroRelease}, expected ${row.version}`
  }
  if (r.arch === null) {
    if (!NO_ARCH_IN_STRING.has(r.distro)) return `no arch read, expected ${row.arch}`
  } else if (r.arch !== row.arch) {
    return `arch ${r.arch}, expected ${row.arch}`
  }
  return undefined
}

describe('identity of real release strings (releases.tsv)', () => {
  it('holds hundreds of strings from both sources', () => {
    expect(ROWS.filter((r) => r.source.startsWith('btfhub-archive')).length).toBeGreaterThan(500)
    expect(ROWS.filter((r) => r.source.startsWith('Debian ')).length).toBeGreaterThan(1000)
    // every Debian suite the mirror carries for these releases
    for (const v of ['11', '12', '13', '14']) expect(ROWS.some((r) => r.os === 'debian' && r.version === v)).toBe(true)
  })

  it('gives every string the distro, release and arch its publisher files it under', () => {
    const wrong: string[] = []
    for (const row of ROWS) {
      let r: KernelRelease
      try {
        r = parseRelease(row.release)
      } catch (e) {
        wrong.push(`${row.release} (${row.source}): ${(e as Error).message.slice(0, 80)}`)
        continue
      }
      const m = mismatch(row, r)
      if (m) wrong.push(`${row.release} (${row.source}): ${m}`)
    }
    expect(wrong.slice(0, 40)).toEqual([])
  })

  it('the test itself can fail: a row filed under another release is caught', () => {
    const row = ROWS.find((r) => r.os === 'debian' && r.version === '12')!
    expect(mismatch({...row, version: '11'}, parseRelease(row.release))).toMatch(/expected 11/)
    expect(mismatch({...row, arch: 's390x'}, parseRelease(row.release))).toMatch(/expected s390x/)
  })
})
