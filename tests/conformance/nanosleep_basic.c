// covers: nanosleep clock_nanosleep
#include "qc.h"
#include <time.h>

static long long mono(void) {
    struct timespec t;
    syscall(SYS_clock_gettime, (long)CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
    struct timespec req = {0, 20000000}, rem = {7, 7};
    long long t0 = mono();
    qc_rep("nanosleep 20ms", syscall(SYS_nanosleep, &req, &rem));
    qc_yes("slept at least 20ms", mono() - t0 >= 20000000);
    qc_yes("rem untouched when not interrupted", rem.tv_sec == 7 && rem.tv_nsec == 7);
    qc_rep("nanosleep NULL rem", syscall(SYS_nanosleep, &req, NULL));
    struct timespec zero = {0, 0};
    qc_rep("nanosleep zero", syscall(SYS_nanosleep, &zero, NULL));
    struct timespec bad = {0, 1000000000};
    qc_rep("nanosleep nsec 1e9", syscall(SYS_nanosleep, &bad, NULL));
    struct timespec neg = {-1, 0};
    qc_rep("nanosleep negative sec", syscall(SYS_nanosleep, &neg, NULL));
    struct timespec negns = {0, -1};
    qc_rep("nanosleep negative nsec", syscall(SYS_nanosleep, &negns, NULL));
    qc_rep("nanosleep efault", syscall(SYS_nanosleep, BADPTR1, NULL));
    t0 = mono();
    qc_rep("clock_nanosleep monotonic rel", syscall(SYS_clock_nanosleep, (long)CLOCK_MONOTONIC, 0L, &req, NULL));
    qc_yes("slept at least 20ms", mono() - t0 >= 20000000);
    struct timespec abs;
    syscall(SYS_clock_gettime, (long)CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 30000000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    qc_rep("clock_nanosleep abstime", syscall(SYS_clock_nanosleep, (long)CLOCK_MONOTONIC, (long)TIMER_ABSTIME, &abs, NULL));
    struct timespec now;
    syscall(SYS_clock_gettime, (long)CLOCK_MONOTONIC, &now);
    qc_yes("woke after deadline", now.tv_sec > abs.tv_sec || (now.tv_sec == abs.tv_sec && now.tv_nsec >= abs.tv_nsec));
    struct timespec past = {0, 1};
    t0 = mono();
    qc_rep("clock_nanosleep abstime in past", syscall(SYS_clock_nanosleep, (long)CLOCK_MONOTONIC, (long)TIMER_ABSTIME, &past, NULL));
    qc_yes("past deadline returns at once", mono() - t0 < 1000000000);
    struct timespec rt;
    syscall(SYS_clock_gettime, (long)CLOCK_REALTIME, &rt);
    rt.tv_nsec = 0; rt.tv_sec += 0;
    qc_rep("clock_nanosleep realtime abs", syscall(SYS_clock_nanosleep, (long)CLOCK_REALTIME, (long)TIMER_ABSTIME, &rt, NULL));
    qc_rep("clock_nanosleep boottime", syscall(SYS_clock_nanosleep, (long)CLOCK_BOOTTIME, 0L, &zero, NULL));
    qc_rep("clock_nanosleep process cputime", syscall(SYS_clock_nanosleep, (long)CLOCK_PROCESS_CPUTIME_ID, 0L, &zero, NULL));
    qc_rep("clock_nanosleep thread cputime", syscall(SYS_clock_nanosleep, (long)CLOCK_THREAD_CPUTIME_ID, 0L, &req, NULL));
    qc_rep("clock_nanosleep monotonic_raw", syscall(SYS_clock_nanosleep, (long)CLOCK_MONOTONIC_RAW, 0L, &req, NULL));
    qc_rep("clock_nanosleep coarse", syscall(SYS_clock_nanosleep, (long)CLOCK_MONOTONIC_COARSE, 0L, &req, NULL));
    qc_rep("clock_nanosleep clock 42", syscall(SYS_clock_nanosleep, 42L, 0L, &req, NULL));
    qc_rep("clock_nanosleep bad nsec", syscall(SYS_clock_nanosleep, (long)CLOCK_MONOTONIC, 0L, &bad, NULL));
    qc_rep("clock_nanosleep efault", syscall(SYS_clock_nanosleep, (long)CLOCK_MONOTONIC, 0L, BADPTRK, NULL));
    return 0;
}
