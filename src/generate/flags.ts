/**
 * Which pahole flags to pass when encoding BTF for a given kernel.
 *
 * The rule: encode what that kernel's own build would have encoded with this pahole,
 * and nothing the consumers of the BTF cannot parse. Concretely, the kernel's
 * `scripts/pahole-flags.sh` (later `scripts/Makefile.btf`), stable back-ports
 * included, chooses per pahole version:
 *
 * | pahole      | flag                                    | why |
 * | ----------- | --------------------------------------- | --- |
 * | 1.18–1.21   | `--skip_encoding_btf_vars`              | zero-sized per-CPU variables gave invalid BTF |
 * | ≥ 1.21      | `--btf_gen_floats`                      | BTF_KIND_FLOAT; kernels before 5.13 reject it (the 5.10 back-port leaves it out) |
 * | ≥ 1.22      | `-j`                                    | parallel encoding (content is the same; type order may differ) |
 * | ≥ 1.24      | `--lang_exclude=rust`                   | Rust compilation units are not C types |
 * | ≥ 1.24      | `--skip_encoding_btf_enum64` (5.10/5.15 stable) | kernels before 6.0 reject BTF_KIND_ENUM64 |
 * | ≥ 1.25      | `--skip_encoding_btf_inconsistent_proto --btf_gen_optimized` | functions whose prototype differs across CUs are left out; optimized (.isra/.constprop) ones are kept |
 *
 * BTF given to libbpf through `btf_custom_path` is parsed by libbpf in user space (never
 * by the kernel), and libbpf refuses kinds newer than itself: BTF_KIND_FLOAT needs
 * libbpf ≥ 0.4, DECL_TAG and TYPE_TAG ≥ 0.6, ENUM64 ≥ 1.0 (BTFHub issue #51: BTF from a
 * newer pahole that bpftool/libbpf 0.7 could not parse). So a kind is encoded only when
 * both the kernel (by version) and the target libbpf (`libbpf` option, when given)
 * accept it.
 *
 * `-F dwarf` is always passed: the input must be read as DWARF even when it also carries
 * a `.BTF` section (a -dbg vmlinux of a kernel that ships BTF does). `-j` is only passed
 * when jobs are asked for: single-threaded encoding is deterministic, so the same
 * package gives byte-identical BTF on every run, and needs less memory.
 */
import {paholeNumber, type Pahole, type PaholeVersion} from './pahole.js'

/** A dotted version (`6.1`, `0.7`, `1.0.1`) as [major, minor]. */
export function parseMajorMinor(v: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(v.trim())
  return m ? [Number(m[1]), Number(m[2])] : undefined
}

const atLeast = (v: [number, number], major: number, minor: number): boolean => v[0] > major || (v[0] === major && v[1] >= minor)

export interface FlagTarget {
  /** Kernel release or version (`6.1.0-56-arm64`, `5.10`); unknown → no kernel limits. */
  kernel?: string
  /** The oldest libbpf that will parse this BTF (`0.7`, `1.0`); unknown → no libbpf limits. */
  libbpf?: string
  /** Parallel jobs for pahole (`-jN`); undefined or 1 → single-threaded. */
  jobs?: number
}

export interface FlagChoice {
  /** Arguments for pahole, before `--btf_encode_detached=OUT INPUT`. */
  flags: string[]
  /** One line per decision, for logs and `--json`. */
  reasons: string[]
  /** Things the caller should tell the user (a needed option this pahole lacks, …). */
  warnings: string[]
}

type PaholeInfo = Pick<Pahole, 'version'> & {options?: ReadonlySet<string>}

/**
 * The flags for encoding BTF for `target` with this pahole.
 */
