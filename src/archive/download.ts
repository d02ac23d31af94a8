/**
 * HTTP downloads for archive sync (undici): streamed to disk, never held in memory,
 * resumable (a `.part` file is continued with a Range request), retried with backoff on
 * network errors and 5xx answers, and checked against the sha256 and size the Debian
 * `Packages` index gives before the file gets its final name.
 */
import {createHash} from 'node:crypto'
import {createReadStream, createWriteStream, existsSync, renameSync, statSync, unlinkSync} from 'node:fs'
import {pipeline} from 'node:stream/promises'
import {Writable} from 'node:stream'
import {request} from 'undici'
import {KcompatError} from '../errors.js'

export class DownloadError extends KcompatError {}

export interface DownloadProgress {
  (event: {url: string; received: number; total: number | undefined}): void
}

export interface DownloadOptions {
  sha256?: string
  size?: number
  retries?: number
  onProgress?: DownloadProgress
  /** Base delay between retries in ms (doubles each time). */
  retryDelayMs?: number
  /**
   * Bytes the response body may buffer before undici pauses its parser (undici's own
   * default when unset). undici 7 crashes the process (an uncatchable assertion,
   * nodejs/undici#5360, fixed in undici 8) when a server closes the connection while the
   * parser is paused; callers fetching files of bounded size from servers that close
   * connections after each response (HTTP/1.0 servers such as `python3 -m http.server`)
   * set it above the file's size so the parser is never paused.
   */
  highWaterMark?: number
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256')
  await pipeline(createReadStream(path), new Writable({write(chunk, _e, cb) { h.update(chunk); cb() }}))
  return h.digest('hex')
}

/**
 * Downloads `url` to `dest`. An existing `dest` whose checksum matches is kept as is.
 * @throws DownloadError `DOWNLOAD_NOT_FOUND` (404, 410), `DOWNLOAD_HTTP` (other 4xx, or 5xx
 *   after retries), `DOWNLOAD_NETWORK`,
 *   `DOWNLOAD_CHECKSUM` (the file does not match the index; the partial file is removed).
 */
export async function download(url: string, dest: string, options: DownloadOptions = {}): Promise<{path: string; reused: boolean}> {
  if (existsSync(dest) && options.sha256 && (await fileSha256(dest)) === options.sha256) return {path: dest, reused: true}
  const part = `${dest}.part`
  const retries = options.retries ?? 4
  let lastError: unknown
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, (options.retryDelayMs ?? 500) * 2 ** (attempt - 1)))
    const have = existsSync(part) ? statSync(part).size : 0
    if (options.size !== undefined && have > options.size) unlinkSync(part)
    const from = existsSync(part) ? statSync(part).size : 0
    try {
      const res = await request(url, {
        method: 'GET',
        headers: from > 0 ? {range: `bytes=${from}-`} : {},
        headersTimeout: 30_000,
        bodyTimeout: 60_000,
        ...(options.highWaterMark === undefined ? {} : {highWaterMark: options.highWaterMark}),
      })
      if (res.statusCode >= 500) {
        await res.body.dump()
        lastError = new DownloadError('DOWNLOAD_HTTP', `${url}: HTTP ${res.statusCode}`)
        continue
      }
      if (res.statusCode === 416 && options.size !== undefined && from === options.size) {
        await res.body.dump() // the .part is already complete
      } else if (res.statusCode === 404 || res.statusCode === 410) {
        await res.body.dump()
        throw new DownloadError('DOWNLOAD_NOT_FOUND', `${url}: HTTP ${res.statusCode}`)
      } else if (res.statusCode !== 200 && res.statusCode !== 206) {
        await res.body.dump()
        throw new DownloadError('DOWNLOAD_HTTP', `${url}: HTTP ${res.statusCode}`)
      } else {
        const append = res.statusCode === 206 && from > 0
        const lenHeader = res.headers['content-length']
        const total = lenHeader ? Number(lenHeader) + (append ? from : 0) : options.size
        let received = append ? from : 0
        const out = createWriteStream(part, {flags: append ? 'a' : 'w'})
        res.body.on('data', (c: Buffer) => {
          received += c.length
          options.onProgress?.({url, received, total})
        })
        await pipeline(res.body, out)
      }
      if (options.size !== undefined && statSync(part).size !== options.size) {
        lastError = new DownloadError('DOWNLOAD_SHORT', `${url}: got ${statSync(part).size} bytes, expected ${options.size}`)
        continue
      }
      if (options.sha256) {
        const got = await fileSha256(part)
        if (got !== options.sha256) {
          unlinkSync(part)
          throw new DownloadError('DOWNLOAD_CHECKSUM', `${url}: sha256 ${got} does not match the index (${options.sha256})`)
        }
      }
      renameSync(part, dest)
      return {path: dest, reused: false}
    } catch (e) {
      if (e instanceof DownloadError && (e.code === 'DOWNLOAD_HTTP' || e.code === 'DOWNLOAD_NOT_FOUND' || e.code === 'DOWNLOAD_CHECKSUM')) throw e
      lastError = e instanceof KcompatError ? e : new DownloadError('DOWNLOAD_NETWORK', `${url}: ${(e as Error).message}`, {cause: e})
    }
  }
  throw lastError instanceof KcompatError ? lastError : new DownloadError('DOWNLOAD_NETWORK', `${url}: failed after ${retries + 1} attempts`)
}

/** GETs a small resource (an index) into memory, with the same retry policy. */
export async function fetchBytes(url: string, options: {retries?: number; retryDelayMs?: number; maxBytes?: number} = {}): Promise<Buffer> {
  const retries = options.retries ?? 4
  const max = options.maxBytes ?? 512 * 1024 * 1024
  let lastError: unknown
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, (options.retryDelayMs ?? 500) * 2 ** (attempt - 1)))
    try {
      const res = await request(url, {headersTimeout: 30_000, bodyTimeout: 60_000})
      if (res.statusCode === 404) {
        await res.body.dump()
        throw new DownloadError('DOWNLOAD_NOT_FOUND', `${url}: HTTP 404`)
      }
      if (res.statusCode !== 200) {
        await res.body.dump()
        lastError = new DownloadError('DOWNLOAD_HTTP', `${url}: HTTP ${res.statusCode}`)
        if (res.statusCode < 500) throw lastError
        continue
      }
      const chunks: Buffer[] = []
      let n = 0
      for await (const c of res.body) {
        n += (c as Buffer).length
        if (n > max) throw new DownloadError('DOWNLOAD_TOO_LARGE', `${url}: larger than ${max} bytes`)
        chunks.push(c as Buffer)
      }
      return Buffer.concat(chunks)
    } catch (e) {
      if (e instanceof DownloadError) throw e
      lastError = new DownloadError('DOWNLOAD_NETWORK', `${url}: ${(e as Error).message}`, {cause: e})
    }
  }
  throw lastError as Error
}
