import {createHash} from 'node:crypto'
import {Args, Flags} from '@oclif/core'
import {describePaholeProgress} from '../../generate/describe.js'
import {generateBtf} from '../../generate/generate.js'
import {BaseCommand} from '../../lib/base-command.js'
import {ProgressLine, formatBytes} from '../../lib/progress.js'

export default class BtfGenerate extends BaseCommand {
  static override summary = 'Generate BTF from the DWARF debug info of a vmlinux or kernel module, with pahole.'
  static override description = [
    'For kernels that ship no BTF (built without CONFIG_DEBUG_INFO_BTF): the BTF libbpf needs for CO-RE (btf_custom_path) is encoded from the kernel\'s debug info, as BTFHub does. INPUT is an ELF file with DWARF: the vmlinux of a debug package (Debian: linux-image-<release>-dbg, usr/lib/debug/boot/vmlinux-<release>), a .ko, or an object compiled with -g.',
    'pahole (dwarves) 1.22 or newer must be installed. The flags are those the kernel\'s own build passes with that pahole, minus BTF kinds the kernel (by version, read from the input) or the oldest libbpf that will read the file (--libbpf) cannot parse. The output is checked with kcompat\'s BTF parser and written atomically.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> btf generate usr/lib/debug/boot/vmlinux-6.1.0-50-s390x --out 6.1.0-50-s390x.btf',
    '<%= config.bin %> btf generate vmlinux-4.19.0-27-amd64 --out 4.19.0-27-amd64.btf --libbpf 0.7',
    '<%= config.bin %> btf generate nf_tables.ko --base-btf 6.1.0-50-s390x.btf --out nf_tables.btf',
  ]
  static override args = {
    input: Args.string({description: 'ELF file with DWARF debug info (vmlinux, .ko, .o)', required: true}),
  }
  static override flags = {
    out: Flags.string({char: 'o', description: 'where to write the raw BTF', required: true}),
    'base-btf': Flags.string({char: 'B', description: 'for a module: its vmlinux BTF (any format kcompat reads), to produce split BTF'}),
    kernel: Flags.string({description: 'kernel release or version whose BTF limits apply (default: read from the input)'}),
    libbpf: Flags.string({description: 'oldest libbpf that must parse the result, e.g. 0.7 (leaves out ENUM64, DECL_TAG, TYPE_TAG, FLOAT as needed)'}),
    jobs: Flags.integer({char: 'j', description: 'pahole threads (default 1: deterministic output, least memory)', min: 1}),
    pahole: Flags.string({description: 'pahole to run (default: $KCOMPAT_PAHOLE, else pahole on PATH)'}),
    json: Flags.boolean({description: 'print the result as JSON'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(BtfGenerate)
    const progress = new ProgressLine(process.stderr, !flags.json)
    const r = await generateBtf(args.input, {
      out: flags.out,
      baseBtf: flags['base-btf'],
      kernel: flags.kernel,
      libbpf: flags.libbpf,
      jobs: flags.jobs,
      pahole: flags.pahole,
      onProgress: (p) => progress.update(describePaholeProgress(p)),
    }).finally(() => progress.clear())
    const sha256 = createHash('sha256').update(r.btf).digest('hex')
    if (flags.json) {
      await this.writeOut(
        `${JSON.stringify(
          {
            input: args.input,
            out: r.out,
            kernel: r.kernel ?? null,
            size: r.btf.length,
            sha256,
            types: r.parsed.lastId - r.parsed.startId + 1,
            generator: r.generator,
            reasons: r.reasons,
            warnings: r.warnings,
            elapsedMs: r.elapsedMs,
            peakKiB: r.peakKiB ?? null,
            paholeOutput: r.paholeOutput,
          },
          null,
          2,
        )}\n`,
      )
      return
    }
    for (const w of r.warnings) process.stderr.write(`kcompat: warning: ${w}\n`)
    if (r.paholeOutput) process.stderr.write(`pahole said:\n${r.paholeOutput}\n`)
    this.log(
      `wrote ${r.out}: ${r.parsed.lastId - r.parsed.startId + 1} types, ${formatBytes(r.btf.length)}, sha256 ${sha256.slice(0, 16)}…`,
    )
    this.log(`  kernel: ${r.kernel ?? 'unknown (no kernel limits applied)'}${r.probe.banner ? ` (${r.probe.banner.slice(0, 120)})` : ''}`)
    this.log(`  pahole ${r.pahole.version.text}: ${r.generator.flags.join(' ')}`)
    this.log(`  ${(r.elapsedMs / 1000).toFixed(1)} s${r.peakKiB !== undefined ? `, peak memory ${formatBytes(r.peakKiB * 1024)}` : ''}`)
  }
}
