// covers: sched_getaffinity sched_setaffinity sched_yield
#include "qc.h"

int main(void) {
    unsigned long mask[16] = {0};
    long n = syscall(SYS_sched_getaffinity, 0L, sizeof mask, mask);
    qc_yes("getaffinity returns multiple of 8", n > 0 && n % 8 == 0);
    qc_yes("cpu 0 allowed", mask[0] & 1);
    qc_rep("getaffinity len 4", syscall(SYS_sched_getaffinity, 0L, 4L, mask));
    qc_rep("getaffinity len 0", syscall(SYS_sched_getaffinity, 0L, 0L, mask));
    qc_rep("getaffinity len 12", syscall(SYS_sched_getaffinity, 0L, 12L, mask));
    qc_rep("getaffinity efault", syscall(SYS_sched_getaffinity, 0L, sizeof mask, BADPTR1));
    qc_rep("getaffinity no such pid", syscall(SYS_sched_getaffinity, 999999L, sizeof mask, mask));
    n = syscall(SYS_sched_getaffinity, syscall(SYS_getpid), sizeof mask, mask);
    qc_yes("getaffinity own pid", n > 0);
    unsigned long one = 1;
    qc_rep("setaffinity cpu 0", syscall(SYS_sched_setaffinity, 0L, sizeof one, &one));
    memset(mask, 0, sizeof mask);
    syscall(SYS_sched_getaffinity, 0L, sizeof mask, mask);
    qc_yes("mask is cpu 0 only", mask[0] == 1);
    unsigned long none = 0;
    qc_rep("setaffinity empty", syscall(SYS_sched_setaffinity, 0L, sizeof none, &none));
    unsigned long far[16] = {0};
    far[15] = 1UL << 63;
    qc_rep("setaffinity only nonexistent cpu", syscall(SYS_sched_setaffinity, 0L, sizeof far, far));
    qc_rep("setaffinity efault", syscall(SYS_sched_setaffinity, 0L, 8L, BADPTR1));
    qc_rep("setaffinity no such pid", syscall(SYS_sched_setaffinity, 999999L, 8L, &one));
    unsigned long all = ~0UL;
    qc_rep("setaffinity all", syscall(SYS_sched_setaffinity, 0L, sizeof all, &all));
    qc_rep("sched_yield", syscall(SYS_sched_yield));
    return 0;
}
