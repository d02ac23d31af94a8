/**
 * Reference tools (bpftool, pahole, clang, llvm-objcopy) as test oracles. A test that
 * needs one skips with a printed reason when it is absent; CI installs them all, and
 * sets CI=true, in which case a missing tool is a failure instead of a skip.
 */
import {spawnSync} from 'node:child_process'

const cache = new Map<string, string | undefined>()

/** Absolute path of `name` on PATH (or in /usr/sbin, where Debian puts bpftool), else undefined. */
export function findTool(name: string): string | undefined {
  if (cache.has(name)) return cache.get(name)
  const r = spawnSync('sh', ['-c', `command -v ${name} || ls /usr/sbin/${name} /sbin/${name} 2>/dev/null | head -1`], {
    encoding: 'utf8',
  })
  const path = r.stdout.trim().split('\n')[0] || undefined
  cache.set(name, path)
  return path
}

/**
 * Returns true when `name` is present. Otherwise prints why the caller will skip, and
 * throws under CI, where every reference tool must be installed by .ci/run.
 */
export function requireTool(name: string, why: string): boolean {
  if (findTool(name)) return true
  const msg = `skipping ${why}: reference tool '${name}' is not installed`
  if (process.env.CI === 'true') throw new Error(`${msg} (CI must install it)`)
  console.warn(msg)
  return false
}

/** Runs a tool and returns stdout; throws with stderr on a non-zero exit. */
export function run(cmd: string, args: string[], options: {input?: Uint8Array} = {}): Buffer {
  const r = spawnSync(findTool(cmd) ?? cmd, args, {maxBuffer: 1 << 30, input: options.input})
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`)
  return r.stdout
}

/**
 * Compares two long texts and returns undefined when equal, else a short description of
 * the first differing line with a little context (never the whole text).
 */
export function firstDifference(actual: string, expected: string): string | undefined {
  if (actual === expected) return undefined
  const a = actual.split('\n')
  const e = expected.split('\n')
  const n = Math.max(a.length, e.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== e[i]) {
      const from = Math.max(0, i - 3)
      return [
        `first difference at line ${i + 1} (actual ${a.length} lines, expected ${e.length})`,
        '--- expected',
        ...e.slice(from, i + 4),
        '--- actual',
        ...a.slice(from, i + 4),
      ].join('\n')
    }
  }
  return 'texts differ only in a trailing newline'
}

/** Names by class as bpftool's raw dump prints them: `[id] KIND 'name'`, ids ascending. */
export function bpftoolNames(path: string): {funcs: Map<string, number[]>; types: Map<string, number[]>} {
  const funcs = new Map<string, number[]>()
  const types = new Map<string, number[]>()
  for (const line of run('bpftool', ['btf', 'dump', 'file', path, 'format', 'raw']).toString('utf8').split('\n')) {
    const m = /^\[(\d+)\] (\w+) '(.*?)'/.exec(line)
    if (!m || m[3] === '(anon)') continue
    const map = m[2] === 'FUNC' ? funcs : types
    const list = map.get(m[3]!)
    if (list) list.push(Number(m[1]))
    else map.set(m[3]!, [Number(m[1])])
  }
  return {funcs, types}
}
