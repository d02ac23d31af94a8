/**
 * Booting a kernel with an initramfs under QEMU and collecting its serial console.
 *
 * `qemu-system-x86_64 -nographic -nodefaults -serial stdio -no-reboot`: the guest's
 * console (ttyS0) is QEMU's stdout; no display, no network, no default devices (less
 * to probe at boot). KVM is used when /dev/kvm can be opened read-write, else TCG with
 * `-cpu max` (every feature TCG emulates, so that the kernel picks the same code paths
 * a modern CPU gives it). The kernel command line sets `panic=-1` (reboot at once on
 * panic), which `-no-reboot` turns into QEMU exiting, so a panicking guest ends the run;
 * `loglevel=1` keeps kernel messages off the console except emergencies (a panic),
 * so they do not interleave with the records.
 *
 * QEMU runs in its own process group; on timeout, and when kcompat is interrupted
 * (SIGINT, SIGTERM) or exits, the whole group is killed. The run ends with QEMU's exit;
 * the caller removes its temporary files in all cases.
 */
import {spawn, spawnSync} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {VerifyError} from './errors.js'

export type Accel = 'kvm' | 'tcg'

export interface BootOptions {
  kernel: string
  initrd: string
  arch?: 'x86_64'
  memoryMb?: number
  timeoutMs: number
  accel?: Accel
  qemu?: string
  /** extra kernel command-line arguments, after kcompat's own */
  kernelArgs?: string[]
  /** called when kcompat is interrupted during the boot, before it dies: remove temporary files */
  onAbort?: () => void
  /** called with each console line as it arrives */
  onLine?: (line: string) => void
}

export interface BootResult {
  console: string
  exitCode: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  accel: Accel
  /** ms from spawn to the first line matching `firstLine`, if any */
  elapsedMs: number
}

export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

export function qemuBinary(arch: 'x86_64' = 'x86_64'): string {
  return process.env.KCOMPAT_QEMU ?? `qemu-system-${arch}`
}

/** @throws VerifyError `VERIFY_QEMU_MISSING` */
export function checkQemu(qemu: string): string {
  const r = spawnSync(qemu, ['--version'], {encoding: 'utf8'})
  if (r.error || r.status !== 0) {
    throw new VerifyError('VERIFY_QEMU_MISSING', `cannot run '${qemu}' (${(r.error as NodeJS.ErrnoException | undefined)?.code ?? `exit ${r.status}`}): install the Debian package qemu-system-x86`)
  }
  return r.stdout.split('\n')[0] ?? ''
}

export function qemuArgs(o: BootOptions, accel: Accel): string[] {
  return [
    '-nographic', '-nodefaults', '-no-reboot',
    '-serial', 'stdio', '-monitor', 'none',
    '-m', String(o.memoryMb ?? 1024), '-smp', '1',
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max']),
    '-kernel', o.kernel, '-initrd', o.initrd,
    '-append', ['console=ttyS0', 'panic=-1', 'loglevel=1', 'rdinit=/init', ...(o.kernelArgs ?? [])].join(' '),
  ]
}

/** Boots once; resolves when QEMU exits or is killed at the timeout. */
export function boot(o: BootOptions): Promise<BootResult> {
  const accel = o.accel ?? (kvmUsable() ? 'kvm' : 'tcg')
  const qemu = o.qemu ?? qemuBinary(o.arch)
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(qemu, qemuArgs(o, accel), {stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    const out: string[] = []
    let pending = ''
    let timedOut = false
    const killGroup = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      killGroup()
    }, o.timeoutMs)
    // QEMU has its own process group, so a Ctrl-C at the terminal does not reach it: when
    // kcompat is interrupted or exits, the group is killed, then the signal takes its course
    const onSignal = (sig: NodeJS.Signals): void => {
      killGroup()
      cleanup()
      o.onAbort?.()
      process.kill(process.pid, sig)
    }
    const cleanup = (): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      process.off('exit', killGroup)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    process.on('exit', killGroup)
    child.stdout.setEncoding('latin1')
    child.stdout.on('data', (chunk: string) => {
      out.push(chunk)
      if (!o.onLine) return
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const l of lines) o.onLine(l.replace(/\r$/, ''))
    })
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (c: string) => {
      if (stderr.length < 65536) stderr += c
    })
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      cleanup()
      reject(e.code === 'ENOENT' ? new VerifyError('VERIFY_QEMU_MISSING', `'${qemu}' not found: install the Debian package qemu-system-x86`) : e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      cleanup()
      if (pending && o.onLine) o.onLine(pending)
      resolve({
        console: out.join('') + (stderr ? `\n${stderr}` : ''),
        exitCode: code,
        signal,
        timedOut,
        accel,
        elapsedMs: Date.now() - started,
      })
    })
  })
}

/** The last `n` non-empty console lines, control characters removed, for error messages. */
export function lastLines(console: string, n = 15): string {
  return console
    .split('\n')
    .map((l) => l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trimEnd())
    .filter((l) => l.length > 0)
    .slice(-n)
    .join('\n')
}
