/**
 * BTF generated from an RPM kernel debug-info package, for RPM-family kernels built
 * without BTF (RHEL/CentOS 7, RHEL 8.0/8.1, Amazon Linux 2's 4.14, SUSE 12, old Fedora):
 * `archive add --debuginfo-rpm FILE|URL` and `archive sync rpm --generate`.
 *
 * Where the vmlinux with DWARF is (the paths libbpf's btf__load_vmlinux_btf() also
 * searches, src/btf.c in libbpf/libbpf):
 *
 * - RHEL, CentOS, Rocky/Alma, Oracle Linux, Fedora, Amazon Linux, openEuler:
 *   `kernel-debuginfo` (`kernel-<variant>-debuginfo`: kernel-uek-debuginfo,
 *   kernel-64k-debuginfo, …) holds `/usr/lib/debug/lib/modules/<release>/vmlinux`
 *   (Fedora/RHEL kernel.spec copies vmlinux to `%{debuginfodir}/lib/modules/$KernelVer`);
 *   the same for RHEL 7 and 8 (the sources are split into kernel-debuginfo-common-<arch>).
 * - SUSE: `kernel-<flavor>-debuginfo` holds `/usr/lib/debug/boot/vmlinux-<release>.debug`
 *   (aquasecurity/btfhub pkg/pkg/suse.go: "vmlinux at:
 *   /usr/lib/debug/boot/vmlinux-<ver>-<type>.debug").
 * - `/usr/lib/debug/boot/vmlinux-<release>` (Debian's and Ubuntu's layout) is accepted too.
 *
 * The package's payload streams through (rpm.ts: decompressed as read, the vmlinux's
 * digest checked against the header's) and only the vmlinux is written, to a temporary
 * file, chunk by chunk (a debug vmlinux is 0.3-1 GiB: it is never held in memory);
 * reading stops right after it. Then pahole encodes BTF from it (src/generate, the same
 * flags as for Debian's -dbg and Ubuntu's dbgsym packages) and the kernel is stored as
 * `"btf": "generated"`, keeping the config and flavor of its existing entry (the kernel
 * package added first), with the debug package recorded as the source.
 *
 * Error codes: `DEBUG_RPM_NO_VMLINUX`, `ARCHIVE_HAS_BTF`, `ARCHIVE_VERSION_MISMATCH`,
 * `ARCHIVE_UNKNOWN_DISTRO`, `ARCHIVE_UNKNOWN_VERSION`, rpm.ts's `RPM_*` and
 * `INPUT_CORRUPT_*`, and those of src/generate.
 */
