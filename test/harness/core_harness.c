// SPDX-License-Identifier: Apache-2.0
/*
 * core_harness: asks the system's libbpf (Debian libbpf-dev, 1.1) what it does
 * with the CO-RE relocations of a BPF object against a given kernel BTF,
 * without loading anything into the running kernel.
 *
 *   core_harness OBJECT.o KERNEL.btf [--vmlinux FILE] [--kconfig FILE] [--kallsyms FILE]
 *
 * The object is opened with bpf_object_open_opts.btf_custom_path = KERNEL.btf
 * and libbpf's print callback writes every message, at debug level, to
 * stdout.  The test parses the lines libbpf prints while it patches:
 *
 *   libbpf: prog 'P': relo #N: patched insn #I (ALU/ALU64) imm A -> V
 *   libbpf: prog 'P': relo #N: patched insn #I (LDX/ST/STX) off A -> V
 *   libbpf: prog 'P': relo #N: patched insn #I (LDIMM64) imm64 A -> V
 *   libbpf: prog 'P': relo #N: substituting insn #I w/ invalid insn
 *
 * Objects with externs need more of "the kernel" before libbpf gets as far
 * as relocating: --kconfig passes a kernel config as
 * bpf_object_open_opts.kconfig (__kconfig externs), --kallsyms stands in for
 * /proc/kallsyms (untyped __ksym externs) and --vmlinux for
 * /sys/kernel/btf/vmlinux (typed __ksym externs, kfuncs and the attach
 * targets of tracing programs); without --vmlinux, KERNEL.btf stands in for
 * it.  Nothing of the machine the test runs on is read.
 *
 * How relocation runs without BPF syscalls.  libbpf 1.1 has no "prepare"
 * step: bpf_object__load() first probes the kernel (it loads a trivial
 * program), creates the maps, and only then relocates, and each of those
 * steps needs the bpf(2) system call.  libbpf reaches the kernel through the
 * C library's syscall(2) wrapper (sys_bpf() in bpf.c), so this program
 * defines its own syscall(): for __NR_bpf it answers like a permissive kernel
 * (program, map and BTF loads return a fresh descriptor of /dev/null, map
 * updates and freezes succeed, anything else fails with EINVAL) and never
 * enters the kernel; every other system call is passed on to the C library.
 * A seccomp filter that refuses bpf(2) outright is installed first, as a
 * second guard: even if the interposition did not take effect, nothing could
 * reach the kernel's BPF subsystem.  The stand-in files are served the same
 * way, by interposing fopen() and faccessat() for exactly those paths.
 *
 * Exit status: 0 when libbpf's load step returned (successfully or not; its
 * messages say what happened), 2 on usage errors, 3 when the object cannot
 * be opened.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

static int bpf_calls;
static const char *vmlinux_path;
static const char *kallsyms_path;

/* A fresh descriptor that stands in for a kernel BPF object. */
static long fake_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -1 : fd;
}

/* The bpf(2) stand-in: see the comment at the top of the file. */
static long fake_bpf(long cmd, union bpf_attr *attr)
{
	bpf_calls++;
	switch (cmd) {
	case BPF_PROG_LOAD:
		if (attr && attr->prog_name[0])
			printf("harness: prog_load '%s' (%u insns)\n", attr->prog_name, attr->insn_cnt);
		return fake_fd();
	case BPF_MAP_CREATE:
	case BPF_BTF_LOAD:
		return fake_fd();
	case BPF_MAP_UPDATE_ELEM:
	case BPF_MAP_FREEZE:
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
}

typedef long (*syscall_fn)(long, ...);

/*
 * Interposes the C library's syscall(): the executable's definition comes
 * first in the dynamic symbol search order, so libbpf.so's calls land here.
 */
long syscall(long number, ...)
{
	static syscall_fn real;
	long a[6];
	va_list ap;
	int i;

	va_start(ap, number);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	if (number == __NR_bpf)
		return fake_bpf(a[0], (union bpf_attr *)a[1]);

	if (!real)
		real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The stand-in for a kernel file, or the path itself. */
static const char *redirect(const char *path)
{
	if (path && vmlinux_path && strcmp(path, "/sys/kernel/btf/vmlinux") == 0)
		return vmlinux_path;
	if (path && kallsyms_path && strcmp(path, "/proc/kallsyms") == 0)
		return kallsyms_path;
	return path;
}

typedef FILE *(*fopen_fn)(const char *, const char *);
typedef int (*faccessat_fn)(int, const char *, int, int);

FILE *fopen(const char *path, const char *mode)
{
	static fopen_fn real;

	if (!real)
		real = (fopen_fn)dlsym(RTLD_NEXT, "fopen");
	return real(redirect(path), mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	return fopen(path, mode);
}

int faccessat(int dirfd, const char *path, int mode, int flags)
{
	static faccessat_fn real;

	if (!real)
		real = (faccessat_fn)dlsym(RTLD_NEXT, "faccessat");
	return real(dirfd, redirect(path), mode, flags);
}

/* Refuse bpf(2) for this process and its children, whatever happens. */
static void forbid_bpf_syscall(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		printf("harness: warning: seccomp filter not installed (%s); relying on syscall() interposition\n",
		       strerror(errno));
	else
		printf("harness: seccomp: bpf(2) refused\n");
}

static int print_all(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	return vfprintf(stdout, fmt, args);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
			if (!buf)
				exit(4);
		}
		n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = 0;
	return buf;
}

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s OBJECT.o KERNEL.btf [--vmlinux FILE] [--kconfig FILE] [--kallsyms FILE]\n", argv0);
	return 2;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct bpf_object *obj;
	char *kconfig = NULL;
	int err, i;

	if (argc < 3)
		return usage(argv[0]);
	vmlinux_path = argv[2];
	for (i = 3; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage(argv[0]);
		if (strcmp(argv[i], "--vmlinux") == 0) {
			vmlinux_path = argv[i + 1];
		} else if (strcmp(argv[i], "--kallsyms") == 0) {
			kallsyms_path = argv[i + 1];
		} else if (strcmp(argv[i], "--kconfig") == 0) {
			kconfig = read_file(argv[i + 1]);
			if (!kconfig) {
				fprintf(stderr, "cannot read %s: %s\n", argv[i + 1], strerror(errno));
				return 2;
			}
		} else {
			return usage(argv[0]);
		}
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	forbid_bpf_syscall();
	libbpf_set_print(print_all);

	opts.btf_custom_path = argv[2];
	opts.kconfig = kconfig;
	obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) {
		printf("harness: open failed: %d\n", -errno);
		return 3;
	}

	err = bpf_object__load(obj);
	printf("harness: load returned %d after %d bpf() calls\n", err, bpf_calls);
	bpf_object__close(obj);
	free(kconfig);
	return 0;
}
