/**
 * `kcompat verify`: boots a kernel under QEMU with a minimal initramfs and loads every
 * program of the given objects (or a trivial program per given section) into it, one
 * program at a time, then attaches it. The kernel's own answer is the ground truth the
 * static verdicts of `check`/`matrix` are measured against (src/verify/compare.ts).
 *
 * One run:
 * 1. every object is opened on the host by the loader in `--open-only` mode: an object
 *    libbpf cannot open is an exception (`VERIFY_BAD_OBJECT`), raised before any VM is
 *    booted, because it is a property of the file, not of the kernel, and booting for it
 *    would only cost time; the same call counts the object's programs for progress;
 * 2. the guest loader is built (or taken from the cache) and the initramfs is written to
 *    a temporary directory, removed in all cases;
 * 3. QEMU boots the image; the console is read until QEMU exits or the timeout;
 * 4. the records between the markers become the report; a run without a complete block
 *    is an error: `VERIFY_KERNEL_PANIC` when the console shows a panic, `VERIFY_TIMEOUT`
 *    when the timeout ended it, else `VERIFY_NO_RESULTS`, each with the console's last
 *    lines.
 *
 * Outcome of a program: `refused` when the load or (with attach) the attach failed;
 * `needs-setup` when the program could not be tried without what an application gives
 * at run time (a map value size, an attach target, a binary, a perf event); `loads`
 * otherwise (loaded, and attached when attaching was asked for).
 */
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {prepareRemote} from '../archive/archive.js'
import {fetchKernelImage, findArchivedKernel} from '../archive/image.js'
import {VerifyError} from './errors.js'
import {buildLoader, findBusybox} from './guest.js'
import {buildInitramfs} from './initramfs.js'
import {parseConsole, type RawProgram, type RawStep} from './protocol.js'
import {boot, checkQemu, lastLines, qemuBinary, type Accel} from './qemu.js'

export type VerifyOutcome = 'loads' | 'refused' | 'needs-setup'

export interface VerifyStep {
  /** ok | error | skipped (not tried: run-time setup needed, or the load failed) | off (not asked for) */
  status: 'ok' | 'error' | 'skipped' | 'off'
  /** positive errno when status is error, else 0 */
  errno: number
  /** e.g. ESRCH, EACCES, ENOTSUPP (524), LIBBPF_ERRNO__FORMAT */
  errnoName?: string
  /** libbpf's or the verifier's last meaningful line */
  message?: string
  /** time the call took in the guest, µs */
  timeUs: number
}

export interface VerifyProgram {
  /** the object's path as given, undefined for a --prog section */
  object?: string
  /** libbpf's program name (the C function), undefined for a --prog section */
  program?: string
  section: string
  load: VerifyStep
  attach: VerifyStep
  outcome: VerifyOutcome
  /** what run-time setup the program needs, when it could not be tried fully */
  needs?: string
  /** the map defaults applied so that the object loads */
  set?: string
}

export interface VerifyReport {
  kernel?: string
  image: string
  arch: 'x86_64'
  accel: Accel
  /** why KVM was given up for TCG (/dev/kvm was usable but did not boot the guest) */
  kvmFallback?: string
  qemu: string
  attach: boolean
  objects: string[]
  programs: VerifyProgram[]
  counts: Record<VerifyOutcome, number>
  /** ms from starting QEMU to the guest's /init */
  bootMs: number
  /** ms from starting QEMU to its exit */
  guestMs: number
  /** ms for the whole call, including building the guest */
  totalMs: number
}

export interface VerifyProgress {
  kernel?: string
  phase: 'prepare' | 'boot' | 'running' | 'done'
  done: number
  total: number
  program?: VerifyProgram
}

export interface VerifyOptions {
  image: string
  kernel?: string
  objects?: string[]
  progs?: string[]
  attach?: boolean
  timeoutMs?: number
  memoryMb?: number
  arch?: string
  accel?: Accel
  /** extra kernel command-line arguments (e.g. `lsm=...`) */
  kernelArgs?: string[]
  onProgress?: (p: VerifyProgress) => void
}

export const DEFAULT_TIMEOUT_MS = 600_000

function outcomeOf(p: RawProgram): VerifyOutcome {
  if (p.load.status === 'error' || p.attach.status === 'error') return 'refused'
  if (p.load.status === 'skipped' || p.attach.status === 'skipped') return 'needs-setup'
  return 'loads'
}

