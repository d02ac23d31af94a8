/**
 * Generating BTF from DWARF: `kcompat btf generate` and the archive's `"btf":
 * "generated"` entries.
 *
 * The input (an ELF vmlinux or .ko with debug info, e.g. a Debian -dbg package's
 * `usr/lib/debug/boot/vmlinux-<release>`) is looked at first (elf-probe.ts) so that a
 * stripped image or a non-ELF file gets a clear error rather than pahole's terse
 * "Invalid argument"; pahole is found and its version checked (pahole.ts); the flags
 * for the target kernel and libbpf are chosen (flags.ts); pahole writes a detached BTF
 * file next to the destination; kcompat's own parser must accept it (with the base for
 * split BTF); only then is it renamed into place, so a failed or interrupted run never
 * leaves a partial output file.
 *
 * Error codes: `GENERATE_NO_DWARF`, `GENERATE_NO_OUTPUT`, `GENERATE_BAD_OUTPUT` (the
 * BTF parser's code is named in the message), plus those of pahole.ts, run.ts and
 * elf-probe.ts.
 */
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'
import type {Btf} from '../btf/btf.js'
import {parseBtf} from '../btf/decode.js'
import {loadBtf} from '../btf/load.js'
import {KcompatError} from '../errors.js'
import {ELF_MACHINES, type ElfProbe, probeElf} from './elf-probe.js'
import {type FlagTarget, paholeFlags} from './flags.js'
import {GenerateError, type Pahole, findPahole, versionString} from './pahole.js'
import {type PaholeProgress, runPahole} from './run.js'

export interface GenerateOptions {
  /** pahole to run: a command/path, or one already found by {@link findPahole}. */
  pahole?: string | Pahole
  /** Write the BTF here (atomically). Without it the BTF is only returned. */
  out?: string
  /** Base BTF for a module (split BTF), in any format kcompat reads. */
  baseBtf?: string
  /** Kernel release or version whose limits apply (default: read from the input). */
  kernel?: string
  /** Oldest libbpf that must parse the result (e.g. `0.7`); default: no limit. */
  libbpf?: string
  /** pahole -jN (default: single-threaded, deterministic). */
  jobs?: number
  /** Directory for temporary files when there is no `out` (default: the OS temp dir). */
  tmpDir?: string
  onProgress?: (p: PaholeProgress) => void
  env?: NodeJS.ProcessEnv
}

export interface GenerateResult {
  /** The raw BTF. */
  btf: Uint8Array
  parsed: Btf
  out?: string
  /** For the manifest's `source.generator`. */
  generator: {tool: string; version: string; flags: string[]}
  pahole: Pahole
  probe: ElfProbe
  /** The kernel whose limits were applied, if known. */
  kernel?: string
  reasons: string[]
  warnings: string[]
  elapsedMs: number
  peakKiB?: number
  /** What pahole printed on a successful run (warnings), verbatim. */
  paholeOutput: string
}

function describeProbe(p: ElfProbe): string {
  const kind = p.type === 1 ? (p.isModule ? 'kernel module' : 'relocatable object') : p.type === 2 ? 'executable' : p.type === 3 ? 'shared object' : `type ${p.type}`
  return `${p.bits}-bit ${p.littleEndian ? 'LSB' : 'MSB'} ${ELF_MACHINES[p.machine] ?? `machine ${p.machine}`} ${kind}`
}

/**
 * Encodes BTF from `input`'s DWARF with pahole.
 * @throws GenerateError / InputError (see the module comment).
 */
export async function generateBtf(input: string, options: GenerateOptions = {}): Promise<GenerateResult> {
  const probe = await probeElf(input)
  if (!probe.hasDwarf) {
    throw new GenerateError(
      'GENERATE_NO_DWARF',
      `${input} (${describeProbe(probe)}) has no DWARF debug info (.debug_info), so there is nothing to encode BTF from. ` +
        'The vmlinux of a kernel image package is stripped; use its debug package (Debian: linux-image-<release>-dbg, file usr/lib/debug/boot/vmlinux-<release>; Ubuntu: linux-image-<release>-dbgsym; RHEL/Fedora: kernel-debuginfo), or compile with -g',
    )
  }
  const pahole = typeof options.pahole === 'object' ? options.pahole : await findPahole(options.pahole, options.env)
  const kernel = options.kernel ?? probe.kernelRelease
  const target: FlagTarget = {kernel, libbpf: options.libbpf, jobs: options.jobs}
  const choice = paholeFlags(pahole, target)
  const warnings = [...choice.warnings]
  if (probe.hasBtf) warnings.push(`${basename(input)} already has a .BTF section; BTF is generated from its DWARF regardless`)
  if (probe.isModule && !options.baseBtf) {
    warnings.push(`${basename(input)} is a kernel module: without --base-btf (its vmlinux BTF) the result is standalone BTF, not split BTF as the kernel loads for modules`)
  }

  const work = mkdtempSync(join(options.tmpDir ?? tmpdir(), 'kcompat-generate-'))
  const out = options.out ? resolve(options.out) : undefined
  if (out) mkdirSync(dirname(out), {recursive: true})
  const tmpOut = out ? `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}` : join(work, 'out.btf')
  try {
    let base: Btf | undefined
    const args = [...choice.flags]
    if (options.baseBtf) {
      const loaded = await loadBtf(options.baseBtf)
      base = loaded.parsed
      const rawBase = join(work, 'base.btf')
      writeFileSync(rawBase, loaded.btf)
      args.push(`--btf_base=${rawBase}`)
    }
    args.push(`--btf_encode_detached=${tmpOut}`, input)
    const run = await runPahole(pahole.command, args, {
      onProgress: options.onProgress,
      what: `encoding BTF from ${input}`,
      env: options.env,
    })
    const said = `${run.stderr}${run.stdout}`.trimEnd()
    if (!existsSync(tmpOut) || statSync(tmpOut).size === 0) {
      throw new GenerateError(
        'GENERATE_NO_OUTPUT',
        `pahole exited successfully but wrote no BTF for ${input}\n${said ? `  pahole said:\n${said}` : '  pahole printed nothing'}`,
      )
    }
    const btf = readFileSync(tmpOut)
    let parsed: Btf
    try {
      parsed = parseBtf(btf, {base})
    } catch (e) {
      if (!(e instanceof KcompatError)) throw e
      throw new GenerateError(
        'GENERATE_BAD_OUTPUT',
        `the BTF pahole ${pahole.version.text} wrote for ${input} does not parse: [${e.code}] ${e.message}${said ? `\n  pahole said:\n${said}` : ''}`,
        {cause: e},
      )
    }
    if (out) {
      chmodSync(tmpOut, 0o644 & ~process.umask())
      renameSync(tmpOut, out)
    }
    return {
      btf,
      parsed,
      ...(out ? {out} : {}),
      generator: {tool: 'pahole', version: versionString(pahole.version), flags: choice.flags},
      pahole,
      probe,
      ...(kernel ? {kernel} : {}),
      reasons: choice.reasons,
      warnings,
      elapsedMs: run.elapsedMs,
      peakKiB: run.peakKiB,
      paholeOutput: said,
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
    if (out) rmSync(tmpOut, {force: true})
  }
}
