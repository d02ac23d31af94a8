import {KcompatError} from '../errors.js'

/**
 * A request `check` cannot answer as asked: these are usage errors (exit status 2).
 * Codes: `CHECK_NO_PROGRAMS`, `CHECK_AMBIGUOUS_KERNEL`, `CHECK_BAD_ARCH`,
 * `CHECK_NOT_BPF_OBJECT`, `CHECK_BTF_NEEDS_KERNEL`.
 */
export class CheckUsageError extends KcompatError {}
