// covers: alarm setitimer getitimer timer_create timer_settime timer_gettime timer_getoverrun timer_delete timerfd_create timerfd_settime timerfd_gettime
#include "qc.h"
#include <stdint.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

static volatile sig_atomic_t alrm, usr1;
static volatile int si_code_seen, si_value_seen;

static void on_alrm(int sig) { (void)sig; alrm++; }
static void on_usr1(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)uc;
    usr1++;
    si_code_seen = si->si_code;
    si_value_seen = si->si_value.sival_int;
}

int main(void) {
    signal(SIGALRM, on_alrm);
    qc_rep("alarm first", alarm(10));
    qc_rep("alarm again", alarm(3));
    qc_rep("alarm cancel", alarm(0));

    struct itimerval it = {{0, 0}, {0, 20000}}, old;
    qc_rep("setitimer real", setitimer(ITIMER_REAL, &it, NULL));
    while (!alrm)
        pause();
    qc_yes("SIGALRM from itimer", alrm == 1);
    struct itimerval per = {{0, 10000}, {0, 10000}};
    qc_rep("setitimer periodic", setitimer(ITIMER_REAL, &per, NULL));
    while (alrm < 4)
        pause();
    qc_rep("getitimer", getitimer(ITIMER_REAL, &old));
    printf("interval: %ld %ld\n", (long)old.it_interval.tv_sec, (long)old.it_interval.tv_usec);
    struct itimerval zero = {{0, 0}, {0, 0}};
    qc_rep("setitimer off", setitimer(ITIMER_REAL, &zero, &old));
    qc_yes("old value armed", old.it_value.tv_sec > 0 || old.it_value.tv_usec > 0);
    qc_rep("getitimer bad which", syscall(SYS_getitimer, 7L, &old));
    struct itimerval bad = {{0, 0}, {0, 1000000}};
    qc_rep("setitimer bad usec", setitimer(ITIMER_REAL, &bad, NULL));

    struct sigaction sa = {0};
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 77;
    timer_t t;
    qc_rep("timer_create", timer_create(CLOCK_MONOTONIC, &sev, &t));
    struct itimerspec its = {{0, 0}, {0, 20000000}}, cur;
    qc_rep("timer_settime", timer_settime(t, 0, &its, NULL));
    qc_rep("timer_gettime", timer_gettime(t, &cur));
    qc_yes("armed", cur.it_value.tv_nsec > 0);
    while (!usr1)
        pause();
    printf("si_code SI_TIMER: %s, value %d\n", si_code_seen == SI_TIMER ? "yes" : "no", si_value_seen);
    qc_rep("timer_getoverrun", timer_getoverrun(t));
    qc_rep("timer_gettime expired", timer_gettime(t, &cur));
    printf("value: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    now.tv_nsec += 20000000;
    if (now.tv_nsec >= 1000000000) { now.tv_sec++; now.tv_nsec -= 1000000000; }
    timer_t t2;
    qc_rep("timer_create realtime", timer_create(CLOCK_REALTIME, &sev, &t2));
    struct itimerspec abs = {{0, 0}, now};
    qc_rep("timer_settime abstime", timer_settime(t2, TIMER_ABSTIME, &abs, NULL));
    while (usr1 < 2)
        pause();
    qc_yes("abstime fired", usr1 == 2);
    qc_rep("timer_delete", timer_delete(t));
    qc_rep("timer_delete again", syscall(SYS_timer_delete, (long)(intptr_t)t));
    qc_rep("timer_create bad clock", syscall(SYS_timer_create, 99L, NULL, &t));
    struct itimerspec badns = {{0, 0}, {0, 1000000000}};
    qc_rep("timer_settime bad nsec", timer_settime(t2, 0, &badns, NULL));

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    qc_ok("timerfd_create", tfd);
    struct itimerspec tits = {{0, 5000000}, {0, 10000000}};
    qc_rep("timerfd_settime", timerfd_settime(tfd, 0, &tits, NULL));
    uint64_t n = 0;
    qc_rep("timerfd read", read(tfd, &n, sizeof n));
    qc_yes("count >= 1", n >= 1);
    qc_rep("timerfd read short", read(tfd, &n, 4));
    qc_rep("timerfd_gettime", timerfd_gettime(tfd, &cur));
    printf("interval: %ld %ld\n", (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
    struct itimerspec off = {{0, 0}, {0, 0}};
    qc_rep("timerfd disarm", timerfd_settime(tfd, 0, &off, NULL));
    int nb = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    qc_rep("timerfd nonblock read", read(nb, &n, sizeof n));
    qc_rep("timerfd_create bad clock", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
    qc_rep("timerfd_create bad flags", timerfd_create(CLOCK_MONOTONIC, 1));
    qc_rep("timerfd_gettime not timerfd", timerfd_gettime(1, &cur));
    return 0;
}
