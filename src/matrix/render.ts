/**
 * The matrix as text table, markdown, CSV, JSON and a self-contained HTML page.
 */
import type {Verdict} from '../check/types.js'
import type {MatrixCell, MatrixKernel, MatrixResult, ProgramSummary} from './matrix.js'
import {disagreementLine, figuresLine, type VerifyComparison} from '../verify/compare.js'
import type {VerifyOutcome} from '../verify/verify.js'

export type MatrixFormat = 'table' | 'markdown' | 'json' | 'csv' | 'html'

const MARK: Record<Verdict, string> = {supported: '+', unsupported: 'x', possible: '~', unknown: '?'}
const MD_MARK: Record<Verdict, string> = {supported: '✅', unsupported: '❌', possible: '⚠️', unknown: '❓'}

interface Column {
  object: string
  program: string
  section: string
}

function columns(m: MatrixResult): Column[] {
  return m.objects.flatMap((o) => o.programs.map((p) => ({object: o.name, program: p.program, section: p.section})))
}

function cellIndex(m: MatrixResult): Map<string, MatrixCell> {
  return new Map(m.cells.map((c) => [`${c.kernel}\u0000${c.object}\u0000${c.program}\u0000${c.section}`, c]))
}

function cellAt(idx: Map<string, MatrixCell>, k: MatrixKernel, c: Column): MatrixCell | undefined {
  return idx.get(`${k.name}\u0000${c.object}\u0000${c.program}\u0000${c.section}`)
}

/** With --verify: what the booted kernel did, per cell (L loads, R refused, S needs run-time setup). */
const OBS_MARK: Record<VerifyOutcome, string> = {loads: 'L', refused: 'R', 'needs-setup': 'S'}

function observedIndex(m: MatrixResult): Map<string, VerifyComparison> | undefined {
  if (!m.verify) return undefined
  return new Map(m.verify.comparisons.map((c) => [`${c.kernel}\u0000${c.object}\u0000${c.program}\u0000${c.section}`, c]))
}

function observedAt(idx: Map<string, VerifyComparison> | undefined, k: MatrixKernel, c: Column): VerifyComparison | undefined {
  return idx?.get(`${k.name}\u0000${c.object}\u0000${c.program}\u0000${c.section}`)
}

/** The --verify part of the text formats: which kernels were booted, agreement figures, disagreements with both reasons. */
function verifyLines(m: MatrixResult): string[] {
  if (!m.verify) return []
  const out: string[] = ['', 'verified on the booted kernels (kcompat verify):']
  for (const k of m.verify.kernels) {
    if (!k.verified) out.push(`  ${k.kernel}: not verified: ${k.error?.code ? `[${k.error.code}] ` : ''}${k.error?.message.split('\n')[0] ?? ''}`)
  }
  for (const f of m.verify.figures) out.push(`  ${figuresLine(f)}`)
  if (m.verify.disagreements.length > 0) {
    out.push('', 'disagreements (predicted vs observed):')
    for (const d of m.verify.disagreements) out.push(`  ${disagreementLine(d)}`)
  }
  return out
}

function groupOf(k: MatrixKernel): string {
  return k.origin === 'btf-file' ? `--btf files` : `${k.distro} ${k.version} ${k.arch}`
}

function kernelLabel(k: MatrixKernel): string {
  return k.btf === 'in-kernel' ? k.name : `${k.name} [btf: ${k.btf}]`
}

function summaryLines(s: ProgramSummary, total: number, indent = '  '): string[] {
  const lines: string[] = []
  const c = s.counts
  const rest = [c.possible ? `${c.possible} possible` : '', c.unknown ? `${c.unknown} unknown` : '', c.unsupported ? `${c.unsupported} unsupported` : ''].filter(Boolean)
  lines.push(`${s.object}: ${s.program} (${s.section}): loads on ${c.supported} of ${total} kernels${rest.length ? ` (${rest.join(', ')})` : ''}`)
  lines.push(`${indent}first kernel version: ${s.firstVersion ? `${s.firstVersion} (supported on every kernel from it)` : 'none (not supported on the newest kernels of the matrix)'}`)
  for (const f of s.failures) lines.push(`${indent}${f.verdict} on ${f.kernels.length}: ${f.rule}: ${f.message}  [${f.kernels.join(', ')}]`)
  return lines
}

