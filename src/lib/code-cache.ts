/**
 * Loading a command's bundle (dist/fast-<action>.cjs, see scripts/bundle-fast.mjs) with
 * V8's code cache, for the start-up fast path (./fast.ts).
 *
 * Compiling a bundle is a fixed cost of every run: V8 pre-parses the whole file and
 * compiles each function the run calls, ~25 ms of `check`'s ~130 ms of CPU for its
 * 480 KB bundle (CPU profile). Node 20 has no on-disk compile cache of its own
 * (module.enableCompileCache came in Node 22), so this does what it would do:
 *
 * 1. The bundle is compiled as a `vm.Script` wrapped the way Node wraps a CommonJS
 *    module, given the code cache from an earlier run when there is one; V8 then
 *    deserializes the compiled functions instead of parsing and compiling them.
 * 2. A run that has no cache (or whose cache V8 rejects) compiles the bundle eagerly
 *    (V8's --no-lazy, for that compile only) and writes the cache at once: it then
 *    holds every function of the bundle, so the next run of any form of that command
 *    compiles nothing (the cold run pays ~30 ms more for `check`, once).
 *
 * The cache is keyed by the bundle's name, size, modification time and inode and by
 * Node's version and architecture, since V8 itself checks only its own version, its
 * flags and the source's length. V8 still checks those and rejects a cache that does
 * not fit (`cachedDataRejected`); the bundle then compiles as usual. Any failure to read
 * or write the cache is ignored: it only ever costs the time it would have saved.
 *
 * Where: `$KCOMPAT_CODE_CACHE` (a directory, or `off` to disable); else `.code-cache/`
 * beside the bundles when that can be written; else
 * `$XDG_CACHE_HOME/kcompat/code-cache` (default `~/.cache/kcompat/code-cache`). The
 * file is written under a temporary name and renamed; older caches of the same bundle
 * are removed then. Deleting the directory is always safe.
 */
import {mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {basename, dirname, join} from 'node:path'
import {setFlagsFromString} from 'node:v8'
import {Script} from 'node:vm'

/** The directories a cache may be in, in the order they are tried; [] when caching is off. */
function cacheDirs(bundleDir: string): string[] {
  const env = process.env.KCOMPAT_CODE_CACHE
  if (env === 'off' || env === '0') return []
  if (env) return [env]
  const home = process.env.XDG_CACHE_HOME || (process.env.HOME ? join(process.env.HOME, '.cache') : undefined)
  return [join(bundleDir, '.code-cache'), ...(home ? [join(home, 'kcompat', 'code-cache')] : [])]
}

/**
 * Requires the CommonJS bundle `file` as Node's `require` would (same module wrapper,
 * same `require` resolution from the bundle's directory), through V8's code cache.
 * Returns its `module.exports`.
 */
export function requireWithCodeCache(file: string): unknown {
  const source = readFileSync(file, 'utf8')
  const st = statSync(file)
  const name = basename(file)
  const key = `${name}-${st.size}-${Math.trunc(st.mtimeMs)}-${st.ino}-${process.version}-${process.arch}.v8`
  const dirs = cacheDirs(dirname(file))
  let cachedData: Buffer | undefined
  for (const dir of dirs) {
    try {
      cachedData = readFileSync(join(dir, key))
      break
    } catch {
      // not in this directory
    }
  }
  // Node's CommonJS wrapper, on the first line, so line numbers in stack traces hold
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`
  let script = cachedData ? new Script(wrapped, {filename: file, cachedData}) : undefined
  if (script === undefined || script.cachedDataRejected === true) {
    if (dirs.length === 0) {
      script = new Script(wrapped, {filename: file})
    } else {
      // Compiled eagerly, every function at once, so that the cache serves whatever a
      // later run calls (a cache of the functions one run called served `check --prog`
      // and left `check --object` compiling its CO-RE engine at every start); and
      // written now, with V8's flags as every run starts with them (a command that sets
      // a flag later, as the C dump does, would make V8 reject a cache written at exit).
      // Without V8's compilation cache: when the cached data was rejected (corrupt, or
      // from another V8), the Script above already compiled this source lazily, and V8
      // would hand that back, writing a cache of the top-level code only (56 KB instead
      // of 339 KB for find's bundle).
      setFlagsFromString('--no-lazy')
      setFlagsFromString('--no-compilation-cache')
      try {
        script = new Script(wrapped, {filename: file})
      } finally {
        setFlagsFromString('--compilation-cache')
        setFlagsFromString('--lazy')
      }
      writeCache(dirs, name, key, script)
    }
  }
  const module = {exports: {} as unknown}
  const fn = script.runInThisContext() as (...args: unknown[]) => void
  fn.call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  return module.exports
}

/** Writes the script's code cache into the first directory that takes it (see the module comment). */
function writeCache(dirs: string[], name: string, key: string, script: Script): void {
  let data: Buffer
  try {
    data = script.createCachedData()
  } catch {
    return
  }
  for (const dir of dirs) {
    try {
      mkdirSync(dir, {recursive: true})
      const tmp = join(dir, `${key}.tmp-${process.pid}`)
      writeFileSync(tmp, data)
      renameSync(tmp, join(dir, key))
    } catch {
      continue // not writable: try the next place
    }
    try {
      for (const f of readdirSync(dir)) if (f.startsWith(`${name}-`) && f.endsWith('.v8') && f !== key) unlinkSync(join(dir, f))
    } catch {
      // another process removed it first
    }
    return
  }
}
