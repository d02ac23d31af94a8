/*
 * kcompat-verify guest loader: loads BPF programs into the running kernel, one at a
 * time, and prints one machine-readable record per program on stdout.
 *
 * It runs as part of the initramfs that `kcompat verify` boots under QEMU, statically
 * linked against Debian's libbpf.a / libelf.a / libz.a / libzstd.a so that the guest needs
 * no shared libraries. The same binary also runs on the host in `--open-only` mode to
 * reject objects libbpf cannot open before a VM is booted.
 *
 * Usage: loader PLAN_FILE          (in the guest)
 *        loader --open-only OBJ    (on the host: if libbpf opens OBJ, print its number of
 *                                   programs and exit 0, else print why and exit 1)
 *
 * The plan file is line based, one directive per line, fields separated by one TAB:
 *   nonce  <token>        printed in the BEGIN/END markers so stray output cannot fake them
 *   attach 0|1            whether to attach each program after loading it
 *   object <path>         a BPF ELF object: every program in it is tried on its own
 *   prog   <section>      a trivial program (r0 = 0; exit) for this libbpf section name
 *
 * Output (documented in README, parsed by src/verify/protocol.ts), each line starting
 * with "KCV1<TAB>", fields TAB-separated, text fields escaped (\\ \t \n \r, other control
 * bytes as \xHH):
 *   KCV1 BEGIN <nonce>
 *   KCV1 OBJ  <obj#> ok|error <errno> <errno-name> <message>
 *   KCV1 PROG <obj#|-> <prog-name|-> <section> <load> <errno> <errno-name> <message>
 *             <attach> <errno> <errno-name> <message> <needs> <set> <load-usec> <attach-usec>
 *   KCV1 END  <nonce> <number of PROG records>
 * where <load> is ok|error|skipped, <attach> is ok|error|skipped|off, <needs> says what
 * run-time setup the program needs ("-" when none) and <set> which map defaults were
 * applied ("-" when none). errno is 0 and errno-name "-" on success.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* Default sizes given to maps that the application sizes at run time (max_entries 0). */
#define DEFAULT_RINGBUF_BYTES (256 * 1024) /* a power-of-2 multiple of the page size */
#define DEFAULT_MAX_ENTRIES 10240          /* what most libbpf-tools use for their hash maps */
#define DEFAULT_STACK_DEPTH 127            /* kernel.perf_event_max_stack's default (PERF_MAX_STACK_DEPTH) */

/* ---- libbpf's messages ------------------------------------------------------------
 * libbpf reports why something failed through its print callback, not through errno.
 * Every warning/info message of the current attempt is appended to one buffer; after
 * the attempt, reason_line() picks the line that says why (see there). Debug messages
 * are dropped: they never carry the reason and would slow the guest down. */
static char *msgs;
static size_t msgs_len, msgs_cap;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap) {
	if (level == LIBBPF_DEBUG) return 0;
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	if (n < 0) return 0;
	if (msgs_len + n + 1 > msgs_cap) {
		size_t cap = msgs_cap ? msgs_cap : 4096;
		while (cap < msgs_len + n + 1) cap *= 2;
		char *m = realloc(msgs, cap);
		if (!m) { free(s); return 0; }
		msgs = m;
		msgs_cap = cap;
	}
	memcpy(msgs + msgs_len, s, n);
	msgs_len += n;
	msgs[msgs_len] = 0;
	free(s);
	return n;
}

static void msgs_reset(void) {
	msgs_len = 0;
	if (msgs) msgs[0] = 0;
}

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Lines that never say why: the verifier's statistics and libbpf's wrap-up lines that
 * only repeat the errno of an earlier, specific line. */
