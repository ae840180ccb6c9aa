// covers: rt_sigsuspend rt_sigtimedwait rt_sigpending rt_sigprocmask kill
#include "qc.h"
#include <time.h>

static volatile int hits;
static void on_sig(int s) { (void)s; hits++; }

static void install(int s, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(s, &sa, NULL);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
    sigset_t usr1, empty, cur, pend;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&empty);

    // sigsuspend: a pending blocked signal is taken under the temporary mask;
    // EINTR even with SA_RESTART; the old mask comes back.
    install(SIGUSR1, SA_RESTART);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    kill(getpid(), SIGUSR1);
    printf("before sigsuspend: hits=%d\n", hits);
    qc_rep("sigsuspend", sigsuspend(&empty));
    printf("after sigsuspend: hits=%d\n", hits);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    qc_yes("mask restored", sigismember(&cur, SIGUSR1));
    qc_rep("sigsuspend bad size", syscall(SYS_rt_sigsuspend, &empty, 4L));
    qc_rep("sigsuspend efault", syscall(SYS_rt_sigsuspend, BADPTR1, 8L));

    // sigtimedwait: takes a pending signal without running its handler.
    kill(getpid(), SIGUSR1);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int s = sigwaitinfo(&usr1, &si);
    printf("sigwaitinfo: %d code=%d pid_ok=%d hits=%d\n", s, si.si_code, si.si_pid == getpid(), hits);
    sigpending(&pend);
    qc_yes("nothing pending", !sigismember(&pend, SIGUSR1));

    struct timespec zero = {0, 0}, short_ts = {0, 20 * 1000 * 1000}, bad = {0, 1000000000};
    qc_rep("sigtimedwait poll", sigtimedwait(&usr1, &si, &zero));
    double t0 = now();
    qc_rep("sigtimedwait 20ms", sigtimedwait(&usr1, &si, &short_ts));
    qc_yes("waited about 20ms", now() - t0 >= 0.015);
    qc_rep("sigtimedwait bad timeout", sigtimedwait(&usr1, &si, &bad));
    qc_rep("sigtimedwait bad size", syscall(SYS_rt_sigtimedwait, &usr1, NULL, &zero, 16L));

    // Real-time: each queued instance comes out, in order, with its value.
    int rt = SIGRTMIN + 1;
    sigset_t rts;
    sigemptyset(&rts);
    sigaddset(&rts, rt);
    sigaddset(&rts, SIGUSR1);
    sigprocmask(SIG_BLOCK, &rts, NULL);
    sigqueue(getpid(), rt, (union sigval){.sival_int = 1});
    sigqueue(getpid(), rt, (union sigval){.sival_int = 2});
    kill(getpid(), SIGUSR1);
    for (int i = 0; i < 3; i++) {
        memset(&si, 0, sizeof si);
        s = sigtimedwait(&rts, &si, &zero);
        printf("take %d: %s value=%d code=%d\n", i, s == SIGUSR1 ? "SIGUSR1" : s == rt ? "rt" : "?",
               s == rt ? si.si_value.sival_int : 0, si.si_code);
    }
    qc_rep("queue empty", sigtimedwait(&rts, &si, &zero));

    // Waiting for a signal that is not blocked: still taken by sigtimedwait.
    sigprocmask(SIG_UNBLOCK, &rts, NULL);
    printf("hits before=%d\n", hits);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    raise(SIGUSR1);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    printf("hits after unblock=%d\n", hits);
    return 0;
}
