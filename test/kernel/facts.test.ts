/**
 * The facts data file: it validates, every fact names its source, the sections table and
 * the facts agree with each other, features.md's doubtful marks are kept, and (when the
 * research notes are present) the program-type versions equal features.md §2.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type Facts, FactsError, expandSource, factsPathCandidates, loadFacts, parseFacts, validateFacts} from '../../src/kernel/facts/index.js'
import {compareVersions, parseVersion} from '../../src/kernel/facts/version.js'
import {FAMILIES, SECTION_DEFS} from '../../src/kernel/sections.js'

const FEATURES_MD = join(import.meta.dirname, '..', '..', '..', 'shared', 'research', 'features.md')
const raw = (): Record<string, unknown> => JSON.parse(readFileSync(factsPathCandidates().find((p) => existsSync(p))!, 'utf8'))

function invalid(mutate: (f: Record<string, any>) => void): FactsError {
  const f = raw()
  mutate(f)
  try {
    validateFacts(f)
  } catch (e) {
    return e as FactsError
  }
  throw new Error('expected the mutated facts to be refused')
}

describe('facts.json', () => {
  const facts: Facts = loadFacts()

  it('loads and validates, with a schema and a data version', () => {
    expect(facts.schema).toBe(1)
    expect(facts.dataVersion).toMatch(/^\d{4}\.\d+\.\d+$/)
  })

  it('every fact has a public source: legend keys expanded, nothing outside the repository or this project cited', () => {
    const keys = Object.keys(facts.sources)
    const check = (path: string, f: {source?: unknown; ref?: unknown}) => {
      expect(typeof f.source === 'string' && f.source.length > 2, `${path}.source`).toBe(true)
      const s = f.source as string
      expect(s, path).not.toMatch(/features\.md|§|\bissue \d/)
      let bare = s
      for (const e of Object.values(facts.sources)) bare = bare.split(e.where).join('')
      for (const k of keys) expect(new RegExp(`\\b${k}\\b`).test(bare), `${path}: unexpanded ${k} in ${s}`).toBe(false)
      expect(f.ref, `${path}.ref`).toBeUndefined()
    }
    for (const [k, f] of Object.entries(facts.progTypes)) check(`progTypes.${k}`, f)
    for (const [k, f] of Object.entries(facts.attachTypes)) check(`attachTypes.${k}`, f)
    for (const [k, f] of Object.entries(facts.trampoline)) check(`trampoline.${k}`, f)
    for (const [k, f] of Object.entries(facts.features)) check(`features.${k}`, f)
    for (const r of facts.configRequirements) check(`configRequirements.${r.id}`, r)
    for (const d of facts.distros) {
      for (const [k, f] of Object.entries(d.facts)) {
        if (k === 'progTypes' || k === 'attachTypes' || k === 'config') {
          for (const [n, ff] of Object.entries(f as Record<string, {source: string}>)) check(`${d.id}.${k}.${n}`, ff)
        } else check(`${d.id}.${k}`, f as {source: string})
      }
    }
  })

  it('defines every program and attach type the SEC() table uses', () => {
    for (const d of SECTION_DEFS) {
      expect(facts.progTypes[d.progType], d.name).toBeDefined()
      if (d.attachType) expect(facts.attachTypes[d.attachType], d.name).toBeDefined()
      if (d.sleepableFeature) expect(facts.features[d.sleepableFeature], d.name).toBeDefined()
    }
  })

  it('config requirements and the LSM rule name real section families', () => {
    const families = new Set<string>([...FAMILIES, '*'])
    for (const r of facts.configRequirements) for (const f of r.families) expect(families.has(f), `${r.id}: ${f}`).toBe(true)
    for (const f of facts.lsmList.families) expect(families.has(f)).toBe(true)
  })

  it('trampolines: x86_64 5.5, arm64 6.0, s390x and riscv 6.3, others none (features.md §3b)', () => {
    expect(facts.trampoline.x86_64!.since).toBe('5.5')
    expect(facts.trampoline.arm64!.since).toBe('6.0')
    expect(facts.trampoline.s390x!.since).toBe('6.3')
    expect(facts.trampoline.riscv64!.since).toBe('6.3')
    expect(facts.trampoline.other!.since).toBeNull()
  })

  it('keeps the doubtful marks of features.md', () => {
    expect(facts.features.uprobe.doubtful).toBe(true) // §3a "not verified"
    expect(facts.features.sleepableIter.doubtful).toBe(true) // §4 inferred
    expect(facts.features.sleepableUprobe.doubtful).toBe(true) // §4 "verify"
    expect(facts.features.sleepableStructOps.doubtful).toBe(true) // §4 "verify"
    expect(facts.attachTypes.BPF_SK_REUSEPORT_SELECT!.doubtful).toBe(true) // §9 note "not verified"
    const el8 = facts.releaseMaps.el['8']!
    expect(el8.find((b) => b.release === '8.8')?.doubtful).toBe(true) // §10a "not verified from a source here"
    expect(el8.find((b) => b.release === '8.9')?.doubtful).toBe(true)
    const profile = (id: string) => facts.distros.find((d) => d.id === id)!
    expect(profile('uek6-early').facts.kernelBtf?.doubtful).toBe(true) // §13 depends on UEK6 build
    expect(profile('fedora-31').facts.kernelBtf?.doubtful).toBe(true) // §13 treat F31 as uncertain
    expect(profile('el7').facts.progTypes?.TRACEPOINT?.doubtful).toBe(true)
    // a firm fact is not doubtful
    expect(facts.progTypes.TRACING!.doubtful).toBeUndefined()
  })

  it('the distro facts of the seed case: EL7.6+ is tracing-only, has no BTF and no trampoline', () => {
    const el7 = facts.distros.find((d) => d.id === 'el7')!
    expect(el7.facts.onlyProgTypes?.value).toEqual(['KPROBE', 'TRACEPOINT', 'PERF_EVENT'])
    expect(el7.facts.kernelBtf?.value).toBe(false)
    expect(el7.facts.trampoline?.value).toBe(false)
  })

  it('EL GA build tables increase in build and release', () => {
    for (const [major, list] of Object.entries(facts.releaseMaps.el)) {
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.build).toBeGreaterThan(list[i - 1]!.build)
        expect(compareVersions(parseVersion(list[i]!.release), parseVersion(list[i - 1]!.release)), major).toBeGreaterThan(0)
      }
    }
  })

  describe('the validator refuses', () => {
    it.each([
      ['a fact without a source', (f: any) => delete f.progTypes.TRACING.source, /progTypes\.TRACING\.source/],
      ['a bad version', (f: any) => (f.attachTypes.BPF_TRACE_FENTRY.since = '5.x'), /BPF_TRACE_FENTRY\.since/],
      ['since: null without unreleased', (f: any) => (f.progTypes.LSM.since = null), /progTypes\.LSM\.since/],
      ['an unknown distro fact', (f: any) => (f.distros[2].facts.colour = {value: 1, source: 's'}), /unknown fact key/],
      ['a distro fact on an undefined program type', (f: any) => (f.distros[3].facts.progTypes.NOPE = {value: true, source: 's'}), /NOPE.*not defined/],
      ['an unknown match key', (f: any) => (f.distros[1].match.kernel = 'x'), /unknown match key/],
      ['a config fact that is not a CONFIG_ symbol', (f: any) => (f.distros[3].facts.config.BPF = {value: 'y', source: 's'}), /not a CONFIG_ symbol/],
      ['decreasing EL builds', (f: any) => (f.releaseMaps.el['7'][1].build = 100), /builds must increase/],
      ['a duplicate profile id', (f: any) => (f.distros[1].id = f.distros[0].id), /duplicate id/],
      ['a missing feature', (f: any) => delete f.features.sleepable, /features\.sleepable: missing/],
      ['a doubtful flag that is not a boolean', (f: any) => (f.features.uprobe.doubtful = 'yes'), /doubtful: must be a boolean/],
    ])('%s', (_name, mutate, message) => {
      const e = invalid(mutate)
      expect(e).toBeInstanceOf(FactsError)
      expect(e.code).toBe('FACTS_INVALID')
      expect(e.message).toMatch(message)
    })
    it('a source that cites research notes or a project issue, or a leftover ref', () => {
      expect(invalid((f) => (f.progTypes.TRACING.source = 'features.md §2')).message).toMatch(/progTypes\.TRACING\.source: cites something users cannot look up/)
      expect(invalid((f) => (f.features.uprobe.note = 'see issue 4')).message).toMatch(/features\.uprobe\.note/)
      expect(invalid((f) => (f.progTypes.LSM.ref = 'x')).message).toMatch(/progTypes\.LSM\.ref: no longer used/)
    })
    it('a newer schema', () => {
      expect(invalid((f) => (f.schema = 2)).code).toBe('FACTS_TOO_NEW')
    })
    it('text that is not JSON', () => {
      expect(() => parseFacts('{nope')).toThrow(expect.objectContaining({code: 'FACTS_INVALID'}))
    })
  })
})

describe.skipIf(!existsSync(FEATURES_MD))('facts.json equals features.md §2 (program types)', () => {
  it('every row of the §2 table, EDOCS column', () => {
    const text = readFileSync(FEATURES_MD, 'utf8')
    const section = text.slice(text.indexOf('## 2.'), text.indexOf('## 3.'))
    const facts = loadFacts()
    let rows = 0
    for (const line of section.split('\n')) {
      const m = /^\| ([A-Z_]+)(?: \([^)]*\))? \| [^|]+ \| [^|]+ \| \**([\d.]+)\** \|/.exec(line)
      if (!m) continue
      const name = m[1]!.split(' / ')[0]!
      if (!facts.progTypes[name]) continue
      rows++
      expect(facts.progTypes[name]!.since, name).toBe(m[2])
    }
    expect(rows).toBeGreaterThanOrEqual(25)
  })
})

describe('expandSource', () => {
  const legend = {BCC: {name: 'bcc kernel-versions.md', where: 'github.com/iovisor/bcc'}, EDOCS: {name: 'docs.ebpf.io', where: 'docs.ebpf.io'}}
  it('replaces whole-word keys and lists where to find them once', () => {
    expect(expandSource('BCC, EDOCS; BCC again', legend)).toBe('bcc kernel-versions.md, docs.ebpf.io; bcc kernel-versions.md again (github.com/iovisor/bcc; docs.ebpf.io)')
  })
  it('leaves other words and partial matches alone', () => {
    expect(expandSource('RHEL 7.6 release notes; BCCX; EDOCSy', legend)).toBe('RHEL 7.6 release notes; BCCX; EDOCSy')
  })
})
