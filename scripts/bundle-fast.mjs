#!/usr/bin/env node
// Post-build step (npm run build): builds the start-up fast path (src/lib/fast.ts), which
// serves the query commands and `btf dump` without loading oclif, in two steps.
//
// 1. dist/fast-specs.json: each oclif command's flags and arguments, read from the
//    command classes themselves (the only place they are declared), reduced to what the
//    fast path's parser models (src/lib/argv.ts). A flag or argument with anything else
//    (a custom parse function, env, aliases, a computed default, ...) is marked
//    `unmodelled`, and argv that uses it goes to oclif.
// 2. dist/fast.cjs: fast.ts and everything it imports, bundled by esbuild into one
//    CommonJS file with the specs inlined. Why: Node 20's ESM loader links modules one by
//    one through promises, and the fast path is ~150 modules; one CommonJS file loads in
//    one synchronous step, and its action modules (one per command, reached through
//    dynamic imports) are evaluated only for the command that runs. Measured (whole
//    process, alternating, bench/startup.mjs): see README's Performance section.
//
// The bundle is built from the tsc output in dist/, so it is the same code as the
// modules oclif's commands use. Packages (better-sqlite3, the xz binding, tar-stream)
// stay external and are required from node_modules on first use, as in the modules.
import {build} from 'esbuild'
import {readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join, relative, sep} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')

// --- 1. the commands' declarations ------------------------------------------------------
// oclif's own parse function of Flags.string / Flags.boolean / Args.string: the identity
const IDENTITY_PARSE = new Set(['async (input, _ctx, _opts) => input', 'async (b, _) => b', 'async (i, _context, _opts) => i'])
const FLAG_KEYS = new Set(['name', 'char', 'type', 'multiple', 'required', 'options', 'default', 'exactlyOne', 'dependsOn', 'exclusive', 'description', 'summary', 'helpGroup', 'hidden', 'input', 'parse', 'allowNo', 'hasDynamicHelp'])
const ARG_KEYS = new Set(['name', 'type', 'required', 'options', 'description', 'input', 'parse', 'hidden'])

function modelled(def, keys) {
  for (const [k, v] of Object.entries(def)) {
    if (v === undefined) continue
    if (!keys.has(k)) return false
    if (k === 'parse' && !IDENTITY_PARSE.has(String(v))) return false
    if (k === 'default' && typeof v !== 'string' && typeof v !== 'boolean') return false
    if (k === 'allowNo' && v !== false) return false
    if (k === 'input' && !(Array.isArray(v) && v.length === 0)) return false
  }
  return true
}

function flagSpec(def) {
  const s = {type: def.type === 'boolean' ? 'boolean' : 'option'}
  for (const k of ['char', 'multiple', 'required', 'options', 'default', 'exactlyOne', 'dependsOn', 'exclusive']) {
    if (def[k] !== undefined && def[k] !== false) s[k] = def[k]
  }
  if (!modelled(def, FLAG_KEYS)) s.unmodelled = true
  return s
}

function commandFiles(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? commandFiles(p) : n.endsWith('.js') ? [p] : []
  })
}

const specs = {}
const commandsDir = join(dist, 'commands')
for (const file of commandFiles(commandsDir).sort()) {
  const C = (await import(pathToFileURL(file).href)).default
  const id = relative(commandsDir, file).slice(0, -3).split(sep).join(':')
  const flags = {...C.baseFlags, ...C.flags}
  specs[id] = {
    flags: Object.fromEntries(Object.entries(flags).map(([name, def]) => [name, flagSpec(def)])),
    args: Object.entries(C.args ?? {}).map(([name, def]) => ({
      name,
      ...(def.required ? {required: true} : {}),
      ...(def.options ? {options: def.options} : {}),
      ...(modelled(def, ARG_KEYS) ? {} : {unmodelled: true}),
    })),
    // oclif's --json flag of its own (enableJsonFlag) and non-strict commands are not modelled
    strict: C.strict !== false && !C.enableJsonFlag,
  }
}
writeFileSync(join(dist, 'fast-specs.json'), `${JSON.stringify(specs)}\n`)

// --- 2. the bundle -----------------------------------------------------------------------
// Each module finds its data files (the shipped archive, migrations, facts.json) from its
// own import.meta.url, so in the bundle each module's import.meta.url is its own path in
// dist/ (relative to the bundle, so the installed package can move).
const ownUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({filter: /\.js$/}, (a) => {
      if (!a.path.startsWith(dist + sep)) return undefined
      const text = readFileSync(a.path, 'utf8')
      const rel = relative(dist, a.path).split(sep).join('/')
      return {contents: text.replaceAll('import.meta.url', `__kcompatModuleUrl(${JSON.stringify(rel)})`), loader: 'js'}
    })
  },
}

// better-sqlite3's JavaScript (a dozen small CommonJS files; db.ts hands it its compiled
// addon directly) is bundled too: resolving and loading those files one by one cost more
// than the query that needs them. Every other package stays in node_modules.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const external = Object.keys(pkg.dependencies).filter((p) => p !== 'better-sqlite3')

