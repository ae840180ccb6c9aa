// covers: clock_gettime clock_getres gettimeofday time
#include "qc.h"
#include <sys/time.h>
#include <time.h>

// Raw syscalls throughout: natively glibc would answer from the vDSO.
static long long ns(struct timespec *t) { return t->tv_sec * 1000000000LL + t->tv_nsec; }

int main(void) {
    int clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                    CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
                    CLOCK_TAI};
    // The _ALARM clocks are left out: Linux answers EINVAL for them on hosts
    // without an RTC (as in Firecracker VMs), so the native result varies.
    struct timespec a, b, r;
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "clock %d gettime", clocks[i]);
        long rc = qc_rep(label, syscall(SYS_clock_gettime, (long)clocks[i], &a));
        if (rc == 0) printf("clock %d nsec in range: %s\n", clocks[i], a.tv_nsec >= 0 && a.tv_nsec < 1000000000 ? "yes" : "no");
        snprintf(label, sizeof label, "clock %d getres", clocks[i]);
        rc = qc_rep(label, syscall(SYS_clock_getres, (long)clocks[i], &r));
        if (rc == 0) printf("clock %d res positive and <= 10ms: %s\n", clocks[i],
                            ns(&r) > 0 && ns(&r) <= 10000000 ? "yes" : "no");
    }
    syscall(SYS_clock_gettime, (long)CLOCK_MONOTONIC, &a);
    for (volatile int i = 0; i < 1000000; i++) {}
    syscall(SYS_clock_gettime, (long)CLOCK_MONOTONIC, &b);
    qc_yes("monotonic increases", ns(&b) > ns(&a));
    syscall(SYS_clock_gettime, (long)CLOCK_BOOTTIME, &r);
    qc_yes("boottime >= monotonic", ns(&r) >= ns(&b));
    syscall(SYS_clock_gettime, (long)CLOCK_PROCESS_CPUTIME_ID, &a);
    for (volatile int i = 0; i < 5000000; i++) {}
    syscall(SYS_clock_gettime, (long)CLOCK_PROCESS_CPUTIME_ID, &b);
    qc_yes("process cputime increases", ns(&b) > ns(&a));
    syscall(SYS_clock_gettime, (long)CLOCK_REALTIME, &a);
    qc_yes("realtime after 2020", a.tv_sec > 1577836800L);
    clockid_t cpu;
    clock_getcpuclockid(0, &cpu);
    qc_rep("cpu clock of self", syscall(SYS_clock_gettime, (long)cpu, &a));
    qc_rep("clock 42", syscall(SYS_clock_gettime, 42L, &a));
    qc_rep("clock 10", syscall(SYS_clock_gettime, 10L, &a));
    qc_rep("clock -1", syscall(SYS_clock_gettime, -1L, &a));
    qc_rep("getres clock 42", syscall(SYS_clock_getres, 42L, &r));
    qc_rep("getres NULL", syscall(SYS_clock_getres, (long)CLOCK_MONOTONIC, NULL));
    qc_rep("gettime efault", syscall(SYS_clock_gettime, (long)CLOCK_REALTIME, BADPTR1));
    qc_rep("gettime efault kernel", syscall(SYS_clock_gettime, (long)CLOCK_MONOTONIC, BADPTRK));
    qc_rep("getres efault", syscall(SYS_clock_getres, (long)CLOCK_MONOTONIC, BADPTR1));
    syscall(SYS_clock_gettime, (long)CLOCK_REALTIME, &a);
    struct timeval tv;
    struct timezone tz = {99, 99};
    qc_rep("gettimeofday", syscall(SYS_gettimeofday, &tv, &tz));
    qc_yes("usec in range", tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    qc_yes("agrees with realtime", tv.tv_sec >= a.tv_sec - 1 && tv.tv_sec <= a.tv_sec + 5);
    qc_rep("gettimeofday NULL tz", syscall(SYS_gettimeofday, &tv, NULL));
    qc_rep("gettimeofday both NULL", syscall(SYS_gettimeofday, NULL, NULL));
    qc_rep("gettimeofday efault", syscall(SYS_gettimeofday, BADPTR1, NULL));
    time_t t1 = 0;
    long t0 = syscall(SYS_time, NULL);
    long t2 = syscall(SYS_time, &t1);
    qc_yes("time(NULL) plausible", t0 >= a.tv_sec - 1 && t0 <= a.tv_sec + 5);
    qc_yes("time(&t) stores result", t1 == t2);
    qc_rep("time efault", syscall(SYS_time, BADPTR1));
    return 0;
}
