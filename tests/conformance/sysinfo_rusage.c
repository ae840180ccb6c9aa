// covers: sysinfo getrusage times
#include "qc.h"
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/times.h>

int main(void) {
    struct sysinfo si;
    memset(&si, 0xff, sizeof si);
    qc_rep("sysinfo", syscall(SYS_sysinfo, &si));
    qc_yes("uptime >= 1", si.uptime >= 1);
    qc_yes("totalram > 0", si.totalram > 0);
    qc_yes("freeram <= totalram", si.freeram <= si.totalram);
    qc_yes("procs >= 1", si.procs >= 1);
    qc_yes("mem_unit >= 1", si.mem_unit >= 1);
    qc_rep("sysinfo efault", syscall(SYS_sysinfo, BADPTR1));
    struct rusage ru;
    for (volatile int i = 0; i < 20000000; i++) {}
    qc_rep("getrusage SELF", syscall(SYS_getrusage, RUSAGE_SELF, &ru));
    qc_yes("user+sys time > 0", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec > 0);
    qc_yes("usec fields in range", ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec < 1000000);
    qc_rep("getrusage THREAD", syscall(SYS_getrusage, RUSAGE_THREAD, &ru));
    qc_rep("getrusage CHILDREN", syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
    qc_yes("no children time", ru.ru_utime.tv_sec == 0 && ru.ru_utime.tv_usec == 0);
    qc_rep("getrusage bad who", syscall(SYS_getrusage, 7L, &ru));
    qc_rep("getrusage efault", syscall(SYS_getrusage, RUSAGE_SELF, BADPTR1));
    struct tms t;
    long r1 = syscall(SYS_times, &t);
    qc_yes("times returns ticks", r1 != -1);
    qc_yes("no children ticks", t.tms_cutime == 0 && t.tms_cstime == 0);
    long r0 = syscall(SYS_times, NULL);
    qc_yes("times(NULL) works", r0 != -1 && r0 >= r1);
    return 0;
}
