/**
 * `.BTF.ext` parsing and placing CO-RE relocations in programs.
 *
 * Oracles: the C sources of the fixtures (each line_info record carries the text of the
 * source line it points at), the ELF symbol table (func_info), libbpf's own log (the
 * programs it finds, and for every relocation the spec it prints: the committed
 * `bpftool -d gen min_core_btf` logs in fixtures/golden/core, and the live harness),
 * and a table of corruptions, each with the error code and offset it must give.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {loadBpfObject} from '../../src/core/object.js'
import {CoreReloKind} from '../../src/core/relo.js'
import {relocateObject} from '../../src/core/relocate.js'
import {findCandidates} from '../../src/core/candidates.js'
import {formatSpec, parseSpec} from '../../src/core/spec.js'
import {STT_FUNC} from '../../src/elf/constants.js'
import {ElfFile} from '../../src/elf/elf.js'
import {type BtfExt, bpfPrograms, btfExtSectionName, parseBtfExt} from '../../src/elf/btf-ext.js'
import {BtfError} from '../../src/errors.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {requireHarness, runHarness} from '../harness/libbpf.js'

const NAMES = ['types', 'tags', 'maps', 'progs', 'core_fields', 'core_types', 'externs']
const ORDERS = ['bpfel', 'bpfeb'] as const
const objPath = (name: string, order: string): string => join(FIXTURES, 'bpf', `${name}.${order}.o`)

function extOf(path: string): {elf: ElfFile; bytes: Uint8Array; ext: BtfExt} {
  const elf = ElfFile.parse(readFileSync(path))
  // a copy: Buffer#slice shares memory, and the malformed tests mutate copies
  const bytes = new Uint8Array(elf.sectionData(elf.section('.BTF.ext')!))
  return {elf, bytes, ext: parseBtfExt(bytes)}
}

describe('.BTF.ext of every fixture object, both byte orders', () => {
  for (const name of NAMES) {
    const source = readFileSync(join(FIXTURES, 'bpf', `${name}.c`), 'utf8').split('\n')
    for (const order of ORDERS) {
      it(`${name}.${order}.o: line_info points at the source lines, func_info at the function symbols`, () => {
        const {elf, ext} = extOf(objPath(name, order))
        const btf = parseBtf(elf.sectionData(elf.section('.BTF')!))
        expect(ext.littleEndian).toBe(order === 'bpfel')
        expect(ext.lineInfo.sections.length).toBeGreaterThan(0)
        let lines = 0
        for (const g of ext.lineInfo.sections) {
          for (const r of g.records) {
            expect(btf.strings.get(r.fileNameOff)).toMatch(new RegExp(`${name}\\.c$`))
            const text = btf.strings.get(r.lineOff)
            if (r.line === 0) continue
            lines++
            // BTF keeps the source line (clang strips nothing but the newline)
            expect(source[r.line - 1], `line ${r.line}`).toBe(text)
            expect(r.column).toBeLessThanOrEqual(text.length + 1)
          }
        }
        expect(lines).toBeGreaterThan(5)
        const funcs = elf.symbols().filter((s) => s.type === STT_FUNC)
        for (const g of ext.funcInfo.sections) {
          const sec = elf.section(btfExtSectionName(btf, g.secNameOff))!
          for (const r of g.records) {
            const sym = funcs.find((s) => s.shndx === sec.index && Number(s.value) === r.insnOff)
            expect(sym, `func_info at ${sec.name}+${r.insnOff}`).toBeDefined()
            const t = btf.typeById(r.typeId)
            expect(t.kind).toBe(12) // FUNC
            expect(t.name).toBe(sym!.name)
          }
        }
      })
    }
    it(`${name}: little- and big-endian objects have the same func_info and line_info`, () => {
      const el = extOf(objPath(name, 'bpfel')).ext
      const eb = extOf(objPath(name, 'bpfeb')).ext
      const strip = (e: BtfExt): unknown => [e.funcInfo, e.lineInfo.sections.map((g) => g.records.length)]
      if (name !== 'core_fields') expect(strip(eb)).toEqual(strip(el))
      expect(eb.coreRelos.sections.length).toBe(el.coreRelos.sections.length)
    })
  }
})

describe('CO-RE specs and candidates as libbpf logs them (committed bpftool -d gen min_core_btf logs)', () => {
  // Log lines: "prog 'SEC': relo #N: <local spec>", then per candidate
  // "relo #N: matching candidate #i <spec>" / "non-matching candidate #i <spec>", or
  // "relo #N: no matching targets found"; and "CO-RE relocating [id] kind name: found
  // target candidate [id] kind name in [vmlinux]". bpftool names programs by section.
  for (const k of kernelFixtures()) {
    for (const name of ['progs', 'core_fields', 'core_types', 'externs']) {
      it(`${name} on ${k.release}`, async () => {
        const log = readFileSync(join(FIXTURES, 'golden', 'core', `${name}__${k.release}.relo.txt`), 'utf8')
        const obj = await loadBpfObject(objPath(name, 'bpfel'))
        const target = parseBtf(k.btf)
        const relos = relocateObject(obj, {vmlinux: target}, {allRecords: true})
        const expected = new Map<string, {local?: string; match?: string; none?: boolean}>()
        const cands = new Map<number, number[]>()
        for (const line of log.split('\n')) {
          let m = /^libbpf: prog '([^']+)': relo #(\d+): (.*)$/.exec(line)
          if (m) {
            const e = expected.get(`${m[1]}#${m[2]}`) ?? {}
            const rest = m[3]!
            let c: RegExpExecArray | null
            if ((c = /^matching candidate #\d+ (.*)$/.exec(rest))) e.match ??= c[1]
            else if (/^no matching targets found$/.test(rest)) e.none = true
            else if (!/^non-matching candidate/.test(rest)) e.local = rest
            expected.set(`${m[1]}#${m[2]}`, e)
            continue
          }
          m = /^libbpf: CO-RE relocating \[(\d+)\] .*: found target candidate \[(\d+)\]/.exec(line)
          if (m) cands.set(Number(m[1]), [...(cands.get(Number(m[1])) ?? []), Number(m[2])])
        }
        expect(expected.size).toBe(relos.length)
        obj.relos.forEach((placed, i) => {
          const r = relos[i]!
          const e = expected.get(`${placed.sectionName}#${placed.index}`)
          expect(e, `${placed.sectionName}#${placed.index}`).toBeDefined()
          const local = parseSpec(obj.btf, placed.relo.typeId, obj.btf.strings.get(placed.relo.accessStrOff), placed.relo.kind)
          expect(formatSpec(local)).toBe(e!.local)
          if (placed.relo.kind === CoreReloKind.TYPE_ID_LOCAL) return
          if (e!.none) expect(r.target).toBeUndefined()
          else expect(r.target?.spec).toBe(e!.match)
        })
        for (const [localId, ids] of cands) {
          expect(findCandidates(obj.btf, localId, {vmlinux: target}).map((c) => c.id)).toEqual(ids)
        }
      })
    }
  }
})

describe('programs and instruction numbers as libbpf finds them', () => {
  const haveHarness = requireHarness('program discovery vs libbpf')
  const kernel = kernelFixtures()[0]
  for (const name of ['progs', 'core_fields', 'core_types', 'externs', 'maps']) {
    it.skipIf(!haveHarness || !kernel)(`${name}: every program, its section, offset and size`, () => {
      const log = runHarness(objPath(name, 'bpfel'), kernel!.path).log
      const found = [...log.matchAll(/sec '([^']+)': found program '([^']+)' at insn offset (\d+) \(\d+ bytes\), code size (\d+) insns/g)].map(
        (m) => `${m[1]} ${m[2]} ${m[3]} ${m[4]}`,
      )
      expect(found.length).toBeGreaterThan(0)
      const progs = bpfPrograms(ElfFile.parse(readFileSync(objPath(name, 'bpfel'))))
      expect(progs.map((p) => `${p.sectionName} ${p.name} ${p.sectionInsnOffset} ${p.insnCount}`).sort()).toEqual(found.sort())
      // big-endian code may differ in length (bitfield reads); the programs are the same
      const eb = bpfPrograms(ElfFile.parse(readFileSync(objPath(name, 'bpfeb'))))
      expect(eb.map((p) => `${p.sectionName} ${p.name}`)).toEqual(progs.map((p) => `${p.sectionName} ${p.name}`))
    })
  }
})

// ---------------------------------------------------------------------------------------
// Malformed input

function errorOf(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return e
  }
  return undefined
}

function expectCode(bytes: Uint8Array, code: string, offset?: number): void {
  const e = errorOf(() => parseBtfExt(bytes))
  expect(e, `expected BtfError ${code}, got ${String(e)}`).toBeInstanceOf(BtfError)
  const err = e as BtfError
  expect(err.code, err.message).toBe(code)
  expect(typeof err.offset).toBe('number')
  expect(err.offset!).toBeGreaterThanOrEqual(0)
  expect(err.offset!).toBeLessThanOrEqual(bytes.length)
  if (offset !== undefined) expect(err.offset, err.message).toBe(offset)
}

describe('malformed .BTF.ext', () => {
  for (const order of ORDERS) {
    const {bytes: orig, ext} = extOf(objPath('core_types', order))
    const le = order === 'bpfel'
    const mutate = (fn: (dv: DataView, b: Uint8Array) => void, len = orig.length): Uint8Array => {
      const b = orig.slice(0, len)
      fn(new DataView(b.buffer), b)
      return b
    }
    const hdr = ext.header.hdrLen
    const funcBlock = hdr + ext.header.funcInfoOff
    const lineBlock = hdr + ext.header.lineInfoOff
    const coreBlock = hdr + ext.header.coreReloOff!
    const firstCore = ext.coreRelos.sections[0]!

    it(`${order}: every truncation throws BTF_EXT_* with an offset inside the data`, () => {
      for (let len = 0; len < orig.length; len++) {
        const e = errorOf(() => parseBtfExt(orig.subarray(0, len)))
        expect(e, `length ${len}`).toBeInstanceOf(BtfError)
        expect((e as BtfError).code).toMatch(/^BTF_EXT_/)
        expect((e as BtfError).offset!).toBeLessThanOrEqual(len)
      }
    })

    const cases: [string, Uint8Array, string, number?][] = [
      ['too short for a header', orig.slice(0, 7), 'BTF_EXT_TRUNCATED', 0],
      ['bad magic', mutate((dv) => dv.setUint16(0, 0x1234, le)), 'BTF_EXT_BAD_MAGIC', 0],
      ['version 2', mutate((dv) => dv.setUint8(2, 2)), 'BTF_EXT_BAD_VERSION', 2],
      ['flags set', mutate((dv) => dv.setUint8(3, 1)), 'BTF_EXT_BAD_FLAGS', 3],
      ['hdr_len past the end', mutate((dv) => dv.setUint32(4, orig.length + 1, le)), 'BTF_EXT_TRUNCATED', 4],
      ['hdr_len below 24', mutate((dv) => dv.setUint32(4, 20, le)), 'BTF_EXT_BAD_HEADER', 4],
      ['nothing after the header', mutate(() => {}, hdr), 'BTF_EXT_BAD_HEADER', 4],
      ['func_info block not aligned', mutate((dv) => dv.setUint32(8, ext.header.funcInfoOff + 2, le)), 'BTF_EXT_BAD_SECTION', 8],
      ['func_info block past the end', mutate((dv) => dv.setUint32(12, 0x7fffffff, le)), 'BTF_EXT_TRUNCATED', 8],
      ['line_info block without records', mutate((dv) => dv.setUint32(20, 4, le)), 'BTF_EXT_BAD_SECTION', lineBlock],
      ['line_info block without a record size', mutate((dv) => dv.setUint32(20, 2, le)), 'BTF_EXT_BAD_SECTION', lineBlock],
      ['func_info record size 4', mutate((dv) => dv.setUint32(funcBlock, 4, le)), 'BTF_EXT_BAD_RECORD_SIZE', funcBlock],
      ['core_relo record size 18', mutate((dv) => dv.setUint32(coreBlock, 18, le)), 'BTF_EXT_BAD_RECORD_SIZE', coreBlock],
      ['a group with no records', mutate((dv) => dv.setUint32(firstCore.offset + 4, 0, le)), 'BTF_EXT_BAD_SECTION', firstCore.offset + 4],
      ['a group with too many records', mutate((dv) => dv.setUint32(firstCore.offset + 4, 0x10000000, le)), 'BTF_EXT_TRUNCATED', firstCore.offset + 4],
      ['a CO-RE record at an odd instruction offset', mutate((dv) => dv.setUint32(firstCore.offset + 8, 12, le)), 'BTF_EXT_BAD_RECORD', firstCore.offset + 8],
    ]
    for (const [what, bytes, code, offset] of cases) {
      it(`${order}: ${what} -> ${code}`, () => expectCode(bytes, code, offset))
    }

    it(`${order}: seeded random corruption never escapes as anything but BtfError`, () => {
      let seed = le ? 12345 : 54321
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) >>> 0
        return seed % n
      }
      let errors = 0
      for (let i = 0; i < 3000; i++) {
        const b = orig.slice()
        const dv = new DataView(b.buffer)
        for (let j = 0, n = 1 + rand(3); j < n; j++) {
          const at = rand(b.length - 3) & ~3
          const choice = rand(4)
          if (choice === 0) b[at + rand(4)] = rand(256)
          else if (choice === 1) dv.setUint32(at, rand(0x1000), le)
          else if (choice === 2) dv.setUint32(at, 0xffffffff - rand(16), le)
          else dv.setUint32(at, 0, le)
        }
        const e = errorOf(() => parseBtfExt(b.subarray(0, rand(5) === 0 ? rand(b.length) : b.length)))
        if (e !== undefined) {
          expect(e, String(e)).toBeInstanceOf(BtfError)
          errors++
        }
      }
      expect(errors).toBeGreaterThan(100)
    })
  }
})