export function renderTable(m: MatrixResult): string {
  const cols = columns(m)
  const idx = cellIndex(m)
  const labels = m.kernels.map(kernelLabel)
  const w = Math.max(6, ...labels.map((l) => l.length))
  const ids = cols.map((_, i) => `P${i + 1}`)
  const obs = observedIndex(m)
  const cw = ids.map((id) => Math.max(id.length, obs ? 2 : 1))
  const out: string[] = []
  const head = `${'KERNEL'.padEnd(w)}  ${ids.map((id, i) => id.padEnd(cw[i]!)).join(' ')}`.trimEnd()
  out.push(head)
  let group = ''
  m.kernels.forEach((k, r) => {
    if (groupOf(k) !== group) {
      group = groupOf(k)
      out.push(`${group}:`)
    }
    const row = cols.map((c, i) => {
      const o = observedAt(obs, k, c)?.observed
      return `${MARK[cellAt(idx, k, c)?.verdict ?? 'unknown']}${obs ? (o ? OBS_MARK[o] : '.') : ''}`.padEnd(cw[i]!)
    })
    out.push(`${labels[r]!.padEnd(w)}  ${row.join(' ')}`.trimEnd())
  })
  out.push('', '+ supported  ~ possible  ? unknown  x unsupported', '')
  if (obs) out.splice(out.length - 1, 0, 'observed: L loads  R refused  S needs run-time setup  . not verified')
  cols.forEach((c, i) => out.push(`${ids[i]!.padEnd(4)} ${c.object}: ${c.program} (${c.section})`))
  out.push('')
  for (const s of m.summary) out.push(...summaryLines(s, m.kernels.length))
  out.push(...verifyLines(m))
  return `${out.join('\n')}\n`
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

export function renderMarkdown(m: MatrixResult): string {
  const cols = columns(m)
  const idx = cellIndex(m)
  const obs = observedIndex(m)
  const out: string[] = []
  out.push(`| kernel | distro | arch | ${cols.map((c) => `${mdEscape(c.program)}<br><sub>${mdEscape(c.object)}</sub>`).join(' | ')} |`)
  out.push(`| --- | --- | --- | ${cols.map(() => ':---:').join(' | ')} |`)
  for (const k of m.kernels) {
    const cells = cols.map((c) => {
      const o = obs ? observedAt(obs, k, c) : undefined
      return `${MD_MARK[cellAt(idx, k, c)?.verdict ?? 'unknown']}${obs ? `<br><sub>${o?.observed ?? 'not verified'}</sub>` : ''}`
    })
    out.push(`| \`${mdEscape(k.name)}\`${k.btf === 'in-kernel' ? '' : ` (BTF: ${k.btf})`} | ${mdEscape(`${k.distro} ${k.version}`.trim())} | ${k.arch} | ${cells.join(' | ')} |`)
  }
  out.push('', `✅ supported · ⚠️ possible · ❓ unknown · ❌ unsupported`, '')
  for (const s of m.summary) {
    const [first, ...rest] = summaryLines(s, m.kernels.length, '')
    out.push(`- **${mdEscape(first!)}**`)
    for (const l of rest) out.push(`  - ${mdEscape(l)}`)
  }
  const v = verifyLines(m)
  if (v.length > 0) {
    out.push('', '### Verified on the booted kernels', '')
    for (const l of v.slice(2)) out.push(l === '' ? '' : l.startsWith('  ') ? `- ${mdEscape(l.trim())}` : `**${mdEscape(l)}**`)
  }
  return `${out.join('\n')}\n`
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export const CSV_HEADER = ['kernel', 'distro', 'version', 'arch', 'object', 'program', 'section', 'verdict', 'reasons', 'suggestions']

/** One line per cell; `reasons` lists the rules that are not `pass`/`info` as `rule: message`, joined by ` | `. */
/** With --verify, three more columns: what the booted kernel did, its reason line, and the agreement. */
export const CSV_VERIFY_HEADER = ['observed', 'observed_reason', 'agreement']

export function* csvChunks(m: MatrixResult): Generator<string> {
  const kOf = new Map(m.kernels.map((k) => [k.name, k]))
  const obs = observedIndex(m)
  yield `${[...CSV_HEADER, ...(obs ? CSV_VERIFY_HEADER : [])].join(',')}\r\n`
  for (const c of m.cells) {
    const k = kOf.get(c.kernel)!
    const reasons = c.reasons.filter((r) => r.status !== 'pass' && r.status !== 'info').map((r) => `${r.rule}: ${r.message}`)
    const sugg = c.suggestions.map((s) => s.section ?? s.text)
    const o = obs?.get(`${c.kernel}\u0000${c.object}\u0000${c.program}\u0000${c.section}`)
    const extra = obs ? [o?.observed ?? '', o?.observedReason ?? '', o?.observed ? o.agreement : ''] : []
    yield `${[c.kernel, k.distro, k.version, k.arch, c.object, c.program, c.section, c.verdict, reasons.join(' | '), sugg.join(' | '), ...extra].map(csvField).join(',')}\r\n`
  }
}

export function renderCsv(m: MatrixResult): string {
  return [...csvChunks(m)].join('')
}

/** Cells per piece of the JSON document. */
const JSON_CELLS_PER_PIECE = 256

/**
 * The JSON document in pieces, laid out exactly as `JSON.stringify(result, null, 2)`
 * would: a matrix of a thousand kernels has hundreds of thousands of cells, more than
 * one JavaScript string can hold. Cells go out {@link JSON_CELLS_PER_PIECE} at a time:
 * `JSON.stringify([[c1, c2, …]], null, 2)` lays the cells out at the depth they have in
 * the document (`"cells"` is an array in the top-level object, so each cell's lines are
 * indented by 4 spaces and cells are separated by `,\n    `), and cutting the two
 * enclosing arrays off (`[\n  [\n    ` before, `\n  ]\n]` after) leaves exactly that
 * run of the document, without re-indenting each cell's text.
 */
export function* jsonChunks(m: MatrixResult): Generator<string> {
  const {cache: _cache, ...rest} = m
  const entries = Object.entries(rest)
  const indent = (text: string, by: string): string => text.replace(/\n/g, `\n${by}`)
  const head = '[\n  [\n    '.length
  const tail = '\n  ]\n]'.length
  yield '{'
  for (let i = 0; i < entries.length; i++) {
    const [key, value] = entries[i]!
    const sep = i === entries.length - 1 ? '' : ','
    if (key === 'cells' && Array.isArray(value) && value.length > 0) {
      yield `\n  ${JSON.stringify(key)}: [`
      for (let j = 0; j < value.length; j += JSON_CELLS_PER_PIECE) {
        const run = JSON.stringify([value.slice(j, j + JSON_CELLS_PER_PIECE)], null, 2)
        yield `${j === 0 ? '\n    ' : ',\n    '}${run.slice(head, run.length - tail)}`
      }
      yield `\n  ]${sep}`
    } else if (value !== undefined) {
      yield `\n  ${JSON.stringify(key)}: ${indent(JSON.stringify(value, null, 2), '  ')}${sep}`
    }
  }
  yield entries.length > 0 ? '\n}\n' : '}\n'
}

export function renderJson(m: MatrixResult): string {
  return [...jsonChunks(m)].join('')
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** One HTML file: inline CSS and JS, no network. */
export function renderHtml(m: MatrixResult, title = 'kcompat release matrix'): string {
  const cols = columns(m)
  const idx = cellIndex(m)
  const obs = observedIndex(m)
  const details: Array<{kernel: string; program: string; object: string; section: string; verdict: Verdict; reasons: Array<{rule: string; status: string; message: string}>; suggestions: string[]}> = []
  const objectsRow = m.objects
    .filter((o) => o.programs.length > 0)
    .map((o) => `<th class="obj" colspan="${o.programs.length}" title="${esc(o.path)}">${esc(o.name)}</th>`)
    .join('')
  const progRow = cols.map((c) => `<th class="prog" title="${esc(`${c.object}: ${c.program} (${c.section})`)}"><span>${esc(c.program)}</span><small>${esc(c.section)}</small></th>`).join('')
  const rows: string[] = []
  let group = ''
  for (const k of m.kernels) {
    const g = groupOf(k)
    if (g !== group) {
      group = g
      rows.push(`<tr class="group" data-group="${esc(g)}"><th class="kernel" colspan="1">${esc(g)}</th><td colspan="${cols.length}"></td></tr>`)
    }
    const tds = cols
      .map((c) => {
        const cell = cellAt(idx, k, c)
        const v = cell?.verdict ?? 'unknown'
        const i = details.length
        const shown = (cell?.reasons ?? []).filter((r) => r.status !== 'pass' && r.status !== 'info')
        details.push({
          kernel: k.name,
          program: c.program,
          object: c.object,
          section: c.section,
          verdict: v,
          reasons: (cell?.reasons ?? []).map((r) => ({rule: r.rule, status: r.status, message: r.message})),
          suggestions: (cell?.suggestions ?? []).map((s) => (s.section ? `${s.section} (${s.verdict ?? '?'}): ${s.text}` : s.text)),
        })
        const o = observedAt(obs, k, c)
        const seen = obs ? `\nobserved: ${o?.observed ?? 'not verified'}${o?.observedReason ? ` (${o.observedReason})` : ''}${o?.observed ? ` [${o.agreement}]` : ''}` : ''
        const tip = `${k.name} · ${c.program}: ${v}${shown.length ? `\n${shown.map((r) => `${r.rule}: ${r.message}`).join('\n')}` : ''}${seen}`
        const mark = obs ? `${MARK[v]}<sub class="obs${o?.agreement === 'disagree' ? ' dis' : ''}">${o?.observed ? OBS_MARK[o.observed] : '.'}</sub>` : MARK[v]
        return `<td class="cell v-${v}" data-verdict="${v}" data-i="${i}" title="${esc(tip)}">${mark}</td>`
      })
      .join('')
    rows.push(
      `<tr class="kr" data-group="${esc(g)}" data-distro="${esc(k.distro || 'btf-file')}" data-arch="${esc(k.arch)}"><th class="kernel" title="${esc(`${k.release} · upstream ${k.upstream} · BTF ${k.btf}`)}">${esc(k.name)}${k.btf === 'in-kernel' ? '' : ` <em>${esc(k.btf)}</em>`}</th>${tds}</tr>`,
    )
  }
  const distros = [...new Set(m.kernels.map((k) => k.distro || 'btf-file'))].sort()
  const arches = [...new Set(m.kernels.map((k) => k.arch))].sort()
  const opt = (v: string): string => `<option value="${esc(v)}">${esc(v)}</option>`
  const summary = m.summary
    .map((s) => {
      const lines = summaryLines(s, m.kernels.length, '')
      return `<li><b>${esc(lines[0]!)}</b>${lines.length > 1 ? `<ul>${lines.slice(1).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : ''}</li>`
    })
    .join('')
  const counts = {supported: 0, possible: 0, unknown: 0, unsupported: 0}
  for (const c of m.cells) counts[c.verdict]++
  const data = JSON.stringify(details).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;background:#fff}
header{padding:10px 14px;border-bottom:1px solid #ddd;display:flex;flex-wrap:wrap;gap:14px;align-items:center}
header h1{font-size:16px;margin:0 12px 0 0}
.legend span{display:inline-block;padding:1px 7px;border-radius:3px;margin-right:4px}
.wrap{overflow:auto;max-height:calc(100vh - 120px);position:relative}
table{border-collapse:separate;border-spacing:0}
th,td{border-right:1px solid #e3e3e3;border-bottom:1px solid #e3e3e3;padding:3px 6px;white-space:nowrap}
thead th{position:sticky;background:#f6f6f8;z-index:2}
thead tr.objects th{top:0;height:22px}
thead tr.progs th{top:29px}
th.prog span{display:block;font-weight:600}th.prog small{display:block;color:#666;font-weight:400}
th.kernel{position:sticky;left:0;background:#fafafa;text-align:left;z-index:1;font-weight:500}
thead th.kernel{z-index:3}
th.kernel em{color:#a05a00;font-style:normal;font-size:11px}
tr.group th,tr.group td{background:#eef1f6;font-weight:700}
td.cell{text-align:center;cursor:pointer;min-width:26px;font-weight:700}
.v-supported{background:#c8f0cf;color:#135c22}.v-possible{background:#fff0b8;color:#7a5a00}
.v-unknown{background:#e2e4e8;color:#444}.v-unsupported{background:#f8c6c3;color:#8a1710}
td.cell.sel{outline:2px solid #1f5fd6;outline-offset:-2px}
#detail{position:fixed;right:12px;bottom:12px;width:min(560px,90vw);max-height:45vh;overflow:auto;background:#fff;border:1px solid #bbb;border-radius:6px;box-shadow:0 4px 18px rgba(0,0,0,.18);padding:10px 12px;display:none}
#detail h2{font-size:14px;margin:0 0 6px}#detail li{margin:2px 0}#detail .st{font-family:monospace;font-size:11px;padding:0 4px;border-radius:3px}
.hidden{display:none}
section.summary{padding:8px 14px}section.summary ul{margin:2px 0}
sub.obs{font-weight:400;margin-left:1px;color:#333}sub.obs.dis{color:#c00;font-weight:700}
</style></head><body>
<header><h1>${esc(title)}</h1>
<span>${m.kernels.length} kernels × ${cols.length} programs</span>
<label>distro <select id="f-distro"><option value="">all</option>${distros.map(opt).join('')}</select></label>
<label>arch <select id="f-arch"><option value="">all</option>${arches.map(opt).join('')}</select></label>
<span id="f-verdict">${(['supported', 'possible', 'unknown', 'unsupported'] as const)
    .map((v) => `<label class="legend"><input type="checkbox" value="${v}" checked> <span class="v-${v}">${MARK[v]} ${v} (${counts[v]})</span></label>`)
    .join(' ')}</span>
</header>
<div class="wrap"><table id="matrix">
<thead><tr class="objects"><th class="kernel" rowspan="2">kernel</th>${objectsRow}</tr><tr class="progs">${progRow}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>
<section class="summary"><h2>Summary</h2><ul>${summary}</ul></section>${
    m.verify
      ? `\n<section class="summary verify"><h2>Verified on the booted kernels</h2><p>observed: L loads · R refused · S needs run-time setup · . not verified</p><ul>${verifyLines(m)
          .slice(2)
          .filter((l) => l.startsWith('  '))
          .map((l) => `<li>${esc(l.trim())}</li>`)
          .join('')}</ul></section>`
      : ''
  }
<div id="detail" role="dialog"></div>
<script type="application/json" id="cells">${data}</script>
<script>
(function(){
var cells=JSON.parse(document.getElementById('cells').textContent);
var fd=document.getElementById('f-distro'),fa=document.getElementById('f-arch');
var boxes=[].slice.call(document.querySelectorAll('#f-verdict input'));
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]})}
// Filters and an opened cell can be given in the URL: ?distro=debian&arch=arm64&verdict=unsupported,possible&open=3
function apply(){
  var d=fd.value,a=fa.value,vs={};boxes.forEach(function(b){vs[b.value]=b.checked});
  var groups={};
  [].forEach.call(document.querySelectorAll('tr.kr'),function(tr){
    var show=(!d||tr.dataset.distro===d)&&(!a||tr.dataset.arch===a);
    var any=false;
    [].forEach.call(tr.querySelectorAll('td.cell'),function(td){var on=vs[td.dataset.verdict];td.style.visibility=on?'':'hidden';if(on)any=true});
    show=show&&any;tr.classList.toggle('hidden',!show);if(show)groups[tr.dataset.group]=1;
  });
  [].forEach.call(document.querySelectorAll('tr.group'),function(tr){tr.classList.toggle('hidden',!groups[tr.dataset.group])});
}
fd.onchange=fa.onchange=apply;boxes.forEach(function(b){b.onchange=apply});
var det=document.getElementById('detail'),sel=null;
document.getElementById('matrix').addEventListener('click',function(e){
  var td=e.target.closest&&e.target.closest('td.cell');if(!td)return;
  if(sel)sel.classList.remove('sel');sel=td;td.classList.add('sel');
  var c=cells[+td.dataset.i];
  det.innerHTML='<h2>'+esc(c.kernel)+' · '+esc(c.object)+': '+esc(c.program)+' ('+esc(c.section)+'): <span class="v-'+c.verdict+'">'+c.verdict+'</span></h2><ul>'+
    c.reasons.map(function(r){return '<li><span class="st v-'+({fail:'unsupported',pass:'supported',possible:'possible',unknown:'unknown',info:'unknown'}[r.status])+'">'+esc(r.status)+'</span> <b>'+esc(r.rule)+'</b> '+esc(r.message)+'</li>'}).join('')+'</ul>'+
    (c.suggestions.length?'<p>Instead:</p><ul>'+c.suggestions.map(function(s){return '<li>'+esc(s)+'</li>'}).join('')+'</ul>':'');
  det.style.display='block';
});
document.addEventListener('keydown',function(e){if(e.key==='Escape')det.style.display='none'});
var q=new URLSearchParams(location.search);
if(q.get('distro'))fd.value=q.get('distro');if(q.get('arch'))fa.value=q.get('arch');
if(q.get('verdict')){var keep=q.get('verdict').split(',');boxes.forEach(function(b){b.checked=keep.indexOf(b.value)>=0})}
apply();
if(q.get('open')!==null){var t=document.querySelector('td.cell[data-i="'+(+q.get('open'))+'"]');if(t)t.click()}
})();
</script>
</body></html>
`
}

/** About how many characters {@link renderMatrixChunks} gathers into one piece. */
const PIECE_CHARS = 1 << 20

/** Joins small pieces into pieces of about {@link PIECE_CHARS} characters (one write each instead of one per CSV line). */
function* coalesce(pieces: Iterable<string>): Generator<string> {
  let buf: string[] = []
  let size = 0
  for (const p of pieces) {
    buf.push(p)
    size += p.length
    if (size >= PIECE_CHARS) {
      yield buf.join('')
      buf = []
      size = 0
    }
  }
  if (buf.length > 0) yield buf.join('')
}

/** The rendering in pieces (JSON and CSV piece by piece; the others whole), for writing out without one giant string. */
export function* renderMatrixChunks(m: MatrixResult, format: MatrixFormat): Generator<string> {
  if (format === 'json') yield* coalesce(jsonChunks(m))
  else if (format === 'csv') yield* coalesce(csvChunks(m))
  else yield renderMatrix(m, format)
}

export function renderMatrix(m: MatrixResult, format: MatrixFormat): string {
  switch (format) {
    case 'json':
      return renderJson(m)
    case 'csv':
      return renderCsv(m)
    case 'markdown':
      return renderMarkdown(m)
    case 'html':
      return renderHtml(m)
    default:
      return renderTable(m)
  }
}
