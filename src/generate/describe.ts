/**
 * One-line renderings of generation progress and timings, shared by `btf generate`,
 * `archive add --debug-deb` and `archive sync --generate`.
 */
import type {DebugProgress, DebugTimings} from '../archive/debug-deb.js'
import {formatBytes} from '../lib/progress.js'
import type {PaholeProgress} from './run.js'

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

export function describePaholeProgress(p: PaholeProgress): string {
  const mem = p.rssKiB !== undefined ? `, ${formatBytes(p.rssKiB * 1024)}${p.peakKiB !== undefined ? ` (peak ${formatBytes(p.peakKiB * 1024)})` : ''}` : ''
  return `pahole ${secs(p.elapsedMs)}${mem}${p.lastLine ? ` | ${p.lastLine}` : ''}`
}

export function describeDebugProgress(p: DebugProgress): string {
  switch (p.phase) {
    case 'download':
      return `downloading debug package ${formatBytes(p.received)}${p.total ? ` of ${formatBytes(p.total)}` : ''}`
    case 'hash':
      return 'checksumming debug package'
    case 'extract':
      return `extracting ${p.entry.split('/').pop()} ${formatBytes(p.written)} of ${formatBytes(p.total)}`
    case 'pahole':
      return describePaholeProgress(p)
  }
}

export function describeTimings(t: DebugTimings): string {
  return [
    `download ${t.downloadMs > 0 ? secs(t.downloadMs) : 'cached'} (${formatBytes(t.debSize)})`,
    ...(t.hashMs > 0 ? [`sha256 ${secs(t.hashMs)}`] : []),
    `extract ${secs(t.extractMs)} (vmlinux ${formatBytes(t.vmlinuxSize)})`,
    `pahole ${secs(t.paholeMs)}${t.paholePeakKiB !== undefined ? ` (peak ${formatBytes(t.paholePeakKiB * 1024)})` : ''}`,
  ].join(', ')
}
