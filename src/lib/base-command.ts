/**
 * Shared behaviour of every kcompat command: how errors look and which exit codes
 * they give. Library errors ({@link KcompatError}) print one clear line with their
 * stable code (or a JSON object under --json) and exit 1; usage errors exit 2
 * (oclif's own parsing errors already do); anything else is a bug and shows its stack.
 */
import {Command, Errors} from '@oclif/core'
import {KcompatError} from '../errors.js'

export const EXIT_INPUT_ERROR = 1
export const EXIT_USAGE = 2

export abstract class BaseCommand extends Command {
  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (err instanceof KcompatError) {
      if (this.argv.includes('--json')) {
        process.stdout.write(`${JSON.stringify({error: err.toJSON()})}\n`)
      } else {
        process.stderr.write(`kcompat: error [${err.code}]: ${err.message}\n`)
        if (process.env.KCOMPAT_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`)
      }
      this.exit(EXIT_INPUT_ERROR)
    }
    if (err instanceof Errors.ExitError) throw err
    return super.catch(err)
  }

  /** Writes a large string to stdout, resolving once it is flushed; a closed pipe (`| head`) ends quietly. */
  protected async writeOut(text: string): Promise<void> {
    if (text.length === 0) return
    await new Promise<void>((resolve) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        if (e.code === 'EPIPE') process.exit(0)
        throw e
      }
      process.stdout.once('error', onError)
      process.stdout.write(text, () => {
        process.stdout.off('error', onError)
        resolve()
      })
    })
  }
}
