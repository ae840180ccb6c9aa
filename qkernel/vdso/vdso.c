/*
 * quark's vDSO: the time calls a program makes most, served in user space.
 *
 * QKernel maps one data page ("vvar", layout in vvar.py: keep both in step)
 * read-only just below this image. It holds a TSC -> nanoseconds conversion
 * for the guest's CLOCK_REALTIME and CLOCK_MONOTONIC, under a sequence count
 * the kernel makes odd while it rewrites the page. When the page says the TSC
 * cannot be used (mode 0), or for any clock not computed here, the functions
 * make the real system call, so the answer is always the kernel's.
 *
 * Built with -nostdlib: no libc, no relocations, no writable data.
 */
#include <stdint.h>
#include <stddef.h>

struct vvar {
	volatile uint32_t seq;          /* odd while the kernel writes */
	volatile uint32_t mode;         /* 1: TSC conversion valid; 0: use syscalls */
	volatile uint64_t tsc_base;     /* guest TSC at the moment the bases were taken */
	volatile uint64_t mono_base_ns; /* guest CLOCK_MONOTONIC at tsc_base */
	volatile uint64_t real_base_ns; /* CLOCK_REALTIME at tsc_base */
	volatile uint64_t mult;         /* ns = base + ((tsc - tsc_base) * mult) >> shift */
	volatile uint32_t shift;
	volatile uint32_t pad;
};

struct kernel_timespec { int64_t tv_sec; int64_t tv_nsec; };
struct kernel_timeval { int64_t tv_sec; int64_t tv_usec; };
struct kernel_timezone { int tz_minuteswest; int tz_dsttime; };

/* The image starts with its ELF header; the data page is the page before. */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define CLOCK_TAI 11
#define NSEC_PER_SEC 1000000000ULL
#define COARSE_RES_NS 4000000
#define TSC_SKEW_MAX (1ULL << 24)       /* ~6 ms of cycles */

#define NR_gettimeofday 96
#define NR_time 201
#define NR_clock_gettime 228
#define NR_clock_getres 229
#define NR_getcpu 309

static inline const struct vvar *vvar(void)
{
	uintptr_t base;
	/* Through a register: the compiler may not reason about bytes before
	 * __ehdr_start (they are not its object, but they are mapped). */
	__asm__ ("" : "=r"(base) : "0"(__ehdr_start));
	return (const struct vvar *)(base - 4096);
}

static inline long sys3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile ("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
			  : "rcx", "r11", "memory");
	return ret;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	/* lfence: the TSC must not be read before the sequence count. */
	__asm__ volatile ("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Nanoseconds of the realtime (which=0) or monotonic (which=1) clock;
 * returns 0 when the kernel must be asked instead. */
static int read_ns(int which, uint64_t *out)
{
	const struct vvar *v = vvar();
	uint32_t seq;
	uint64_t ns;
	do {
		seq = v->seq;
		if (seq & 1) {
			__asm__ volatile ("pause");
			continue;
		}
		__asm__ volatile ("" ::: "memory");
		if (v->mode != 1)
			return 0;
		uint64_t delta = rdtsc() - v->tsc_base;
		/* Far behind the base: this TSC is not the one the kernel measured
		 * (a hardware KVM guest TSC starting at 0 whose offset the kernel
		 * was not told): ask the kernel. A few cycles behind: another
		 * CPU's TSC, read as the base itself. */
		if ((int64_t)delta < -(int64_t)TSC_SKEW_MAX)
			return 0;
		if ((int64_t)delta < 0)
			delta = 0;
		ns = (which ? v->mono_base_ns : v->real_base_ns)
		     + (uint64_t)(((unsigned __int128)delta * v->mult) >> v->shift);
		__asm__ volatile ("" ::: "memory");
	} while ((seq & 1) || seq != v->seq);
	*out = ns;
	return 1;
}

static int clock_kind(long clock)
{
	switch (clock) {
	case CLOCK_REALTIME: case CLOCK_REALTIME_COARSE: case CLOCK_TAI:
		return 0;
	case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
		return 1;                       /* QKernel's boottime is its monotonic time */
	default:
		return -1;
	}
}

int __vdso_clock_gettime(long clock, struct kernel_timespec *ts)
{
	int kind = clock_kind(clock);
	uint64_t ns;
	if (kind < 0 || !read_ns(kind, &ns))
		return (int)sys3(NR_clock_gettime, clock, (long)ts, 0);
	ts->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
	ts->tv_nsec = (int64_t)(ns % NSEC_PER_SEC);
	return 0;
}

int __vdso_gettimeofday(struct kernel_timeval *tv, struct kernel_timezone *tz)
{
	uint64_t ns;
	if (!read_ns(0, &ns))
		return (int)sys3(NR_gettimeofday, (long)tv, (long)tz, 0);
	if (tv) {
		tv->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
		tv->tv_usec = (int64_t)(ns % NSEC_PER_SEC / 1000);
	}
	if (tz) {                               /* the kernel's timezone is UTC */
		tz->tz_minuteswest = 0;
		tz->tz_dsttime = 0;
	}
	return 0;
}

long __vdso_time(long *t)
{
	uint64_t ns;
	if (!read_ns(0, &ns))
		return sys3(NR_time, (long)t, 0, 0);
	long sec = (long)(ns / NSEC_PER_SEC);
	if (t)
		*t = sec;
	return sec;
}

int __vdso_clock_getres(long clock, struct kernel_timespec *res)
{
	int kind = clock_kind(clock);
	if (kind < 0)
		return (int)sys3(NR_clock_getres, clock, (long)res, 0);
	if (res) {
		res->tv_sec = 0;
		res->tv_nsec = (clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE)
			       ? COARSE_RES_NS : 1;
	}
	return 0;
}

/* Which CPU runs the task is the kernel's to say (vCPUs move). */
long __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused)
{
	return sys3(NR_getcpu, (long)cpu, (long)node, (long)unused);
}

/* The names without prefix, as glibc and others also look them up. */
int clock_gettime(long, struct kernel_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct kernel_timeval *, struct kernel_timezone *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct kernel_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
