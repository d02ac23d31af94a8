CREATE INDEX chunk_by_last_key ON chunk (store, last_key, seq);
CREATE INDEX matrix_cache_cells ON matrix_cache (cells);
CREATE INDEX matrix_cache_names ON matrix_cache (object_name, kernel_name);
CREATE INDEX matrix_kernel_names ON matrix_kernel (kernel_name);
CREATE TABLE chunk (
  store     TEXT NOT NULL CHECK (store IN ('fn', 'tp', 'st', 'en')),
  seq       INTEGER NOT NULL,
  first_key TEXT NOT NULL,
  last_key  TEXT NOT NULL,
  n         INTEGER NOT NULL,    -- records in the chunk
  raw_size  INTEGER NOT NULL,    -- bytes before compression
  quality   INTEGER NOT NULL,    -- Brotli quality the data was compressed with
  data      BLOB NOT NULL,       -- Brotli-compressed UTF-8 lines
  PRIMARY KEY (store, seq)
);
CREATE TABLE file_hash (
  path    TEXT PRIMARY KEY,      -- absolute
  stat    TEXT NOT NULL,         -- size:mtime_ns:ctime_ns:ino:dev
  sha256  TEXT NOT NULL,
  created TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE kernel (
  id            INTEGER PRIMARY KEY,
  distro        TEXT NOT NULL,
  version       TEXT NOT NULL,
  arch          TEXT NOT NULL,
  release       TEXT NOT NULL,
  flavor        TEXT NOT NULL,
  btf           TEXT NOT NULL CHECK (btf IN ('in-kernel', 'generated', 'none')),
  sha256        TEXT,
  size          INTEGER,
  path          TEXT,
  config        TEXT,            -- JSON object of config facts, or NULL
  source        TEXT NOT NULL,   -- JSON KernelSource
  added         TEXT NOT NULL,
  entry         TEXT NOT NULL,   -- the manifest entry this row was indexed from (JSON)
  n_funcs       INTEGER,         -- NULL when the kernel has no BTF
  n_tracepoints INTEGER,
  n_structs     INTEGER,
  n_enums       INTEGER, n_modules INTEGER, modules_sha256 TEXT,
  UNIQUE (distro, version, arch, release)
);
CREATE TABLE kset (
  id      INTEGER PRIMARY KEY,
  kernels BLOB NOT NULL
);
CREATE TABLE matrix_cache (
  id            INTEGER PRIMARY KEY,
  kernel_hash   BLOB NOT NULL,   -- sha256 of the kernel key (which holds the tool key)
  object_sha256 TEXT NOT NULL,
  object_name   TEXT NOT NULL,
  kernel_name   TEXT NOT NULL,
  cells         INTEGER NOT NULL REFERENCES matrix_cells (id),
  created       TEXT NOT NULL,
  UNIQUE (kernel_hash, object_sha256)
);
CREATE TABLE matrix_cells (
  id     INTEGER PRIMARY KEY,
  sha    BLOB NOT NULL UNIQUE,   -- sha256 of the cells text (UTF-8)
  latin1 INTEGER NOT NULL,       -- 1: the text is stored one byte per character (all are U+00FF or below), 0: UTF-8
  body   BLOB NOT NULL           -- the text so encoded, zlib-compressed (deflate with the adler32 check)
);
CREATE TABLE matrix_kernel (
  kernel_key  TEXT PRIMARY KEY,
  kernel_name TEXT NOT NULL,
  identity    TEXT NOT NULL,     -- JSON {upstream, arch, distro, version, flavor}
  created     TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER matrix_cells_gc_delete AFTER DELETE ON matrix_cache BEGIN
  DELETE FROM matrix_cells WHERE id = OLD.cells AND NOT EXISTS (SELECT 1 FROM matrix_cache WHERE cells = OLD.cells);
END;
CREATE TRIGGER matrix_cells_gc_update AFTER UPDATE OF cells ON matrix_cache WHEN OLD.cells IS NOT NEW.cells BEGIN
  DELETE FROM matrix_cells WHERE id = OLD.cells AND NOT EXISTS (SELECT 1 FROM matrix_cache WHERE cells = OLD.cells);
END;
