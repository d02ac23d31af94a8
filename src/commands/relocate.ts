import {Flags} from '@oclif/core'
import {runRelocate} from '../lib/actions/relocate.js'
import {BaseCommand} from '../lib/base-command.js'

export default class Relocate extends BaseCommand {
  static override summary = "Resolve a BPF object's CO-RE relocations against a kernel's BTF, as libbpf does."
  static override description = [
    'Prints every CO-RE relocation of the object with libbpf\'s decision on that kernel: patched (with the value libbpf writes into the instruction), poisoned (libbpf replaces the instruction by an invalid call; the program fails verification only if that code is reachable), failed (libbpf refuses to load the object, e.g. ambiguous candidates) or skipped (libbpf does not relocate it: the program is not autoloaded).',
    'With --btf FILE the kernel BTF is used as libbpf uses bpf_object_open_opts.btf_custom_path: it replaces vmlinux BTF, and module BTF is not searched. With --btf FILE --module NAME=FILE..., or --kernel RELEASE of an archived kernel with in-kernel BTF and module BTF, the BTF is the kernel\'s own and candidates come from vmlinux first and, only when vmlinux has none, from every module, as libbpf does on that machine (--no-modules: as btf_custom_path). Decisions follow libbpf 1.1 (Debian bookworm\'s libbpf-dev), checked against it by the test suite; --libbpf 1.6 follows libbpf 1.6 and later where they differ.',
    'Instruction numbers count from the start of each program, as libbpf\'s log does. Values are unsigned 64-bit; in JSON a value past 2^53 is a decimal string.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> relocate --object prog.bpf.o --btf /sys/kernel/btf/vmlinux',
    '<%= config.bin %> relocate --object prog.bpf.o --btf 5.15.0-91-generic.btf.tar.xz --json',
    '<%= config.bin %> relocate --object prog.bpf.o --kernel 6.1.0-56-cloud-amd64',
    '<%= config.bin %> relocate --object prog.bpf.o --btf vmlinux.btf --module nft_ct=nft_ct.btf',
  ]
  static override flags = {
    object: Flags.string({char: 'o', description: 'BPF object file (ELF with .BTF and .BTF.ext), either byte order', required: true}),
    btf: Flags.string({description: 'kernel BTF: raw, ELF vmlinux, BTFHub .btf.tar.xz, xz/gzip', exactlyOne: ['btf', 'kernel']}),
    kernel: Flags.string({description: 'an archived kernel, by release (uname -r); see `kcompat archive list`', exactlyOne: ['btf', 'kernel']}),
    arch: Flags.string({description: 'with --kernel: the architecture, when the archive has the release for several', dependsOn: ['kernel']}),
    module: Flags.string({
      description: "with --btf: a module's split BTF, NAME=FILE (repeatable); the --btf file is then the kernel's own vmlinux BTF and the modules are searched as libbpf searches loaded modules",
      multiple: true,
      dependsOn: ['btf'],
    }),
    'no-modules': Flags.boolean({description: "with --kernel: leave the archived kernel's module BTF out (as btf_custom_path)", dependsOn: ['kernel']}),
    archive: Flags.string({description: 'with --kernel: archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    libbpf: Flags.string({
      description: 'agree with this libbpf where versions differ: 1.1 (Debian 12) or 1.6 (and later: loads from array fields are judged by element width)',
      options: ['1.1', '1.6'],
      default: '1.1',
    }),
    json: Flags.boolean({description: 'print {"relocations": [{program, insn, kind, local, status, value, ...}]}'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Relocate)
    for (const m of flags.module ?? []) {
      const eq = m.indexOf('=')
      if (eq <= 0 || eq === m.length - 1) this.error(`--module ${m}: expected NAME=FILE`, {exit: 2})
    }
    await runRelocate(flags)
  }
}
