/**
 * The CO-RE relocation engine (libbpf's semantics; see relocate.ts for the outline).
 */
export {CoreReloKind, coreReloKindName, isEnumValBased, isFieldBased, isTypeBased} from './relo.js'
export type {CoreReloKindName, CoreReloKindValue} from './relo.js'
export {CoreError} from './errors.js'
export {type CoreSpec, type Accessor, parseSpec, describeSpec, formatSpec} from './spec.js'
export {typesAreCompatible, fieldsAreCompatible, typesMatch} from './compat.js'
export {matchSpec} from './match.js'
export {calcRelo, type ReloResult} from './calc.js'
export {findCandidates, type Candidate, type CoreTarget} from './candidates.js'
export {type BpfObject, loadBpfObject, parseBpfObject} from './object.js'
export {
  type CoreRelocation,
  type RelocateOptions,
  type RelocationStatus,
  type ResolvedRelo,
  CandidateCache,
  relocateObject,
  resolveRelo,
} from './relocate.js'
