/**
 * One error hierarchy for the whole library.
 *
 * Corrupt or unusable input throws a subclass of {@link KcompatError}; expected
 * negative outcomes (no CO-RE candidate, an unsupported program) are values, never
 * exceptions. Every error carries a stable, machine-readable `code` that tests and
 * `--json` output rely on, and, where the input is a byte buffer, the byte `offset`
 * at which the problem was found.
 */
export class KcompatError extends Error {
  /** Stable code, e.g. `BTF_TRUNCATED`. Never reworded once released. */
  readonly code: string
  /** Byte offset into the input where the problem was detected, if known. */
  readonly offset?: number

  constructor(code: string, message: string, options: {offset?: number; cause?: unknown} = {}) {
    super(options.offset === undefined ? message : `${message} (at byte offset ${options.offset})`, {
      cause: options.cause,
    })
    this.name = new.target.name
    this.code = code
    this.offset = options.offset
  }

  toJSON(): {code: string; message: string; offset?: number} {
    return {code: this.code, message: this.message, ...(this.offset === undefined ? {} : {offset: this.offset})}
  }
}

/** Malformed or unsupported BTF (raw `.BTF` data). Codes start with `BTF_`. */
export class BtfError extends KcompatError {}

/** Malformed or unsupported ELF files. Codes start with `ELF_`. */
export class ElfError extends KcompatError {}

/** Input that is neither BTF nor a container kcompat knows how to open. Codes start with `INPUT_`. */
export class InputError extends KcompatError {}
