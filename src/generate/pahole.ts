/**
 * Finding pahole (the `dwarves` package) and learning what it can do.
 *
 * kcompat never guesses: it runs `pahole --version` (prints `v1.24`) and
 * `pahole --help` (lists the options this build knows), so a distribution's patched or
 * back-ported pahole is judged by what it says it supports, not by its number alone.
 *
 * The minimum is pahole 1.22, the first release with `--btf_encode_detached` (encode
 * to a separate file instead of adding a `.BTF` section to the input, dwarves
 * changes-v1.22); older versions are refused with `TOOL_TOO_OLD`.
 *
 * Error codes: `TOOL_MISSING` (not installed / not executable), `TOOL_TOO_OLD`,
 * `TOOL_UNKNOWN_VERSION` (`--version` printed something unexpected), `TOOL_FAILED`
 * (it could not even print its version).
 */
import {spawn} from 'node:child_process'
import {KcompatError} from '../errors.js'

/** Errors of external tools (pahole) and of BTF generation. */
export class GenerateError extends KcompatError {}

export interface PaholeVersion {
  major: number
  minor: number
  /** What `--version` printed, trimmed (e.g. `v1.24`). */
  text: string
}

/** The oldest pahole that can write detached BTF (`--btf_encode_detached`). */
export const MIN_PAHOLE: Readonly<PaholeVersion> = Object.freeze({major: 1, minor: 22, text: 'v1.22'})

/** Parses `pahole --version` output: `v1.24`, `v1.25-12-gabcdef`, `1.27`. */
export function parsePaholeVersion(text: string): PaholeVersion | undefined {
  const m = /^\s*v?(\d+)\.(\d+)/.exec(text)
  if (!m) return undefined
  return {major: Number(m[1]), minor: Number(m[2]), text: text.trim().split('\n')[0]!.trim()}
}

/** Numeric form as the kernel's `scripts/pahole-version.sh` prints it: 1.24 → 124. */
export function paholeNumber(v: Pick<PaholeVersion, 'major' | 'minor'>): number {
  return v.major * 100 + v.minor
}

/** `v1.24` → `1.24` (what the manifest records). */
export function versionString(v: Pick<PaholeVersion, 'major' | 'minor'>): string {
  return `${v.major}.${v.minor}`
}

export interface Pahole {
  /** What was run (a name looked up on PATH, or a path). */
  command: string
  version: PaholeVersion
  /** Long options `--help` lists (`btf_encode_detached`, `skip_encoding_btf_enum64`, …). */
  options: ReadonlySet<string>
}

interface Captured {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function capture(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe'], env})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < 1 << 20) stdout += s
    })
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < 1 << 20) stderr += s
    })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({code, signal, stdout, stderr}))
  })
}

const INSTALL_HINT = 'install dwarves (Debian/Ubuntu: apt-get install dwarves; Fedora/RHEL: dnf install dwarves), or give --pahole PATH'

/** Long option names in `--help` text. */
export function parseHelpOptions(help: string): Set<string> {
  const out = new Set<string>()
  for (const m of help.matchAll(/(?:^|[\s,])--([a-z0-9_-]+)/gim)) out.add(m[1]!)
  return out
}

/**
 * Finds pahole and reads its version and options. `command` defaults to
 * `$KCOMPAT_PAHOLE`, else `pahole` on PATH.
 * @throws GenerateError `TOOL_MISSING`, `TOOL_UNKNOWN_VERSION`, `TOOL_TOO_OLD`, `TOOL_FAILED`.
 */
export async function findPahole(command?: string, env: NodeJS.ProcessEnv = process.env): Promise<Pahole> {
  const cmd = command || env.KCOMPAT_PAHOLE || 'pahole'
  let v: Captured
  try {
    v = await capture(cmd, ['--version'], env)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new GenerateError('TOOL_MISSING', `pahole is needed to encode BTF from DWARF, but '${cmd}' was not found${cmd.includes('/') ? '' : ' on PATH'}: ${INSTALL_HINT}`)
    }
    if (code === 'EACCES') throw new GenerateError('TOOL_MISSING', `'${cmd}' is not executable: ${INSTALL_HINT}`)
    throw new GenerateError('TOOL_FAILED', `could not run '${cmd} --version': ${(e as Error).message}`, {cause: e})
  }
  if (v.code !== 0) {
    throw new GenerateError(
      'TOOL_FAILED',
      `'${cmd} --version' ${v.signal ? `was killed by ${v.signal}` : `exited with status ${v.code}`}${v.stderr.trim() ? `; it said:\n${v.stderr.trimEnd()}` : ''}`,
    )
  }
  const version = parsePaholeVersion(v.stdout) ?? parsePaholeVersion(v.stderr)
  if (!version) {
    throw new GenerateError('TOOL_UNKNOWN_VERSION', `'${cmd} --version' printed ${JSON.stringify((v.stdout || v.stderr).trim().slice(0, 200))}, not a pahole version such as v1.24`)
  }
  if (paholeNumber(version) < paholeNumber(MIN_PAHOLE)) {
    throw new GenerateError(
      'TOOL_TOO_OLD',
      `pahole ${version.text} is too old: encoding BTF to a separate file (--btf_encode_detached) needs pahole ${MIN_PAHOLE.text} or newer; ${INSTALL_HINT}`,
    )
  }
  const h = await capture(cmd, ['--help'], env).catch(() => undefined)
  const options = parseHelpOptions(`${h?.stdout ?? ''}\n${h?.stderr ?? ''}`)
  if (options.size > 0 && !options.has('btf_encode_detached')) {
    throw new GenerateError('TOOL_TOO_OLD', `pahole ${version.text} ('${cmd}') has no --btf_encode_detached option; ${INSTALL_HINT}`)
  }
  return {command: cmd, version, options}
}