static bool generic_line(const char *l) {
	static const char *const contains[] = {
		"-- BEGIN PROG LOAD LOG --", "-- END PROG LOAD LOG --", "failed to load object",
		"failed to load BPF skeleton", "failed to prepare load attributes", "failed to load: -",
		"BPF program load failed", "processed ", "verification time ", "stack depth ",
		"Error in bpf_create_map_xattr", "load bpf program failed",
	};
	while (*l == ' ' || *l == '\t') l++;
	if (!*l) return true;
	for (size_t i = 0; i < sizeof contains / sizeof *contains; i++) {
		const char *at = strstr(l, contains[i]);
		if (!at) continue;
		/* the statistics lines start the (libbpf-prefixed or bare) line */
		if (!strcmp(contains[i], "processed ") || !strcmp(contains[i], "verification time ") ||
		    !strcmp(contains[i], "stack depth ")) {
			if (at == l) return true;
			continue;
		}
		return true;
	}
	return false;
}

/*
 * The line that says why an attempt failed. libbpf prints the verifier's log between
 * "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --" and then generic wrap-up
 * lines; the verifier ends its log with the reason followed by statistics. So: the last
 * line, scanning backwards, that is not generic; inside a verifier log that is the
 * verifier's own reason ("invalid bpf_context access off=..."), otherwise libbpf's
 * specific message ("failed to find kernel BTF type ID of 'x': -3"). The "libbpf: "
 * prefix is dropped. The result is written into out (truncated to outsz).
 */
static void reason_line(char *out, size_t outsz) {
	out[0] = 0;
	if (!msgs_len) return;
	char *end = msgs + msgs_len;
	while (end > msgs) {
		char *start = end;
		while (start > msgs && start[-1] != '\n') start--;
		size_t n = (size_t)(end - start);
		char line[1024];
		if (n >= sizeof line) n = sizeof line - 1;
		memcpy(line, start, n);
		line[n] = 0;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
		if (!generic_line(line)) {
			const char *l = line;
			if (starts_with(l, "libbpf: ")) l += 8;
			snprintf(out, outsz, "%s", l);
			return;
		}
		end = start > msgs ? start - 1 : msgs;
		if (start == msgs) break;
	}
}

/* ---- output ----------------------------------------------------------------------- */
static void put_escaped(const char *s) {
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\') fputs("\\\\", stdout);
		else if (c == '\t') fputs("\\t", stdout);
		else if (c == '\n') fputs("\\n", stdout);
		else if (c == '\r') fputs("\\r", stdout);
		else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
		else putchar(c);
	}
}

static void field(const char *s) {
	putchar('\t');
	put_escaped(s && *s ? s : "-");
}

