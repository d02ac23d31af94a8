/**
 * The HTML matrix as a person sees it: opened in headless Chromium (Debian's
 * `chromium`), its script run, the rendered DOM read back (--dump-dom) and a screenshot
 * taken. A second page, the same file with a query string, has the script apply a
 * filter (`?arch=arm64&verdict=unsupported`), so the filter is checked without a driver.
 */
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {buildMatrix} from '../../src/matrix/matrix.js'
import {renderHtml} from '../../src/matrix/render.js'
import {fixtureArchive} from '../check/fixture-archive.js'
import {FIXTURES} from '../helpers/fixtures.js'
import {findTool} from '../helpers/tools.js'

const chromium = findTool('chromium') ?? findTool('chromium-browser')
if (!chromium) {
  const msg = 'skipping the HTML matrix in Chromium: no chromium (apt-get install -y chromium)'
  if (process.env.CI === 'true') throw new Error(`${msg}; CI must install it`)
  console.warn(msg)
}

function browse(url: string, args: string[]): string {
  const profile = mkdtempSync(join(tmpdir(), 'kcompat-chromium-'))
  const r = spawnSync(
    chromium!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      ...args,
      url,
    ],
    {encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 26},
  )
  if (r.status !== 0) throw new Error(`chromium exited ${r.status ?? r.signal}: ${r.stderr}`)
  return r.stdout
}

describe.skipIf(!chromium)('HTML matrix in headless Chromium', () => {
  it('shows the colored grid with every cell, sticky headers, filters and per-cell reasons; a filter hides rows', async () => {
    const objects = [join(FIXTURES, 'bpf', 'core_types.bpfel.o'), join(FIXTURES, 'bpf', 'progs.bpfel.o'), join(import.meta.dirname, 'fixtures', 'core_guard.bpfel.o')]
    const m = await buildMatrix({objects, archive: await fixtureArchive()})
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-html-'))
    const file = join(dir, 'matrix.html')
    writeFileSync(file, renderHtml(m))
    const dom = browse(`file://${file}`, ['--dump-dom', '--virtual-time-budget=2000'])
    const cells = dom.match(/<td class="cell v-(supported|possible|unknown|unsupported)[^"]*"/g) ?? []
    expect(cells.length).toBe(m.cells.length)
    // every kernel row is shown, none hidden, with its name
    for (const k of m.kernels) expect(dom).toContain(`>${k.name}<`)
    expect(dom).not.toMatch(/class="kr hidden"/)
    // each cell carries its reasons as a tooltip
    expect(dom).toMatch(/title="[^"]*unguarded_state: unsupported\ncore: struct task_struct\.state: no such member on this kernel \(task_struct has __state\)/)
    expect(dom).toContain('id="f-distro"')
    expect(dom).toContain('id="f-arch"')
    // the filter, applied by the page's own script from the query string
    const filtered = browse(`file://${file}?arch=arm64`, ['--dump-dom', '--virtual-time-budget=2000'])
    const shown = (filtered.match(/<tr class="kr"[^>]*data-arch="([^"]+)"/g) ?? []).map((r) => /data-arch="([^"]+)"/.exec(r)![1])
    const hidden = filtered.match(/<tr class="kr hidden"/g) ?? []
    expect(shown).toEqual(m.kernels.filter((k) => k.arch === 'arm64').map(() => 'arm64'))
    expect(hidden.length).toBe(m.kernels.filter((k) => k.arch !== 'arm64').length)
    // a click on a cell opens its reasons (scripted by the page from ?open=<cell index>)
    const opened = browse(`file://${file}?open=0`, ['--dump-dom', '--virtual-time-budget=2000'])
    expect(opened).toMatch(/<div id="detail" role="dialog" style="display: block;"><h2>/)
    // what a person sees
    const png = join(dir, 'matrix.png')
    browse(`file://${file}`, [`--screenshot=${png}`, '--window-size=1280,720', '--virtual-time-budget=2000'])
    expect(existsSync(png)).toBe(true)
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG')
    expect(statSync(png).size).toBeGreaterThan(10_000)
    if (process.env.KCOMPAT_UPDATE_SCREENSHOT) {
      mkdirSync(join(import.meta.dirname, '..', '..', 'docs'), {recursive: true})
      copyFileSync(png, join(import.meta.dirname, '..', '..', 'docs', 'matrix.png'))
    }
  })
})
