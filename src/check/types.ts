/**
 * What `check` answers: a verdict per program, with the reasons that decide it and
 * what would work instead.
 */

/**
 * - `supported`: every rule passes on this kernel.
 * - `unsupported`: some rule fails for certain.
 * - `possible`: nothing fails, but the answer depends on something only the running
 *   machine knows (boot-time LSM list, loaded modules, the error-injection list); the
 *   reason says what to check.
 * - `unknown`: kcompat lacks a fact about this kernel (its config, its BTF, whether a
 *   distro backported a feature, a doubtful fact); the reason says what is missing.
 */
export type Verdict = 'supported' | 'unsupported' | 'possible' | 'unknown'

/** Per rule: `info` never changes the verdict. */
export type ReasonStatus = 'pass' | 'fail' | 'possible' | 'unknown' | 'info'

export type EvidenceKind = 'version' | 'config' | 'btf' | 'archive' | 'distro' | 'release' | 'machine' | 'section' | 'arch' | 'object'

export interface Evidence {
  kind: EvidenceKind
  /** e.g. `kernel 3.10.0 (RHEL 7.6)`, `# CONFIG_FPROBE is not set`, `FUNC do_unlinkat (id 41388)`. */
  text: string
}

export interface Reason {
  /** Stable rule id: `prog-type`, `attach-type`, `kernel-btf`, `trampoline`, `config:fprobe`, `lsm-active`, `target`, ... */
  rule: string
  status: ReasonStatus
  message: string
  evidence: Evidence[]
  /** Where the deciding fact comes from (facts.json `source`, or the kernel's own data). */
  source: string
  /** The deciding fact is marked doubtful (its sources disagree or it rests on an inference). */
  doubtful?: boolean
  /** For `possible`: what to check on the machine. */
  check?: string
}

export interface Suggestion {
  /** `section`: use another section; `target`: another attach target; `btf`: a custom BTF for CO-RE; `machine`: something to check or change on the machine; `code`: a change to the program's code. */
  kind: 'section' | 'target' | 'btf' | 'machine' | 'code'
  text: string
  /** The suggested section, for `section` and `target`. */
  section?: string
  /** Its verdict on the same kernel. */
  verdict?: Verdict
}

export interface ProgramResult {
  section: string
  /** libbpf's program name (the function symbol), for programs of an object. */
  program?: string
  verdict: Verdict
  reasons: Reason[]
  suggestions: Suggestion[]
  /** What libbpf makes of the section; absent when it does not know it. */
  libbpf?: {entry: string; progType: string; attachType: string | null; family: string}
}

/** The kernel as `check --json` describes it. */
export interface KernelSummary {
  /** What was asked for (`3.10.0-957`, `running`). */
  input: string
  release: string
  distro: string
  distroName: string
  distroRelease: string | null
  alternatives: string[]
  upstream: string
  flavor: string | null
  arch: string
  archAssumed: boolean
  inferred: boolean
  notes: string[]
  /** Where the kernel facts come from. */
  origin: 'archive' | 'running' | 'btf-file' | 'release' | 'siblings'
  archive: {root: string; path: string | null; distro: string; version: string; btf: string} | null
  /** origin `siblings`: the archived kernels the facts were inferred from, nearest first. */
  siblings?: {releases: string[]; distro: string; version: string; arch: string; total: number}
  btf: {state: 'present' | 'absent' | 'unknown'; data: string | null}
  config: {origin: string; complete: boolean} | null
  facts: {dataVersion: string; profiles: string[]}
}

export interface CheckResult {
  kernel: KernelSummary
  programs: ProgramResult[]
}

/** unsupported > unknown > possible > supported. */
export function combineVerdicts(statuses: Iterable<ReasonStatus>): Verdict {
  let fail = false
  let unknown = false
  let possible = false
  for (const s of statuses) {
    if (s === 'fail') fail = true
    else if (s === 'unknown') unknown = true
    else if (s === 'possible') possible = true
  }
  return fail ? 'unsupported' : unknown ? 'unknown' : possible ? 'possible' : 'supported'
}

/** Exit status of `check`: 0 all supported, 1 any unsupported, 3 otherwise. */
export function exitCodeFor(programs: readonly ProgramResult[]): 0 | 1 | 3 {
  if (programs.some((p) => p.verdict === 'unsupported')) return 1
  if (programs.some((p) => p.verdict !== 'supported')) return 3
  return 0
}
