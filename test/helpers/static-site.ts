/**
 * A directory served over HTTP on loopback, as a Debian-style mirror, a published kcompat
 * archive or any static site is, for tests that download from it: logs and counts requests
 * per path, answers `Range: bytes=N-` with 206, and injects what downloads must survive or
 * refuse (a 503 once, a body cut in half once, other bytes or a status for chosen paths:
 * a tampering or vanished publisher).
 */
import {readFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import {join} from 'node:path'

export interface StaticSite {
  server: Server
  /** `http://127.0.0.1:<port>` */
  url: string
  /** Requests per path (decoded, without the query; with the leading `/`). */
  hits: Map<string, number>
  /** Every path asked for, in order, without the leading `/` (tests may clear it). */
  log: string[]
  /** Paths (without the leading `/`) answered with these bytes, or this status, instead of the file. */
  override: Map<string, Buffer | number>
  /** Paths whose next request gets a 503. */
  failOnce: Set<string>
  /** Paths whose next full request gets half the body and then a cut connection. */
  cutOnce: Set<string>
  /** Range requests answered so far. */
  ranges(): number
  close(): Promise<void>
}

export async function serveSite(dir: string): Promise<StaticSite> {
  const hits = new Map<string, number>()
  const failOnce = new Set<string>()
  const cutOnce = new Set<string>()
  const log: string[] = []
  const override = new Map<string, Buffer | number>()
  let ranges = 0
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    hits.set(path, (hits.get(path) ?? 0) + 1)
    log.push(path.slice(1))
    if (failOnce.delete(path)) return void res.writeHead(503).end()
    const o = override.get(path.slice(1))
    if (typeof o === 'number') return void res.writeHead(o).end()
    let body: Buffer
    try {
      if (path.split('/').includes('..')) throw new Error('outside the site')
      body = o ?? readFileSync(join(dir, path))
    } catch {
      return void res.writeHead(404).end()
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    if (range) {
      ranges++
      const from = Number(range[1])
      res.writeHead(206, {'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`})
      return void res.end(body.subarray(from))
    }
    if (cutOnce.delete(path)) {
      res.writeHead(200, {'content-length': body.length})
      return void res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.destroy(), 50))
    }
    res.writeHead(200, {'content-length': body.length}).end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as {port: number}).port}`,
    hits,
    log,
    override,
    failOnce,
    cutOnce,
    ranges: () => ranges,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
