// covers: access faccessat faccessat2
#include "qc.h"

#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

int main(void) {
    qc_enter("access_basic");
    qc_write_file("r", "x");
    chmod("r", 0400);
    qc_write_file("x", "x");
    chmod("x", 0755);
    qc_write_file("none", "x");
    chmod("none", 0);
    symlink("missing", "dangling");
    qc_rep("access F_OK", syscall(SYS_access, "r", F_OK));
    qc_rep("access R_OK", syscall(SYS_access, "r", R_OK));
    qc_rep("access X_OK on 0400 (root)", syscall(SYS_access, "r", X_OK));
    qc_rep("access X_OK on 0755", syscall(SYS_access, "x", X_OK));
    qc_rep("access W_OK on 0000 (root)", syscall(SYS_access, "none", W_OK));
    qc_rep("access missing", syscall(SYS_access, "missing", F_OK));
    qc_rep("access bad mode", syscall(SYS_access, "r", 8));
    qc_rep("access efault", syscall(SYS_access, BADPTR1, F_OK));
    qc_rep("access dir X_OK", syscall(SYS_access, ".", X_OK));
    qc_rep("access through file", syscall(SYS_access, "r/x", F_OK));
    qc_rep("access dangling", syscall(SYS_access, "dangling", F_OK));
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    qc_rep("faccessat dirfd", syscall(SYS_faccessat, dfd, "x", X_OK));
    qc_rep("faccessat cwd", syscall(SYS_faccessat, FDCWD, "r", R_OK));
    qc_rep("faccessat bad dirfd", syscall(SYS_faccessat, 999, "r", R_OK));
    qc_rep("faccessat2 nofollow dangling", syscall(SYS_faccessat2, FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
    qc_rep("faccessat2 follow dangling", syscall(SYS_faccessat2, FDCWD, "dangling", F_OK, 0));
    qc_rep("faccessat2 eaccess", syscall(SYS_faccessat2, FDCWD, "x", X_OK, AT_EACCESS));
    qc_rep("faccessat2 bad flags", syscall(SYS_faccessat2, FDCWD, "x", F_OK, 0x1L));
    int fd = open("x", O_RDONLY);
    qc_rep("faccessat2 empty path", syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
    close(fd);
    // As an unprivileged effective user the permission bits apply.
    if (syscall(SYS_setresuid, -1L, 1000L, -1L) != 0) qc_die("seteuid");
    qc_rep("euid 1000: access R_OK (real uid 0)", syscall(SYS_access, "r", R_OK));
    qc_rep("euid 1000: faccessat2 eaccess R_OK", syscall(SYS_faccessat2, FDCWD, "r", R_OK, AT_EACCESS));
    qc_rep("euid 1000: faccessat2 eaccess X_OK", syscall(SYS_faccessat2, FDCWD, "x", X_OK, AT_EACCESS));
    qc_rep("euid 1000: faccessat2 eaccess W_OK", syscall(SYS_faccessat2, FDCWD, "x", W_OK, AT_EACCESS));
    if (syscall(SYS_setresuid, -1L, 0L, -1L) != 0) qc_die("seteuid back");
    close(dfd);
    qc_leave();
    return 0;
}
