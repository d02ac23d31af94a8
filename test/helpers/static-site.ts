/**
 * A directory served over HTTP on loopback, as a Debian-style mirror or any static site is,
 * for tests that download from it: counts requests per path, answers `Range: bytes=N-` with
 * 206, and injects the failures downloads must survive (a 503 once, a body cut in half once).
 */
import {readFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import {join} from 'node:path'

export interface StaticSite {
  server: Server
  /** `http://127.0.0.1:<port>` */
  url: string
  /** Requests per path (decoded, without the query). */
  hits: Map<string, number>
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
  let ranges = 0
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
    hits.set(path, (hits.get(path) ?? 0) + 1)
    if (failOnce.delete(path)) return void res.writeHead(503).end()
    let body: Buffer
    try {
      body = readFileSync(join(dir, path))
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
    failOnce,
    cutOnce,
    ranges: () => ranges,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
