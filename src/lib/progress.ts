/**
 * Progress for long work: a single redrawn line on a terminal, nothing in between on
 * pipes and CI logs (where only the per-item result lines are printed).
 */
export class ProgressLine {
  private readonly tty: boolean
  private last = 0
  private shown = false

  constructor(stream: NodeJS.WriteStream = process.stderr, enabled = true) {
    this.tty = enabled && stream.isTTY === true
    this.stream = stream
  }

  private readonly stream: NodeJS.WriteStream

  /** Redraws the line (throttled to 10 per second). */
  update(text: string): void {
    if (!this.tty) return
    const now = Date.now()
    if (now - this.last < 100) return
    this.last = now
    const width = Math.max(20, (this.stream.columns ?? 80) - 1)
    this.stream.write(`\r${text.slice(0, width).padEnd(width)}`)
    this.shown = true
  }

  /** Prints a permanent line (clearing the progress line first). */
  log(text: string): void {
    this.clear()
    this.stream.write(`${text}\n`)
  }

  clear(): void {
    if (this.shown) {
      this.stream.write(`\r${' '.repeat(Math.max(20, (this.stream.columns ?? 80) - 1))}\r`)
      this.shown = false
    }
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}