// Node built-in modules that Node's own start-up has not loaded (crypto, zlib, ...) and
// the external packages are required on first use rather than when the module importing
// them is evaluated: the index commands import crypto, zlib, undici and tar-stream through
// modules they need for other things (undici alone took ~95 ms of `kernels`' ~200 ms,
// CPU profile). A lazy binding is a Proxy that requires its module at the first property
// read; esbuild only reads a binding's properties where the code uses the import.
// node:v8 too: requiring it loads its heap-snapshot helpers and with them Node's stream
// modules (~5 M instructions of a ~90 M start); only a code-cache write and the C dump
// set flags with it.
const LAZY_BUILTINS = ['node:crypto', 'node:zlib', 'node:v8', 'node:child_process', 'node:os', 'node:stream', 'node:stream/promises', 'node:fs/promises', 'node:worker_threads', 'node:readline']
const lazyId = (id) => LAZY_BUILTINS.includes(id) || external.some((p) => id === p || id.startsWith(`${p}/`))
const lazyBuiltins = (text) =>
  text
    .replace(/^(\s*(?:var )?)(import_[A-Za-z0-9_$]+) = require\("([^"]+)"\);$/gm, (line, indent, name, id) =>
      lazyId(id) ? `${indent}${name} = __kcompatLazy(${JSON.stringify(id)});` : line,
    )
    .replace(/^(\s*(?:var )?)(import_[A-Za-z0-9_$]+) = __toESM\(require\("([^"]+)"\), 1\);$/gm, (line, indent, name, id) =>
      lazyId(id) ? `${indent}${name} = __kcompatLazy(${JSON.stringify(id)}, true);` : line,
    )

// The main bundle holds fast.ts (argv parsing, the specs, dispatch) and what it imports
// itself; each action (./actions/<name>.js, reached by a dynamic import) is its own
// bundle, dist/fast-<name>.cjs, required when that command runs. A command then compiles
// only its own code: the one bundle of every command was ~500 KB of source, which V8
// pre-parses at load (~11 ms of `kernels`' ~60 ms CPU, profile), where `kernels` needs
// ~160 KB. The action bundles take the error classes from the main bundle (fast.ts
// re-exports errors.ts), so `instanceof KcompatError` holds across them; other modules
// an action shares with fast.ts (output, exit codes) carry no identity and are copied.
const banner = {
  js: [
    "const __kcompatModuleUrl = (p) => require('node:url').pathToFileURL(require('node:path').join(__dirname, p)).href;",
    'const __kcompatLazy = (id, esm) => { let m; const get = () => (m ??= esm ? __toESM(require(id), 1) : require(id)); return new Proxy({}, {get: (_, k) => get()[k], has: (_, k) => k in get()}) };',
  ].join('\n'),
}
const common = {
  write: false,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external,
  // a dynamic import of another bundle becomes a require (no ESM loader at run time)
  supported: {'dynamic-import': false},
  banner,
  logLevel: 'warning',
}
const actionsDir = join(dist, 'lib', 'actions')
const actionOf = (importer, path) => {
  const abs = join(dirname(importer), path)
  return dirname(abs) === actionsDir && abs.endsWith('.js') ? abs.slice(actionsDir.length + 1, -3) : undefined
}
const splitActions = {
  name: 'split-actions',
  setup(b) {
    b.onResolve({filter: /^\.\/actions\/[^/]+\.js$/}, (a) => {
      const name = a.importer === join(dist, 'lib', 'fast.js') ? actionOf(a.importer, a.path) : undefined
      return name ? {path: `./fast-${name}.cjs`, external: true} : undefined
    })
  },
}
const errorsFromMain = {
  name: 'errors-from-main',
  setup(b) {
    b.onResolve({filter: /errors\.js$/}, (a) => (join(dirname(a.importer), a.path) === join(dist, 'errors.js') ? {path: './fast.cjs', external: true} : undefined))
  },
}
// The shipped kernel facts and helper lists, validated and expanded once here rather than
// at every start of `check`: written beside the bundles as plain JSON, whose names the
// bundles get as __KCOMPAT_FACTS and __KCOMPAT_HELPER_PROTOS (src/kernel/facts/).
const {loadFacts} = await import(pathToFileURL(join(dist, 'kernel', 'facts', 'index.js')).href)
const {loadHelperProtos} = await import(pathToFileURL(join(dist, 'kernel', 'facts', 'helper-protos.js')).href)
const dataFiles = {__KCOMPAT_FACTS: ['fast-facts.json', loadFacts()], __KCOMPAT_HELPER_PROTOS: ['fast-helper-protos.json', loadHelperProtos()]}
for (const [name, data] of Object.values(dataFiles)) writeFileSync(join(dist, name), JSON.stringify(data))
const dataDefines = Object.fromEntries(Object.entries(dataFiles).map(([k, [name]]) => [k, JSON.stringify(name)]))
const outputs = []
const main = await build({
  ...common,
  entryPoints: [join(dist, 'lib/fast.js')],
  outfile: join(dist, 'fast.cjs'),
  plugins: [ownUrl, splitActions],
  define: {__KCOMPAT_FAST_SPECS: JSON.stringify(specs), __KCOMPAT_BUNDLED: 'true'},
})
outputs.push(...main.outputFiles)
for (const file of readdirSync(actionsDir).filter((f) => f.endsWith('.js'))) {
  const r = await build({
    ...common,
    entryPoints: [join(actionsDir, file)],
    outfile: join(dist, `fast-${file.slice(0, -3)}.cjs`),
    plugins: [ownUrl, errorsFromMain],
    define: dataDefines,
  })
  outputs.push(...r.outputFiles)
}
for (const out of outputs) writeFileSync(out.path, lazyBuiltins(out.text))
