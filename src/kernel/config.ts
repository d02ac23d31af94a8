/**
 * Kernel build configuration (`.config`, `/boot/config-<release>`, `/proc/config.gz`).
 *
 * Format (what scripts/kconfig/confdata.c writes and conf_read_simple() reads; see
 * Documentation/kbuild/kconfig.rst):
 *
 *   CONFIG_FOO=y            bool/tristate set to yes
 *   CONFIG_BAR=m            tristate built as a module
 *   CONFIG_BAZ="a \"b\""    string: double-quoted, `\"` and `\\` escaped
 *   CONFIG_NR=64            int, CONFIG_ADDR=0x1000 hex
 *   # CONFIG_QUX is not set  explicitly off (a bool/tristate answered "n")
 *   # anything else           comment
 *
 * Symbols that do not appear at all were not visible in that configuration; for the
 * facts below both cases read as "not set" (null). Like kconfig, lines that match none
 * of the forms are skipped (and reported in `warnings`), but binary data or a file
 * without a single CONFIG_ line is refused with `INPUT_BAD_CONFIG`.
 *
 * `/proc/config.gz` (CONFIG_IKCONFIG_PROC) is the same text gzip'd; it is recognised by
 * the gzip magic and decompressed (capped).
 */
import {gzipDecompress, GZIP_MAGIC, startsWith} from '../archive/compress.js'
import {InputError} from '../errors.js'

/** A symbol's value: `y`, `m`, the unescaped string, the number as written; null for "is not set". */
export type ConfigValue = string | null

export interface KernelConfig {
  /** Every symbol that appears, by full name (`CONFIG_BPF`), in file order. */
  values: Map<string, ConfigValue>
  /** Symbols whose value was a quoted string (so `"y"` and `y` can be told apart). */
  strings: Set<string>
  /** Lines that were skipped as malformed, with their 1-based line number. */
  warnings: {line: number; text: string}[]
}

const MAX_CONFIG = 16 * 1024 * 1024
const SET = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/
const UNSET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/

function unquote(raw: string): string | undefined {
  if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"')) return undefined
  let out = ''
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i]!
    if (c === '\\') {
      if (i + 1 >= raw.length - 1) return undefined
      out += raw[++i]!
    } else if (c === '"') {
      return undefined
    } else {
      out += c
    }
  }
  return out
}

/**
 * Parses a kernel config (text, or bytes that may be gzip'd).
 * @throws InputError `INPUT_BAD_CONFIG` (binary data, no CONFIG_ lines), `INPUT_TOO_LARGE`,
 *   `INPUT_CORRUPT_GZIP`.
 */
export function parseKernelConfig(input: string | Uint8Array): KernelConfig {
  let text: string
  if (typeof input === 'string') {
    text = input
  } else {
    const bytes = startsWith(input, GZIP_MAGIC) ? gzipDecompress(input, MAX_CONFIG) : input
    if (bytes.length > MAX_CONFIG) throw new InputError('INPUT_TOO_LARGE', `kernel config is larger than ${MAX_CONFIG} bytes`)
    const nul = bytes.indexOf(0)
    if (nul >= 0) throw new InputError('INPUT_BAD_CONFIG', 'kernel config contains a NUL byte (binary data?)', {offset: nul})
    text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  }
  if (text.includes('\0')) throw new InputError('INPUT_BAD_CONFIG', 'kernel config contains a NUL character')
  const values = new Map<string, ConfigValue>()
  const strings = new Set<string>()
  const warnings: {line: number; text: string}[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '')
    if (line === '') continue
    const set = SET.exec(line)
    if (set) {
      const name = set[1]!
      const raw = set[2]!
      if (raw.startsWith('"')) {
        const s = unquote(raw)
        if (s === undefined) {
          warnings.push({line: i + 1, text: line})
          continue
        }
        values.set(name, s)
        strings.add(name)
      } else {
        values.set(name, raw)
        strings.delete(name)
      }
      continue
    }
    const unset = UNSET.exec(line)
    if (unset) {
      values.set(unset[1]!, null)
      strings.delete(unset[1]!)
      continue
    }
    if (line.startsWith('#')) continue
    warnings.push({line: i + 1, text: line})
  }
  if (values.size === 0 && text.trim() !== '') {
    throw new InputError('INPUT_BAD_CONFIG', 'not a kernel config: no CONFIG_ lines')
  }
  return {values, strings, warnings}
}

/** The symbols {@link bpfConfigFacts} reports. */
export const BPF_CONFIG_SYMBOLS = [
  'CONFIG_BPF',
  'CONFIG_BPF_SYSCALL',
  'CONFIG_BPF_JIT',
  'CONFIG_BPF_JIT_ALWAYS_ON',
  'CONFIG_BPF_JIT_DEFAULT_ON',
  'CONFIG_BPF_UNPRIV_DEFAULT_OFF',
  'CONFIG_BPF_LSM',
  'CONFIG_BPF_EVENTS',
  'CONFIG_BPF_STREAM_PARSER',
  'CONFIG_BPF_PRELOAD',
  'CONFIG_CGROUP_BPF',
  'CONFIG_DEBUG_INFO_BTF',
  'CONFIG_DEBUG_INFO_BTF_MODULES',
  'CONFIG_PAHOLE_HAS_SPLIT_BTF',
  'CONFIG_LSM',
  'CONFIG_FPROBE',
  'CONFIG_KPROBES',
  'CONFIG_KPROBE_EVENTS',
  'CONFIG_UPROBE_EVENTS',
  'CONFIG_FTRACE',
  'CONFIG_FUNCTION_TRACER',
  'CONFIG_DYNAMIC_FTRACE',
  'CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS',
  'CONFIG_FTRACE_SYSCALLS',
  'CONFIG_NET_CLS_BPF',
  'CONFIG_NET_ACT_BPF',
  'CONFIG_XDP_SOCKETS',
  'CONFIG_IKCONFIG_PROC',
] as const

export type BpfConfigSymbol = (typeof BPF_CONFIG_SYMBOLS)[number]

/**
 * The configuration facts that decide what BPF can do on a kernel: each symbol's value
 * (`y`, `m`, the string for CONFIG_LSM) or null when it is not set or absent.
 */
export function bpfConfigFacts(config: KernelConfig): Record<BpfConfigSymbol, string | null> {
  const out = {} as Record<BpfConfigSymbol, string | null>
  for (const s of BPF_CONFIG_SYMBOLS) out[s] = config.values.get(s) ?? null
  return out
}
