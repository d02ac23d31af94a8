/**
 * Booting a kernel with an initramfs under QEMU and collecting its serial console.
 *
 * `qemu-system-x86_64 -nographic -nodefaults -serial stdio -no-reboot`: the guest's
 * console (ttyS0) is QEMU's stdout; no display, no network, no default devices (less
 * to probe at boot). KVM is used when /dev/kvm can be opened read-write, else TCG with
 * `-cpu max` (every feature TCG emulates, so that the kernel picks the same code paths
 * a modern CPU gives it). `KCOMPAT_ACCEL=kvm|tcg` (or the caller's `accel`) forces one.
 *
 * A usable /dev/kvm is not a working KVM: under nested virtualization QEMU may abort at
 * vCPU setup ("failed to set MSR …") or the guest may hang before its first instruction
 * of the kernel proper, while TCG boots the same kernel in seconds. So when KVM was chosen
 * automatically, the boot watches for a sign of life (`ready`, a console line the guest
 * prints early: /init's first record, or a panic): when QEMU ends without one, or none
 * has come within `KVM_READY_MS`, the attempt is killed and the boot is run again under
 * TCG; later boots in the same process go straight to TCG, and the result says why
 * (`kvmFallback`). The kernel command line sets `panic=-1` (reboot at once on
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
  /** called when QEMU is started (again, after a failed KVM trial) */
  onSpawn?: () => void
  /** a console line that shows the guest is alive (see the automatic KVM fallback above) */
  ready?: RegExp
  /** how long a KVM trial waits for `ready` (default `KVM_READY_MS`) */
  kvmReadyMs?: number
}

export interface BootResult {
  console: string
  exitCode: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  accel: Accel
  /** ms from spawn to QEMU's exit */
  elapsedMs: number
  /** why KVM was given up for TCG, when it was chosen automatically and did not boot the guest */
  kvmFallback?: string
}

/** How long an automatically chosen KVM has to show the guest's first sign of life. */
export const KVM_READY_MS = 20_000

/** Set once KVM failed to boot a guest in this process: later boots use TCG at once. */
let kvmFailure: string | undefined

function forcedAccel(): Accel | undefined {
  const v = process.env.KCOMPAT_ACCEL
  if (v === undefined || v === '') return undefined
  if (v === 'kvm' || v === 'tcg') return v
  throw new VerifyError('VERIFY_BAD_ACCEL', `KCOMPAT_ACCEL must be kvm or tcg, not '${v}'`)
}

/** Whether the KVM device (`$KCOMPAT_KVM_DEVICE`, else /dev/kvm) opens read-write. */
export function kvmUsable(): boolean {
  try {
    accessSync(process.env.KCOMPAT_KVM_DEVICE || '/dev/kvm', constants.R_OK | constants.W_OK)
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

/**
 * Boots the guest; resolves when QEMU exits or is killed at the timeout. With KVM chosen
 * automatically, a first attempt that shows no sign of life is retried under TCG (above).
 */
export async function boot(o: BootOptions): Promise<BootResult> {
  const forced = o.accel ?? forcedAccel()
  if (forced) return bootOnce(o, forced)
  if (!kvmUsable() || kvmFailure !== undefined || !o.ready) {
    const r = await bootOnce(o, kvmUsable() && kvmFailure === undefined ? 'kvm' : 'tcg')
    return kvmFailure === undefined ? r : {...r, kvmFallback: kvmFailure}
  }
  const first = await bootOnce(o, 'kvm', o.ready)
  if (!first.stalled) return first
  kvmFailure = first.stalled
  return {...(await bootOnce(o, 'tcg')), kvmFallback: kvmFailure}
}

/**
 * One QEMU run. With `ready`, the run is a trial: if QEMU ends, or `KVM_READY_MS` pass,
 * before a console line matches it, the run is killed and `stalled` says why; lines
 * are passed to `onLine` only from a run that is not a failed trial's.
 */
function bootOnce(o: BootOptions, accel: Accel, ready?: RegExp): Promise<BootResult & {stalled?: string}> {
  const qemu = o.qemu ?? qemuBinary(o.arch)
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(qemu, qemuArgs(o, accel), {stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    o.onSpawn?.()
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
    // a trial run: no sign of life within KVM_READY_MS means KVM does not work here
    let alive = ready === undefined
    let stalled: string | undefined
    const held: string[] = []
    const trial = ready === undefined
      ? undefined
      : setTimeout(() => {
          if (alive) return
          stalled = `KVM showed no sign of the guest within ${(o.kvmReadyMs ?? KVM_READY_MS) / 1000} s`
          killGroup()
        }, o.kvmReadyMs ?? KVM_READY_MS)
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
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const raw of lines) {
        const l = raw.replace(/\r$/, '')
        if (!alive && ready!.test(l)) {
          alive = true
          for (const h of held.splice(0)) o.onLine?.(h)
        }
        if (alive) o.onLine?.(l)
        else held.push(l)
      }
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
      if (trial) clearTimeout(trial)
      cleanup()
      if (!alive && !timedOut) {
        const why = stderr.trim().split('\n').filter(Boolean).slice(-2).join('; ')
        stalled ??= `QEMU under KVM ended (exit ${code ?? signal}) before the guest showed a sign of life${why ? `: ${why}` : ''}`
        resolve({console: out.join(''), exitCode: code, signal, timedOut, accel, elapsedMs: Date.now() - started, stalled})
        return
      }
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
