/**
 * The libbpf oracle for CO-RE tests: builds test/harness/core_harness.c against the
 * system's libbpf (Debian libbpf-dev) once per test process, runs it on an object and a
 * kernel BTF, and parses libbpf's debug log into one decision per relocation.
 *
 * Nothing here computes an expected value: every decision is what libbpf printed.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {scratchDir} from '../helpers/fixtures.js'
import {findTool} from '../helpers/tools.js'

const SOURCE = join(import.meta.dirname, 'core_harness.c')

/** libbpf's decision for one relocation. */
export interface LibbpfDecision {
  program: string
  /** relo #N */
  index: number
  insn: number
  status: 'patched' | 'poisoned' | 'failed'
  /** For patched: the value written, as libbpf logs it (u64). */
  value?: bigint
  /** For patched: the value found in the instruction. */
  original?: bigint
  /** The instruction class libbpf names: 'ALU/ALU64', 'LDX/ST/STX', 'LDIMM64'. */
  insnClass?: string
  memSize?: {from: number; to: number}
  /** The first matching candidate: its type id and the BTF it is in (`vmlinux` or a module), as libbpf logged them. */
  target?: {id: number; source: string}
}

/** Where libbpf attached a tracing program (the `prog_load` the harness answered). */
export interface LibbpfAttach {
  program: string
  attachBtfId: number
  /** `vmlinux` or the module whose BTF object libbpf passed as attach_btf_obj_fd. */
  btf: string
}

export interface HarnessRun {
  decisions: LibbpfDecision[]
  /** Tracing programs libbpf loaded, with their attach target. */
  attaches: LibbpfAttach[]
  /** libbpf's full output, for failure messages. */
  log: string
  /** bpf_object__load's return value. */
  loadResult: number
}

let built: string | undefined
let buildError: string | undefined

/**
 * A second oracle, optional: another libbpf, built from source and installed under
 * $KCOMPAT_LIBBPF_ROOT (`make -C src BUILD_STATIC_ONLY=1 DESTDIR=ROOT install`), linked
 * statically into a second harness. Tests use it, when set, to check the engine's
 * `libbpf: '1.6'` behaviour against libbpf 1.6 or later.
 */
export interface AltLibbpf {
  version: string
  run(object: string, kernelBtf: string, options?: HarnessOptions): HarnessRun
}

let alt: AltLibbpf | null | undefined
export function altLibbpf(): AltLibbpf | undefined {
  if (alt !== undefined) return alt ?? undefined
  alt = null
  const root = process.env.KCOMPAT_LIBBPF_ROOT
  const cc = findTool('cc')
  if (!root || !cc) return undefined
  const inc = join(root, 'usr', 'include')
  const lib = [join(root, 'usr', 'lib64', 'libbpf.a'), join(root, 'usr', 'lib', 'libbpf.a')].find((p) => existsSync(p))
  const verH = join(inc, 'bpf', 'libbpf_version.h')
  if (!lib || !existsSync(verH)) throw new Error(`KCOMPAT_LIBBPF_ROOT=${root} holds no usr/include/bpf and libbpf.a`)
  const vh = readFileSync(verH, 'utf8')
  const version = `${/LIBBPF_MAJOR_VERSION (\d+)/.exec(vh)?.[1]}.${/LIBBPF_MINOR_VERSION (\d+)/.exec(vh)?.[1]}`
  const out = join(scratchDir(), 'core-harness', `core_harness-${version}`)
  mkdirSync(dirname(out), {recursive: true})
  const r = spawnSync(cc, ['-O1', '-Wall', `-I${inc}`, '-o', out, SOURCE, lib, '-lelf', '-lz', '-ldl'], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`building the harness against ${root} failed: ${r.stderr}`)
  alt = {version, run: (object, kernelBtf, options) => runWith(out, object, kernelBtf, options)}
  return alt
}

