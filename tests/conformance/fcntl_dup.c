// covers: fcntl dup dup2 dup3
#include "qc.h"

int main(void) {
    qc_enter("fcntl_dup");
    qc_write_file("f", "abcdef");
    int fd = qc_rep("open", syscall(SYS_open, "f", O_RDWR));
    qc_rep("F_GETFD", syscall(SYS_fcntl, fd, F_GETFD));
    qc_rep("F_SETFD cloexec", syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC));
    qc_rep("F_GETFD after", syscall(SYS_fcntl, fd, F_GETFD));
    long fl = syscall(SYS_fcntl, fd, F_GETFL);
    printf("F_GETFL accmode=%ld nonblock=%d\n", fl & O_ACCMODE, !!(fl & O_NONBLOCK));
    qc_rep("F_SETFL nonblock|append", syscall(SYS_fcntl, fd, F_SETFL, O_NONBLOCK | O_APPEND));
    fl = syscall(SYS_fcntl, fd, F_GETFL);
    printf("F_GETFL accmode=%ld nonblock=%d append=%d\n", fl & O_ACCMODE, !!(fl & O_NONBLOCK), !!(fl & O_APPEND));
    qc_rep("F_SETFL ignores access mode", syscall(SYS_fcntl, fd, F_SETFL, O_RDONLY));
    fl = syscall(SYS_fcntl, fd, F_GETFL);
    printf("F_GETFL accmode=%ld append=%d\n", fl & O_ACCMODE, !!(fl & O_APPEND));
    qc_rep("F_DUPFD from 10", syscall(SYS_fcntl, fd, F_DUPFD, 10));
    qc_rep("F_DUPFD from 10 again", syscall(SYS_fcntl, fd, F_DUPFD, 10));
    int c = qc_rep("F_DUPFD_CLOEXEC", syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0));
    qc_rep("dup cloexec flag", syscall(SYS_fcntl, c, F_GETFD));
    qc_rep("F_DUPFD negative", syscall(SYS_fcntl, fd, F_DUPFD, -1L));
    qc_rep("F_DUPFD too big", syscall(SYS_fcntl, fd, F_DUPFD, 1L << 30));
    qc_rep("fcntl bad cmd", syscall(SYS_fcntl, fd, 9999));
    qc_rep("fcntl bad fd", syscall(SYS_fcntl, 999, F_GETFD));
    int d = qc_rep("dup", syscall(SYS_dup, fd));
    qc_rep("dup clears cloexec", syscall(SYS_fcntl, d, F_GETFD));
    qc_rep("dup bad fd", syscall(SYS_dup, 999));
    lseek(fd, 2, SEEK_SET);
    qc_rep("dup shares offset", syscall(SYS_lseek, d, 0, SEEK_CUR));
    qc_rep("dup2 to 20", syscall(SYS_dup2, fd, 20));
    qc_rep("dup2 same fd", syscall(SYS_dup2, fd, fd));
    qc_rep("dup2 same bad fd", syscall(SYS_dup2, 999, 999));
    qc_rep("dup2 bad old", syscall(SYS_dup2, 999, 21));
    qc_rep("dup2 over open fd", syscall(SYS_dup2, d, 20));
    qc_rep("dup2 huge newfd", syscall(SYS_dup2, fd, 1L << 30));
    qc_rep("dup3 cloexec", syscall(SYS_dup3, fd, 22, O_CLOEXEC));
    qc_rep("dup3 flag set", syscall(SYS_fcntl, 22, F_GETFD));
    qc_rep("dup3 same fd", syscall(SYS_dup3, fd, fd, 0));
    qc_rep("dup3 bad flags", syscall(SYS_dup3, fd, 23, 1L));
    qc_rep("dup3 bad old", syscall(SYS_dup3, 999, 23, 0));
    qc_rep("closed 20 closes", syscall(SYS_close, 20));
    qc_rep("F_GETFD on closed", syscall(SYS_fcntl, 20, F_GETFD));
    int p[2];
    pipe(p);
    long sz = syscall(SYS_fcntl, p[0], F_GETPIPE_SZ);
    qc_yes("F_GETPIPE_SZ >= 4096", sz >= 4096);
    qc_rep("F_SETPIPE_SZ 65536", syscall(SYS_fcntl, p[0], F_SETPIPE_SZ, 65536) == 65536 ? 0 : -2);
    qc_rep("F_GETPIPE_SZ on file", syscall(SYS_fcntl, fd, F_GETPIPE_SZ));
    qc_leave();
    return 0;
}
