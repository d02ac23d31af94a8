-- Release matrix, warm runs (schema version 3).
--
-- * matrix_cache is keyed kernel first, so one range read returns every cached object
--   of a kernel (a warm run reads each kernel once, not once per object). It is a rowid
--   table: its rows are large (tens of KiB of cells), which a WITHOUT ROWID table stores
--   less efficiently (writes about 30% and reads about 30% slower, measured with a cold
--   and a warm matrix's rows). Cells are now stored without their kernel and object
--   names (cell format 2 of the tool key); rows of format 1 could never be read again,
--   so the table is recreated empty rather than copied.
-- * matrix_kernel: a --btf kernel's row identity (upstream version, arch, distro,
--   version, flavor) under the same kernel key as its cells: a fully cached kernel is
--   not parsed just to label its row.
-- * file_hash: the sha256 of a file by absolute path, valid while the file's size,
--   mtime, ctime (nanoseconds), inode and device are what `stat` recorded (`stat`:
--   those joined by ':'), so unchanged --btf files and objects are not read again.
--
-- All derived data: safe to delete.
DROP TABLE matrix_cache;
CREATE TABLE matrix_cache (
  id            INTEGER PRIMARY KEY,
  kernel_key    TEXT NOT NULL,
  object_sha256 TEXT NOT NULL,
  object_name   TEXT NOT NULL,
  kernel_name   TEXT NOT NULL,
  cells         TEXT NOT NULL,   -- JSON array of cells without kernel and object
  created       TEXT NOT NULL,
  UNIQUE (kernel_key, object_sha256)
);
CREATE INDEX matrix_cache_names ON matrix_cache (object_name, kernel_name);

CREATE TABLE matrix_kernel (
  kernel_key  TEXT PRIMARY KEY,
  kernel_name TEXT NOT NULL,
  identity    TEXT NOT NULL,     -- JSON {upstream, arch, distro, version, flavor}
  created     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX matrix_kernel_names ON matrix_kernel (kernel_name);

CREATE TABLE file_hash (
  path    TEXT PRIMARY KEY,      -- absolute
  stat    TEXT NOT NULL,         -- size:mtime_ns:ctime_ns:ino:dev
  sha256  TEXT NOT NULL,
  created TEXT NOT NULL
) WITHOUT ROWID;