function stepOf(s: RawStep): VerifyStep {
  return {
    status: s.status,
    errno: s.errno,
    ...(s.errnoName ? {errnoName: s.errnoName} : {}),
    ...(s.message ? {message: s.message} : {}),
    timeUs: s.usec,
  }
}

/**
 * Opens an object with libbpf on the host; returns its number of programs.
 * @throws VerifyError `VERIFY_BAD_OBJECT`
 */
export function openObject(loader: string, path: string): number {
  if (!existsSync(path) || !statSync(path).isFile()) throw new VerifyError('VERIFY_BAD_OBJECT', `${path}: no such file`)
  const r = spawnSync(loader, ['--open-only', path], {encoding: 'utf8'})
  if (r.status !== 0) {
    throw new VerifyError('VERIFY_BAD_OBJECT', `${path}: libbpf cannot open it: ${(r.stdout || r.stderr || '').trim() || `exit ${r.status}`}`)
  }
  return Number(r.stdout.trim())
}

export function normaliseArch(arch: string | undefined): 'x86_64' {
  if (arch === undefined || arch === 'x86_64' || arch === 'amd64') return 'x86_64'
  throw new VerifyError('VERIFY_BAD_ARCH', `verify boots x86_64 kernels only (got '${arch}')`)
}

export async function verifyKernel(o: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now()
  const arch = normaliseArch(o.arch)
  const objects = o.objects ?? []
  const progs = o.progs ?? []
  const attach = o.attach ?? true
  if (objects.length === 0 && progs.length === 0) throw new VerifyError('VERIFY_USAGE', 'nothing to load: give objects or sections')
  const image = resolve(o.image)
  if (!existsSync(image) || !statSync(image).isFile()) {
    throw new VerifyError('VERIFY_NO_IMAGE', `kernel image ${o.image} does not exist`)
  }
  const qemu = qemuBinary(arch)
  const qemuVersion = checkQemu(qemu)
  o.onProgress?.({kernel: o.kernel, phase: 'prepare', done: 0, total: 0})
  const loader = buildLoader()
  const busybox = findBusybox()
  const total = objects.reduce((n, obj) => n + openObject(loader, obj), 0) + progs.length

  const dir = mkdtempSync(join(tmpdir(), 'kcompat-verify-'))
  try {
    const nonce = randomBytes(8).toString('hex')
    const initrd = join(dir, 'initramfs.cpio')
    writeFileSync(initrd, buildInitramfs({busybox, loader, objects, progs, attach, nonce}))
    o.onProgress?.({kernel: o.kernel, phase: 'boot', done: 0, total})
    let bootMs = 0
    let done = 0
    let t0 = Date.now()
    const r = await boot({
      kernel: image,
      initrd,
      arch,
      timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      memoryMb: o.memoryMb,
      accel: o.accel,
      kernelArgs: o.kernelArgs,
      qemu,
      // /init's first record, or a panic: the guest is alive (the automatic KVM fallback)
      ready: /KCV1\t|Kernel panic/,
      onSpawn: () => {
        t0 = Date.now()
      },
      onAbort: () => rmSync(dir, {recursive: true, force: true}),
      onLine: (line) => {
        if (line.includes('KCV1\tUPTIME')) {
          bootMs = Date.now() - t0
          o.onProgress?.({kernel: o.kernel, phase: 'running', done, total})
        } else if (line.includes('KCV1\tPROG')) {
          done++
          o.onProgress?.({kernel: o.kernel, phase: 'running', done, total})
        }
      },
    })
    const results = parseConsole(r.console, nonce)
    const tail = lastLines(r.console)
    if (!results.complete) {
      if (/Kernel panic - not syncing/.test(r.console)) {
        throw new VerifyError('VERIFY_KERNEL_PANIC', `the kernel panicked; the console's last lines:\n${tail}`)
      }
      if (r.timedOut) {
        throw new VerifyError('VERIFY_TIMEOUT', `the guest did not finish within ${Math.round((o.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)} s; the console's last lines:\n${tail}`)
      }
      throw new VerifyError('VERIFY_NO_RESULTS', `the guest ended (QEMU exit ${r.exitCode ?? r.signal}) without a complete result block; the console's last lines:\n${tail}`)
    }
    const bad = results.objects.find((x) => !x.ok)
    if (bad) {
      throw new VerifyError('VERIFY_BAD_OBJECT', `${objects[bad.object]}: libbpf cannot open it in the guest: ${bad.message ?? bad.errnoName}`)
    }
    const programs: VerifyProgram[] = results.programs.map((p) => ({
      ...(p.object === undefined ? {} : {object: objects[p.object]}),
      ...(p.program ? {program: p.program} : {}),
      section: p.section,
      load: stepOf(p.load),
      attach: stepOf(p.attach),
      outcome: outcomeOf(p),
      ...(p.needs ? {needs: p.needs} : {}),
      ...(p.set ? {set: p.set} : {}),
    }))
    const counts: Record<VerifyOutcome, number> = {loads: 0, refused: 0, 'needs-setup': 0}
    for (const p of programs) counts[p.outcome]++
    o.onProgress?.({kernel: o.kernel, phase: 'done', done: programs.length, total})
    return {
      ...(o.kernel ? {kernel: o.kernel} : {}),
      image,
      arch,
      accel: r.accel,
      ...(r.kvmFallback ? {kvmFallback: r.kvmFallback} : {}),
      qemu: qemuVersion,
      attach,
      objects,
      programs,
      counts,
      bootMs,
      guestMs: r.elapsedMs,
      totalMs: Date.now() - started,
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

export interface KernelTarget {
  kernel?: string
  /** the image to boot; without it, the archived kernel `kernel`'s image is fetched (src/archive/image.ts) */
  image?: string
  /** the archived kernel's arch, when the release alone is ambiguous */
  arch?: string
}

/** Where images of archived kernels come from, for targets given without an image. */
export interface ImageSourceOptions {
  /** archive root whose manifest records the images */
  archive?: string
  /** mirror to fetch packages from instead of apt's sources */
  mirror?: string
  /** image cache (default: src/archive/image.ts's) */
  cacheDir?: string
}

/**
 * The image of an archived kernel, fetched into the image cache (checked against the
 * manifest's sha256; downloaded once). Progress is reported as the `prepare` phase.
 */
async function archivedImage(t: KernelTarget, src: ImageSourceOptions, onProgress?: (p: VerifyProgress) => void): Promise<string> {
  if (!t.kernel) throw new VerifyError('VERIFY_NO_IMAGE', 'no kernel image: give --image FILE or an archived kernel release')
  if (!src.archive) throw new VerifyError('VERIFY_NO_IMAGE', `no kernel image for ${t.kernel}: give --image FILE`)
  await prepareRemote(src.archive, t.kernel) // KCOMPAT_REMOTE's kernels too (remote.ts)
  const entry = findArchivedKernel(src.archive, t.kernel, t.arch)
  const r = await fetchKernelImage(src.archive, entry, {
    mirror: src.mirror,
    cacheDir: src.cacheDir,
    onProgress: (p) => onProgress?.({kernel: t.kernel, phase: 'prepare', done: 'received' in p ? p.received : p.written, total: p.total ?? 0}),
  })
  return r.path
}

export type KernelResult = {kernel?: string; report: VerifyReport} | {kernel?: string; error: Error}

/**
 * Several kernels with the same objects: a pool of at most `jobs` QEMU processes, each
 * boot independent; results come back in the order of `targets`. A target without an
 * image boots its archived kernel's image, fetched first (`fetchKernelImage`). A kernel that fails
 * (panic, timeout) gives its error in its slot and does not stop the others.
 */
export async function verifyKernels(
  targets: KernelTarget[],
  common: Omit<VerifyOptions, 'image' | 'kernel'> & ImageSourceOptions,
  jobs = 1,
): Promise<KernelResult[]> {
  // objects are checked once, before any image is fetched or kernel booted: a bad object
  // is the whole call's error (VERIFY_BAD_OBJECT), not one per kernel
  if (targets.length > 0 && (common.objects?.length ?? 0) > 0) {
    const loader = buildLoader()
    for (const obj of common.objects!) openObject(loader, obj)
  }
  const results: KernelResult[] = new Array(targets.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++
      const t = targets[i]!
      try {
        const image = t.image ?? (await archivedImage(t, common, common.onProgress))
        results[i] = {kernel: t.kernel, report: await verifyKernel({...common, image, kernel: t.kernel})}
      } catch (e) {
        results[i] = {kernel: t.kernel, error: e as Error}
      }
    }
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(jobs, targets.length))}, worker))
  return results
}
