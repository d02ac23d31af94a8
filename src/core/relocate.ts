/**
 * The CO-RE relocation engine: libbpf's decisions for every CO-RE relocation of a BPF
 * object against a kernel's BTF, computed without libbpf or a kernel.
 *
 * For each relocation record, in the order libbpf processes them:
 *
 * 1. Skip it when libbpf would: it lies in no program (a `__weak` subprogram the
 *    linker dropped) or its program is not autoloaded (`SEC("?...")`).
 * 2. Find the candidates for its local root type (see candidates.ts). The list is
 *    cached per local type id for the whole object, and narrowed as relocations are
 *    resolved (step 4), exactly as libbpf's candidate cache is.
 * 3. Parse the local access spec (spec.ts). TYPE_ID_LOCAL needs no candidates: its
 *    value is the local type id.
 * 4. Match the spec against every candidate (match.ts) and compute the value for each
 *    match (calc.ts). All matches must agree on the field's bit offset and on the value
 *    (or all poison), otherwise the relocation is ambiguous and libbpf fails. The list
 *    of candidates is then narrowed to those that matched, so a later relocation of the
 *    same local type only considers them; when none matched the list stays as it was.
 * 5. With no match, the value is computed without a target: existence checks give 0,
 *    type-based relocations give 0, and everything else poisons the instruction (libbpf
 *    replaces it by a call to an invalid helper, which fails verification only if the
 *    code is reachable).
 * 6. Apply the result to the instruction (insn.ts): validate the current value, write
 *    the new one, adjust the load width, or poison.
 *
 * Outcomes are values: `patched` (with the value written), `poisoned` (with why),
 * `failed` (libbpf refuses to load the object: ambiguity, an impossible bitfield, an
 * instruction that does not match its relocation, ...) and `skipped`. Corrupt input
 * (bad type ids, malformed access strings) throws.
 */
import type {Btf} from '../btf/btf.js'
import type {PlacedCoreRelo} from '../elf/btf-ext.js'
import {typeLabel} from './btf-util.js'
import {type CalcOptions, type ReloResult, calcRelo} from './calc.js'
import {type Candidate, type CoreTarget, findCandidates} from './candidates.js'
import {CoreError, EINVAL, EOPNOTSUPP, ReloFailure} from './errors.js'
import {type InsnClass, insnView, patchInsn} from './insn.js'
import {matchSpec} from './match.js'
import type {BpfObject} from './object.js'
import {CoreReloKind, type CoreReloKindName, coreReloKindName} from './relo.js'
import {type CoreSpec, describeSpec, formatSpec, parseSpec} from './spec.js'

export type RelocationStatus = 'patched' | 'poisoned' | 'failed' | 'skipped'

export interface CoreRelocation {
  /** libbpf's program name (the function symbol); undefined when no program holds it. */
  program: string | undefined
  /** ELF section of the instruction. */
  section: string
  /** Instruction index within the program, as libbpf numbers it (-1 without program). */
  insn: number
  /** libbpf's `relo #N`: index of the record within its section's records. */
  index: number
  kind: CoreReloKindName | 'unknown'
  /** The access in C-like form: `struct task_struct.pid`, `enum e::V`, `typedef t`. */
  local: string
  localTypeId: number
  accessString: string
  status: RelocationStatus
  /** For `patched`: the value libbpf writes (u64; the low 32 bits for an ALU imm, 16 for an offset). */
  value?: bigint
  /** For `patched`: the value the instruction held before. */
  original?: bigint
  /** The instruction's class, when it was looked at. */
  insnClass?: InsnClass | 'other'
  /** For `patched` loads/stores whose width changes. */
  memSize?: {from: number; to: number}
  /** The matching target, when one matched: its id, where it is, and the spec libbpf logs. */
  target?: {id: number; source: string; spec: string}
  /** Number of candidates considered. */
  candidates: number
  /** For `failed`: where the candidates were (`vmlinux` or module names), distinct, in order. */
  candidateSources?: string[]
  /** For `poisoned`, `failed`, `skipped`: why. */
  reason?: string
  /** For `failed`: a stable code (`CORE_AMBIGUOUS`, `CORE_INSN_MISMATCH`, ...). */
  code?: string
}

export interface RelocateOptions {
  /**
   * Byte order of the machine the program will run on; decides FIELD_LSHIFT_U64 for
   * bitfields. Default: the object's own byte order (a bpfeb object runs on a
   * big-endian kernel).
   */
  littleEndian?: boolean
  /**
   * Which libbpf to agree with where versions differ: '1.1' (default; Debian 12's
   * libbpf, what the tests check against) or '1.6' (later releases judge a load's width
   * by an array's element, not the whole array).
   */
  libbpf?: '1.1' | '1.6'
  /**
   * Process every record, including those libbpf skips at load time (no program, or
   * not autoloaded), and do not look at instructions: what `bpftool gen min_core_btf`
   * does. Default false.
   */
  allRecords?: boolean
}

