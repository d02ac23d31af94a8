/**
 * Errors of the CO-RE engine.
 *
 * {@link CoreError} (a {@link KcompatError}, codes `CORE_*`) is thrown for input that is
 * corrupt: a relocation record naming a type id the object's BTF does not have, an
 * access string that is not `N(:N)*`, an access string that does not fit its root type,
 * an instruction offset outside the program. Such an object is broken whatever the
 * kernel.
 *
 * {@link ReloFailure} is internal: it marks a relocation that libbpf refuses on this
 * kernel (ambiguous candidates, a bitfield no 64-bit load can read, an instruction that
 * does not hold the value the local BTF implies, ...). The engine catches it and reports
 * the relocation as `failed`, an expected outcome and therefore a value, like `poisoned`.
 */
import {KcompatError} from '../errors.js'

/** Corrupt CO-RE input. Codes start with `CORE_`. */
export class CoreError extends KcompatError {}

/** A relocation libbpf would refuse (turned into a `failed` result by the engine). */
export class ReloFailure extends Error {
  constructor(
    /** Stable code, e.g. `CORE_AMBIGUOUS`. */
    readonly code: string,
    message: string,
    /** The errno libbpf returns in this case (negative), for reference. */
    readonly errno: number,
  ) {
    super(message)
    this.name = 'ReloFailure'
  }
}

/** errno values libbpf returns, negated as it does. */
export const EINVAL = -22
export const E2BIG = -7
export const ERANGE = -34
export const EOPNOTSUPP = -95
