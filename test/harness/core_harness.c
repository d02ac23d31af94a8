// SPDX-License-Identifier: Apache-2.0
/*
 * core_harness: asks the system's libbpf (Debian libbpf-dev, 1.1) what it does
 * with the CO-RE relocations of a BPF object against a given kernel BTF,
 * without loading anything into the running kernel.
 *
 *   core_harness OBJECT.o KERNEL.btf [--vmlinux FILE] [--kconfig FILE] [--kallsyms FILE]
 *                [--no-custom] [--module NAME=FILE ...] [--no-autoload PROG ...]
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
 * Module BTF.  With --no-custom the object is opened without
 * btf_custom_path, so libbpf reads KERNEL.btf as /sys/kernel/btf/vmlinux and,
 * like on a real machine, also searches the BTF of loaded kernel modules: for
 * attach targets missing from vmlinux (find_kernel_btf_id) and for CO-RE
 * candidates when vmlinux has none (bpf_core_find_cands).  It finds them
 * through bpf(2) (load_module_btfs): BPF_BTF_GET_NEXT_ID walks the kernel's
 * BTF objects, BPF_BTF_GET_FD_BY_ID opens one, BPF_OBJ_GET_INFO_BY_FD gives
 * its name, whether it is kernel BTF, and its raw bytes.  Each --module
 * NAME=FILE (raw split BTF on KERNEL.btf) is served as one such object, in
 * the order given, after vmlinux (object id 1); the module-BTF feature probe
 * (BPF_OBJ_GET_INFO_BY_FD on a freshly loaded BTF) succeeds only then.  The
 * prog_load lines name the BTF object a tracing program attaches to.
 * --no-autoload PROG leaves a program out (bpf_program__set_autoload), as an
 * application does with one it knows will not load.
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

/* Kernel BTF objects served to libbpf: [0] is vmlinux (object id 1), then the modules. */
#define MAX_BTF_OBJS 64
struct btf_obj {
	const char *name;
	const char *path;
	char *data;
	size_t size;
};
static struct btf_obj btf_objs[MAX_BTF_OBJS];
static int btf_obj_cnt;
static int serve_modules;

/* What each fake descriptor stands for: 0 nothing known, -1 a loaded BTF, i+1 btf_objs[i]. */
#define MAX_FDS 4096
static int fd_what[MAX_FDS];

static char *read_file_len(const char *path, size_t *len_out);

/* A fresh descriptor that stands in for a kernel BPF object. */
static long fake_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -1 : fd;
}

static void set_fd_what(long fd, int what)
{
	if (fd >= 0 && fd < MAX_FDS)
		fd_what[fd] = what;
}

/* The name of the kernel BTF object behind attach_btf_obj_fd (0: vmlinux). */
static const char *attach_btf_name(__u32 fd)
{
	if (fd == 0)
		return "vmlinux";
	if (fd < MAX_FDS && fd_what[fd] > 0)
		return btf_objs[fd_what[fd] - 1].name;
	return "?";
}

/* BPF_OBJ_GET_INFO_BY_FD for a kernel BTF object or a loaded BTF, as the kernel fills struct bpf_btf_info. */
static long btf_info(union bpf_attr *attr)
{
	struct bpf_btf_info info;
	__u32 fd = attr->info.bpf_fd, len = attr->info.info_len;
	struct bpf_btf_info *user = (struct bpf_btf_info *)(unsigned long)attr->info.info;
	int what = fd < MAX_FDS ? fd_what[fd] : 0;

	if (!serve_modules || what == 0) {
		errno = EINVAL;
		return -1;
	}
	memset(&info, 0, sizeof(info));
	if (len > sizeof(info))
		len = sizeof(info);
	memcpy(&info, user, len);
	if (what > 0) {
		const struct btf_obj *o = &btf_objs[what - 1];
		size_t n = strlen(o->name) + 1;

		if (info.btf && info.btf_size)
			memcpy((void *)(unsigned long)info.btf, o->data, info.btf_size < o->size ? info.btf_size : o->size);
		info.btf_size = o->size;
		info.id = what;
		info.kernel_btf = 1;
		if (info.name && info.name_len) {
			if (n > info.name_len)
				n = info.name_len;
			memcpy((void *)(unsigned long)info.name, o->name, n);
			((char *)(unsigned long)info.name)[n - 1] = 0;
		}
		info.name_len = strlen(o->name) + 1;
	} else {
		/* a BTF the program loaded: no name, not kernel BTF */
		if (info.name && info.name_len)
			((char *)(unsigned long)info.name)[0] = 0;
		info.btf_size = 0;
		info.id = MAX_BTF_OBJS + (fd & 0xffff);
		info.name_len = 0;
		info.kernel_btf = 0;
	}
	memcpy(user, &info, len);
	attr->info.info_len = len;
	return 0;
}

