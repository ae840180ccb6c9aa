// covers: prctl
#include "qc.h"
#include <sys/prctl.h>

int main(void) {
    char name[32];
    qc_rep("PR_SET_NAME", syscall(SYS_prctl, PR_SET_NAME, "conformance-long-name", 0L, 0L, 0L));
    memset(name, 'x', sizeof name);
    qc_rep("PR_GET_NAME", syscall(SYS_prctl, PR_GET_NAME, name, 0L, 0L, 0L));
    printf("name: %s (byte 15 is NUL: %d)\n", name, name[15] == 0);
    qc_rep("PR_SET_NAME short", syscall(SYS_prctl, PR_SET_NAME, "qc", 0L, 0L, 0L));
    syscall(SYS_prctl, PR_GET_NAME, name, 0L, 0L, 0L);
    printf("name: %s\n", name);
    qc_rep("PR_SET_NAME efault", syscall(SYS_prctl, PR_SET_NAME, BADPTR1, 0L, 0L, 0L));
    qc_rep("PR_GET_NAME efault", syscall(SYS_prctl, PR_GET_NAME, BADPTRK, 0L, 0L, 0L));
    int sig = 99;
    qc_rep("PR_GET_PDEATHSIG", syscall(SYS_prctl, PR_GET_PDEATHSIG, &sig, 0L, 0L, 0L));
    printf("pdeathsig: %d\n", sig);
    qc_rep("PR_SET_PDEATHSIG 9", syscall(SYS_prctl, PR_SET_PDEATHSIG, 9L, 0L, 0L, 0L));
    syscall(SYS_prctl, PR_GET_PDEATHSIG, &sig, 0L, 0L, 0L);
    printf("pdeathsig: %d\n", sig);
    qc_rep("PR_SET_PDEATHSIG 65", syscall(SYS_prctl, PR_SET_PDEATHSIG, 65L, 0L, 0L, 0L));
    qc_rep("PR_SET_PDEATHSIG 0", syscall(SYS_prctl, PR_SET_PDEATHSIG, 0L, 0L, 0L, 0L));
    qc_rep("PR_GET_DUMPABLE", syscall(SYS_prctl, PR_GET_DUMPABLE, 0L, 0L, 0L, 0L));
    qc_rep("PR_SET_DUMPABLE 0", syscall(SYS_prctl, PR_SET_DUMPABLE, 0L, 0L, 0L, 0L));
    qc_rep("PR_GET_DUMPABLE", syscall(SYS_prctl, PR_GET_DUMPABLE, 0L, 0L, 0L, 0L));
    qc_rep("PR_SET_DUMPABLE 2", syscall(SYS_prctl, PR_SET_DUMPABLE, 2L, 0L, 0L, 0L));
    qc_rep("PR_SET_DUMPABLE 1", syscall(SYS_prctl, PR_SET_DUMPABLE, 1L, 0L, 0L, 0L));
    qc_rep("PR_GET_NO_NEW_PRIVS", syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L));
    qc_rep("PR_SET_NO_NEW_PRIVS bad arg", syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 1L, 0L, 0L));
    qc_rep("PR_SET_NO_NEW_PRIVS", syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L));
    qc_rep("PR_GET_NO_NEW_PRIVS", syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L));
    qc_rep("PR_GET_SECCOMP", syscall(SYS_prctl, PR_GET_SECCOMP, 0L, 0L, 0L, 0L));
    qc_rep("PR_CAPBSET_READ chown", syscall(SYS_prctl, PR_CAPBSET_READ, 0L, 0L, 0L, 0L));
    qc_rep("PR_CAPBSET_READ 999", syscall(SYS_prctl, PR_CAPBSET_READ, 999L, 0L, 0L, 0L));
    qc_rep("prctl unknown option", syscall(SYS_prctl, 0x7fff0000L, 0L, 0L, 0L, 0L));
    return 0;
}
