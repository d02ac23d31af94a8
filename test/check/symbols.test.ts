/**
 * The fast symbol scan equals what the validating parser gives, on every fixture kernel,
 * and refuses malformed input instead of reading past it.
 */
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {scanSymbols, symbolsFromBtf} from '../../src/check/symbols.js'
import {boundedDistance, nearNames} from '../../src/check/targets.js'
import {loadBtf} from '../../src/btf/load.js'
import {bpfObjectFixtures, kernelFixtures} from '../helpers/fixtures.js'
import {findTool, run} from '../helpers/tools.js'
import {FIXTURE_KERNELS, fixtureKernel} from './fixture-archive.js'

describe('scanSymbols', () => {
  it.each(FIXTURE_KERNELS.map((k) => k.release))('%s: same FUNCs, TYPEDEFs, ids and BPF enums as the full parse', (release) => {
    const {btf} = fixtureKernel(release)
    const fast = scanSymbols(btf)
    for (const full of [symbolsFromBtf(parseBtf(btf)), symbolsFromBtf(parseBtf(btf, {lazy: true}))]) {
      // lookups first (through the name index), then the whole maps
      for (const [n, id] of [...fast.funcs].filter((_e, i) => i % 101 === 0)) expect(full.funcs.get(n)).toBe(id)
      for (const [n, id] of [...fast.typedefs].filter((_e, i) => i % 53 === 0)) expect(full.typedefs.get(n)).toBe(id)
      expect(full.funcs.get('no_such_function_anywhere')).toBeUndefined()
      expect(full.hasBtfTraceTypedefs).toBe(fast.hasBtfTraceTypedefs)
      expect(fast.funcs.size).toBe(full.funcs.size)
      expect([...fast.funcs]).toEqual([...full.funcs])
      expect([...fast.typedefs]).toEqual([...full.typedefs])
      expect(fast.progTypes).toEqual(full.progTypes)
      expect(fast.attachTypes).toEqual(full.attachTypes)
    }
    expect(fast.hasBtfTraceTypedefs).toBe(true)
    expect(fast.progTypes!.has('BPF_PROG_TYPE_TRACING')).toBe(true)
  })

  it('refuses truncated type data, as the (lazy) parser does', () => {
    const {btf} = fixtureKernel(FIXTURE_KERNELS[0].release)
    const cut = Buffer.from(btf)
    // shorten the declared type section so the last record runs past it
    const typeLen = cut.readUInt32LE(12)
    cut.writeUInt32LE(typeLen - 6, 12)
    expect(() => scanSymbols(cut)).toThrow(/past the type section|truncated/)
    expect(() => parseBtf(cut, {lazy: true})).toThrow(expect.objectContaining({code: expect.stringMatching(/^BTF_/)}))
  })

  it('refuses a bad magic with the parser\'s error', () => {
    expect(() => scanSymbols(new Uint8Array(32))).toThrow(expect.objectContaining({code: 'BTF_BAD_MAGIC'}))
  })
})

describe('near names', () => {
  it('bounded edit distance', () => {
    expect(boundedDistance('do_unlinkat', 'do_unlinkt', 2)).toBe(1)
    expect(boundedDistance('kitten', 'sitting', 2)).toBe(3)
    expect(boundedDistance('a', 'abcdef', 2)).toBe(3)
    expect(boundedDistance('', '', 2)).toBe(0)
  })
  it('finds misspellings and longer variants, best first', () => {
    const sym = scanSymbols(fixtureKernel('6.1.0-56-cloud-amd64').btf)
    expect(nearNames(sym, 'FUNC', '', 'do_unlinkt').map((n) => n.name)[0]).toBe('do_unlinkat')
    expect(nearNames(sym, 'FUNC', 'bpf_lsm_', 'file_opne').map((n) => n.target)).toContain('file_open')
    const typedef = scanSymbols(fixtureKernel('6.12.117+deb12-cloud-amd64').btf)
    expect(nearNames(typedef, 'TYPEDEF', 'btf_trace_', 'ext4_writepage')[0]).toMatchObject({target: 'ext4_writepages', distance: 1})
  })
})

describe('hasBtfTraceTypedefs (the string-section search)', () => {
  const hasBpftool = findTool('bpftool') !== undefined
  it.skipIf(!hasBpftool && (console.warn('skipping: bpftool is not installed'), true))('agrees with bpftool: some TYPEDEF named btf_trace_* or none', async () => {
    const inputs = [...kernelFixtures().map((k) => k.path), ...bpfObjectFixtures()]
    let yes = 0
    let no = 0
    for (const file of inputs) {
      const expected = /^\[\d+\] TYPEDEF 'btf_trace_/m.test(run('bpftool', ['btf', 'dump', 'file', file]).toString())
      const {parsed} = await loadBtf(file, {lazy: true})
      expect(symbolsFromBtf(parsed).hasBtfTraceTypedefs, file).toBe(expected)
      if (expected) yes++
      else no++
    }
    // both answers are exercised
    expect(yes).toBeGreaterThan(0)
    expect(no).toBeGreaterThan(0)
  })
})
