/**
 * The SQLite index of a BTF archive: building it (incrementally) and asking it
 * cross-kernel questions. The only part of kcompat that uses better-sqlite3.
 */
export {buildIndex, ensureIndex, queryIndex, resolveIndexPath, RECORD_FORMAT, INDEX_FILE} from './build.js'
export {formatBuildResult, formatFieldResult, formatFuncResult, formatKernels, progressLine} from './format.js'
export type {BuildAction, BuildOptions, BuildProgress, BuildResult, EnsureOptions, EnsureResult} from './build.js'
export {KernelIndex} from './query.js'
export {type Combine, combineField, combineFunc, combineKernels, queryArchives} from './combine.js'
export type {
  EnumHit,
  EnumResult,
  FieldHit,
  FieldResult,
  FuncHit,
  FuncResult,
  KernelFilter,
  KernelInfo,
  KernelRef,
  RelatedMember,
} from './query.js'
export type {FlatMember, Layout, LayoutMember} from './codec.js'
export {flattenLayout} from './codec.js'
export {openDb, migrate, readMigrations, schemaVersion} from './db.js'
export {IndexBuildError, IndexError} from './errors.js'
