// covers: getpriority setpriority sched_setparam sched_getparam sched_setscheduler sched_getscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval getcpu
#include "qc.h"
#include <sched.h>
#include <sys/resource.h>

int main(void) {
    qc_enter("sched_params");
    struct sched_param sp = {0};
    qc_rep("sched_getscheduler self", syscall(SYS_sched_getscheduler, 0L));
    qc_rep("sched_getparam self", syscall(SYS_sched_getparam, 0L, &sp));
    printf("priority: %d\n", sp.sched_priority);
    qc_rep("sched_setparam 0", syscall(SYS_sched_setparam, 0L, &sp));
    qc_rep("sched_setscheduler OTHER", syscall(SYS_sched_setscheduler, 0L, (long)SCHED_OTHER, &sp));
    sp.sched_priority = 5;
    qc_rep("sched_setscheduler OTHER prio 5", syscall(SYS_sched_setscheduler, 0L, (long)SCHED_OTHER, &sp));
    qc_rep("sched_setscheduler bad policy", syscall(SYS_sched_setscheduler, 0L, 77L, &sp));
    qc_rep("sched_getparam no such pid", syscall(SYS_sched_getparam, 999999L, &sp));
    qc_rep("sched_getparam efault", syscall(SYS_sched_getparam, 0L, BADPTR1));
    qc_rep("max FIFO", syscall(SYS_sched_get_priority_max, (long)SCHED_FIFO));
    qc_rep("min FIFO", syscall(SYS_sched_get_priority_min, (long)SCHED_FIFO));
    qc_rep("max OTHER", syscall(SYS_sched_get_priority_max, (long)SCHED_OTHER));
    qc_rep("max bad policy", syscall(SYS_sched_get_priority_max, 77L));
    struct timespec ts;
    qc_rep("sched_rr_get_interval", syscall(SYS_sched_rr_get_interval, 0L, &ts));
    unsigned cpu = 999, node = 999;
    qc_rep("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
    qc_yes("getcpu gave a cpu", cpu < 1024 && node < 1024);
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, 0);
    printf("getpriority: %d errno %d\n", prio, errno);
    qc_rep("setpriority 5", syscall(SYS_setpriority, (long)PRIO_PROCESS, 0L, 5L));
    printf("getpriority after: %d\n", getpriority(PRIO_PROCESS, 0));
    qc_rep("setpriority bad which", syscall(SYS_setpriority, 9L, 0L, 0L));
    qc_leave();
    return 0;
}
