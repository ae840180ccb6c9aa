// covers: mkdir mkdirat rmdir unlink unlinkat
#include "qc.h"

int main(void) {
    struct stat st;
    qc_enter("mkdir_rmdir");
    umask(022);
    qc_rep("mkdir", syscall(SYS_mkdir, "a", 0777));
    stat("a", &st);
    printf("mkdir mode after umask: %o\n", st.st_mode & 07777);
    qc_rep("mkdir exists", syscall(SYS_mkdir, "a", 0755));
    qc_rep("mkdir missing parent", syscall(SYS_mkdir, "x/y", 0755));
    qc_rep("mkdir efault", syscall(SYS_mkdir, BADPTR1, 0755));
    qc_rep("mkdir empty", syscall(SYS_mkdir, "", 0755));
    qc_rep("mkdir trailing slash", syscall(SYS_mkdir, "t/", 0755));
    int dfd = open("a", O_RDONLY | O_DIRECTORY);
    qc_rep("mkdirat dirfd", syscall(SYS_mkdirat, dfd, "b", 0700));
    qc_rep("mkdirat cwd", syscall(SYS_mkdirat, FDCWD, "c", 0755));
    qc_rep("mkdirat bad dirfd", syscall(SYS_mkdirat, 999, "z", 0755));
    stat("a/b", &st);
    printf("mkdirat mode: %o isdir: %d\n", st.st_mode & 07777, S_ISDIR(st.st_mode));
    qc_rep("rmdir not empty", syscall(SYS_rmdir, "a"));
    qc_rep("rmdir", syscall(SYS_rmdir, "a/b"));
    qc_rep("rmdir again", syscall(SYS_rmdir, "a/b"));
    qc_rep("rmdir .", syscall(SYS_rmdir, "a/."));
    qc_rep("rmdir ..", syscall(SYS_rmdir, "a/.."));
    qc_write_file("f", "x");
    qc_rep("rmdir file", syscall(SYS_rmdir, "f"));
    qc_rep("unlink dir", syscall(SYS_unlink, "a"));
    qc_rep("unlink", syscall(SYS_unlink, "f"));
    qc_rep("unlink again", syscall(SYS_unlink, "f"));
    qc_rep("unlink efault", syscall(SYS_unlink, BADPTRK));
    qc_write_file("a/g", "x");
    qc_rep("unlinkat dirfd", syscall(SYS_unlinkat, dfd, "g", 0));
    qc_rep("unlinkat dir without flag", syscall(SYS_unlinkat, FDCWD, "c", 0));
    qc_rep("unlinkat removedir", syscall(SYS_unlinkat, FDCWD, "c", AT_REMOVEDIR));
    qc_rep("unlinkat bad flag", syscall(SYS_unlinkat, FDCWD, "a", 0x1L));
    qc_write_file("h", "x");
    qc_rep("unlinkat removedir on file", syscall(SYS_unlinkat, FDCWD, "h", AT_REMOVEDIR));
    int fd = open("h", O_RDWR);
    qc_rep("unlink open file", syscall(SYS_unlink, "h"));
    qc_rep("write after unlink", syscall(SYS_write, fd, "yz", 2));
    fstat(fd, &st);
    printf("unlinked open file: nlink=%ld size=%ld\n", (long)st.st_nlink, (long)st.st_size);
    close(fd);
    qc_rep("stat unlinked", syscall(SYS_stat, "h", &st));
    close(dfd);
    qc_rep("rmdir a", syscall(SYS_rmdir, "a"));
    qc_leave();
    return 0;
}
