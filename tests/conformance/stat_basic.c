// covers: fstat stat lstat newfstatat statx
#include "qc.h"
#include <sys/sysmacros.h>

// Directory sizes and link counts depend on the backing file system, so
// they are printed for non-directories only.
static void show(const char *label, long r, struct stat *st) {
    if (r == -1) { printf("%s: -1 %s\n", label, strerrorname_np(errno)); return; }
    printf("%s: type=%o perm=%o uid=%d gid=%d blksize>0=%s", label, st->st_mode & S_IFMT,
           st->st_mode & 07777, st->st_uid, st->st_gid, st->st_blksize > 0 ? "yes" : "no");
    if (!S_ISDIR(st->st_mode))
        printf(" size=%ld nlink=%ld", (long)st->st_size, (long)st->st_nlink);
    printf("\n");
}

int main(void) {
    struct stat st, st2;
    qc_enter("stat_basic");
    umask(0);
    qc_write_file("f", "0123456789");
    chmod("f", 0640);
    mkdir("d", 0750);
    symlink("f", "l");
    int fd = open("f", O_RDONLY);
    show("fstat file", syscall(SYS_fstat, fd, &st), &st);
    show("stat file", syscall(SYS_stat, "f", &st), &st);
    show("stat dir", syscall(SYS_stat, "d", &st), &st);
    show("stat symlink follows", syscall(SYS_stat, "l", &st), &st);
    show("lstat symlink", syscall(SYS_lstat, "l", &st), &st);
    show("lstat file", syscall(SYS_lstat, "f", &st), &st);
    show("newfstatat cwd", syscall(SYS_newfstatat, FDCWD, "f", &st, 0), &st);
    show("newfstatat nofollow", syscall(SYS_newfstatat, FDCWD, "l", &st, AT_SYMLINK_NOFOLLOW), &st);
    show("newfstatat empty path", syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH), &st);
    show("newfstatat empty no flag", syscall(SYS_newfstatat, fd, "", &st, 0), &st);
    show("newfstatat bad flags", syscall(SYS_newfstatat, FDCWD, "f", &st, 0x40000000L), &st);
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    qc_write_file("d/inner", "abc");
    show("newfstatat dirfd", syscall(SYS_newfstatat, dfd, "inner", &st, 0), &st);
    show("stat /", syscall(SYS_stat, "/", &st), &st);
    show("stat /dev/null", syscall(SYS_stat, "/dev/null", &st), &st);
    qc_yes("/dev/null is 1:3", major(st.st_rdev) == 1 && minor(st.st_rdev) == 3);
    syscall(SYS_stat, "f", &st);
    syscall(SYS_fstat, fd, &st2);
    qc_yes("stat and fstat agree on ino/dev", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
    syscall(SYS_stat, "l", &st2);
    qc_yes("symlink target same inode", st.st_ino == st2.st_ino);
    show("stat missing", syscall(SYS_stat, "missing", &st), &st);
    show("stat efault path", syscall(SYS_stat, BADPTR1, &st), &st);
    show("stat efault buf", syscall(SYS_stat, "f", BADPTR1), &st);
    show("fstat efault buf", syscall(SYS_fstat, fd, BADPTRK), &st);
    show("fstat bad fd", syscall(SYS_fstat, 999, &st), &st);
    show("stat through file", syscall(SYS_stat, "f/x", &st), &st);

    struct statx sx;
    long r = qc_rep("statx", syscall(SYS_statx, FDCWD, "f", 0, STATX_BASIC_STATS, &sx));
    if (r == 0)
        printf("statx: mask has basic=%s type=%o perm=%o size=%llu nlink=%u\n",
               (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS ? "yes" : "no",
               sx.stx_mode & S_IFMT, sx.stx_mode & 07777, (unsigned long long)sx.stx_size,
               sx.stx_nlink);
    qc_yes("statx ino matches stat", r == 0 && sx.stx_ino == st.st_ino);
    r = qc_rep("statx nofollow", syscall(SYS_statx, FDCWD, "l", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx));
    if (r == 0) printf("statx nofollow type: %o\n", sx.stx_mode & S_IFMT);
    r = qc_rep("statx empty path", syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx));
    if (r == 0) printf("statx empty path size: %llu\n", (unsigned long long)sx.stx_size);
    qc_rep("statx reserved mask bit", syscall(SYS_statx, FDCWD, "f", 0, 0x80000000L, &sx));
    qc_rep("statx bad flags", syscall(SYS_statx, FDCWD, "f", 0x40000000L, STATX_BASIC_STATS, &sx));
    qc_rep("statx efault buf", syscall(SYS_statx, FDCWD, "f", 0, STATX_BASIC_STATS, BADPTR1));
    qc_rep("statx missing", syscall(SYS_statx, FDCWD, "missing", 0, STATX_BASIC_STATS, &sx));
    close(fd);
    close(dfd);
    qc_leave();
    return 0;
}
