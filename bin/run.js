#!/usr/bin/env -S node --min-semi-space-size=32 --max-semi-space-size=64
// Entry point of the kcompat CLI. Commands are oclif commands in dist/commands, built by
// `npm run build`. Parsing a kernel's BTF allocates ~100 MB of small objects that all
// survive: a larger young generation (the node flags above) halves the garbage
// collector's share of `btf dump` (measured with bench/btf-dump.sh).
const {tryFastPath} = await import('../dist/lib/fast.js')
if (!(await tryFastPath(process.argv.slice(2)))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
