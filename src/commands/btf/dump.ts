import {Args, Flags} from '@oclif/core'
import {runBtfDump} from '../../lib/actions/btf-dump.js'
import {BaseCommand} from '../../lib/base-command.js'
import {btfDumpArchived} from '../../lib/btf-dump-archived.js'
import {flushStdout, stdoutWriter} from '../../lib/output.js'

export default class BtfDump extends BaseCommand {
  static override summary = 'Dump BTF as bpftool does: raw type listing or a C header (vmlinux.h).'
  static override description = [
  'FILE may be raw BTF (/sys/kernel/btf/vmlinux, a .btf file), an ELF file with a .BTF section (vmlinux, a kernel module .ko, a BPF object), a BTFHub <release>.btf.tar.xz, or xz/gzip-compressed BTF; the format is detected from the content.',
  'Output is byte-identical to `bpftool btf dump file FILE format raw|c` (bpftool v7.1).',
  'Module BTF is split BTF: give its vmlinux with --base-btf. Raw output then lists the module\'s own types; C output covers base and module, as bpftool does.',
  'Instead of FILE, --kernel RELEASE dumps an archived kernel\'s vmlinux BTF, and --kernel RELEASE --module NAME one of its modules (split BTF on that vmlinux, as `bpftool -B vmlinux.btf btf dump file module.btf`).',
].join('\n\n')
  static override examples = [
    '<%= config.bin %> btf dump /sys/kernel/btf/vmlinux --format c > vmlinux.h',
    '<%= config.bin %> btf dump archive/debian/12/x86_64/6.1.0-56-cloud-amd64.btf.tar.xz',
    '<%= config.bin %> btf dump nf_tables.ko --base-btf /sys/kernel/btf/vmlinux',
    '<%= config.bin %> btf dump prog.bpf.o --format raw --json',
    '<%= config.bin %> btf dump --kernel 6.12.117+deb12-cloud-amd64 --module nft_ct --format c',
  ]
  static override args = {
    file: Args.string({description: 'BTF source (raw BTF, ELF, .btf.tar.xz, .xz, .gz); or give --kernel', required: false}),
  }
  static override flags = {
    format: Flags.string({
      char: 'f',
      description: 'raw: one line per type (bpftool format raw); c: a compilable C header (vmlinux.h)',
      options: ['raw', 'c'],
      default: 'raw',
    }),
    'base-btf': Flags.string({char: 'B', description: 'base BTF for split (module) BTF, in any supported format'}),
    json: Flags.boolean({description: 'with --format raw: the types as JSON (bpftool -j layout)'}),
    kernel: Flags.string({description: "instead of FILE: an archived kernel's release (uname -r); its vmlinux BTF, or with --module a module's"}),
    arch: Flags.string({description: 'with --kernel: the architecture, when the archive has the release for several'}),
    module: Flags.string({description: "with --kernel: a module's BTF (name as in lsmod and /sys/kernel/btf/), split on that kernel's vmlinux"}),
    archive: Flags.string({description: 'with --kernel: archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(BtfDump)
    if (flags.json && flags.format === 'c') this.error('--json is only available with --format raw', {exit: 2})
    const format = flags.format === 'c' ? 'c' : 'raw'
    if (flags.kernel !== undefined) {
      if (args.file !== undefined) this.error('give FILE or --kernel, not both', {exit: 2})
      if (flags['base-btf'] !== undefined) this.error('--base-btf does not go with --kernel (the base of a module is its kernel)', {exit: 2})
      await btfDumpArchived({kernel: flags.kernel, arch: flags.arch, module: flags.module, archive: flags.archive}, {format, json: flags.json}, stdoutWriter())
      await flushStdout()
      return
    }
    if (args.file === undefined) this.error('give FILE, or --kernel RELEASE', {exit: 2})
    for (const f of ['arch', 'module', 'archive'] as const) if (flags[f] !== undefined) this.error(`--${f} goes with --kernel`, {exit: 2})
    await runBtfDump(flags, {file: args.file})
  }
}
