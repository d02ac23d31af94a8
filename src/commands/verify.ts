import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../archive/archive.js'
import {BaseCommand, EXIT_USAGE} from '../lib/base-command.js'
import {printKcompatError} from '../lib/output.js'
import {ProgressLine} from '../lib/progress.js'
import {VerifyError} from '../verify/errors.js'
import {renderVerify, verifyExitCode} from '../verify/render.js'
import {DEFAULT_TIMEOUT_MS, verifyKernels} from '../verify/verify.js'

/** The manifest's arch name for --arch (x86_64; amd64 accepted). */
function archiveArch(arch: string): string {
  return arch === 'amd64' ? 'x86_64' : arch
}

export default class Verify extends BaseCommand {
  static override summary = 'Boot the kernel under QEMU and load every program: the kernel\'s own answer.'
  static override description = [
    'Boots the kernel image (--image, else the archived kernel\'s own image, fetched from the package the manifest records) in QEMU (KVM when /dev/kvm is usable, else TCG) with a minimal initramfs, loads each program of the objects on its own (every other program\'s autoload off) and attaches it, and prints per program: load ok or the errno with libbpf\'s or the verifier\'s last meaningful line, attach likewise, and the outcome: loads, refused, or needs-setup (the program needs what an application gives at run time).',
    '--prog SECTION loads the trivial program `r0 = 0; exit` for that section (program type, attach type and BTF target as libbpf derives them).',
    'Needs qemu-system-x86, busybox-static, gcc, libbpf-dev, libelf-dev, zlib1g-dev (the guest loader is built at first use).',
    'Exit status: 0 every program loads, 1 some refused (or a kernel could not be verified), 3 none refused but some need run-time setup, 2 usage errors.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> verify --kernel 6.1.0-56-cloud-amd64 --object prog.bpf.o',
    '<%= config.bin %> verify --kernel 6.1.0-56-cloud-amd64 --image vmlinuz-6.1.0-56-cloud-amd64 --object prog.bpf.o',
    '<%= config.bin %> verify --kernel 6.1.0-56-cloud-amd64 --image vmlinuz-6.1.0-56-cloud-amd64 --prog fentry/do_unlinkat --json',
  ]
  static override flags = {
    kernel: Flags.string({char: 'k', description: 'kernel release (uname -r) (repeatable, with as many --image)', multiple: true, required: true}),
    image: Flags.string({description: 'the kernel image to boot (vmlinuz/bzImage), one per --kernel (default: the archived kernel\'s image, fetched once into the image cache)', multiple: true}),
    mirror: Flags.string({description: 'mirror to fetch archived kernels\' packages from (default: apt\'s sources)'}),
    object: Flags.string({char: 'o', description: 'a compiled BPF object: load every program in it (repeatable)', multiple: true}),
    prog: Flags.string({char: 'p', description: 'program section: load a trivial program for it (repeatable)', multiple: true}),
    attach: Flags.boolean({description: 'attach each loaded program (default; --no-attach only loads)', allowNo: true, default: true}),
    timeout: Flags.integer({description: 'seconds a guest may run before it is killed', default: DEFAULT_TIMEOUT_MS / 1000, min: 1}),
    jobs: Flags.integer({char: 'j', description: 'boot up to N kernels at once', default: 1, min: 1}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    arch: Flags.string({description: 'arch of the kernel (x86_64)', default: 'x86_64'}),
    json: Flags.boolean({description: 'print {"kernels": [{"kernel", "report": {...}} | {"kernel", "error": {code, message}}]}'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Verify)
    const usage = (msg: string): never => {
      printKcompatError(new VerifyError('VERIFY_USAGE', msg), flags.json)
      return this.exit(EXIT_USAGE)
    }
    if (!flags.object?.length && !flags.prog?.length) usage('give --object FILE or --prog SECTION')
    const images = flags.image ?? []
    if (images.length > 0 && images.length !== flags.kernel.length) {
      usage(`give one --image per --kernel, or none to boot the archived kernels' images (${flags.kernel.length} kernels, ${images.length} images)`)
    }
    // one progress line for all kernels booting at once: each kernel's phase and count
    const progress = new ProgressLine(process.stderr, !flags.json)
    const state = new Map<string, string>()
    const results = await verifyKernels(
      flags.kernel.map((kernel, i) => ({kernel, image: images[i], arch: images[i] ? undefined : archiveArch(flags.arch)})),
      {
        archive: resolveArchiveDir(flags.archive),
        mirror: flags.mirror,
        objects: flags.object,
        progs: flags.prog,
        attach: flags.attach,
        timeoutMs: flags.timeout * 1000,
        arch: flags.arch,
        onProgress: (p) => {
          state.set(p.kernel ?? '', p.phase === 'running' ? `${p.done}/${p.total}` : p.phase)
          progress.update([...state].map(([k, v]) => `${k}: ${v}`).join(' | '))
        },
      },
      flags.jobs,
    )
    progress.clear()
    // a single kernel's error is the command's error: printed as every command prints one
    if (results.length === 1 && 'error' in results[0]! && !flags.json) throw results[0].error
    if (flags.json) {
      const kernels = results.map((r) =>
        'error' in r
          ? {kernel: r.kernel, error: 'toJSON' in r.error ? (r.error as VerifyError).toJSON() : {code: 'VERIFY_FAILED', message: r.error.message}}
          : {kernel: r.kernel, report: r.report},
      )
      await this.writeOut(`${JSON.stringify({kernels}, null, 2)}\n`)
    } else {
      await this.writeOut(renderVerify(results))
    }
    const code = verifyExitCode(results)
    if (code !== 0) this.exit(code)
  }
}
