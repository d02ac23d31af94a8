#!/bin/sh
':' //; case "$1 $2" in 'btf dump') exec node --no-concurrent-recompilation "$0" "$@";; esac
':' //; case ":$GLIBC_TUNABLES:" in *:glibc.malloc.hugetlb=*) ;; *) export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1";; esac
':' //; exec node "$0" "$@"
// Entry point of the kcompat CLI. Commands are oclif commands in dist/commands, built by
// `npm run build`. This file is CommonJS (bin/package.json says so): Node starts a
// CommonJS entry without setting up its ESM loader, which the fast path never needs.
//
// The query commands and `btf dump` run from dist/fast.cjs, a small bundled dispatcher
// that requires the one bundle of the command that runs (dist/fast-<action>.cjs); both
// load faster than oclif and the modules they are made of (src/lib/fast.ts says which
// commands and argv it serves; everything else, --help included, goes to oclif). The
// modules run instead when there is no bundle, or when it is older than them (a `tsc`
// without `npm run build` must not leave a stale bundle serving commands).
//
// The first four lines are read by /bin/sh, and by Node as strings and comments: the
// shell starts Node on this file, with settings that can only be made before it starts.
// - `btf dump` gets V8's --no-concurrent-recompilation. Off the main thread, V8's
//   optimizing compiler allocates in its threads' own malloc arenas, and glibc keeps what
//   they free: the C dump of a 6.12 kernel (107,331 types) peaked at 63.7-65.6 MiB with
//   it and 60.2-60.3 MiB without, its CPU time unchanged (V8 sets its compile thread up
//   at start). The long commands (matrix, btfgen, index build) keep compiling in the
//   background. The flag does not change V8's flag hash: code caches serve both.
// - The other commands get glibc's malloc tunable glibc.malloc.hugetlb=1 (glibc 2.35+;
//   older glibc and musl ignore it; one the user set is kept): glibc then asks for
//   transparent huge pages (madvise) on the memory it maps, so reading a kernel's 4.7 MB
//   raw BTF and 2.7 MB scan file faults in a few 2 MiB pages instead of ~1,800 small
//   ones. On the VM these figures come from, faults cost ~20 us each: reading the two
//   files took ~35 ms of system time, `check --object` 236 -> 192 ms wall (hyperfine,
//   25 runs). Not for `btf dump`, where it cost 2 MiB of peak RSS. Where THP is
//   `never` (or `always`) it changes nothing. Children (xz, QEMU) inherit it, harmlessly.
// A shell rather than `#!/usr/bin/env -S node --flag`: BusyBox's env (Alpine) has no
// -S. `node bin/run.js ...` skips these lines.
'use strict'
const {statSync} = require('node:fs')
const {join} = require('node:path')

async function main() {
  const bundle = join(__dirname, '..', 'dist', 'fast.cjs')
  const bundled = statSync(bundle, {throwIfNoEntry: false})
  const modules = statSync(join(__dirname, '..', 'dist', 'lib', 'fast.js'), {throwIfNoEntry: false})
  const useBundle = bundled !== undefined && bundled.mtimeMs >= (modules?.mtimeMs ?? 0)
  const {tryFastPath} = useBundle ? require(bundle) : await import('../dist/lib/fast.js')
  if (!(await tryFastPath(process.argv.slice(2)))) {
    const {execute} = require('@oclif/core')
    await execute({dir: join(__dirname, '..', 'package.json')})
  }
}
main()