/** One relocation resolved against the target, before touching its instruction. */
export interface ResolvedRelo {
  local: CoreSpec
  /** The first matching candidate's spec: the one libbpf keeps (and BTFGen marks). */
  target: CoreSpec | undefined
  targetSource: string | undefined
  result: ReloResult
  candidates: number
}

/** Mutable candidate list shared by all relocations of one local type. */
export interface CandidateList {
  list: Candidate[]
}

/**
 * Resolves one relocation (libbpf's bpf_core_calc_relo_insn): parse, match every
 * candidate, check agreement, narrow the shared candidate list, compute the result.
 * @throws ReloFailure (libbpf fails), CoreError (corrupt input).
 */
export function resolveRelo(
  btf: Btf,
  relo: {typeId: number; accessStr: string; kind: number},
  cands: CandidateList | undefined,
  littleEndian: boolean,
  calc: Partial<CalcOptions> = {},
): ResolvedRelo {
  const local = parseSpec(btf, relo.typeId, relo.accessStr, relo.kind)
  const opts: CalcOptions = {...calc, littleEndian}
  if (relo.kind === CoreReloKind.TYPE_ID_LOCAL) {
    const id = BigInt(relo.typeId)
    return {
      local,
      target: undefined,
      targetSource: undefined,
      candidates: 0,
      result: {origVal: id, newVal: id, poison: false, validate: false, failMemszAdjust: false, origSize: 0, newSize: 0, origTypeId: 0, newTypeId: 0},
    }
  }
  const lt = btf.typeById(relo.typeId)
  if (lt.name === '') {
    throw new ReloFailure('CORE_ANON_TYPE', `<${coreReloKindName(relo.kind)}> relocation of anonymous ${typeLabel(lt)} is not supported`, EOPNOTSUPP)
  }
  const list = cands?.list ?? []
  let target: CoreSpec | undefined
  let targetSource: string | undefined
  let result: ReloResult | undefined
  const kept: Candidate[] = []
  for (const cand of list) {
    const m = matchSpec(local, cand.btf, cand.id)
    if (!m.matched) continue
    const r = calcRelo(relo.kind, local, m.spec, opts)
    if (!target || !result) {
      target = m.spec
      targetSource = cand.source
      result = r
    } else if (m.spec.bitOffset !== target.bitOffset) {
      throw new ReloFailure(
        'CORE_AMBIGUOUS',
        `field offset ambiguity: ${formatSpec(m.spec)} is at bit ${m.spec.bitOffset}, ${formatSpec(target)} at bit ${target.bitOffset}`,
        EINVAL,
      )
    } else if (r.poison !== result.poison || r.newVal !== result.newVal) {
      const say = (x: ReloResult): string => `${x.poison ? 'failure' : 'success'} ${x.newVal}`
      throw new ReloFailure(
        'CORE_AMBIGUOUS',
        `relocation decision ambiguity: [${m.spec.rootTypeId}] gives ${say(r)}, [${target.rootTypeId}] gives ${say(result)}`,
        EINVAL,
      )
    }
    kept.push(cand)
  }
  if (kept.length > 0 && cands) cands.list = kept
  if (!result) result = calcRelo(relo.kind, local, undefined, opts)
  return {local, target, targetSource, result, candidates: list.length}
}

/**
 * The candidate cache of one object's relocation pass: per local type id, the
 * (narrowing) candidate list, found on first use.
 */
export class CandidateCache {
  private readonly map = new Map<number, CandidateList>()
  constructor(
    private readonly btf: Btf,
    private readonly target: CoreTarget,
  ) {}

  /** @throws ReloFailure for anonymous local types. */
  get(localId: number): CandidateList {
    let c = this.map.get(localId)
    if (!c) {
      c = {list: findCandidates(this.btf, localId, this.target)}
      this.map.set(localId, c)
    }
    return c
  }
}

/**
 * Every CO-RE relocation of `obj` against `target`, with libbpf's decision for each.
 * libbpf stops at the first `failed` relocation (the object does not load); this keeps
 * going so that all problems are reported, with the candidate lists as they stand.
 * @throws CoreError (and BtfError) for corrupt input.
 */
