// covers: select pselect6
#include "qc.h"
#include <sys/select.h>
#include <sys/time.h>
#include <time.h>

int main(void) {
    int p[2];
    if (pipe(p) != 0)
        qc_die("pipe");
    int n = (p[0] > p[1] ? p[0] : p[1]) + 1;
    fd_set rs, ws;
    FD_ZERO(&rs); FD_ZERO(&ws);
    FD_SET(p[0], &rs); FD_SET(p[1], &ws);
    struct timeval tv = {0, 0};
    qc_rep("select empty pipe", select(n, &rs, &ws, NULL, &tv));
    qc_yes("read end not set", !FD_ISSET(p[0], &rs));
    qc_yes("write end set", FD_ISSET(p[1], &ws));
    if (write(p[1], "x", 1) != 1)
        qc_die("write");
    FD_ZERO(&rs); FD_ZERO(&ws);
    FD_SET(p[0], &rs); FD_SET(p[1], &ws);
    qc_rep("select both ready", select(n, &rs, &ws, NULL, NULL));
    qc_yes("read end set", FD_ISSET(p[0], &rs));

    char c;
    if (read(p[0], &c, 1) != 1)
        qc_die("read");
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv.tv_sec = 0; tv.tv_usec = 30000;
    qc_rep("select times out", select(n, &rs, NULL, NULL, &tv));
    printf("time left: %ld %ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
    qc_yes("set cleared", !FD_ISSET(p[0], &rs));

    fd_set bad;
    int closed = dup(0);   /* a descriptor that is surely closed, whatever we inherited */
    close(closed);
    FD_ZERO(&bad);
    FD_SET(closed, &bad);
    tv.tv_sec = 0; tv.tv_usec = 0;
    qc_rep("select closed fd", select(closed + 1, &bad, NULL, NULL, &tv));
    qc_rep("select negative n", select(-1, NULL, NULL, NULL, &tv));
    tv.tv_sec = -1;
    qc_rep("select negative timeout", select(1, NULL, NULL, NULL, &tv));
    qc_rep("select efault", select(n, BADPTR1, NULL, NULL, NULL));

    // pselect6 with a mask; the raw call writes the time left back.
    sigset_t mask;
    sigemptyset(&mask);
    struct { const sigset_t *ss; size_t len; } sig = {&mask, 8};
    struct timespec ts = {0, 10 * 1000 * 1000};
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    qc_rep("pselect6 times out", syscall(SYS_pselect6, n, &rs, NULL, NULL, &ts, &sig));
    printf("time left: %ld %ld\n", (long)ts.tv_sec, ts.tv_nsec);
    sig.len = 4;
    ts.tv_nsec = 0;
    qc_rep("pselect6 bad sigsetsize", syscall(SYS_pselect6, n, &rs, NULL, NULL, &ts, &sig));
    ts.tv_nsec = 1000000000L;
    qc_rep("pselect6 bad timespec", syscall(SYS_pselect6, n, &rs, NULL, NULL, &ts, NULL));
    close(p[1]);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    qc_rep("select eof is readable", select(n, &rs, NULL, NULL, NULL));
    return 0;
}
