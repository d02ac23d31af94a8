import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {publishArchive} from '../../archive/publish.js'
import {BaseCommand} from '../../lib/base-command.js'
import {ProgressLine, formatBytes} from '../../lib/progress.js'
import {ensureIndex} from '../../store/index.js'

export default class ArchivePublish extends BaseCommand {
  static override summary = 'Write the archive as static files (manifest, index, tarballs, SHA256SUMS) for `archive sync --from URL`.'
  static override description =
    "Copies manifest.json, every kernel's .btf.tar.xz, the BTF pack's segments (pack/*.kcpack; legacy .modules.tar.xz too) and the SQLite index (brought up to date first; --no-index leaves it out) into --out, and writes SHA256SUMS (sha256sum's format) last. Serve --out with any static HTTP server; `kcompat archive sync --from URL` then takes the manifest and index and fetches each kernel's BTF on first use."
  static override examples = ['<%= config.bin %> archive publish --out /srv/www/kcompat', 'KCOMPAT_REMOTE=https://example.org/kcompat <%= config.bin %> check --kernel 6.8.0-45-generic --object prog.bpf.o']
  static override flags = {
    out: Flags.string({description: 'directory to write (created; earlier files are overwritten)', required: true}),
    index: Flags.boolean({description: 'publish the SQLite index too (default; --no-index skips)', default: true, allowNo: true}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print the result as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ArchivePublish)
    const root = resolveArchiveDir(flags.archive)
    const progress = new ProgressLine(process.stderr, !flags.json)
    const index = flags.index ? (await ensureIndex(root, {onProgress: () => progress.update('bringing the index up to date')})).dbPath : undefined
    const r = await publishArchive(root, flags.out, {index, onProgress: (p) => progress.update(`publishing ${p.done}/${p.total} ${p.file}`)})
    progress.clear()
    if (flags.json) await this.writeOut(`${JSON.stringify(r, null, 2)}\n`)
    else this.log(`published ${r.kernels} kernels to ${r.out}: ${r.files} files, ${formatBytes(r.bytes)}${r.index ? ', with the index' : ''}`)
  }
}