export function relocateObject(obj: BpfObject, target: CoreTarget, options: RelocateOptions = {}): CoreRelocation[] {
  const le = options.littleEndian ?? obj.littleEndian
  const cache = new CandidateCache(obj.btf, target)
  const out: CoreRelocation[] = []
  const calc = {arrayElementWidth: options.libbpf === '1.6'}
  for (const placed of obj.relos) out.push(relocateOne(obj, placed, cache, le, options.allRecords ?? false, calc))
  return out
}

function relocateOne(
  obj: BpfObject,
  placed: PlacedCoreRelo,
  cache: CandidateCache,
  le: boolean,
  all: boolean,
  calc: Partial<CalcOptions>,
): CoreRelocation {
  const {relo, program} = placed
  const btf = obj.btf
  if (!btf.hasId(relo.typeId)) {
    throw new CoreError('CORE_BAD_TYPE_ID', `relocation #${placed.index} of section '${placed.sectionName}' names type id ${relo.typeId}, which is not in the object's BTF`, {
      offset: relo.offset,
    })
  }
  const accessString = btf.strings.get(relo.accessStrOff)
  const base: CoreRelocation = {
    program: program?.name,
    section: placed.sectionName,
    insn: placed.insn,
    index: placed.index,
    kind: coreReloKindName(relo.kind),
    local: describeLocal(btf, relo.typeId, accessString, relo.kind),
    localTypeId: relo.typeId,
    accessString,
    status: 'skipped',
    candidates: 0,
  }
  if (!all) {
    if (!program) return {...base, reason: 'no program holds the instruction (an eliminated __weak subprogram); libbpf skips it'}
    if (!program.autoload) return {...base, reason: `program '${program.name}' is not autoloaded (SEC("?...")); libbpf skips it`}
  }
  let sources: string[] | undefined
  try {
    const cands = relo.kind === CoreReloKind.TYPE_ID_LOCAL ? undefined : cache.get(relo.typeId)
    sources = cands ? [...new Set(cands.list.map((c) => c.source))] : undefined
    const r = resolveRelo(btf, {typeId: relo.typeId, accessStr: accessString, kind: relo.kind}, cands, le, calc)
    base.local = describeSpec(r.local)
    base.candidates = r.candidates
    if (r.target) {
      base.target = {id: r.target.rootTypeId, source: r.targetSource ?? 'vmlinux', spec: formatSpec(r.target)}
    }
    const poisonReason = r.target ? 'the field cannot be relocated' : 'no matching targets found'
    if (all || !program) {
      return r.result.poison
        ? {...base, status: 'poisoned', reason: poisonReason}
        : {...base, status: 'patched', value: r.result.newVal}
    }
    const sec = obj.elf.sections[program.sectionIndex]!
    const view = insnView(obj.elf.sectionData(sec), obj.littleEndian, program.sectionInsnOffset, program.insnCount)
    const p = patchInsn(view, placed.insn, r.result, poisonReason)
    if (p.kind === 'poisoned') return {...base, status: 'poisoned', insnClass: p.insnClass, reason: p.reason}
    return {
      ...base,
      status: 'patched',
      value: p.value,
      original: p.original,
      insnClass: p.insnClass,
      ...(p.memSize ? {memSize: p.memSize} : {}),
    }
  } catch (e) {
    // ReloFailure is an outcome; anything else (CoreError, BtfError) is corrupt input.
    if (e instanceof ReloFailure) return {...base, status: 'failed', code: e.code, reason: e.message, ...(sources ? {candidateSources: sources} : {})}
    throw e
  }
}

/** The local access in C-like form, or the bare type when the access string is unusable. */
function describeLocal(btf: Btf, typeId: number, accessString: string, kind: number): string {
  try {
    return describeSpec(parseSpec(btf, typeId, accessString, kind))
  } catch (e) {
    if (e instanceof CoreError) return typeLabel(btf.typeById(typeId))
    throw e
  }
}

/**
 * Whether some CO-RE relocation of `objects` has no candidate in `vmlinux`, so that
 * libbpf would look for candidates in module BTF: lets callers read a kernel's module
 * BTF only when it can matter.
 */
export function needsModuleCandidates(vmlinux: Btf, objects: readonly BpfObject[]): boolean {
  for (const obj of objects) {
    const cache = new CandidateCache(obj.btf, {vmlinux})
    for (const {relo} of obj.relos) {
      if (relo.kind === CoreReloKind.TYPE_ID_LOCAL) continue
      try {
        if (cache.get(relo.typeId).list.length === 0) return true
      } catch (e) {
        if (!(e instanceof ReloFailure)) throw e
      }
    }
  }
  return false
}