static const char *errno_name(int e) {
	if (e == 0) return "-";
	/* kernel-internal codes that reach user space but have no libc name */
	switch (e) {
	case 512: return "ERESTARTSYS";
	case 524: return "ENOTSUPP";
	case 525: return "ETOOSMALL";
	case 526: return "ESERVERFAULT";
	case 527: return "EBADTYPE";
	}
	/* libbpf's own codes (libbpf.h, enum libbpf_errno) */
	static const char *const lib[] = {"LIBELF", "FORMAT", "KVERSION", "ENDIAN", "INTERNAL", "RELOC", "LOAD",
	                                  "VERIFY", "PROG2BIG", "KVER", "PROGTYPE", "WRNGPID", "INVSEQ", "NLPARSE"};
	if (e >= 4000 && e < 4000 + (int)(sizeof lib / sizeof *lib)) {
		static char buf[40];
		snprintf(buf, sizeof buf, "LIBBPF_ERRNO__%s", lib[e - 4000]);
		return buf;
	}
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

struct outcome {
	const char *status; /* ok | error | skipped | off */
	int err;            /* positive errno */
	char msg[1024];
	long usec;
};

static void emit_prog(const char *obj, const char *name, const char *sec, struct outcome *load,
                      struct outcome *att, const char *needs, const char *set) {
	char errbuf[16];
	fputs("KCV1\tPROG", stdout);
	field(obj);
	field(name);
	field(sec);
	field(load->status);
	snprintf(errbuf, sizeof errbuf, "%d", load->err);
	field(errbuf);
	field(errno_name(load->err));
	field(load->msg);
	field(att->status);
	snprintf(errbuf, sizeof errbuf, "%d", att->err);
	field(errbuf);
	field(errno_name(att->err));
	field(att->msg);
	field(needs);
	field(set);
	printf("\t%ld\t%ld\n", load->usec, att->usec);
	fflush(stdout);
}

static long now_usec(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

/* ---- run-time setup --------------------------------------------------------------- */

/* Sections whose attach target is a user-space binary or a USDT probe: the guest has
 * none, so attaching them is "needs run-time setup" (libbpf: attach_uprobe/attach_usdt). */
static bool needs_binary(const char *sec) {
	return starts_with(sec, "uprobe") || starts_with(sec, "uretprobe") || starts_with(sec, "usdt");
}

/*
 * Maps the application sizes at run time. A map with max_entries 0 cannot be created,
 * and since libbpf creates every map of an object whatever program is loaded, it would
 * make every program of the object fail. So: BPF_MAP_TYPE_RINGBUF gets 256 KiB, other
 * maps 10240 entries (perf event arrays are left to libbpf, which sizes them to the
 * number of CPUs). A stack trace map with value_size 0 gets room for 127 frames
 * (PERF_MAX_STACK_DEPTH, the default of kernel.perf_event_max_stack), as the tools that
 * size it at run time do by default. Any other map with value_size 0 (other than those whose value size the kernel
 * fixes) cannot be given a meaningful default: the object's programs are reported as
 * needing run-time setup. Returns false in that case; `set`/`needs` describe what was done.
 */
static bool apply_map_defaults(struct bpf_object *obj, char *set, size_t setsz, char *needs, size_t needssz) {
	struct bpf_map *m;
	size_t used = 0;
	set[0] = 0;
	bpf_object__for_each_map(m, obj) {
		enum bpf_map_type t = bpf_map__type(m);
		const char *name = bpf_map__name(m);
		if (bpf_map__max_entries(m) == 0 && t != BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
			__u32 v = t == BPF_MAP_TYPE_RINGBUF || t == BPF_MAP_TYPE_USER_RINGBUF ? DEFAULT_RINGBUF_BYTES
			                                                                    : DEFAULT_MAX_ENTRIES;
			bpf_map__set_max_entries(m, v);
			used += snprintf(set + used, used < setsz ? setsz - used : 0, "%smap '%s' max_entries=%u",
			                 used ? "; " : "", name, v);
		}
		if (t == BPF_MAP_TYPE_STACK_TRACE && bpf_map__value_size(m) == 0) {
			__u32 v = DEFAULT_STACK_DEPTH * sizeof(__u64);
			bpf_map__set_value_size(m, v);
			used += snprintf(set + used, used < setsz ? setsz - used : 0, "%smap '%s' value_size=%u",
			                 used ? "; " : "", name, v);
		}
		bool fixed_value = t == BPF_MAP_TYPE_RINGBUF || t == BPF_MAP_TYPE_USER_RINGBUF ||
		                   t == BPF_MAP_TYPE_PERF_EVENT_ARRAY || t == BPF_MAP_TYPE_PROG_ARRAY ||
		                   t == BPF_MAP_TYPE_ARRAY_OF_MAPS || t == BPF_MAP_TYPE_HASH_OF_MAPS ||
		                   t == BPF_MAP_TYPE_STRUCT_OPS || t == BPF_MAP_TYPE_BLOOM_FILTER ||
		                   t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK;
		if (bpf_map__value_size(m) == 0 && !fixed_value) {
			snprintf(needs, needssz, "map '%s' value_size is set at run time", name);
			return false;
		}
	}
	return true;
}

/* ---- objects ---------------------------------------------------------------------- */

/*
 * One object: open it once to list its programs, then for each program open the object
 * afresh (so no state of an earlier attempt leaks), turn every other program's autoload
 * off, apply the map defaults, load, and attach with bpf_program__attach. Attaching a
 * program whose section has no auto-attach (perf_event, xdp, tc, cgroup, bare kprobe,
 * ...) makes libbpf return -EOPNOTSUPP without a message: that is "needs run-time
 * setup", as are uprobes/usdt (no binary in the guest).
 */
static int run_object(const char *idx, const char *path, bool attach) {
	msgs_reset();
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	long err = libbpf_get_error(obj);
	if (!obj || err) {
		char why[1024];
		int e = (int)(err < 0 ? -err : errno);
		reason_line(why, sizeof why);
		fputs("KCV1\tOBJ", stdout);
		field(idx);
		field("error");
		printf("\t%d", e);
		field(errno_name(e));
		field(why[0] ? why : strerror(e));
		putchar('\n');
		fflush(stdout);
		return 0;
	}
	fputs("KCV1\tOBJ", stdout);
	field(idx);
	field("ok");
	printf("\t0\t-\t-\n");
	fflush(stdout);

	int n = 0;
	char **names = NULL, **secs = NULL;
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		names = realloc(names, sizeof *names * (n + 1));
		secs = realloc(secs, sizeof *secs * (n + 1));
		names[n] = strdup(bpf_program__name(p));
		secs[n] = strdup(bpf_program__section_name(p));
		n++;
	}
	bpf_object__close(obj);

	for (int i = 0; i < n; i++) {
		struct outcome load = {.status = "skipped"}, att = {.status = attach ? "skipped" : "off"};
		char set[512] = "", needs[512] = "";
		msgs_reset();
		obj = bpf_object__open_file(path, NULL);
		if (libbpf_get_error(obj)) {
			load.status = "error";
			load.err = EINVAL;
			reason_line(load.msg, sizeof load.msg);
			emit_prog(idx, names[i], secs[i], &load, &att, needs, set);
			continue;
		}
		struct bpf_program *me = NULL;
		bpf_object__for_each_program(p, obj) {
			bool mine = !strcmp(bpf_program__name(p), names[i]);
			bpf_program__set_autoload(p, mine);
			if (mine) me = p;
		}
		if (!apply_map_defaults(obj, set, sizeof set, needs, sizeof needs)) {
			emit_prog(idx, names[i], secs[i], &load, &att, needs, set);
			bpf_object__close(obj);
			continue;
		}
		msgs_reset();
		long t0 = now_usec();
		int r = bpf_object__load(obj);
		load.usec = now_usec() - t0;
		if (r) {
			load.status = "error";
			load.err = r < 0 ? -r : r;
			reason_line(load.msg, sizeof load.msg);
		} else {
			load.status = "ok";
			if (attach && needs_binary(secs[i])) {
				snprintf(needs, sizeof needs, "attach target is a user-space binary given at run time");
			} else if (attach) {
				msgs_reset();
				t0 = now_usec();
				struct bpf_link *link = bpf_program__attach(me);
				att.usec = now_usec() - t0;
				long le = libbpf_get_error(link);
				if (!link || le) {
					int e = (int)(le < 0 ? -le : (errno ? errno : EINVAL));
					if (e == EOPNOTSUPP && msgs_len == 0) {
						snprintf(needs, sizeof needs, "attach target given at run time (section '%s' has no auto-attach)",
						         secs[i]);
					} else {
						att.status = "error";
						att.err = e;
						reason_line(att.msg, sizeof att.msg);
					}
				} else {
					att.status = "ok";
					bpf_link__destroy(link);
				}
			}
		}
		emit_prog(idx, names[i], secs[i], &load, &att, needs, set);
		bpf_object__close(obj);
	}
	for (int i = 0; i < n; i++) free(names[i]), free(secs[i]);
	free(names);
	free(secs);
	return n;
}

/* ---- trivial programs for a section (--prog) --------------------------------------- */

static int perf_event_open(struct perf_event_attr *a, int cpu, int group) {
	return (int)syscall(__NR_perf_event_open, a, -1, cpu, group, PERF_FLAG_FD_CLOEXEC);
}

static int read_int_file(const char *path, int *out) {
	FILE *f = fopen(path, "r");
	if (!f) return -errno;
	int ok = fscanf(f, "%d", out) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

/* Attaches a kprobe/kretprobe through the kprobe PMU (perf_event_open with the PMU type
 * from sysfs, the function name in config1), then PERF_EVENT_IOC_SET_BPF, as libbpf's
 * perf_event_open_probe does. */
static int attach_kprobe_pmu(int prog_fd, const char *func, bool ret, char *why, size_t whysz) {
	int type, bit = 0;
	if (read_int_file("/sys/bus/event_source/devices/kprobe/type", &type)) {
		snprintf(why, whysz, "no kprobe PMU in /sys/bus/event_source/devices");
		return -ENOENT;
	}
	if (ret) {
		FILE *f = fopen("/sys/bus/event_source/devices/kprobe/format/retprobe", "r");
		if (f) {
			if (fscanf(f, "config:%d", &bit) != 1) bit = 0;
			fclose(f);
		}
	}
	struct perf_event_attr a = {.size = sizeof a, .type = type, .config1 = (__u64)(unsigned long)func};
	a.config |= ret ? 1ULL << bit : 0;
	int pfd = perf_event_open(&a, 0, -1);
	if (pfd < 0) {
		int e = errno;
		snprintf(why, whysz, "perf_event_open(kprobe PMU, '%s'): %s", func, strerror(e));
		return -e;
	}
	if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0) {
		int e = errno;
		snprintf(why, whysz, "PERF_EVENT_IOC_SET_BPF: %s", strerror(e));
		close(pfd);
		return -e;
	}
	close(pfd);
	return 0;
}

/* tracepoint/<category>/<name>: the event id from tracefs, a PERF_TYPE_TRACEPOINT event. */
static int attach_tracepoint(int prog_fd, const char *catname, char *why, size_t whysz) {
	static const char *const roots[] = {"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"};
	int id = -1;
	for (size_t i = 0; i < 2 && id < 0; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s/id", roots[i], catname);
		if (read_int_file(path, &id)) id = -1;
	}
	if (id < 0) {
		snprintf(why, whysz, "tracepoint '%s' not found in tracefs", catname);
		return -ENOENT;
	}
	struct perf_event_attr a = {.size = sizeof a, .type = PERF_TYPE_TRACEPOINT, .config = (__u64)id};
	int pfd = perf_event_open(&a, 0, -1);
	if (pfd < 0) {
		int e = errno;
		snprintf(why, whysz, "perf_event_open(tracepoint '%s'): %s", catname, strerror(e));
		return -e;
	}
	int r = ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0 ? -errno : 0;
	if (r) snprintf(why, whysz, "PERF_EVENT_IOC_SET_BPF: %s", strerror(-r));
	close(pfd);
	return r;
}

/* The kernel verifier's log of a failed bpf_prog_load, fed to reason_line(). */
static char vlog[1 << 16];

/*
 * --prog SECTION: the program "r0 = 0; exit" loaded with bpf_prog_load for the program
 * type and expected attach type libbpf derives from the section name
 * (libbpf_prog_type_by_name), with the BTF id of the attach target from
 * libbpf_find_vmlinux_btf_id for the sections that name a kernel function/tracepoint by
 * BTF (fentry, fexit, fmod_ret, tp_btf, lsm, iter), as libbpf's and bpftool's feature
 * probes do. This asks the kernel exactly two things: does it have the program type
 * (and attach type), and does its BTF have the target. Attaching uses the kernel's
 * interfaces directly: BPF_RAW_TRACEPOINT_OPEN for BTF-based tracing and raw_tp, the
 * kprobe PMU for kprobe/kretprobe, tracefs ids for tracepoint; anything else (xdp, tc,
 * cgroup, perf_event, bare sections, uprobes, struct_ops, freplace) needs run-time setup.
 */
static void run_section(const char *sec, bool attach) {
	struct outcome load = {.status = "skipped"}, att = {.status = attach ? "skipped" : "off"};
	char needs[512] = "";
	enum bpf_prog_type type;
	enum bpf_attach_type eat;
	msgs_reset();
	if (libbpf_prog_type_by_name(sec, &type, &eat)) {
		load.status = "error";
		load.err = ESRCH;
		snprintf(load.msg, sizeof load.msg, "libbpf does not know section '%s'", sec);
		emit_prog("-", "-", sec, &load, &att, needs, "");
		return;
	}
	const char *slash = strchr(sec, '/');
	const char *target = slash ? slash + 1 : "";
	bool btf_target = type == BPF_PROG_TYPE_TRACING || type == BPF_PROG_TYPE_LSM;
	if (type == BPF_PROG_TYPE_EXT || type == BPF_PROG_TYPE_STRUCT_OPS ||
	    (btf_target && !*target)) {
		snprintf(needs, sizeof needs, "%s", type == BPF_PROG_TYPE_EXT ? "freplace needs a target program"
		                                   : type == BPF_PROG_TYPE_STRUCT_OPS ? "struct_ops needs its struct"
		                                                                     : "attach target given at run time");
		emit_prog("-", "-", sec, &load, &att, needs, "");
		return;
	}
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = eat);
	if (strstr(sec, ".s/") || !strcmp(sec + strlen(sec) - (strlen(sec) >= 2 ? 2 : 0), ".s"))
		o.prog_flags |= BPF_F_SLEEPABLE;
	if (btf_target) {
		int id = libbpf_find_vmlinux_btf_id(target, eat);
		if (id < 0) {
			/* libbpf's object loader reports a missing attach target as -ESRCH
			 * (libbpf_find_attach_btf_id); report this path the same way */
			load.status = "error";
			load.err = id == -ENOENT ? ESRCH : -id;
			reason_line(load.msg, sizeof load.msg);
			if (!load.msg[0]) snprintf(load.msg, sizeof load.msg, "no BTF type for '%s' in vmlinux BTF", target);
			emit_prog("-", "-", sec, &load, &att, needs, "");
			return;
		}
		o.attach_btf_id = id;
	}
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	long t0 = now_usec();
	int fd = bpf_prog_load(type, NULL, "GPL", insns, 2, &o);
	load.usec = now_usec() - t0;
	if (fd < 0) {
		int e = errno;
		vlog[0] = 0;
		LIBBPF_OPTS(bpf_prog_load_opts, o2, .expected_attach_type = eat, .attach_btf_id = o.attach_btf_id,
		            .prog_flags = o.prog_flags, .log_buf = vlog, .log_size = sizeof vlog, .log_level = 1);
		int fd2 = bpf_prog_load(type, NULL, "GPL", insns, 2, &o2);
		if (fd2 >= 0) close(fd2);
		size_t n = strlen(vlog);
		if (n + 1 > msgs_cap) {
			msgs = realloc(msgs, n + 1);
			msgs_cap = n + 1;
		}
		memcpy(msgs, vlog, n + 1);
		msgs_len = n;
		load.status = "error";
		load.err = e;
		reason_line(load.msg, sizeof load.msg);
		if (!load.msg[0]) snprintf(load.msg, sizeof load.msg, "bpf_prog_load: %s", strerror(e));
		emit_prog("-", "-", sec, &load, &att, needs, "");
		return;
	}
	load.status = "ok";
	if (attach) {
		int r = 1;
		char why[512] = "";
		t0 = now_usec();
		if (btf_target && eat != BPF_TRACE_ITER) {
			int lfd = bpf_raw_tracepoint_open(NULL, fd);
			r = lfd < 0 ? -errno : (close(lfd), 0);
			if (r) snprintf(why, sizeof why, "BPF_RAW_TRACEPOINT_OPEN: %s", strerror(-r));
		} else if (btf_target) {
			int lfd = bpf_link_create(fd, 0, BPF_TRACE_ITER, NULL);
			r = lfd < 0 ? -errno : (close(lfd), 0);
			if (r) snprintf(why, sizeof why, "BPF_LINK_CREATE: %s", strerror(-r));
		} else if (type == BPF_PROG_TYPE_RAW_TRACEPOINT && *target) {
			int lfd = bpf_raw_tracepoint_open(target, fd);
			r = lfd < 0 ? -errno : (close(lfd), 0);
			if (r) snprintf(why, sizeof why, "BPF_RAW_TRACEPOINT_OPEN('%s'): %s", target, strerror(-r));
		} else if (type == BPF_PROG_TYPE_KPROBE && *target &&
		           (starts_with(sec, "kprobe/") || starts_with(sec, "kretprobe/"))) {
			r = attach_kprobe_pmu(fd, target, starts_with(sec, "kretprobe/"), why, sizeof why);
		} else if (type == BPF_PROG_TYPE_TRACEPOINT && *target && strchr(target, '/')) {
			r = attach_tracepoint(fd, target, why, sizeof why);
		} else {
			snprintf(needs, sizeof needs, "attach target given at run time (section '%s')", sec);
		}
		att.usec = now_usec() - t0;
		if (r == 0) att.status = "ok";
		else if (r < 0) {
			att.status = "error";
			att.err = -r;
			snprintf(att.msg, sizeof att.msg, "%s", why);
		}
	}
	close(fd);
	emit_prog("-", "-", sec, &load, &att, needs, "");
}

