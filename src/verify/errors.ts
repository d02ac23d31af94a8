/**
 * Errors of `kcompat verify`. Codes start with `VERIFY_`:
 *
 * - `VERIFY_TOOLCHAIN_MISSING`: the guest loader cannot be built (no gcc, no libbpf.a /
 *   libelf.a / libz.a or headers); the message names the Debian packages to install.
 * - `VERIFY_BUSYBOX_MISSING`: no static busybox for the guest (Debian `busybox-static`).
 * - `VERIFY_QEMU_MISSING`: no `qemu-system-<arch>` (Debian `qemu-system-x86`).
 * - `VERIFY_BAD_ACCEL`: `KCOMPAT_ACCEL` is neither `kvm` nor `tcg`.
 * - `VERIFY_NO_IMAGE`: no kernel image was given or found for the kernel.
 * - `VERIFY_BAD_OBJECT`: libbpf cannot open an object (checked on the host, before boot).
 * - `VERIFY_KERNEL_PANIC`: the guest kernel panicked; the message ends with the console's last lines.
 * - `VERIFY_TIMEOUT`: the guest did not finish within the timeout; same.
 * - `VERIFY_NO_RESULTS`: the guest ended without a complete result block between the markers.
 * - `VERIFY_BAD_ARCH`: an architecture verify cannot boot.
 * - `VERIFY_USAGE`: neither objects nor sections given, a malformed --image RELEASE=FILE.
 */
import {KcompatError} from '../errors.js'

export class VerifyError extends KcompatError {}
