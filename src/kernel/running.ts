/**
 * The running machine's kernel: the only code in kcompat that reads this machine.
 *
 * - release and arch: `uname -r` / `uname -m` (os.release(), os.machine());
 * - BTF: `/sys/kernel/btf/vmlinux` (present when the kernel was built with
 *   CONFIG_DEBUG_INFO_BTF), and whether `/sys/kernel/btf/` also holds module BTF;
 * - config: `/proc/config.gz` (CONFIG_IKCONFIG_PROC), else `/boot/config-$(uname -r)`,
 *   the same order bpftool's `feature probe` uses;
 * - the active LSM list: `/sys/kernel/security/lsm` (needs securityfs mounted).
 *
 * Everything missing or unreadable is reported as absent with the reason, never thrown:
 * a machine without `/proc/config.gz` is an ordinary machine.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {machine, release} from 'node:os'
import {normalizeArch} from './arch.js'
import {type KernelConfig, parseKernelConfig} from './config.js'

export interface RunningKernel {
  /** `uname -r`. */
  release: string
  /** `uname -m`, normalised to archive arch names (`arm64` for aarch64). */
  arch: string
  /** Raw bytes of /sys/kernel/btf/vmlinux, when present and readable. */
  btf?: Uint8Array
  btfPath: string
  /** Why there is no BTF, when there is none. */
  btfMissing?: string
  /** Names in /sys/kernel/btf other than vmlinux (module BTF); undefined when the directory is unreadable. */
  moduleBtf?: string[]
  config?: KernelConfig
  configPath?: string
  /** Why there is no config, when there is none. */
  configMissing?: string
  /** Active LSMs in order (/sys/kernel/security/lsm), when readable. */
  lsm?: string[]
  lsmMissing?: string
}

export interface RunningPaths {
  sysBtfDir: string
  procConfig: string
  bootConfigDir: string
  securityLsm: string
}

export const DEFAULT_PATHS: RunningPaths = {
  sysBtfDir: '/sys/kernel/btf',
  procConfig: '/proc/config.gz',
  bootConfigDir: '/boot',
  securityLsm: '/sys/kernel/security/lsm',
}

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'not present'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return (e as Error).message
}

/**
 * The split BTF of this machine's loaded modules (`/sys/kernel/btf/<module>`), by name,
 * for the names `readRunningKernel` listed; a module unloaded since is left out.
 */
export function readRunningModuleBtfs(k: RunningKernel): Map<string, Uint8Array> {
  const dir = k.btfPath.slice(0, k.btfPath.lastIndexOf('/'))
  const out = new Map<string, Uint8Array>()
  for (const name of k.moduleBtf ?? []) {
    try {
      out.set(name, readFileSync(`${dir}/${name}`))
    } catch {
      // unloaded meanwhile
    }
  }
  return out
}

/**
 * Reads what this machine says about its kernel. `overrides` replace uname results and
 * file locations (tests).
 */
export function readRunningKernel(overrides: Partial<RunningPaths> & {release?: string; arch?: string} = {}): RunningKernel {
  const paths = {...DEFAULT_PATHS, ...overrides}
  const rel = overrides.release ?? release()
  const out: RunningKernel = {
    release: rel,
    arch: normalizeArch(overrides.arch ?? machine()),
    btfPath: `${paths.sysBtfDir}/vmlinux`,
  }
  try {
    out.btf = readFileSync(out.btfPath)
  } catch (e) {
    out.btfMissing = why(e)
  }
  try {
    out.moduleBtf = readdirSync(paths.sysBtfDir).filter((n) => n !== 'vmlinux')
  } catch {
    // leave undefined: unknown
  }
  const candidates = [paths.procConfig, `${paths.bootConfigDir}/config-${rel}`]
  const failures: string[] = []
  for (const p of candidates) {
    if (!existsSync(p)) {
      failures.push(`${p}: not present`)
      continue
    }
    try {
      out.config = parseKernelConfig(readFileSync(p))
      out.configPath = p
      break
    } catch (e) {
      failures.push(`${p}: ${why(e)}`)
    }
  }
  if (!out.config) out.configMissing = failures.join('; ')
  try {
    out.lsm = readFileSync(paths.securityLsm, 'utf8')
      .trim()
      .split(',')
      .filter((s) => s !== '')
  } catch (e) {
    out.lsmMissing = `${paths.securityLsm}: ${why(e)}`
  }
  return out
}