export function paholeFlags(pahole: PaholeInfo, target: FlagTarget = {}): FlagChoice {
  const p = paholeNumber(pahole.version)
  const kernel = target.kernel ? parseMajorMinor(target.kernel) : undefined
  const libbpf = target.libbpf ? parseMajorMinor(target.libbpf) : undefined
  const flags: string[] = ['-F', 'dwarf']
  const reasons: string[] = ['-F dwarf: read the input as DWARF even when it already has a .BTF section']
  const warnings: string[] = []
  const has = (opt: string, since: number): boolean => (pahole.options && pahole.options.size > 0 ? pahole.options.has(opt) : p >= since)
  const kernelOk = (major: number, minor: number): boolean => !kernel || atLeast(kernel, major, minor)
  const libbpfOk = (major: number, minor: number): boolean => !libbpf || atLeast(libbpf, major, minor)
  const who = (k: boolean, l: boolean, kind: string, kv: string, lv: string): string =>
    [!k ? `kernel ${target.kernel} predates ${kind} (${kv})` : '', !l ? `libbpf ${target.libbpf} predates ${kind} (${lv})` : ''].filter(Boolean).join(' and ')

  // Per-CPU variables.
  if (p >= 118 && p <= 121) {
    flags.push('--skip_encoding_btf_vars')
    reasons.push('--skip_encoding_btf_vars: pahole 1.18-1.21 mis-encode zero-sized per-CPU variables')
  }

  // BTF_KIND_FLOAT: pahole only emits it when asked.
  {
    const k = kernelOk(5, 13)
    const l = libbpfOk(0, 4)
    if (k && l) {
      if (has('btf_gen_floats', 121)) {
        flags.push('--btf_gen_floats')
        reasons.push('--btf_gen_floats: FLOAT types, as the kernel build passes with pahole >= 1.21')
      }
    } else reasons.push(`no --btf_gen_floats: ${who(k, l, 'BTF_KIND_FLOAT', '5.13', '0.4')}`)
  }

  // BTF_KIND_ENUM64: emitted by pahole >= 1.24 unless skipped.
  {
    const k = kernelOk(6, 0)
    const l = libbpfOk(1, 0)
    if (!(k && l) && p >= 124) {
      if (has('skip_encoding_btf_enum64', 124)) {
        flags.push('--skip_encoding_btf_enum64')
        reasons.push(`--skip_encoding_btf_enum64: ${who(k, l, 'BTF_KIND_ENUM64', '6.0', '1.0')}`)
      } else warnings.push(`pahole ${pahole.version.text} may emit ENUM64, which ${who(k, l, 'BTF_KIND_ENUM64', '6.0', '1.0')}, and has no --skip_encoding_btf_enum64`)
    }
  }

  // BTF_KIND_DECL_TAG / TYPE_TAG: emitted from btf_decl_tag / btf_type_tag attributes
  // (clang-built kernels) by pahole >= 1.23 unless skipped.
  for (const [kind, opt, kv, kmaj, kmin] of [
    ['BTF_KIND_DECL_TAG', 'skip_encoding_btf_decl_tag', '5.16', 5, 16],
    ['BTF_KIND_TYPE_TAG', 'skip_encoding_btf_type_tag', '5.17', 5, 17],
  ] as const) {
    const k = kernelOk(kmaj, kmin)
    const l = libbpfOk(0, 6)
    if (k && l) continue
    if (has(opt, 123)) {
      flags.push(`--${opt}`)
      reasons.push(`--${opt}: ${who(k, l, kind, kv, '0.6')}`)
    } else if (p >= 123) warnings.push(`pahole ${pahole.version.text} has no --${opt}; ${who(k, l, kind, kv, '0.6')}`)
  }

  // Rust compilation units.
  if (has('lang_exclude', 124)) {
    flags.push('--lang_exclude=rust')
    reasons.push('--lang_exclude=rust: as the kernel build passes with pahole >= 1.24')
  }

  // Function prototypes (pahole >= 1.25; what kernels built with such a pahole pass).
  if (p >= 125 && has('skip_encoding_btf_inconsistent_proto', 125) && has('btf_gen_optimized', 125)) {
    flags.push('--skip_encoding_btf_inconsistent_proto', '--btf_gen_optimized')
    reasons.push('--skip_encoding_btf_inconsistent_proto --btf_gen_optimized: as the kernel build passes with pahole >= 1.25')
  }

  if (target.jobs !== undefined && target.jobs > 1) {
    flags.push(`-j${target.jobs}`)
    reasons.push(`-j${target.jobs}: parallel encoding (type order may vary between runs)`)
  }
  return {flags, reasons, warnings}
}

/** For messages: `pahole v1.24 -F dwarf --btf_gen_floats …`. */
export function describeInvocation(version: PaholeVersion, flags: string[]): string {
  return `pahole ${version.text} ${flags.join(' ')}`.trim()
}
