// covers: link linkat
#include "qc.h"

static long nlink(const char *p) {
    struct stat st;
    return stat(p, &st) ? -1 : (long)st.st_nlink;
}

int main(void) {
    struct stat a, b;
    qc_enter("link_basic");
    qc_write_file("f", "data");
    qc_rep("link", syscall(SYS_link, "f", "g"));
    printf("nlink after link: %ld\n", nlink("f"));
    stat("f", &a);
    stat("g", &b);
    qc_yes("same inode", a.st_ino == b.st_ino);
    qc_rep("link exists", syscall(SYS_link, "f", "g"));
    qc_rep("link missing", syscall(SYS_link, "nope", "h"));
    mkdir("d", 0755);
    qc_rep("link dir", syscall(SYS_link, "d", "d2"));
    qc_rep("link efault", syscall(SYS_link, "f", BADPTR1));
    qc_rep("unlink one name", syscall(SYS_unlink, "f"));
    printf("nlink after unlink: %ld\n", nlink("g"));
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    qc_rep("linkat into dirfd", syscall(SYS_linkat, FDCWD, "g", dfd, "g2", 0));
    printf("nlink after linkat: %ld\n", nlink("g"));
    symlink("g", "s");
    qc_rep("linkat symlink nofollow", syscall(SYS_linkat, FDCWD, "s", FDCWD, "s_hard", 0));
    lstat("s_hard", &a);
    printf("s_hard is symlink: %d\n", S_ISLNK(a.st_mode));
    qc_rep("linkat symlink follow", syscall(SYS_linkat, FDCWD, "s", FDCWD, "s_follow", AT_SYMLINK_FOLLOW));
    lstat("s_follow", &a);
    printf("s_follow is regular: %d\n", S_ISREG(a.st_mode));
    qc_rep("linkat bad flags", syscall(SYS_linkat, FDCWD, "g", FDCWD, "x", 0x2L));
    qc_rep("linkat bad dirfd", syscall(SYS_linkat, 999, "g", FDCWD, "x", 0));
    printf("final nlink: %ld\n", nlink("g"));
    close(dfd);
    qc_leave();
    return 0;
}
