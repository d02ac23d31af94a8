-- Release matrix cells, cached per (object, kernel, kcompat): `kcompat matrix` reuses a
-- row only when the object's sha256, the kernel key (its manifest entry's hash, which
-- holds the BTF's sha256, or a --btf file's hash) and the tool key (kcompat version,
-- facts data version, cell format) are all the same. Derived data: safe to delete.
CREATE TABLE matrix_cache (
  object_sha256 TEXT NOT NULL,
  kernel_key    TEXT NOT NULL,
  object_name   TEXT NOT NULL,
  kernel_name   TEXT NOT NULL,
  cells         TEXT NOT NULL,   -- JSON array of cells (check's program results)
  created       TEXT NOT NULL,
  PRIMARY KEY (object_sha256, kernel_key)
) WITHOUT ROWID;
CREATE INDEX matrix_cache_names ON matrix_cache (object_name, kernel_name);
