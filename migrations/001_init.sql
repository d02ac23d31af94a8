-- kcompat index schema, version 1.
--
-- The index is derived from the archive (manifest.json + BTF tarballs) and can always be
-- rebuilt. It is built for deduplication across kernels: kernels share most functions,
-- types and layouts, so every distinct record is stored once, with the set of kernels
-- that have it.
--
-- * kernel: one row per manifest entry (identity, config facts, provenance, counts).
-- * kset:   distinct kernel sets, as bitmaps over kernel.id (bit i of byte i/8, least
--           significant bit first). Records point at a kset by id; a few hundred
--           distinct sets cover every record of a large archive.
-- * chunk:  the records themselves, in four stores: 'fn' (functions), 'tp' (btf_trace_
--           tracepoints), 'st' (struct/union layouts), 'en' (enums). A store is a sorted
--           list of records `key TAB kset-id TAB content` (src/store/extract.ts and
--           codec.ts give the encodings), cut into chunks of about 512 KiB and
--           Brotli-compressed; first_key/last_key locate the chunks holding a key.
--           Strings are thereby stored once per distinct record and compressed with
--           their neighbours, which is what keeps the index a fraction of the size of
--           the xz-compressed BTF it describes.
-- * meta:   key/value facts about the build (manifest hash, record format version).

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
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
  n_enums       INTEGER,
  UNIQUE (distro, version, arch, release)
);

CREATE TABLE kset (
  id      INTEGER PRIMARY KEY,
  kernels BLOB NOT NULL
);

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

CREATE INDEX chunk_by_last_key ON chunk (store, last_key, seq);
