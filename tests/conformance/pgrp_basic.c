// covers: getpgrp getpgid getsid setpgid setsid
// Runs as a session leader (pid 1 under quark; natively the runner starts a
// new session), so the group and session ids equal the pid.
#include "qc.h"

int main(void) {
    long pid = syscall(SYS_getpid);
    qc_yes("getpgrp is pid", syscall(SYS_getpgrp) == pid);
    qc_yes("getpgid(0) is pid", syscall(SYS_getpgid, 0L) == pid);
    qc_yes("getpgid(pid) is pid", syscall(SYS_getpgid, pid) == pid);
    qc_yes("getsid(0) is pid", syscall(SYS_getsid, 0L) == pid);
    qc_yes("getsid(pid) is pid", syscall(SYS_getsid, pid) == pid);
    qc_rep("getpgid no such pid", syscall(SYS_getpgid, 999999L));
    qc_rep("getsid no such pid", syscall(SYS_getsid, 999999L));
    qc_rep("getpgid negative", syscall(SYS_getpgid, -5L));
    qc_rep("setsid as group leader", syscall(SYS_setsid));
    qc_rep("setpgid session leader", syscall(SYS_setpgid, 0L, 0L));
    qc_rep("setpgid negative pgid", syscall(SYS_setpgid, 0L, -1L));
    qc_rep("setpgid no such pid", syscall(SYS_setpgid, 999999L, 0L));
    qc_yes("ids unchanged", syscall(SYS_getpgrp) == pid && syscall(SYS_getsid, 0L) == pid);
    return 0;
}
