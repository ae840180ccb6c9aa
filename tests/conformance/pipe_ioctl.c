// covers: pipe pipe2 ioctl
#include "qc.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(void) {
    int p[2], q[2];
    char buf[64];
    int n;
    qc_rep("pipe", syscall(SYS_pipe, p));
    printf("pipe fds: %d %d\n", p[0], p[1]);
    qc_rep("write pipe", syscall(SYS_write, p[1], "hello", 5));
    qc_rep("FIONREAD", syscall(SYS_ioctl, p[0], FIONREAD, &n));
    printf("FIONREAD value: %d\n", n);
    qc_rep("read pipe", syscall(SYS_read, p[0], buf, sizeof buf));
    qc_rep("write to read end", syscall(SYS_write, p[0], "x", 1));
    qc_rep("read from write end", syscall(SYS_read, p[1], buf, 1));
    int on = 1;
    qc_rep("FIONBIO on", syscall(SYS_ioctl, p[0], FIONBIO, &on));
    qc_rep("read empty nonblocking", syscall(SYS_read, p[0], buf, 1));
    printf("O_NONBLOCK visible: %d\n", !!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
    struct termios t;
    qc_rep("TCGETS on pipe", syscall(SYS_ioctl, p[0], TCGETS, &t));
    qc_rep("ioctl bad fd", syscall(SYS_ioctl, 999, FIONREAD, &n));
    qc_rep("FIONREAD efault", syscall(SYS_ioctl, p[0], FIONREAD, BADPTR1));
    qc_rep("FIOCLEX", syscall(SYS_ioctl, p[0], FIOCLEX));
    qc_rep("cloexec after FIOCLEX", syscall(SYS_fcntl, p[0], F_GETFD));
    qc_rep("FIONCLEX", syscall(SYS_ioctl, p[0], FIONCLEX));
    qc_rep("cloexec after FIONCLEX", syscall(SYS_fcntl, p[0], F_GETFD));
    int dn = open("/dev/null", O_RDWR);
    qc_rep("TCGETS on /dev/null", syscall(SYS_ioctl, dn, TCGETS, &t));
    close(dn);
    qc_rep("close write end", syscall(SYS_close, p[1]));
    qc_rep("read at EOF", syscall(SYS_read, p[0], buf, sizeof buf));
    close(p[0]);
    qc_rep("pipe2 cloexec|nonblock", syscall(SYS_pipe2, q, O_CLOEXEC | O_NONBLOCK));
    printf("pipe2 fds: %d %d\n", q[0], q[1]);
    qc_rep("pipe2 cloexec set", syscall(SYS_fcntl, q[1], F_GETFD));
    printf("pipe2 nonblock: %d\n", !!(fcntl(q[0], F_GETFL) & O_NONBLOCK));
    qc_rep("pipe2 read empty", syscall(SYS_read, q[0], buf, 1));
    // Fill the pipe without blocking: a full pipe gives EAGAIN.
    static char big[65536];
    long total = 0, r;
    while ((r = syscall(SYS_write, q[1], big, sizeof big)) > 0) total += r;
    printf("fill ends with: %s\n", strerrorname_np(errno));
    qc_yes("pipe capacity >= 4096", total >= 4096);
    close(q[0]);
    signal(SIGPIPE, SIG_IGN);
    qc_rep("write with no reader", syscall(SYS_write, q[1], "x", 1));
    close(q[1]);
    qc_rep("pipe2 bad flags", syscall(SYS_pipe2, q, 0x1L));
    qc_rep("pipe efault", syscall(SYS_pipe, BADPTR1));
    qc_rep("pipe2 efault", syscall(SYS_pipe2, BADPTRK, 0));
    return 0;
}
