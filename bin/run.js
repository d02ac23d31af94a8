#!/usr/bin/env node
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
