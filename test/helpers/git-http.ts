/**
 * A git smart-HTTP server on loopback: node's http server (port 0) in front of
 * `git http-backend` (CGI), as a hosting site serves git over HTTPS. Every repository
 * under `root` is exported. `cut` makes the next upload-pack POST (a fetch's pack
 * transfer) stop after `bytes` of git's answer and the server close: a remote that
 * disappears mid-fetch.
 */
import {spawn} from 'node:child_process'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface GitHttpServer {
  url: string
  server: Server
  /** request lines seen, `METHOD path?query` */
  log: string[]
  cut?: {bytes: number}
  close(): Promise<void>
  /** listens again on the same port (a remote that comes back) */
  reopen(): Promise<void>
}

export async function startGitHttp(root: string): Promise<GitHttpServer> {
  const state: GitHttpServer = {url: '', server: undefined as unknown as Server, log: [], close: async () => undefined, reopen: async () => undefined}
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    state.log.push(`${req.method} ${url.pathname}${url.search}`)
    const child = spawn('git', ['http-backend'], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    req.pipe(child.stdin)
    const cut = req.method === 'POST' && url.pathname.endsWith('/git-upload-pack') ? state.cut : undefined
    let head = Buffer.alloc(0)
    let headersDone = false
    let sent = 0
    child.stdout.on('data', (chunk: Buffer) => {
      if (!headersDone) {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) return
        headersDone = true
        let status = 200
        for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
          const i = line.indexOf(':')
          const name = line.slice(0, i).trim()
          const value = line.slice(i + 1).trim()
          if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10)
          else res.setHeader(name, value)
        }
        res.writeHead(status)
        chunk = head.subarray(end + 4)
      }
      if (cut) {
        const room = cut.bytes - sent
        if (room <= 0) return
        if (chunk.length >= room) {
          res.write(chunk.subarray(0, room))
          sent += room
          // the remote disappears: the connection drops and the server goes away
          state.cut = undefined
          child.kill()
          res.socket?.destroy()
          void state.close()
          return
        }
        sent += chunk.length
      }
      res.write(chunk)
    })
    child.stdout.on('end', () => {
      if (!res.destroyed) res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.server = server
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  state.reopen = () => new Promise<void>((resolve) => server.listen(Number(new URL(state.url).port), '127.0.0.1', resolve))
  return state
}