/**
 * The harness binary, built on first use; undefined (with {@link harnessUnavailable}
 * saying why) when there is no C compiler or no libbpf-dev.
 */
export function harnessBinary(): string | undefined {
  if (built || buildError) return built
  const cc = findTool('cc') ?? findTool('gcc')
  if (!cc) {
    buildError = "no C compiler ('cc')"
    return undefined
  }
  if (!existsSync('/usr/include/bpf/libbpf.h')) {
    buildError = 'libbpf-dev is not installed (/usr/include/bpf/libbpf.h)'
    return undefined
  }
  const dir = join(scratchDir(), 'core-harness')
  mkdirSync(dir, {recursive: true})
  const out = join(dir, 'core_harness')
  const r = spawnSync(cc, ['-O1', '-Wall', '-o', out, SOURCE, '-lbpf', '-ldl'], {encoding: 'utf8'})
  if (r.status !== 0) {
    buildError = `building the harness failed: ${r.stderr || r.error?.message}`
    return undefined
  }
  built = out
  return built
}

/** Why the harness cannot be built (after {@link harnessBinary} returned undefined). */
export function harnessUnavailable(): string {
  return buildError ?? 'unknown'
}

/**
 * Whether the libbpf oracle is available. Prints why not; under CI (CI=true), where
 * .ci/run installs a compiler and libbpf-dev, a missing harness is an error.
 */
export function requireHarness(why: string): boolean {
  if (harnessBinary()) return true
  const msg = `skipping ${why}: the libbpf harness is unavailable: ${harnessUnavailable()}`
  if (process.env.CI === 'true') throw new Error(`${msg} (CI must install cc and libbpf-dev)`)
  console.warn(msg)
  return false
}

export interface HarnessOptions {
  /** Stand-in for /sys/kernel/btf/vmlinux (default: the kernel BTF itself). */
  vmlinux?: string
  /**
   * Open without btf_custom_path: the kernel BTF is the machine's vmlinux BTF and
   * libbpf also searches `modules` (served through bpf(2) as loaded modules' BTF).
   */
  noCustom?: boolean
  /** Module BTF objects (raw split BTF on the kernel BTF), in the order libbpf meets them. */
  modules?: {name: string; path: string}[]
  /** Programs to leave out (bpf_program__set_autoload(prog, false)). */
  noAutoload?: string[]
  kconfig?: string
  kallsyms?: string
}

const RELO = /^libbpf: prog '([^']*)': relo #(\d+): (.*)$/

/** Runs libbpf on `object` with `btf_custom_path = kernelBtf` and parses its decisions. */
export function runHarness(object: string, kernelBtf: string, options: HarnessOptions = {}): HarnessRun {
  const bin = harnessBinary()
  if (!bin) throw new Error(`libbpf harness unavailable: ${harnessUnavailable()}`)
  return runWith(bin, object, kernelBtf, options)
}

