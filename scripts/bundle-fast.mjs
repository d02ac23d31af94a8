#!/usr/bin/env node
// Post-build step (npm run build): bundles the start-up fast path (src/lib/fast.ts and
// everything it imports: the BTF parser, the C and raw dumpers, the ELF reader) into one
// CommonJS file, dist/fast.cjs, which bin/run.js loads for plain `kcompat btf dump` runs.
//
// Why: Node 20's ESM loader links modules one by one through promises, and the fast path
// is ~25 modules; one CommonJS file loads in one synchronous step. Measured with
// whole-process runs alternating between the two (vmlinux.h of the 6.12 fixture): ~285 ms
// from the ESM modules, ~260 ms from this bundle (bench/btf-dump-floor.mjs: code load 35 ->
// 15 ms). A V8 code cache for the bundle was also tried and made it slower (deserializing
// cost more than the lazy compilation it saved).
//
// The bundle is built from the tsc output in dist/, so it is the same code as the
// modules oclif's commands use. Packages (the xz binding, tar-stream) stay external and
// are required from node_modules on first use, as in the modules.
import {build} from 'esbuild'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

await build({
  entryPoints: [join(root, 'dist/lib/fast.js')],
  outfile: join(root, 'dist/fast.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  // the modules' `createRequire(import.meta.url)` resolves packages from dist/; in the
  // bundle, which also sits in dist/, the file's own URL does the same. (A fast-path
  // module that found data files next to itself through import.meta.url would get
  // dist/ instead: none does.)
  define: {'import.meta.url': '__kcompatBundleUrl'},
  banner: {js: "const __kcompatBundleUrl = require('node:url').pathToFileURL(__filename).href;"},
  logLevel: 'warning',
})
