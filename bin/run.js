#!/bin/sh
':' //; case "$1 $2" in 'btf dump') exec node --no-concurrent-recompilation "$0" "$@";; esac; exec node "$0" "$@"
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
// The first two lines are read by /bin/sh, and by Node as a string and a comment: the
// shell starts Node on this file, with V8's --no-concurrent-recompilation for `btf dump`.
// Off the main thread, V8's optimizing compiler allocates in its threads' own malloc
// arenas, and glibc keeps what they free: the C dump of a 6.12 kernel (107,331 types)
// peaked at 63.7-65.6 MiB with it and 60.2-60.3 MiB without, its CPU time unchanged
// (the flag can only be given before V8 starts: its compile thread is set up then).
// Only `btf dump` gets it, so the long commands (matrix, btfgen, index build) keep
// compiling in the background. A shell rather than `#!/usr/bin/env -S node --flag`:
// BusyBox's env (Alpine) has no -S; the flag does not change V8's flag hash, so code
// caches serve runs with and without it. `node bin/run.js ...` skips these two lines.
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