import {createWriteStream, mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {InputError} from '../errors.js'
import {generateBtf} from '../generate/generate.js'
import {type RpmPackage, readRpmHeaders, rpmMembers} from '../pkg/rpm.js'
import {RPM_DISTROS, rpmDistroOf, rpmFlavor} from './add-rpm.js'
import {addKernel} from './archive.js'
import {type DebugDebResult, type DebugProgress, type GeneratedSource, fileSha256} from './debug-deb.js'
import {normalizeArch} from './layout.js'
import {type KernelEntry, readManifest} from './manifest.js'

/** Debug vmlinux paths, most preferred first (see the module comment). */
const DEBUG_VMLINUX = [/^usr\/lib\/debug\/lib\/modules\/([^/]+)\/vmlinux$/, /^usr\/lib\/debug\/boot\/vmlinux-(.+?)(?:\.debug)?$/]

/** The debug vmlinux a debug-info package holds (a regular file, not a ghost), and its release. */
export function rpmDebugVmlinux(pkg: Pick<RpmPackage, 'files'>): {path: string; release: string; size: number} | undefined {
  for (const re of DEBUG_VMLINUX) {
    for (const f of pkg.files) {
      const m = re.exec(f.path)
      if (m && !f.ghost && (f.mode & 0o170000) === 0o100000) return {path: f.path, release: m[1]!, size: f.size}
    }
  }
  return undefined
}

export interface DebugRpmOptions {
  /** os id; default: that of the archived kernel, else inferred from the release. */
  distro?: string
  /** VERSION_ID; default: that of the archived kernel, else inferred from the release. */
  version?: string
  /** sha256 of the package when already verified (against primary.xml); else computed. */
  fileSha256?: string
  /** Directory for the extracted vmlinux (default: a temporary directory). */
  workDir?: string
  pahole?: string
  libbpf?: string
  jobs?: number
  onProgress?: (p: DebugProgress) => void
  env?: NodeJS.ProcessEnv
}

export type DebugRpmResult = DebugDebResult

/**
 * Generates BTF from a kernel debug-info RPM on disk and stores it in the archive as
 * `"btf": "generated"`. A kernel not yet in the archive is added without config.
 * @throws InputError / GenerateError (see the module comment).
 */
export async function addDebugRpm(root: string, file: string, o: DebugRpmOptions = {}): Promise<DebugRpmResult> {
  const work = mkdtempSync(join(o.workDir ?? tmpdir(), 'kcompat-dbg-rpm-'))
  const warnings: string[] = []
  try {
    const pkg = await readRpmHeaders(file)
    const nevra = `${pkg.name}-${pkg.evr}.${pkg.arch}`
    const member = rpmDebugVmlinux(pkg)
    if (!member) {
      throw new InputError('DEBUG_RPM_NO_VMLINUX', `${nevra} has no /usr/lib/debug/lib/modules/<release>/vmlinux or /usr/lib/debug/boot/vmlinux-<release>[.debug] (is it kernel-debuginfo-common? the vmlinux is in kernel-debuginfo)`)
    }
    const {release} = member
    const arch = normalizeArch(pkg.arch)
    const inferred = rpmDistroOf(release)
    const candidates = readManifest(root).kernels.filter(
      (k) => (RPM_DISTROS as readonly string[]).includes(k.distro) && k.arch === arch && k.release === release && (!o.distro || k.distro === o.distro) && (!o.version || k.version === o.version),
    )
    const existing: KernelEntry | undefined = candidates[0]
    const distro = o.distro ?? existing?.distro ?? inferred.distro
    if (!distro) throw new InputError('ARCHIVE_UNKNOWN_DISTRO', `cannot tell which distribution ${release} belongs to; give --distro (${RPM_DISTROS.join(', ')})`)
    const version = o.version ?? existing?.version ?? inferred.version
    if (!version) throw new InputError('ARCHIVE_UNKNOWN_VERSION', `cannot tell which ${distro} release ${release} belongs to; give --os-version`)
    if (existing?.btf === 'in-kernel') {
      throw new InputError('ARCHIVE_HAS_BTF', `${release} (${arch}) ships its own BTF, which the archive already holds (${existing.path}); generated BTF would replace it`)
    }
    const prev = existing?.source as GeneratedSource | undefined
    const imageVersion = prev?.method === 'kernel-image' ? prev.packageVersion : prev?.kernelImage?.packageVersion
    if (imageVersion && imageVersion !== pkg.evr) {
      throw new InputError('ARCHIVE_VERSION_MISMATCH', `${nevra} is version ${pkg.evr} but the archived ${release} came from ${prev?.method === 'kernel-image' ? prev.package : prev?.kernelImage?.package} ${imageVersion}: debug info must come from the same build`)
    }
    let hashMs = 0
    let fileSha = o.fileSha256
    if (!fileSha) {
      o.onProgress?.({phase: 'hash'})
      const t = Date.now()
      fileSha = await fileSha256(file)
      hashMs = Date.now() - t
    }
    // stream the vmlinux out of the payload into a file; stop reading right after it
    const t0 = Date.now()
    const out = join(work, `vmlinux-${release}`)
    let written = 0
    let found = false
    for await (const m of rpmMembers(file, pkg)) {
      if (m.path !== member.path || m.type !== 'file') continue
      const counted = (async function* () {
        for await (const c of m.stream()) {
          written += c.length
          o.onProgress?.({phase: 'extract', written, total: member.size, entry: m.path})
          yield c
        }
      })()
      await pipeline(Readable.from(counted), createWriteStream(out))
      found = true
      break
    }
    if (!found) throw new InputError('RPM_TRUNCATED', `${pkg.name}: the payload has no ${member.path}, which the header lists`)
    const extractMs = Date.now() - t0
    const g = await generateBtf(out, {
      kernel: release,
      pahole: o.pahole,
      libbpf: o.libbpf,
      jobs: o.jobs,
      tmpDir: work,
      env: o.env,
      onProgress: (p) => o.onProgress?.({phase: 'pahole', ...p}),
    })
    rmSync(out, {force: true})
    const kernelImage =
      prev?.method === 'kernel-image' ? {package: prev.package, packageVersion: prev.packageVersion, file: prev.file, fileSha256: prev.fileSha256} : prev?.kernelImage
    const source: GeneratedSource = {
      method: 'debug-info',
      package: pkg.name,
      packageVersion: pkg.evr,
      file: basename(file),
      fileSha256: fileSha,
      generator: g.generator,
      ...(kernelImage ? {kernelImage} : {}),
      ...(prev?.image ? {image: prev.image} : {}),
    }
    const r = await addKernel(
      root,
      {
        release,
        distro,
        version,
        arch,
        flavor: existing?.flavor ?? rpmFlavor(pkg.name.replace(/-debuginfo$/, '')),
        btf: 'generated',
        config: existing?.config ?? null,
        source,
      },
      g.btf,
    )
    if (!existing) warnings.push(`${release} (${arch}) was not in the archive: added without its kernel config (add its kernel package with --rpm first to record it)`)
    return {
      ...r,
      timings: {downloadMs: 0, hashMs, extractMs, paholeMs: g.elapsedMs, paholePeakKiB: g.peakKiB, debSize: statSync(file).size, vmlinuxSize: written},
      generated: {generator: g.generator, reasons: g.reasons, warnings: g.warnings, paholeOutput: g.paholeOutput, kernel: g.kernel},
      entryPath: member.path,
      warnings: [...warnings, ...g.warnings],
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}
