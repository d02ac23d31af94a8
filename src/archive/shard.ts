/**
 * Shards of a sync (`archive sync … --shard I/N`): building a large archive is
 * embarrassingly parallel, so N machines each build the kernels of one shard into their
 * own archive directory and `archive merge` (merge.ts) combines the directories.
 */
import {createHash} from 'node:crypto'
import {InputError} from '../errors.js'


export interface Shard {
  /** 1-based. */
  index: number
  count: number
}

/**
 * Parses `I/N` (1 ≤ I ≤ N).
 * @throws InputError `SHARD_BAD_SPEC`.
 */
export function parseShard(spec: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim())
  const index = m ? Number(m[1]) : NaN
  const count = m ? Number(m[2]) : NaN
  if (!m || count < 1 || index < 1 || index > count || count > 100_000) {
    throw new InputError('SHARD_BAD_SPEC', `--shard ${JSON.stringify(spec)}: expected I/N with 1 ≤ I ≤ N (e.g. 1/4)`)
  }
  return {index, count}
}

/**
 * Which shard a kernel belongs to: the first 4 bytes of sha256 of its archive key
 * `<distro>/<version>/<arch>/<release>` (manifest.ts kernelKey), as a big-endian
 * unsigned integer, modulo N, plus one. A hash rather than a position in a sorted list,
 * so that a kernel stays in its shard when the repository gains or drops others: shard
 * I of N holds the same kernels on every machine and every day, and N runs of
 * `--shard I/N` together cover each kernel exactly once.
 */
export function shardOf(key: string, count: number): number {
  return (createHash('sha256').update(key).digest().readUInt32BE(0) % count) + 1
}
