/** Exit statuses shared by the oclif commands and the start-up fast path. */

/** A library error (a {@link KcompatError}): bad input, missing file, corrupt data. */
export const EXIT_INPUT_ERROR = 1
/** A usage error: bad flags or arguments. */
export const EXIT_USAGE = 2
