// covers: setuid setgid setreuid setregid setresuid setresgid setfsuid setfsgid
#include "qc.h"

static void ids(const char *label) {
    unsigned r, e, s, gr, ge, gs;
    syscall(SYS_getresuid, &r, &e, &s);
    syscall(SYS_getresgid, &gr, &ge, &gs);
    long fsu = syscall(SYS_setfsuid, -1L), fsg = syscall(SYS_setfsgid, -1L);
    printf("%s: uid %u/%u/%u fs %ld  gid %u/%u/%u fs %ld\n", label, r, e, s, fsu, gr, ge, gs, fsg);
}

int main(void) {
    ids("start");
    // Group changes first, while still privileged.
    qc_rep("setresgid 10 20 30", syscall(SYS_setresgid, 10L, 20L, 30L));
    ids("after setresgid");
    qc_rep("setregid -1 40", syscall(SYS_setregid, -1L, 40L));
    ids("after setregid");
    qc_rep("setgid 50", syscall(SYS_setgid, 50L));
    ids("after setgid");
    qc_rep("setfsgid 7 returns old", syscall(SYS_setfsgid, 7L));
    ids("after setfsgid");
    qc_rep("setgid -1", syscall(SYS_setgid, -1L));
    // Temporarily drop the effective uid and come back through the saved uid.
    qc_rep("setresuid -1 1000 -1", syscall(SYS_setresuid, -1L, 1000L, -1L));
    ids("euid 1000");
    qc_rep("unprivileged setgid 60", syscall(SYS_setgid, 60L));
    qc_rep("unprivileged setresgid", syscall(SYS_setresgid, 1L, 2L, 3L));
    qc_rep("unprivileged setuid 2000", syscall(SYS_setuid, 2000L));
    qc_rep("unprivileged setfsuid 2000 (no change)", syscall(SYS_setfsuid, 2000L));
    qc_rep("unprivileged setfsuid 0 (saved uid)", syscall(SYS_setfsuid, 0L));
    ids("after setfsuid");
    qc_rep("setreuid -1 0 (saved uid)", syscall(SYS_setreuid, -1L, 0L));
    ids("back to euid 0");
    qc_rep("setreuid 1001 1002", syscall(SYS_setreuid, 1001L, 1002L));
    ids("after setreuid");
    qc_rep("setreuid back to 0 refused", syscall(SYS_setreuid, 0L, 0L));
    qc_rep("setresuid among own ids", syscall(SYS_setresuid, 1002L, 1001L, -1L));
    ids("after setresuid swap");
    qc_rep("setuid to real uid", syscall(SYS_setuid, 1002L));
    ids("after setuid");
    qc_rep("setuid 0 refused", syscall(SYS_setuid, 0L));
    qc_rep("setresuid 0 refused", syscall(SYS_setresuid, -1L, 0L, -1L));
    qc_rep("setuid -1", syscall(SYS_setuid, -1L));
    return 0;
}
