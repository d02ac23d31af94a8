-- kcompat index schema, version 5: module BTF.
--
-- The record stores (chunk) now also hold the FUNCs, btf_trace_ typedefs, structs/unions
-- and enums of each kernel's modules: a module record's content starts with
-- `\x02<module>\x02` (src/store/extract.ts), so the same thing in the same module of many
-- kernels is still one record with one kernel set, and answers name the module (NULL
-- module: vmlinux). Records written before this version hold vmlinux only; the record
-- format version in `meta` (3) makes the next build re-index every kernel.
--
-- * kernel.n_modules:       modules whose BTF is indexed for the kernel; NULL when the
--                           archive holds no module BTF for it (then answers cannot
--                           say that a module lacks something).
-- * kernel.modules_sha256:  identity of the module BTF the records came from (the
--                           manifest's pin of the kernel's module list), to notice new
--                           or changed module BTF even when vmlinux's BTF is unchanged.

ALTER TABLE kernel ADD COLUMN n_modules INTEGER;
ALTER TABLE kernel ADD COLUMN modules_sha256 TEXT;
