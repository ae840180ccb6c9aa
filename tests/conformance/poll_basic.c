// covers: poll ppoll
#include "qc.h"
#include <poll.h>
#include <time.h>

int main(void) {
    int p[2];
    if (pipe(p) != 0)
        qc_die("pipe");
    struct pollfd fds[4] = {
        {p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {99, POLLIN, 0}, {-1, POLLIN, 0},
    };
    qc_rep("poll empty pipe", poll(fds, 4, 0));
    printf("revents: %#x %#x %#x %#x\n", fds[0].revents, fds[1].revents, fds[2].revents, fds[3].revents);
    qc_rep("poll timeout 30ms", poll(fds, 1, 30));
    if (write(p[1], "hi", 2) != 2)
        qc_die("write");
    fds[0].events = POLLIN | POLLRDNORM;
    qc_rep("poll readable", poll(fds, 1, -1));
    printf("revents: %#x\n", fds[0].revents);
    qc_rep("poll efault", poll(BADPTR1, 1, 0));
    qc_rep("poll too many", poll(fds, 1u << 21, 0));
    qc_rep("poll nothing", poll(NULL, 0, 10));

    // ppoll: timeout written back (raw syscall; the libc wrapper hides it).
    struct timespec ts = {0, 0};
    sigset_t mask;
    sigemptyset(&mask);
    qc_rep("ppoll zero timeout", syscall(SYS_ppoll, fds, 1, &ts, &mask, 8));
    printf("ppoll left: %ld %ld\n", (long)ts.tv_sec, ts.tv_nsec);
    ts.tv_nsec = 10 * 1000 * 1000;
    char buf[8];
    if (read(p[0], buf, sizeof buf) != 2)
        qc_die("read");
    qc_rep("ppoll times out", syscall(SYS_ppoll, fds, 1, &ts, NULL, 8));
    printf("ppoll left: %ld %ld\n", (long)ts.tv_sec, ts.tv_nsec);
    qc_rep("ppoll bad sigsetsize", syscall(SYS_ppoll, fds, 1, &ts, &mask, 7));
    ts.tv_nsec = -1;
    qc_rep("ppoll bad timespec", syscall(SYS_ppoll, fds, 1, &ts, NULL, 8));

    // Hang-up and error: no writer / no reader left.
    close(p[1]);
    fds[0].events = POLLIN;
    qc_rep("poll after writer closed", poll(fds, 1, 0));
    printf("revents: %#x\n", fds[0].revents);
    int q[2];
    if (pipe(q) != 0)
        qc_die("pipe");
    close(q[0]);
    struct pollfd w = {q[1], POLLOUT, 0};
    qc_rep("poll after reader closed", poll(&w, 1, 0));
    printf("revents: %#x\n", w.revents);
    // A regular file is always ready.
    int fd = open("/proc/self/exe", O_RDONLY);
    struct pollfd r = {fd, POLLIN | POLLOUT, 0};
    qc_rep("poll regular file", poll(&r, 1, 0));
    printf("revents: %#x\n", r.revents);
    return 0;
}
