// covers: rt_sigaction rt_sigprocmask rt_sigreturn kill tgkill tkill rt_sigqueueinfo rt_tgsigqueueinfo rt_sigpending
#include "qc.h"

static volatile int hits[65];
static volatile int codes[65];
static volatile int pid_ok[65];
static volatile long values[65];
static volatile int blocked_inside;
static volatile int order[8], norder;

static void on_sig(int s, siginfo_t *si, void *uc) {
    (void)uc;
    hits[s]++;
    codes[s] = si->si_code;
    pid_ok[s] = si->si_pid == getpid();
    values[s] = si->si_value.sival_int;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    blocked_inside = sigismember(&cur, s);
    if (norder < 8)
        order[norder++] = s;
}

static void install(int s, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(s, &sa, NULL) != 0)
        qc_die("sigaction");
}

static const char *code_name(int c) {
    switch (c) {
    case SI_USER: return "SI_USER";
    case SI_TKILL: return "SI_TKILL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_KERNEL: return "SI_KERNEL";
    default: return "other";
    }
}

static void show(const char *label, int s) {
    printf("%s: hits=%d code=%s pid_ok=%d blocked_inside=%d\n", label, hits[s],
           code_name(codes[s]), pid_ok[s], blocked_inside);
}

int main(void) {
    install(SIGUSR1, 0);
    qc_rep("raise", raise(SIGUSR1));
    show("raise SIGUSR1", SIGUSR1);
    qc_rep("kill self", kill(getpid(), SIGUSR1));
    show("kill SIGUSR1", SIGUSR1);
    qc_rep("kill sig 0", kill(getpid(), 0));
    qc_rep("kill bad sig", kill(getpid(), 65));
    qc_rep("tgkill", syscall(SYS_tgkill, (long)getpid(), (long)gettid(), (long)SIGUSR1));
    show("tgkill SIGUSR1", SIGUSR1);
    qc_rep("tkill", syscall(SYS_tkill, (long)gettid(), (long)SIGUSR1));
    qc_rep("tkill bad tid", syscall(SYS_tkill, 0L, (long)SIGUSR1));
    qc_rep("tgkill wrong tgid", syscall(SYS_tgkill, (long)getpid() + 1, (long)gettid(), (long)SIGUSR1));

    // SA_NODEFER: the signal is not blocked inside its handler.
    install(SIGUSR2, SA_NODEFER);
    raise(SIGUSR2);
    show("SA_NODEFER", SIGUSR2);

    // SA_RESETHAND: one delivery, then SIG_DFL.
    install(SIGHUP, SA_RESETHAND);
    raise(SIGHUP);
    show("SA_RESETHAND", SIGHUP);
    struct sigaction now;
    sigaction(SIGHUP, NULL, &now);
    qc_yes("SIGHUP back to SIG_DFL", now.sa_handler == SIG_DFL);
    qc_yes("SA_RESETHAND flag cleared", !(now.sa_flags & SA_RESETHAND));

    // Blocked: nothing runs, the signal is pending (once: standard signals coalesce).
    install(SIGUSR2, 0);
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    hits[SIGUSR1] = hits[SIGUSR2] = 0;
    norder = 0;
    raise(SIGUSR2);
    raise(SIGUSR2);
    raise(SIGUSR1);
    printf("while blocked: usr1=%d usr2=%d\n", hits[SIGUSR1], hits[SIGUSR2]);
    sigpending(&pend);
    printf("pending: usr1=%d usr2=%d hup=%d\n", sigismember(&pend, SIGUSR1),
           sigismember(&pend, SIGUSR2), sigismember(&pend, SIGHUP));
    qc_rep("unblock", sigprocmask(SIG_UNBLOCK, &set, NULL));
    printf("after unblock: usr1=%d usr2=%d\n", hits[SIGUSR1], hits[SIGUSR2]);
    printf("handler order:");
    for (int i = 0; i < norder; i++)
        printf(" %d", order[i]);
    printf("\n");

    // Real-time signals queue every instance, with their values.
    int rt = SIGRTMIN + 2;
    install(rt, 0);
    sigemptyset(&set);
    sigaddset(&set, rt);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < 3; i++)
        sigqueue(getpid(), rt, (union sigval){.sival_int = 40 + i});
    printf("rt queued, hits=%d\n", hits[rt]);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("rt after unblock: hits=%d last value=%ld code=%s\n", hits[rt], values[rt],
           code_name(codes[rt]));

    // rt_sigqueueinfo may not pretend to be kill() for another process, but may for itself.
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_code = SI_USER;
    si.si_pid = getpid();
    qc_rep("rt_sigqueueinfo SI_USER to self",
           syscall(SYS_rt_sigqueueinfo, (long)getpid(), (long)rt, &si));
    qc_rep("rt_sigqueueinfo efault", syscall(SYS_rt_sigqueueinfo, (long)getpid(), (long)rt, BADPTR1));
    si.si_code = SI_QUEUE;
    si.si_value.sival_int = 99;
    qc_rep("rt_tgsigqueueinfo", syscall(SYS_rt_tgsigqueueinfo, (long)getpid(), (long)gettid(), (long)rt, &si));
    printf("rt value now %ld\n", values[rt]);
    qc_rep("rt_sigpending bad size", syscall(SYS_rt_sigpending, &pend, 16L));

    // Ignored signals are dropped, not left pending.
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    sigpending(&pend);
    qc_yes("ignored not pending", !sigismember(&pend, SIGUSR1));
    return 0;
}
