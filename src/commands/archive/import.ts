import {Args, Flags} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {importBtfhubTree} from '../../archive/import.js'
import {BaseCommand} from '../../lib/base-command.js'

export default class ArchiveImport extends BaseCommand {
  static override summary = 'Import a btfhub-archive checkout (or any tree of .btf.tar.xz in its layout).'
  static override description =
    'Each <os-id>/<version>/<arch>/<release>.btf.tar.xz is opened and its BTF validated before it is added; files that fail are listed with their error code and the rest are imported. Re-running imports nothing twice.'
  static override examples = ['<%= config.bin %> archive import ~/src/btfhub-archive --archive ./archive']
  static override args = {dir: Args.string({description: 'directory to import from', required: true})}
  static override flags = {
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print the result as JSON'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ArchiveImport)
    const root = resolveArchiveDir(flags.archive)
    const tty = process.stderr.isTTY && !flags.json
    const r = await importBtfhubTree(args.dir, root, (p) => {
      if (tty && p.total > 0) process.stderr.write(`\rimporting ${p.done}/${p.total} ${p.file.slice(-60).padEnd(60)}`)
    })
    if (tty) process.stderr.write('\n')
    if (flags.json) {
      await this.writeOut(`${JSON.stringify(r, null, 2)}\n`)
    } else {
      this.log(`${r.added.length} added, ${r.unchanged.length} already present, ${r.failed.length} failed, ${r.skipped.length} skipped (not in the layout)`)
      for (const f of r.failed) this.log(`  failed ${f.file}: [${f.code}] ${f.message}`)
    }
    if (r.failed.length > 0) this.exit(1)
  }
}