function runWith(bin: string, object: string, kernelBtf: string, options: HarnessOptions = {}): HarnessRun {
  const args = [object, kernelBtf]
  if (options.vmlinux) args.push('--vmlinux', options.vmlinux)
  if (options.kconfig) args.push('--kconfig', options.kconfig)
  if (options.kallsyms) args.push('--kallsyms', options.kallsyms)
  if (options.noCustom) args.push('--no-custom')
  for (const m of options.modules ?? []) args.push('--module', `${m.name}=${m.path}`)
  for (const p of options.noAutoload ?? []) args.push('--no-autoload', p)
  const r = spawnSync(bin, args, {encoding: 'utf8', maxBuffer: 1 << 28})
  if (r.status !== 0) throw new Error(`core_harness exited ${r.status ?? r.signal}: ${r.stderr}\n${r.stdout.slice(-4000)}`)
  const log = r.stdout
  const byKey = new Map<string, LibbpfDecision>()
  const decisions: LibbpfDecision[] = []
  const get = (program: string, index: number, insn: number): LibbpfDecision => {
    const key = `${program}#${index}`
    let d = byKey.get(key)
    if (!d) {
      d = {program, index, insn, status: 'patched'}
      byKey.set(key, d)
      decisions.push(d)
    }
    return d
  }
  // Candidates as libbpf lists them per local type ("found target candidate [ID] ... in
  // [BTF]"), narrowed after each relocation to those that matched, as its cache is; a
  // relocation's "matching candidate #N" indexes the list as it stands.
  const cands = new Map<number, {id: number; source: string}[]>()
  let current: {local: number; matched: number[]} | undefined
  const settle = (): void => {
    if (!current) return
    const list = cands.get(current.local)
    if (list && current.matched.length > 0) cands.set(current.local, current.matched.map((i) => list[i]!))
    current = undefined
  }
  const attaches: LibbpfAttach[] = []
  const targets = new Map<string, {id: number; source: string}>()
  let m: RegExpExecArray | null
  for (const line of log.split('\n')) {
    let c: RegExpExecArray | null
    if ((c = /^libbpf: CO-RE relocating \[(\d+)\] .*: found target candidate \[(\d+)\] .* in \[([^\]]+)\]$/.exec(line))) {
      settle()
      const local = Number(c[1])
      const list = cands.get(local) ?? []
      list.push({id: Number(c[2]), source: c[3]!})
      cands.set(local, list)
      continue
    }
    if ((c = /^harness: prog_load '([^']*)' \(\d+ insns\) attach_btf_id (\d+) in (\S+)$/.exec(line))) {
      attaches.push({program: c[1]!, attachBtfId: Number(c[2]), btf: c[3]!})
      continue
    }
    if (!(m = RELO.exec(line))) continue
    const program = m[1]!
    const index = Number(m[2])
    const rest = m[3]!
    let p: RegExpExecArray | null
    if ((p = /^<[a-z_0-9]+> \[(\d+)\] /.exec(rest))) {
      settle()
      current = {local: Number(p[1]), matched: []}
      continue
    }
    if ((p = /^matching candidate #(\d+) <[a-z_0-9]+> \[(\d+)\]/.exec(rest))) {
      const i = Number(p[1])
      if (current) {
        const cand = cands.get(current.local)?.[i]
        if (current.matched.length === 0 && cand) targets.set(`${program}#${index}`, {id: Number(p[2]), source: cand.source})
        current.matched.push(i)
      }
      continue
    }
    if ((p = /^patched insn #(\d+) \(([^)]+)\) (imm|off|imm64) (\d+) -> (\d+)$/.exec(rest))) {
      const d = get(program, index, Number(p[1]))
      d.status = 'patched'
      d.insnClass = p[2]
      d.original = BigInt(p[4]!)
      d.value = BigInt(p[5]!)
    } else if ((p = /^patched insn #(\d+) \(([^)]+)\) mem_sz (\d+) -> (\d+)$/.exec(rest))) {
      get(program, index, Number(p[1])).memSize = {from: Number(p[3]), to: Number(p[4])}
    } else if ((p = /^substituting insn #(\d+) w\/ invalid insn$/.exec(rest))) {
      // ld_imm64 poisons its second slot first; the relocation's instruction is the lower index.
      const insn = Number(p[1])
      const d = get(program, index, insn)
      d.status = 'poisoned'
      d.insn = Math.min(d.insn, insn)
      delete d.value
    } else if (/^(failed to relocate|failed to patch insn)/.test(rest) || /ambiguity|unexpected insn|can't be|value too big|unexpected mem size|invalid new mem size|unrecognized/.test(rest)) {
      const d = get(program, index, -1)
      d.status = 'failed'
    }
  }
  settle()
  for (const d of decisions) {
    const t = targets.get(`${d.program}#${d.index}`)
    if (t) d.target = t
  }
  const lr = /harness: load returned (-?\d+)/.exec(log)
  return {decisions, attaches, log, loadResult: lr ? Number(lr[1]) : NaN}
}
