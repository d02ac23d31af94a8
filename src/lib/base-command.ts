/**
 * Shared behaviour of every kcompat command: how errors look and which exit codes
 * they give. Library errors ({@link KcompatError}) print one clear line with their
 * stable code (or a JSON object under --json) and exit 1; usage errors exit 2
 * (oclif's own parsing errors already do); anything else is a bug and shows its stack.
 */
import {Command, Errors} from '@oclif/core'
import {KcompatError} from '../errors.js'
import {EXIT_INPUT_ERROR} from './exit.js'
import {printKcompatError, writeStdout} from './output.js'
import {reportRemoteSync} from './remote-progress.js'

export {EXIT_INPUT_ERROR, EXIT_USAGE} from './exit.js'

export abstract class BaseCommand extends Command {
  override async init(): Promise<void> {
    await super.init()
    reportRemoteSync()
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (err instanceof KcompatError) {
      printKcompatError(err, this.argv.includes('--json'))
      this.exit(EXIT_INPUT_ERROR)
    }
    if (err instanceof Errors.ExitError) throw err
    return super.catch(err)
  }

  /** Writes a large string to stdout, resolving once it is flushed; a closed pipe (`| head`) ends quietly. */
  protected async writeOut(text: string | Uint8Array): Promise<void> {
    await writeStdout(text)
  }
}
