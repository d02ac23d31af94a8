import {closeSync, openSync, renameSync, writeSync} from 'node:fs'
import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../archive/archive.js'
import {CheckUsageError} from '../check/errors.js'
import {KernelReleaseError} from '../kernel/release.js'
import {BaseCommand, EXIT_USAGE} from '../lib/base-command.js'
import {flushStdout, printKcompatError, stdoutWriter} from '../lib/output.js'
import {type KernelIdentity, buildMatrix, matrixExitCode} from '../matrix/matrix.js'
import {type MatrixFormat, renderMatrixChunks} from '../matrix/render.js'
import {type CachedCells, openMatrixCache} from '../store/matrix-cache.js'
import {resolveIndexPath} from '../store/build.js'
import {VerifyError} from '../verify/errors.js'
import {verifyMatrix} from '../verify/matrix.js'

export default class Matrix extends BaseCommand {
  static override summary = 'Release matrix: every program of BPF objects against every archived kernel.'
  static override description = [
    'Rows are kernels (grouped by distro, version and arch), columns are programs (grouped by object); each cell is what `kcompat check --kernel K --object O` says for that program on that kernel: its section, attach target and CO-RE relocations.',
    'Summaries per program: on how many kernels it loads, the first kernel version from which it loads everywhere, and the kernels where it does not, grouped by reason.',
    '--kernels FILTER: comma-separated globs on the release, distro, arch or distro/version/arch/release; !GLOB excludes (e.g. debian/12/x86_64/*, 6.12*, arm64, *cloud*,!*rt*). --btf FILE adds a kernel named by the file name without its extensions.',
    'Cells are cached in the index database per (object sha256, kernel, kcompat version): a re-run is instant; --no-cache recomputes (and re-reads every file to hash it).',
    '--verify boots each x86_64 kernel (its archived image, fetched once, or --image RELEASE=FILE) under QEMU, as `kcompat verify` does, and puts the observed outcome (loads, refused, needs-setup) beside each verdict in every format, with the agreement figures per kernel and the disagreements with both reasons.',
    'Exit status: 0 (a report), or with --fail-on unsupported: 1 when any cell is unsupported; --fail-on possible: also 3 when any is possible or unknown. 2 usage errors.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> matrix --object prog.bpf.o',
    '<%= config.bin %> matrix --object a.bpf.o --object b.bpf.o --kernels "debian/12/*" --format markdown --out MATRIX.md',
    '<%= config.bin %> matrix --object prog.bpf.o --format html --out matrix.html --fail-on unsupported',
  ]
  static override flags = {
    object: Flags.string({char: 'o', description: 'a compiled BPF object (repeatable)', multiple: true, required: true}),
    kernels: Flags.string({char: 'k', description: 'which archived kernels: comma-separated globs (see description)'}),
    btf: Flags.string({description: 'also a kernel given by its BTF file, named by the file name without extensions (repeatable)', multiple: true}),
    'only-btf': Flags.boolean({description: 'only the --btf kernels, none of the archive'}),
    format: Flags.string({char: 'f', options: ['table', 'markdown', 'json', 'csv', 'html'], default: 'table'}),
    json: Flags.boolean({description: 'same as --format json'}),
    out: Flags.string({description: 'write to this file instead of stdout'}),
    'fail-on': Flags.string({options: ['unsupported', 'possible'], description: 'exit non-zero (like check) when a cell is unsupported, or possible/unknown'}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    db: Flags.string({description: 'index database holding the cache (default: as `kcompat index build`)'}),
    'no-cache': Flags.boolean({description: 'neither read nor write cached cells'}),
    jobs: Flags.integer({char: 'j', description: 'threads to spread the kernels to compute over (default: one per CPU, but one per 32 kernels at most)', min: 1}),
    verify: Flags.boolean({description: 'also boot the kernels under QEMU and load every program (see kcompat verify)'}),
    image: Flags.string({description: 'with --verify: RELEASE=FILE, the image to boot for a kernel (repeatable; default: the archived image, fetched once)', multiple: true}),
    mirror: Flags.string({description: 'with --verify: mirror to fetch archived kernels\' packages from (default: apt\'s sources)'}),
    'verify-timeout': Flags.integer({description: 'with --verify: seconds a guest may run', default: 600, min: 1}),
    'verify-jobs': Flags.integer({description: 'with --verify: boot up to N kernels at once', default: 1, min: 1}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Matrix)
    const format = (flags.json ? 'json' : flags.format) as MatrixFormat
    let cache: CachedCells<KernelIdentity> | undefined
    if (!flags['no-cache']) {
      try {
        cache = openMatrixCache(resolveIndexPath(resolveArchiveDir(flags.archive), flags.db))
      } catch (e) {
        process.stderr.write(`kcompat: matrix: cache unavailable (${(e as Error).message}); computing every cell\n`)
      }
    }
    const memo = cache
    let result
    try {
      result = await buildMatrix({
        objects: flags.object,
        archive: flags.archive,
        kernels: flags.kernels,
        btf: flags.btf,
        noArchive: flags['only-btf'],
        cache,
        // unchanged --btf files and objects are not read again to hash them
        hashFile: memo ? (file) => memo.fileSha256(file) : undefined,
        fileHashMemo: memo ? {known: (file) => memo.knownFileSha256(file), remember: (file, seen) => memo.rememberFileSha256(file, seen)} : undefined,
        jobs: flags.jobs,
      })
    } catch (e) {
      if (e instanceof KernelReleaseError || e instanceof CheckUsageError) {
        printKcompatError(e, format === 'json')
        this.exit(EXIT_USAGE)
      }
      throw e
    } finally {
      cache?.close()
    }
    if (flags.verify) {
      const images: Record<string, string> = {}
      for (const spec of flags.image ?? []) {
        const eq = spec.indexOf('=')
        if (eq <= 0) {
          printKcompatError(new VerifyError('VERIFY_USAGE', `--image wants RELEASE=FILE, got '${spec}'`), format === 'json')
          this.exit(EXIT_USAGE)
        }
        images[spec.slice(0, eq)] = spec.slice(eq + 1)
      }
      result = await verifyMatrix(result, {
        images,
        archive: resolveArchiveDir(flags.archive),
        mirror: flags.mirror,
        timeoutMs: flags['verify-timeout'] * 1000,
        jobs: flags['verify-jobs'],
        onProgress: (p) => process.stderr.isTTY && process.stderr.write(`\r${p.kernel ?? ''}: ${p.phase} ${p.done}/${p.total}   `),
      })
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K')
    }
    // Written piece by piece: a large matrix does not fit in one string.
    if (flags.out) {
      const tmp = `${flags.out}.tmp-${process.pid}`
      const fd = openSync(tmp, 'w')
      try {
        for (const chunk of renderMatrixChunks(result, format)) writeSync(fd, chunk)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, flags.out)
    } else {
      const write = stdoutWriter()
      for (const chunk of renderMatrixChunks(result, format)) write(chunk)
      await flushStdout()
    }
    const code = matrixExitCode(result.cells, flags['fail-on'] as 'unsupported' | 'possible' | undefined)
    if (code !== 0) this.exit(code)
  }
}
