/**
 * Kernel config parsing on the committed Debian configs (fixtures/kernels/*.config.xz),
 * compared with grep/sed over the same text, plain and gzip'd as /proc/config.gz is;
 * plus the edge cases of the format and malformed input.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import {BPF_CONFIG_SYMBOLS, bpfConfigFacts, parseKernelConfig} from '../../src/kernel/config.js'
import {KcompatError} from '../../src/errors.js'
import {FIXTURES} from '../helpers/fixtures.js'
import {run} from '../helpers/tools.js'

const dir = join(FIXTURES, 'kernels')
const configs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.config.xz')).sort() : []

/** grep/sed: the symbol's value without quotes, null for "is not set" or absent. */
function sedValue(text: string, sym: string): string | null {
  const r = spawnSync('sh', ['-c', `sed -n 's/^${sym}=//p' | sed 's/^"\\(.*\\)"$/\\1/'`], {input: text, encoding: 'utf8'})
  const v = r.stdout.replace(/\n$/, '')
  return v === '' ? null : v
}

describe('Debian configs against grep/sed', () => {
  it('there are config fixtures', () => {
    expect(configs.length).toBeGreaterThanOrEqual(3)
  })
  for (const f of configs) {
    it(f, () => {
      const text = decompressSync(readFileSync(join(dir, f))).toString('utf8')
      const cfg = parseKernelConfig(text)
      expect(cfg.warnings).toEqual([])
      // every CONFIG_X= line and every "is not set" line, as grep counts them
      const setCount = Number(run('sh', ['-c', "grep -c '^CONFIG_[A-Za-z0-9_]*='"], {input: Buffer.from(text)}).toString())
      const unsetCount = Number(run('sh', ['-c', "grep -c '^# CONFIG_[A-Za-z0-9_]* is not set$'"], {input: Buffer.from(text)}).toString())
      expect([...cfg.values.values()].filter((v) => v !== null)).toHaveLength(setCount)
      expect([...cfg.values.values()].filter((v) => v === null)).toHaveLength(unsetCount)
      // the facts, by sed
      const facts = bpfConfigFacts(cfg)
      for (const sym of BPF_CONFIG_SYMBOLS) expect(facts[sym], sym).toBe(sedValue(text, sym))
      expect(facts.CONFIG_DEBUG_INFO_BTF).toBe('y')
      // 200 symbols spread over the file, by sed as well
      const names = [...text.matchAll(/^(?:# )?(CONFIG_[A-Za-z0-9_]+)[= ]/gm)].map((m) => m[1]!)
      for (let i = 0; i < names.length; i += Math.ceil(names.length / 200)) {
        expect(cfg.values.get(names[i]!) ?? null, names[i]).toBe(sedValue(text, names[i]!))
      }
      // /proc/config.gz style: the same text gzip'd
      const gz = run('gzip', ['-9', '-n', '-c'], {input: Buffer.from(text)})
      const fromGz = parseKernelConfig(gz)
      expect([...fromGz.values]).toEqual([...cfg.values])
    })
  }
})

describe('format edge cases', () => {
  it('values of every kind, quoting and escapes, not set vs absent', () => {
    const cfg = parseKernelConfig(
      [
        '#',
        '# Automatically generated file; DO NOT EDIT.',
        '#',
        'CONFIG_A=y',
        'CONFIG_B=m',
        'CONFIG_C="hello \\"world\\" \\\\ end"',
        'CONFIG_D=0x1000',
        'CONFIG_E=-42',
        'CONFIG_F=""',
        '# CONFIG_G is not set',
        'CONFIG_H="y"',
        '',
      ].join('\r\n'),
    )
    expect(cfg.values.get('CONFIG_A')).toBe('y')
    expect(cfg.values.get('CONFIG_B')).toBe('m')
    expect(cfg.values.get('CONFIG_C')).toBe('hello "world" \\ end')
    expect(cfg.values.get('CONFIG_D')).toBe('0x1000')
    expect(cfg.values.get('CONFIG_E')).toBe('-42')
    expect(cfg.values.get('CONFIG_F')).toBe('')
    expect(cfg.values.get('CONFIG_G')).toBeNull()
    expect(cfg.values.has('CONFIG_ABSENT')).toBe(false)
    expect(cfg.strings.has('CONFIG_H')).toBe(true)
    expect(cfg.strings.has('CONFIG_A')).toBe(false)
    expect(cfg.warnings).toEqual([])
    const facts = bpfConfigFacts(cfg)
    expect(facts.CONFIG_BPF_SYSCALL).toBeNull()
  })

  it('a later line wins, as in kconfig', () => {
    const cfg = parseKernelConfig('CONFIG_A=y\n# CONFIG_A is not set\nCONFIG_B=n\nCONFIG_B=m\n')
    expect(cfg.values.get('CONFIG_A')).toBeNull()
    expect(cfg.values.get('CONFIG_B')).toBe('m')
  })

  it('malformed lines are skipped with a warning', () => {
    const cfg = parseKernelConfig('CONFIG_A=y\nCONFIG_BAD="unterminated\nrubbish line\nCONFIG_C=m\n')
    expect(cfg.values.get('CONFIG_A')).toBe('y')
    expect(cfg.values.get('CONFIG_C')).toBe('m')
    expect(cfg.values.has('CONFIG_BAD')).toBe(false)
    expect(cfg.warnings.map((w) => w.line)).toEqual([2, 3])
  })

  it('binary data, non-configs and corrupt gzip are refused with codes', () => {
    const codeOf = (input: string | Uint8Array): string | undefined => {
      try {
        parseKernelConfig(input)
        return undefined
      } catch (e) {
        expect(e).toBeInstanceOf(KcompatError)
        return (e as KcompatError).code
      }
    }
    expect(codeOf(Buffer.from([0x43, 0x4f, 0, 0x4e]))).toBe('INPUT_BAD_CONFIG')
    expect(codeOf('hello\nworld\n')).toBe('INPUT_BAD_CONFIG')
    expect(codeOf(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]))).toBe('INPUT_CORRUPT_GZIP')
    expect(codeOf('')).toBeUndefined()
  })
})
