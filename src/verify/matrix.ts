/**
 * `kcompat matrix --verify`: boots every kernel of a matrix that can be booted, with the
 * matrix's objects, and puts what each kernel did beside each cell (compare.ts).
 *
 * A kernel is booted when it is an x86_64 kernel and an image is known for it: given in
 * `images` (by kernel name), else, for an archived kernel, the image its manifest entry
 * records, fetched into the image cache. The others stay in the result as not verified,
 * with the reason (`VERIFY_NO_IMAGE`, `VERIFY_BAD_ARCH`, `IMAGE_*`). Boots run `jobs`
 * at a time.
 */
import type {MatrixResult} from '../matrix/matrix.js'
import {compareWithVerify} from './compare.js'
import {VerifyError} from './errors.js'
import {verifyKernels, type ImageSourceOptions, type KernelResult, type KernelTarget, type VerifyProgress} from './verify.js'

export interface MatrixVerifyOptions extends ImageSourceOptions {
  /** kernel name → image file; archived kernels without one boot their archived image */
  images: Record<string, string>
  attach?: boolean
  timeoutMs?: number
  jobs?: number
  onProgress?: (p: VerifyProgress) => void
}

export async function verifyMatrix(m: MatrixResult, o: MatrixVerifyOptions): Promise<MatrixResult> {
  const results = new Map<string, KernelResult>()
  const targets: KernelTarget[] = []
  for (const k of m.kernels) {
    const image = o.images[k.name]
    if (k.arch !== 'x86_64') {
      results.set(k.name, {kernel: k.name, error: new VerifyError('VERIFY_BAD_ARCH', `verify boots x86_64 kernels only (${k.name} is ${k.arch})`)})
    } else if (image || (k.origin === 'archive' && o.archive)) {
      targets.push({kernel: k.name, image, arch: k.arch})
    } else {
      results.set(k.name, {kernel: k.name, error: new VerifyError('VERIFY_NO_IMAGE', `no kernel image for ${k.name} (give --image ${k.name}=FILE)`)})
    }
  }
  const booted = await verifyKernels(
    targets,
    {
      objects: m.objects.map((x) => x.path),
      attach: o.attach ?? true,
      timeoutMs: o.timeoutMs,
      onProgress: o.onProgress,
      archive: o.archive,
      mirror: o.mirror,
      cacheDir: o.cacheDir,
    },
    o.jobs ?? 1,
  )
  for (const r of booted) results.set(r.kernel!, r)
  return {...m, verify: compareWithVerify(m.cells, m.kernels.map((k) => results.get(k.name)!))}
}
