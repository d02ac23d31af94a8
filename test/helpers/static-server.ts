/**
 * A loopback static file server for the published-archive tests: serves a directory as
 * any static HTTP server would, logs each path asked for, and can answer chosen paths
 * with other bytes or a status instead (a tampering or vanished publisher).
 */
import {existsSync, readFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'

export interface Static {
  url: string
  log: string[]
  override: Map<string, Buffer | number>
  close(): Promise<void>
}

/** Serves `dir` on 127.0.0.1; `override` answers chosen paths instead (bytes, or a status). */
export async function serve(dir: string): Promise<Static> {
  const s: Static = {url: '', log: [], override: new Map(), close: async () => undefined}
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1)
    s.log.push(path)
    const o = s.override.get(path)
    if (typeof o === 'number') {
      res.statusCode = o
      return void res.end()
    }
    const file = join(dir, path)
    if (!o && (path.includes('..') || !existsSync(file))) {
      res.statusCode = 404
      return void res.end()
    }
    const body = o ?? readFileSync(file)
    res.writeHead(200, {'content-length': body.length})
    res.end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  s.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections()
      server.close(() => r())
    })
  return s
}
