// covers: fork vfork clone clone3 wait4 waitid
#include "qc.h"
#include <linux/sched.h>
#include <sys/wait.h>

static volatile int chld_code, chld_status, chld_pid;
static void on_chld(int s, siginfo_t *si, void *uc) {
    (void)s; (void)uc;
    chld_code = si->si_code; chld_status = si->si_status; chld_pid = si->si_pid;
}

static int child_status(pid_t pid, int options) {
    int st = 0;
    long r = syscall(SYS_wait4, (long)pid, &st, (long)options, NULL);
    return r == pid ? st : -1;
}

int main(void) {
    qc_enter("proc_fork_wait");
    pid_t p = (pid_t)syscall(SYS_fork);
    if (p == 0) _exit(7);
    int st = child_status(p, 0);
    qc_yes("fork: child exited 7", WIFEXITED(st) && WEXITSTATUS(st) == 7);
    qc_rep("wait4 no children", syscall(SYS_wait4, -1L, &st, 0L, NULL));
    qc_rep("wait4 WNOHANG no children", syscall(SYS_wait4, -1L, &st, (long)WNOHANG, NULL));

    static volatile int shared = 0;
    p = vfork();
    if (p == 0) { shared = 42; _exit(3); }
    st = child_status(p, 0);
    qc_yes("vfork: parent waited for the child", WIFEXITED(st) && WEXITSTATUS(st) == 3);
    qc_yes("vfork: memory shared", shared == 42);

    int pipefd[2];
    pipe(pipefd);
    p = (pid_t)syscall(SYS_fork);
    if (p == 0) { char c; read(pipefd[0], &c, 1); _exit(5); }
    qc_yes("WNOHANG while running", syscall(SYS_wait4, (long)p, &st, (long)WNOHANG, NULL) == 0);
    write(pipefd[1], "x", 1);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    qc_rep("waitid P_PID WEXITED", syscall(SYS_waitid, (long)P_PID, (long)p, &si, (long)WEXITED, NULL));
    qc_yes("waitid: si_pid", si.si_pid == p);
    qc_yes("waitid: CLD_EXITED 5", si.si_code == CLD_EXITED && si.si_status == 5);

    p = (pid_t)syscall(SYS_fork);
    if (p == 0) { kill(getpid(), SIGKILL); _exit(0); }
    st = child_status(p, 0);
    qc_yes("killed child: WIFSIGNALED SIGKILL", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    long c = syscall(SYS_clone, (long)SIGCHLD, 0L, NULL, NULL, 0L);
    if (c == 0) _exit(9);
    st = child_status((pid_t)c, 0);
    qc_yes("clone(SIGCHLD) is a fork", WIFEXITED(st) && WEXITSTATUS(st) == 9);

    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    c = syscall(SYS_clone3, &ca, sizeof ca);
    if (c == 0) _exit(11);
    st = child_status((pid_t)c, 0);
    qc_yes("clone3 is a fork", WIFEXITED(st) && WEXITSTATUS(st) == 11);
    qc_rep("clone3 small size", syscall(SYS_clone3, &ca, 8L));
    qc_rep("clone CLONE_THREAD without SIGHAND", syscall(SYS_clone, (long)CLONE_THREAD, 0L, NULL, NULL, 0L));
    qc_rep("waitid bad which", syscall(SYS_waitid, 99L, 0L, &si, (long)WEXITED, NULL));
    qc_rep("wait4 bad options", syscall(SYS_wait4, -1L, &st, 0x100L, NULL));

    /* SIGCHLD's siginfo says who ended and how. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    p = (pid_t)syscall(SYS_fork);
    if (p == 0) _exit(12);
    sigsuspend(&old);
    qc_yes("SIGCHLD si_code CLD_EXITED", chld_code == CLD_EXITED);
    qc_yes("SIGCHLD si_status 12", chld_status == 12);
    qc_yes("SIGCHLD si_pid", chld_pid == p);
    sigprocmask(SIG_SETMASK, &old, NULL);
    child_status(p, 0);

    qc_leave();
    return 0;
}
