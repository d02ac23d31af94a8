-- Release matrix cache, about 10 times smaller (schema version 4).
--
-- * matrix_cells: each distinct cells text once, by content (sha256 of the text),
--   zlib-compressed. Cells name their kernel's BTF path through a token (cell format 5
--   of the tool key), so kernels that give an object the same results share one body;
--   with 200 simulated kernels and 61 objects, 10,400 rows hold 4,706 bodies, and
--   compressing takes the bodies' 70 MB of text to 7 MB. A text whose characters all
--   fit in a byte (nearly all) is stored as Latin-1, which decodes faster than UTF-8.
-- * matrix_cache rows name their body, and their kernel key by its sha256: the keys
--   (a few hundred bytes each) made the unique index's entries spill out of the 1 KiB
--   pages, 12 MB for 10,400 rows.
-- * A body is deleted with the last row that names it, by the triggers below, whatever
--   deletes the row or changes its body. They do not fire for rows INSERT OR REPLACE
--   replaces (SQLite fires delete triggers for those only with recursive_triggers on):
--   rows are updated in place (INSERT ... ON CONFLICT DO UPDATE) instead.
-- * Rows of cell format 4 could never be read again, and the table is keyed
--   differently: it is recreated empty rather than copied. The dropped rows' pages stay
--   in the file, free, and are reused by later writes (VACUUM gives them back).
--
-- All derived data: safe to delete.
DROP TABLE matrix_cache;
CREATE TABLE matrix_cells (
  id     INTEGER PRIMARY KEY,
  sha    BLOB NOT NULL UNIQUE,   -- sha256 of the cells text (UTF-8)
  latin1 INTEGER NOT NULL,       -- 1: the text is stored one byte per character (all are U+00FF or below), 0: UTF-8
  body   BLOB NOT NULL           -- the text so encoded, zlib-compressed (deflate with the adler32 check)
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
CREATE INDEX matrix_cache_names ON matrix_cache (object_name, kernel_name);
CREATE INDEX matrix_cache_cells ON matrix_cache (cells);
CREATE TRIGGER matrix_cells_gc_delete AFTER DELETE ON matrix_cache BEGIN
  DELETE FROM matrix_cells WHERE id = OLD.cells AND NOT EXISTS (SELECT 1 FROM matrix_cache WHERE cells = OLD.cells);
END;
CREATE TRIGGER matrix_cells_gc_update AFTER UPDATE OF cells ON matrix_cache WHEN OLD.cells IS NOT NEW.cells BEGIN
  DELETE FROM matrix_cells WHERE id = OLD.cells AND NOT EXISTS (SELECT 1 FROM matrix_cache WHERE cells = OLD.cells);
END;
