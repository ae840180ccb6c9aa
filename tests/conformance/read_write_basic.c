// covers: read write lseek open close
#include "qc.h"

int main(void) {
    char buf[64];
    qc_enter("read_write_basic");
    int fd = qc_rep("open creat", syscall(SYS_open, "f", O_RDWR | O_CREAT | O_TRUNC, 0644));
    qc_rep("write", syscall(SYS_write, fd, "hello, world\n", 13));
    qc_rep("lseek end", syscall(SYS_lseek, fd, 0, SEEK_END));
    qc_rep("lseek set", syscall(SYS_lseek, fd, 7, SEEK_SET));
    long n = qc_rep("read", syscall(SYS_read, fd, buf, sizeof buf));
    if (n > 0) printf("data: %.*s", (int)n, buf);
    qc_rep("read at eof", syscall(SYS_read, fd, buf, sizeof buf));
    qc_rep("lseek cur", syscall(SYS_lseek, fd, -6L, SEEK_CUR));
    qc_rep("read 3", syscall(SYS_read, fd, buf, 3));
    qc_rep("lseek negative", syscall(SYS_lseek, fd, -100L, SEEK_SET));
    qc_rep("lseek bad whence", syscall(SYS_lseek, fd, 0, 42));
    qc_rep("lseek past end", syscall(SYS_lseek, fd, 100, SEEK_SET));
    qc_rep("write past end", syscall(SYS_write, fd, "x", 1));
    qc_rep("size after hole", syscall(SYS_lseek, fd, 0, SEEK_END));
    qc_rep("lseek 50", syscall(SYS_lseek, fd, 50, SEEK_SET));
    n = syscall(SYS_read, fd, buf, 4);
    qc_yes("hole reads zeros", n == 4 && !buf[0] && !buf[1] && !buf[2] && !buf[3]);
    qc_rep("read zero bytes", syscall(SYS_read, fd, buf, 0));
    syscall(SYS_lseek, fd, 0, SEEK_SET);
    qc_rep("read efault 1", syscall(SYS_read, fd, BADPTR1, 4));
    qc_rep("read efault null", syscall(SYS_read, fd, NULL, 4));
    qc_rep("read efault kernel", syscall(SYS_read, fd, BADPTRK, 4));
    qc_rep("write efault 1", syscall(SYS_write, fd, BADPTR1, 4));
    qc_rep("write efault kernel", syscall(SYS_write, fd, BADPTRK, 4));
    qc_rep("close", syscall(SYS_close, fd));
    qc_rep("close again", syscall(SYS_close, fd));
    qc_rep("read bad fd", syscall(SYS_read, fd, buf, 1));
    qc_rep("write bad fd", syscall(SYS_write, 999, "x", 1));
    qc_rep("read negative fd", syscall(SYS_read, -1L, buf, 1));
    fd = qc_rep("open rdonly", syscall(SYS_open, "f", O_RDONLY));
    qc_rep("write to rdonly", syscall(SYS_write, fd, "x", 1));
    qc_rep("close rdonly", syscall(SYS_close, fd));
    fd = qc_rep("open wronly", syscall(SYS_open, "f", O_WRONLY));
    qc_rep("read from wronly", syscall(SYS_read, fd, buf, 1));
    qc_rep("close wronly", syscall(SYS_close, fd));
    fd = qc_rep("open append", syscall(SYS_open, "f", O_WRONLY | O_APPEND));
    qc_rep("lseek 0 then append", syscall(SYS_lseek, fd, 0, SEEK_SET));
    qc_rep("append write", syscall(SYS_write, fd, "yz", 2));
    qc_rep("offset after append", syscall(SYS_lseek, fd, 0, SEEK_CUR));
    close(fd);
    qc_rep("write stdout", syscall(SYS_write, 1, "to stdout\n", 10));
    fd = open(".", O_RDONLY | O_DIRECTORY);
    qc_rep("lseek on dir fd", syscall(SYS_lseek, fd, 0, SEEK_SET));
    qc_rep("read on dir", syscall(SYS_read, fd, buf, sizeof buf));
    close(fd);
    qc_leave();
    return 0;
}
