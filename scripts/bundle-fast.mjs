#!/usr/bin/env node
// Post-build step (npm run build): bundles the start-up fast path (src/lib/fast.ts and
// everything it imports: the BTF parser, the C and raw dumpers, the ELF reader) into one
// CommonJS file, dist/fast.cjs, which bin/run.js loads for plain `kcompat btf dump` runs.
//
// Why: Node 20's ESM loader links modules one by one through promises, and the fast path
// is ~25 modules; one CommonJS file loads in one synchronous step. Measured with
// bench/btf-dump.sh (whole process, vmlinux.h of a 6.12 kernel): ~310 ms from the ESM
// modules, ~270 ms from this bundle. A V8 code cache for the bundle was also tried and
// made it slower (deserializing cost more than the lazy compilation it saved).
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
  // bundle, which also sits in dist/, the file's own URL does the same
  define: {'import.meta.url': '__kcompatBundleUrl'},
  banner: {js: "const __kcompatBundleUrl = require('node:url').pathToFileURL(__filename).href;"},
  logLevel: 'warning',
})
