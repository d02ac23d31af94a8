#!/usr/bin/env -S node --min-semi-space-size=64 --max-semi-space-size=128
// Entry point of the kcompat CLI. Commands are oclif commands in dist/commands, built by
// `npm run build`. Parsing a kernel's BTF allocates ~100 MB of small objects that all
// survive: a larger young generation (the node flags above) keeps most of them from being
// copied into the old generation (measured with bench/btf-dump.sh: a vmlinux.h dump took
// 320 ms and 161 MiB with 32/64 MB semi-spaces, 260 ms and 112 MiB with 64/128).
// The plain forms of `btf dump` run from dist/fast.cjs, one bundled file that loads
// faster than the modules it is made of (scripts/bundle-fast.mjs). The modules run
// instead when there is no bundle, or when it is older than them (a `tsc` without
// `npm run build` must not leave a stale bundle serving btf dump).
import {statSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'
const bundle = fileURLToPath(new URL('../dist/fast.cjs', import.meta.url))
const modules = fileURLToPath(new URL('../dist/lib/fast.js', import.meta.url))
const bundled = statSync(bundle, {throwIfNoEntry: false})
const useBundle = bundled !== undefined && bundled.mtimeMs >= (statSync(modules, {throwIfNoEntry: false})?.mtimeMs ?? 0)
const {tryFastPath} = useBundle ? createRequire(import.meta.url)(bundle) : await import('../dist/lib/fast.js')
if (!(await tryFastPath(process.argv.slice(2)))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