/* The bpf(2) stand-in: see the comment at the top of the file. */
static long fake_bpf(long cmd, union bpf_attr *attr)
{
	long fd;

	bpf_calls++;
	switch (cmd) {
	case BPF_PROG_LOAD:
		if (attr && attr->prog_name[0]) {
			if (attr->attach_btf_id)
				printf("harness: prog_load '%s' (%u insns) attach_btf_id %u in %s\n", attr->prog_name, attr->insn_cnt,
				       attr->attach_btf_id, attach_btf_name(attr->attach_btf_obj_fd));
			else
				printf("harness: prog_load '%s' (%u insns)\n", attr->prog_name, attr->insn_cnt);
		}
		return fake_fd();
	case BPF_MAP_CREATE:
		return fake_fd();
	case BPF_BTF_LOAD:
		fd = fake_fd();
		set_fd_what(fd, -1);
		return fd;
	case BPF_BTF_GET_NEXT_ID:
		if (!serve_modules || attr->start_id >= (__u32)btf_obj_cnt) {
			errno = ENOENT;
			return -1;
		}
		attr->next_id = attr->start_id + 1;
		return 0;
	case BPF_BTF_GET_FD_BY_ID:
		if (!serve_modules || attr->btf_id < 1 || attr->btf_id > (__u32)btf_obj_cnt) {
			errno = ENOENT;
			return -1;
		}
		fd = fake_fd();
		set_fd_what(fd, attr->btf_id);
		return fd;
	case BPF_OBJ_GET_INFO_BY_FD:
		return btf_info(attr);
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
	size_t len;

	return read_file_len(path, &len);
}

static char *read_file_len(const char *path, size_t *len_out)
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
	*len_out = len;
	return buf;
}

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s OBJECT.o KERNEL.btf [--vmlinux FILE] [--kconfig FILE] [--kallsyms FILE] [--no-custom] [--module NAME=FILE ...] [--no-autoload PROG ...]\n", argv0);
	return 2;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct bpf_object *obj;
	char *kconfig = NULL;
	const char *no_autoload[MAX_BTF_OBJS];
	int n_no_autoload = 0, custom = 1;
	int err, i;

	if (argc < 3)
		return usage(argv[0]);
	vmlinux_path = argv[2];
	for (i = 3; i < argc; i += 2) {
		if (strcmp(argv[i], "--no-custom") == 0) {
			custom = 0;
			i--;
			continue;
		}
		if (i + 1 >= argc)
			return usage(argv[0]);
		if (strcmp(argv[i], "--module") == 0) {
			char *eq = strchr(argv[i + 1], '=');

			if (!eq || btf_obj_cnt + 1 >= MAX_BTF_OBJS)
				return usage(argv[0]);
			*eq = 0;
			if (btf_obj_cnt == 0)
				btf_objs[btf_obj_cnt++] = (struct btf_obj){.name = "vmlinux", .path = NULL};
			btf_objs[btf_obj_cnt++] = (struct btf_obj){.name = argv[i + 1], .path = eq + 1};
			serve_modules = 1;
		} else if (strcmp(argv[i], "--no-autoload") == 0) {
			if (n_no_autoload >= MAX_BTF_OBJS)
				return usage(argv[0]);
			no_autoload[n_no_autoload++] = argv[i + 1];
		} else if (strcmp(argv[i], "--vmlinux") == 0) {
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

	if (serve_modules) {
		btf_objs[0].path = vmlinux_path;
		for (i = 0; i < btf_obj_cnt; i++) {
			btf_objs[i].data = read_file_len(btf_objs[i].path, &btf_objs[i].size);
			if (!btf_objs[i].data) {
				fprintf(stderr, "cannot read %s: %s\n", btf_objs[i].path, strerror(errno));
				return 2;
			}
		}
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	forbid_bpf_syscall();
	libbpf_set_print(print_all);

	if (custom)
		opts.btf_custom_path = argv[2];
	opts.kconfig = kconfig;
	obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) {
		printf("harness: open failed: %d\n", -errno);
		return 3;
	}
	for (i = 0; i < n_no_autoload; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, no_autoload[i]);

		if (!prog) {
			printf("harness: no program %s\n", no_autoload[i]);
			return 3;
		}
		bpf_program__set_autoload(prog, false);
	}

	err = bpf_object__load(obj);
	printf("harness: load returned %d after %d bpf() calls\n", err, bpf_calls);
	bpf_object__close(obj);
	free(kconfig);
	return 0;
}
