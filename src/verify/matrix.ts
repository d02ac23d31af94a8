/**
 * `kcompat matrix --verify`: boots every kernel of a matrix that can be booted, with the
 * matrix's objects, and puts what each kernel did beside each cell (compare.ts).
 *
 * A kernel is booted when an image is known for it (`images`, by kernel name) and it
 * is an x86_64 kernel; the others stay in the result as not verified, with the reason
 * (`VERIFY_NO_IMAGE`, `VERIFY_BAD_ARCH`). Boots run `jobs` at a time.
 */
import type {MatrixResult} from '../matrix/matrix.js'
import {compareWithVerify} from './compare.js'
import {VerifyError} from './errors.js'
import {verifyKernels, type KernelResult, type VerifyProgress} from './verify.js'

export interface MatrixVerifyOptions {
  /** kernel name → image file */
  images: Record<string, string>
  attach?: boolean
  timeoutMs?: number
  jobs?: number
  onProgress?: (p: VerifyProgress) => void
}

export async function verifyMatrix(m: MatrixResult, o: MatrixVerifyOptions): Promise<MatrixResult> {
  const results = new Map<string, KernelResult>()
  const targets: Array<{kernel: string; image: string}> = []
  for (const k of m.kernels) {
    const image = o.images[k.name]
    if (k.arch !== 'x86_64') {
      results.set(k.name, {kernel: k.name, error: new VerifyError('VERIFY_BAD_ARCH', `verify boots x86_64 kernels only (${k.name} is ${k.arch})`)})
    } else if (!image) {
      results.set(k.name, {kernel: k.name, error: new VerifyError('VERIFY_NO_IMAGE', `no kernel image for ${k.name} (give --image ${k.name}=FILE)`)})
    } else {
      targets.push({kernel: k.name, image})
    }
  }
  const booted = await verifyKernels(
    targets,
    {objects: m.objects.map((x) => x.path), attach: o.attach ?? true, timeoutMs: o.timeoutMs, onProgress: o.onProgress},
    o.jobs ?? 1,
  )
  for (const r of booted) results.set(r.kernel!, r)
  return {...m, verify: compareWithVerify(m.cells, m.kernels.map((k) => results.get(k.name)!))}
}
