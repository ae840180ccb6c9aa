// covers: open openat close
#include "qc.h"

int main(void) {
    qc_enter("open_efault");
    qc_rep("open null", syscall(SYS_open, NULL, O_RDONLY));
    qc_rep("open ptr 1", syscall(SYS_open, BADPTR1, O_RDONLY));
    qc_rep("open kernel ptr", syscall(SYS_open, BADPTRK, O_RDONLY));
    qc_rep("openat null", syscall(SYS_openat, FDCWD, NULL, O_RDONLY));
    qc_rep("openat kernel ptr", syscall(SYS_openat, FDCWD, BADPTRK, O_RDONLY));
    qc_rep("open empty path", syscall(SYS_open, "", O_RDONLY));
    qc_rep("open missing", syscall(SYS_open, "missing", O_RDONLY));
    qc_rep("open missing dir", syscall(SYS_open, "nodir/x", O_RDONLY | O_CREAT, 0644));
    int fd = qc_rep("open creat excl", syscall(SYS_open, "a", O_RDWR | O_CREAT | O_EXCL, 0600));
    qc_rep("open creat excl again", syscall(SYS_open, "a", O_RDWR | O_CREAT | O_EXCL, 0600));
    qc_rep("open file as dir", syscall(SYS_open, "a", O_RDONLY | O_DIRECTORY));
    qc_rep("open through file", syscall(SYS_open, "a/b", O_RDONLY));
    qc_rep("open dir for write", syscall(SYS_open, ".", O_WRONLY));
    int dfd = qc_rep("open dir", syscall(SYS_open, ".", O_RDONLY | O_DIRECTORY));
    int fd2 = qc_rep("openat relative to dirfd", syscall(SYS_openat, dfd, "a", O_RDONLY));
    qc_rep("openat file as dirfd", syscall(SYS_openat, fd, "a", O_RDONLY));
    qc_rep("openat bad dirfd", syscall(SYS_openat, 999, "a", O_RDONLY));
    int fd3 = qc_rep("openat bad dirfd absolute", syscall(SYS_openat, 999, "/", O_RDONLY | O_DIRECTORY));
    int fd4 = qc_rep("openat cwd", syscall(SYS_openat, FDCWD, "a", O_WRONLY | O_TRUNC));
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    qc_rep("open name too long", syscall(SYS_open, longname, O_RDONLY));
    qc_rep("close 5 fds", syscall(SYS_close, fd) + syscall(SYS_close, dfd) + syscall(SYS_close, fd2)
           + syscall(SYS_close, fd3) + syscall(SYS_close, fd4));
    qc_rep("close -1", syscall(SYS_close, -1L));
    qc_rep("close 12345", syscall(SYS_close, 12345));
    qc_rep("open devnull", fd = syscall(SYS_open, "/dev/null", O_RDWR));
    qc_rep("write devnull", syscall(SYS_write, fd, "abc", 3));
    qc_rep("read devnull", syscall(SYS_read, fd, longname, 3));
    close(fd);
    fd = qc_rep("open cloexec", syscall(SYS_open, "a", O_RDONLY | O_CLOEXEC));
    qc_rep("cloexec flag set", syscall(SYS_fcntl, fd, F_GETFD));
    close(fd);
    umask(022);
    fd = open("m", O_CREAT | O_WRONLY, 0777);
    struct stat st;
    fstat(fd, &st);
    printf("mode with umask 022: %o\n", st.st_mode & 07777);
    close(fd);
    qc_leave();
    return 0;
}
