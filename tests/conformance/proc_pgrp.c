// covers: setpgid getpgid getsid prctl
#include "qc.h"
#include <sys/prctl.h>
#include <sys/wait.h>

int main(void) {
    qc_enter("proc_pgrp");
    int go[2], back[2], done[2];
    pipe(go);
    pipe(back);
    pipe(done);
    pid_t c = fork();
    if (c == 0) {
        char b;
        read(go[0], &b, 1);
        _exit(getpgrp() == getpid() ? 0 : 1);
    }
    qc_rep("setpgid child into its own group", syscall(SYS_setpgid, (long)c, 0L));
    qc_yes("getpgid child", syscall(SYS_getpgid, (long)c) == c);
    qc_yes("getsid child is ours", syscall(SYS_getsid, (long)c) == getsid(0));
    qc_rep("setpgid into a missing group", syscall(SYS_setpgid, (long)c, 999999L));
    qc_rep("setpgid not a child", syscall(SYS_setpgid, 1L == getpid() ? 999998L : 999998L, 0L));
    qc_rep("getpgid no such process", syscall(SYS_getpgid, 999997L));
    write(go[1], "x", 1);
    int st;
    waitpid(c, &st, 0);
    qc_yes("child saw its own group", WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* PR_SET_PDEATHSIG: the grandchild hears of its parent's death. */
    pid_t mid = fork();
    if (mid == 0) {
        pid_t g = fork();
        if (g == 0) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGUSR1);
            sigprocmask(SIG_BLOCK, &s, NULL);
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            write(back[1], "r", 1);
            int sig = 0;
            sigwait(&s, &sig);
            printf("grandchild got signal %d\n", sig);
            fflush(stdout);
            write(done[1], "d", 1);
            _exit(0);
        }
        char b;
        read(back[0], &b, 1);
        _exit(0);
    }
    close(done[1]);
    waitpid(mid, NULL, 0);
    char d;
    /* The grandchild says when it has printed (EOF if it died without). */
    qc_yes("grandchild reported", read(done[0], &d, 1) == 1);
    qc_leave();
    return 0;
}
