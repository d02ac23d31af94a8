// The raw dump written straight from the BTF's bytes (dumpRawBytes, what `btf dump
// --format raw` runs) against bpftool's `format raw` of the same real files: Debian
// kernels, module (split) BTF on its base, BPF objects of both byte orders, and a kernel
// rewritten big-endian. Each chunk is copied when handed over: the dumper reuses its buffer.
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {encodeBtf} from '../../src/btf/encode.js'
import {loadBtf} from '../../src/btf/load.js'
import {dumpRawBytes, dumpRawString} from '../../src/btf/rawdump.js'
import type {Btf} from '../../src/btf/btf.js'
import {bpfObjectFixtures, kernelFixtures, moduleFixtures, scratchDir} from '../helpers/fixtures.js'
import {firstDifference, requireTool, run} from '../helpers/tools.js'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

function bytesDump(btf: Btf): string {
  const parts: Buffer[] = []
  let last: Uint8Array | undefined
  const ok = dumpRawBytes(btf, (c) => {
    // the same buffer each time (overwritten after the call returns)
    if (last) expect(c.buffer).toBe(last.buffer)
    last = c
    parts.push(Buffer.from(c))
  })
  expect(ok).toBe(true)
  return Buffer.concat(parts).toString('utf8')
}

function expectSameText(actual: string, expected: string): void {
  const diff = firstDifference(actual, expected)
  expect(diff, diff).toBeUndefined()
}

const haveBpftool = requireTool('bpftool', 'byte-level raw dump against bpftool')

describe('the raw dump from bytes is bpftool format raw', () => {
  for (const k of kernelFixtures()) {
    it.skipIf(!haveBpftool)(`Debian ${k.release}`, () => {
      expectSameText(bytesDump(parseBtf(k.btf, {lazy: true})), run('bpftool', ['btf', 'dump', 'file', k.path, 'format', 'raw']).toString())
    })
  }
  for (const m of moduleFixtures()) {
    it.skipIf(!haveBpftool)(`module ${m.module} over ${m.release}`, () => {
      const base = parseBtf(m.base.btf, {lazy: true})
      const expected = run('bpftool', ['-B', m.base.path, 'btf', 'dump', 'file', m.path, 'format', 'raw']).toString()
      expectSameText(bytesDump(parseBtf(m.btf, {base, lazy: true})), expected)
    })
  }
  for (const obj of bpfObjectFixtures()) {
    it.skipIf(!haveBpftool)(`BPF object ${obj.split('/').pop()}`, async () => {
      const {parsed} = await loadBtf(obj, {lazy: true})
      expectSameText(bytesDump(parsed), run('bpftool', ['btf', 'dump', 'file', obj, 'format', 'raw']).toString())
    })
  }
  it.skipIf(!haveBpftool)('a kernel rewritten big-endian', () => {
    const k = kernelFixtures()[0]!
    const be = encodeBtf(parseBtf(k.btf), {littleEndian: false})
    const path = join(scratchDir(), 'be.btf')
    writeFileSync(path, be)
    expectSameText(bytesDump(parseBtf(be, {lazy: true})), run('bpftool', ['btf', 'dump', 'file', path, 'format', 'raw']).toString())
  })
  it('says so, writing nothing, for a Btf not parsed from bytes', () => {
    const k = kernelFixtures()[0]!
    const parsed = parseBtf(k.btf)
    const rebuilt = new (parsed.constructor as new (i: object) => Btf)({types: parsed.types.slice(0, 10), strings: parsed.strings, littleEndian: true, header: parsed.header})
    let wrote = false
    expect(dumpRawBytes(rebuilt, () => (wrote = true))).toBe(false)
    expect(wrote).toBe(false)
    expect(dumpRawString(rebuilt).split('\n')[0]).toBe(dumpRawString(parsed).split('\n')[0])
  })
})
