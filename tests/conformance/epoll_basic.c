// covers: epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2
#include "qc.h"
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { (void)s; got = 1; }

static void show(const char *label, int n, struct epoll_event *ev) {
    printf("%s: %d", label, n);
    for (int i = 0; i < n; i++)
        printf(" [%#x %lu]", ev[i].events, (unsigned long)ev[i].data.u64);
    printf("\n");
}

int main(void) {
    struct epoll_event ev, out[8];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    qc_ok("epoll_create1", ep);
    qc_ok("epoll_create", epoll_create(1));
    qc_rep("epoll_create 0", epoll_create(0));
    qc_rep("epoll_create1 bad", epoll_create1(1));
    int p[2];
    if (pipe(p))
        qc_die("pipe");
    ev.events = EPOLLIN;
    ev.data.u64 = 1;
    qc_rep("ctl add read end", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    qc_rep("ctl add again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    ev.events = EPOLLOUT;
    ev.data.u64 = 2;
    qc_rep("ctl add write end", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
    qc_rep("ctl add self", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    qc_rep("ctl bad fd", epoll_ctl(ep, EPOLL_CTL_ADD, 99, &ev));
    qc_rep("ctl not epoll", epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
    qc_rep("ctl mod missing", epoll_ctl(ep, EPOLL_CTL_MOD, eventfd(0, 0), &ev));
    qc_rep("ctl bad op", epoll_ctl(ep, 9, p[0], &ev));
    int reg = open("/proc/self/exe", O_RDONLY);
    qc_rep("ctl regular file", epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev));
    show("wait writable", epoll_wait(ep, out, 8, 0), out);
    if (write(p[1], "ab", 2) != 2)
        qc_die("write");
    show("wait both", epoll_wait(ep, out, 8, 0), out);
    show("wait max 1", epoll_wait(ep, out, 1, 0), out);
    qc_rep("ctl del", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    qc_rep("ctl del again", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    show("wait after del", epoll_wait(ep, out, 8, 0), out);
    qc_rep("wait maxevents 0", epoll_wait(ep, out, 0, 0));
    qc_rep("wait not epoll", epoll_wait(p[0], out, 8, 0));
    qc_rep("wait efault", syscall(SYS_epoll_wait, (long)ep, BADPTR1, 8L, 0L));

    // Edge-triggered and one-shot on eventfds.
    int e1 = eventfd(0, EFD_NONBLOCK), e2 = eventfd(1, EFD_NONBLOCK);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 10;
    epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
    qc_rep("ctl add et", epoll_ctl(ep, EPOLL_CTL_ADD, e1, &ev));
    uint64_t one = 1;
    write(e1, &one, 8);
    show("et first", epoll_wait(ep, out, 8, 0), out);
    show("et again", epoll_wait(ep, out, 8, 0), out);
    write(e1, &one, 8);
    show("et new write", epoll_wait(ep, out, 8, 0), out);
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 20;
    qc_rep("ctl add oneshot", epoll_ctl(ep, EPOLL_CTL_ADD, e2, &ev));
    show("oneshot", epoll_wait(ep, out, 8, 0), out);
    show("oneshot disabled", epoll_wait(ep, out, 8, 0), out);
    qc_rep("ctl mod rearm", epoll_ctl(ep, EPOLL_CTL_MOD, e2, &ev));
    show("oneshot rearmed", epoll_wait(ep, out, 8, 0), out);

    // Nested epoll; the epoll fd is pollable.
    int outer = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.u64 = 30;
    qc_rep("ctl nest", epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev));
    qc_rep("ctl loop", epoll_ctl(ep, EPOLL_CTL_ADD, outer, &ev));
    qc_rep("ctl mod rearm", epoll_ctl(ep, EPOLL_CTL_MOD, e2, &ev));
    show("outer", epoll_wait(outer, out, 8, 0), out);

    // Timeouts and blocking.
    int q = epoll_create1(0);
    int b[2];
    if (pipe(b))
        qc_die("pipe");
    ev.events = EPOLLIN;
    ev.data.u64 = 40;
    epoll_ctl(q, EPOLL_CTL_ADD, b[0], &ev);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    show("timeout 30ms", epoll_wait(q, out, 8, 30), out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    qc_yes("waited >= 29ms", ms >= 29);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        write(b[1], "x", 1);
        _exit(0);
    }
    show("blocking wait", epoll_wait(q, out, 8, -1), out);
    waitpid(pid, NULL, 0);
    char c;
    read(b[0], &c, 1);
    sigset_t mask;
    sigemptyset(&mask);
    show("pwait", epoll_pwait(q, out, 8, 0, &mask), out);
    struct timespec ts = {0, 10000000};
    show("pwait2", syscall(SYS_epoll_pwait2, q, out, 8, &ts, NULL, 8), out);

    // A signal ends the wait with EINTR, even with SA_RESTART.
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t me = getpid();
    pid = fork();
    if (pid == 0) {
        usleep(20000);
        kill(me, SIGUSR1);
        _exit(0);
    }
    qc_rep("wait interrupted", epoll_wait(q, out, 8, -1));
    waitpid(pid, NULL, 0);
    qc_yes("handler ran", got);
    return 0;
}