/* ---- main ------------------------------------------------------------------------- */

int main(int argc, char **argv) {
	libbpf_set_print(print_fn);
	if (argc == 3 && !strcmp(argv[1], "--open-only")) {
		struct bpf_object *obj = bpf_object__open_file(argv[2], NULL);
		long err = libbpf_get_error(obj);
		if (!obj || err) {
			char why[1024];
			reason_line(why, sizeof why);
			int e = (int)(err < 0 ? -err : errno);
			printf("%s (%s)\n", why[0] ? why : strerror(e), errno_name(e));
			return 1;
		}
		int n = 0;
		struct bpf_program *p;
		bpf_object__for_each_program(p, obj) n++;
		printf("%d\n", n);
		bpf_object__close(obj);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s PLAN_FILE | --open-only OBJECT\n", argv[0]);
		return 2;
	}
	FILE *plan = fopen(argv[1], "r");
	if (!plan) {
		perror(argv[1]);
		return 2;
	}
	char line[4096], nonce[128] = "-";
	bool attach = true, begun = false;
	int objects = 0, progs = 0;
	while (fgets(line, sizeof line, plan)) {
		line[strcspn(line, "\n")] = 0;
		char *tab = strchr(line, '\t');
		if (!tab) continue;
		*tab = 0;
		const char *key = line, *val = tab + 1;
		if (!strcmp(key, "nonce")) snprintf(nonce, sizeof nonce, "%s", val);
		else if (!strcmp(key, "attach")) attach = !strcmp(val, "1");
		else {
			if (!begun) {
				printf("KCV1\tBEGIN\t%s\n", nonce);
				fflush(stdout);
				begun = true;
			}
			if (!strcmp(key, "object")) {
				char idx[16];
				snprintf(idx, sizeof idx, "%d", objects++);
				progs += run_object(idx, val, attach);
			} else if (!strcmp(key, "prog")) {
				run_section(val, attach);
				progs++;
			}
		}
	}
	fclose(plan);
	if (!begun) printf("KCV1\tBEGIN\t%s\n", nonce);
	printf("KCV1\tEND\t%s\t%d\n", nonce, progs);
	fflush(stdout);
	return 0;
}
