/**
 * A loopback APT mirror's `dists/<suite>/Release`, written by apt-ftparchive (apt-utils)
 * over the indices already in place, as Debian's archive tooling lists them: the
 * suite's architectures and components, and the size and sha256 of every index.
 */
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {run} from './tools.js'

export function writeAptRelease(site: string, suite: string, o: {arches: string[]; components?: string[]}): void {
  const dir = join(site, 'dists', suite)
  rmSync(join(dir, 'Release'), {force: true})
  const text = run('apt-ftparchive', [
    '-o', `APT::FTPArchive::Release::Suite=${suite}`,
    '-o', `APT::FTPArchive::Release::Codename=${suite}`,
    '-o', `APT::FTPArchive::Release::Architectures=${['all', ...o.arches].join(' ')}`,
    '-o', `APT::FTPArchive::Release::Components=${(o.components ?? ['main']).join(' ')}`,
    'release', dir,
  ])
  writeFileSync(join(dir, 'Release'), text)
}
