/**
 * The start-up fast path's argv parser. It reads the flag and argument declarations of
 * the oclif commands themselves (serialized at build time by scripts/bundle-fast.mjs
 * into dist/fast-specs.json, see {@link CommandSpec}), so a command's flags are declared
 * once, in its oclif class.
 *
 * It accepts only argv that oclif would parse without complaint and to the same values,
 * and returns undefined for everything else: --help and -h, unknown flags, `--`, a
 * repeated single-valued flag, a value that starts with `-`, short flags with attached
 * values, a missing required flag or argument, a value outside `options`, a broken
 * exactlyOne / dependsOn / exclusive relation, and any flag property it does not model.
 * Those argv go to oclif, which gives its own usage errors and help, so both paths print
 * the same bytes for every argv.
 */

/** One flag as the fast path needs it (the subset of oclif's flag definition it models). */
export interface FlagSpec {
  type: 'boolean' | 'option'
  char?: string
  multiple?: boolean
  required?: boolean
  options?: string[]
  default?: string | boolean
  exactlyOne?: string[]
  dependsOn?: string[]
  exclusive?: string[]
  /** the flag has a property the fast path does not model (env, parse, delimiter, allowNo, ...): using it sends argv to oclif */
  unmodelled?: boolean
}

/** One positional argument. */
export interface ArgSpec {
  name: string
  required?: boolean
  options?: string[]
  /** as {@link FlagSpec.unmodelled} */
  unmodelled?: boolean
}

/** A command's flags and arguments, from its oclif class. `strict: false` commands are never served. */
export interface CommandSpec {
  flags: Record<string, FlagSpec>
  args: ArgSpec[]
  strict: boolean
}

export interface ParsedArgv {
  flags: Record<string, string | string[] | boolean>
  args: Record<string, string>
}

/**
 * Parses argv (without the command's id words) as oclif would for `spec`, or returns
 * undefined when oclif must see it. Algorithm: one left-to-right pass over the tokens,
 * as oclif's parser does. `--name=value`, `--name value` and `-c value` set an option
 * flag; `--name` and `-c` set a boolean. A bare token after a multiple-valued option
 * flag is another value of it (oclif's multiple flags are greedy), else it is the next
 * positional argument. Then the declarations are checked and the defaults filled in.
 */
export function parseArgv(spec: CommandSpec, argv: readonly string[]): ParsedArgv | undefined {
  if (!spec.strict) return undefined
  const byChar = new Map<string, string>()
  for (const [name, f] of Object.entries(spec.flags)) if (f.char) byChar.set(f.char, name)
  const flags: Record<string, string | string[] | boolean> = {}
  const positional: string[] = []
  let current: string | undefined // the last option flag seen (oclif's currentFlag)
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!
    if (token.startsWith('-')) {
      let name: string | undefined
      let value: string | undefined
      if (token.startsWith('--')) {
        const eq = token.indexOf('=')
        name = eq < 0 ? token.slice(2) : token.slice(2, eq)
        if (eq >= 0) value = token.slice(eq + 1)
      } else if (token.length === 2) {
        name = byChar.get(token[1]!)
      }
      const flag = name === undefined ? undefined : spec.flags[name]
      if (name === undefined || flag === undefined || flag.unmodelled) return undefined
      if (flag.type === 'boolean') {
        if (value !== undefined || name in flags) return undefined
        flags[name] = true
        continue
      }
      if (value === undefined) value = argv[++i]
      if (value === undefined || value.startsWith('-')) return undefined
      if (flag.options && !flag.options.includes(value)) return undefined
      if (flag.multiple) {
        const list = (flags[name] as string[] | undefined) ?? []
        list.push(value)
        flags[name] = list
      } else {
        if (name in flags) return undefined
        flags[name] = value
      }
      current = name
      continue
    }
    if (current !== undefined && spec.flags[current]!.multiple) {
      if (spec.flags[current]!.options && !spec.flags[current]!.options!.includes(token)) return undefined
      ;(flags[current] as string[]).push(token)
      continue
    }
    positional.push(token)
  }
  if (positional.length > spec.args.length) return undefined
  const args: Record<string, string> = {}
  for (let i = 0; i < spec.args.length; i++) {
    const a = spec.args[i]!
    const v = positional[i]
    if (v === undefined) {
      if (a.required) return undefined
      continue
    }
    if (a.unmodelled || (a.options && !a.options.includes(v))) return undefined
    args[a.name] = v
  }
  const user = new Set(Object.keys(flags))
  const given = (n: string): boolean => user.has(n)
  for (const [name, f] of Object.entries(spec.flags)) {
    if (f.exactlyOne && f.exactlyOne.filter(given).length !== 1) return undefined
    if (!given(name)) {
      if (f.required) return undefined
      if (f.default !== undefined) flags[name] = f.default
      continue
    }
    if (f.dependsOn && !f.dependsOn.every(given)) return undefined
    if (f.exclusive && f.exclusive.some(given)) return undefined
  }
  return {flags, args}
}
