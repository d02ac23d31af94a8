#!/usr/bin/env node
// Entry point of the kcompat CLI. Commands are oclif commands in dist/commands, built by
// `npm run build`. Kernel BTF parsing allocates a lot at once: a larger young
// generation avoids many short garbage collections (measured in bench/btf-dump.sh).
import v8 from 'node:v8'

v8.setFlagsFromString('--max-semi-space-size=64')

const {tryFastPath} = await import('../dist/lib/fast.js')
if (!(await tryFastPath(process.argv.slice(2)))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
