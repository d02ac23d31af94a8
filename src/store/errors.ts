/**
 * Errors of the SQLite index (src/store). Codes start with `INDEX_`:
 *
 * - `INDEX_TOO_NEW`: the database was written by a newer kcompat (its schema version is
 *   higher than the newest migration this code has); upgrade kcompat or delete the file.
 * - `INDEX_BAD_MIGRATIONS`: the migrations directory is missing or malformed (a broken
 *   installation).
 * - `INDEX_MIGRATION_FAILED`: a migration's SQL failed; nothing of it was applied.
 * - `INDEX_CORRUPT`: a stored record cannot be decoded; rebuild the index.
 * - `INDEX_OPEN_FAILED`: SQLite could not open the file (not a database, no permission).
 * - `INDEX_BAD_QUERY`: a query that cannot be understood, e.g. `find field` without a dot.
 *
 * Indexing a kernel whose archive file is bad rethrows the archive/BTF error's own code
 * (`INPUT_CORRUPT_XZ`, `ARCHIVE_CHECKSUM`, `BTF_…`) as an {@link IndexBuildError} that
 * names the kernel.
 */
import {KcompatError} from '../errors.js'

export class IndexError extends KcompatError {}

/** A kernel could not be indexed; `code` is the underlying error's code. */
export class IndexBuildError extends IndexError {
  /** `<distro>/<version>/<arch>/<release>` of the kernel. */
  readonly kernel: string

  constructor(kernel: string, cause: KcompatError) {
    super(cause.code, `cannot index ${kernel}: ${cause.message}`, {cause})
    this.kernel = kernel
  }
}
