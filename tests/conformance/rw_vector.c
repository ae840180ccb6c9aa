// covers: readv writev pread64 pwrite64
#include "qc.h"
#include <sys/uio.h>

int main(void) {
    char a[4], b[8], buf[32];
    qc_enter("rw_vector");
    int fd = open("v", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) qc_die("open");
    struct iovec w[3] = {{"abc", 3}, {"", 0}, {"defghij", 7}};
    qc_rep("writev", syscall(SYS_writev, fd, w, 3));
    qc_rep("writev zero iov", syscall(SYS_writev, fd, w, 0));
    lseek(fd, 0, SEEK_SET);
    struct iovec r[2] = {{a, sizeof a}, {b, sizeof b}};
    long n = qc_rep("readv", syscall(SYS_readv, fd, r, 2));
    printf("iov0: %.4s iov1: %.*s\n", a, (int)(n > 4 ? n - 4 : 0), b);
    qc_rep("readv at eof", syscall(SYS_readv, fd, r, 2));
    qc_rep("writev bad iov ptr", syscall(SYS_writev, fd, BADPTR1, 1));
    struct iovec bad[1] = {{BADPTR1, 5}};
    qc_rep("writev bad base", syscall(SYS_writev, fd, bad, 1));
    lseek(fd, 0, SEEK_SET);
    qc_rep("readv bad base", syscall(SYS_readv, fd, bad, 1));
    lseek(fd, 0, SEEK_END);
    qc_rep("writev iovcnt 1025", syscall(SYS_writev, fd, w, 1025));
    qc_rep("writev iovcnt -1", syscall(SYS_writev, fd, w, -1L));
    qc_rep("pwrite64", syscall(SYS_pwrite64, fd, "XY", 2, 1L));
    qc_rep("offset unchanged", syscall(SYS_lseek, fd, 0, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    n = qc_rep("pread64", syscall(SYS_pread64, fd, buf, 5, 0L));
    printf("pread data: %.5s\n", buf);
    qc_rep("pread64 past end", syscall(SYS_pread64, fd, buf, 5, 100L));
    qc_rep("pread64 negative off", syscall(SYS_pread64, fd, buf, 5, -1L));
    qc_rep("pwrite64 negative off", syscall(SYS_pwrite64, fd, "a", 1, -1L));
    qc_rep("pread64 efault", syscall(SYS_pread64, fd, BADPTR1, 5, 0L));
    qc_rep("pwrite64 efault", syscall(SYS_pwrite64, fd, BADPTRK, 5, 0L));
    qc_rep("pwrite64 beyond end", syscall(SYS_pwrite64, fd, "Z", 1, 20L));
    qc_rep("size", syscall(SYS_lseek, fd, 0, SEEK_END));
    int p[2];
    if (pipe(p)) qc_die("pipe");
    qc_rep("pread64 on pipe", syscall(SYS_pread64, p[0], buf, 1, 0L));
    qc_rep("pwrite64 on pipe", syscall(SYS_pwrite64, p[1], "a", 1, 0L));
    qc_rep("pread64 bad fd", syscall(SYS_pread64, 999, buf, 1, 0L));
    close(p[0]); close(p[1]); close(fd);
    fd = open("v", O_WRONLY | O_APPEND);
    qc_rep("pwrite64 with O_APPEND", syscall(SYS_pwrite64, fd, "!", 1, 0L));
    qc_rep("size after append pwrite", syscall(SYS_lseek, fd, 0, SEEK_END));
    close(fd);
    qc_leave();
    return 0;
}
