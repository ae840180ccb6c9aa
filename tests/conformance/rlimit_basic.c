// covers: prlimit64 getrlimit setrlimit
#include "qc.h"
#include <sys/resource.h>

int main(void) {
    struct rlimit r, o;
    qc_rep("getrlimit NOFILE", syscall(SYS_getrlimit, RLIMIT_NOFILE, &r));
    qc_yes("soft <= hard", r.rlim_cur <= r.rlim_max);
    struct rlimit n = {64, r.rlim_max};
    qc_rep("setrlimit NOFILE soft 64", syscall(SYS_setrlimit, RLIMIT_NOFILE, &n));
    syscall(SYS_getrlimit, RLIMIT_NOFILE, &o);
    qc_yes("soft now 64", o.rlim_cur == 64 && o.rlim_max == r.rlim_max);
    qc_rep("F_DUPFD at limit", syscall(SYS_fcntl, 0, F_DUPFD, 64));
    struct rlimit bad = {100, 50};
    qc_rep("setrlimit soft > hard", syscall(SYS_setrlimit, RLIMIT_NOFILE, &bad));
    qc_rep("getrlimit bad resource", syscall(SYS_getrlimit, 99, &r));
    qc_rep("setrlimit bad resource", syscall(SYS_setrlimit, 99, &n));
    qc_rep("getrlimit efault", syscall(SYS_getrlimit, RLIMIT_NOFILE, BADPTR1));
    qc_rep("setrlimit efault", syscall(SYS_setrlimit, RLIMIT_NOFILE, BADPTRK));
    struct rlimit huge = {1UL << 40, 1UL << 40};
    qc_rep("NOFILE above nr_open", syscall(SYS_setrlimit, RLIMIT_NOFILE, &huge));
    struct rlimit64 a = {1000, 2000}, b;
    qc_rep("prlimit64 set CORE", syscall(SYS_prlimit64, 0L, RLIMIT_CORE, &a, &b));
    qc_yes("old CORE hard >= 2000 or infinity", b.rlim_max >= 2000);
    qc_rep("prlimit64 get CORE", syscall(SYS_prlimit64, 0L, RLIMIT_CORE, NULL, &b));
    printf("CORE: %lu %lu\n", (unsigned long)b.rlim_cur, (unsigned long)b.rlim_max);
    qc_rep("prlimit64 own pid", syscall(SYS_prlimit64, syscall(SYS_getpid), RLIMIT_CORE, NULL, &b));
    qc_rep("prlimit64 no such pid", syscall(SYS_prlimit64, 999999L, RLIMIT_CORE, NULL, &b));
    qc_rep("prlimit64 neither", syscall(SYS_prlimit64, 0L, RLIMIT_CORE, NULL, NULL));
    qc_rep("prlimit64 efault new", syscall(SYS_prlimit64, 0L, RLIMIT_CORE, BADPTR1, &b));
    qc_rep("prlimit64 efault old", syscall(SYS_prlimit64, 0L, RLIMIT_CORE, NULL, BADPTR1));
    qc_rep("prlimit64 bad resource", syscall(SYS_prlimit64, 0L, 16L, NULL, &b));
    struct rlimit64 lower = {500, 1500};
    qc_rep("lower CORE hard", syscall(SYS_prlimit64, 0L, RLIMIT_CORE, &lower, NULL));
    // Raising a hard limit needs CAP_SYS_RESOURCE, which root in a container
    // may lack natively; only the unprivileged refusal is compared.
    struct rlimit64 raise = {500, 3000};
    if (syscall(SYS_setresuid, -1L, 1000L, -1L) != 0) qc_die("seteuid");
    qc_rep("euid 1000: raise hard", syscall(SYS_prlimit64, 0L, RLIMIT_CORE, &raise, NULL));
    struct rlimit64 lowest = {100, 1500};
    qc_rep("euid 1000: lower soft", syscall(SYS_prlimit64, 0L, RLIMIT_CORE, &lowest, NULL));
    if (syscall(SYS_setresuid, -1L, 0L, -1L) != 0) qc_die("seteuid back");
    syscall(SYS_getrlimit, RLIMIT_CORE, &r);
    printf("getrlimit CORE: %lu %lu\n", (unsigned long)r.rlim_cur, (unsigned long)r.rlim_max);
    return 0;
}
