// covers: utimensat
#include "qc.h"
#include <time.h>

static void show(const char *label, const char *p, int nofollow) {
    struct stat st;
    if ((nofollow ? lstat(p, &st) : stat(p, &st)) != 0) { printf("%s: -1\n", label); return; }
    printf("%s: atime=%ld.%09ld mtime=%ld.%09ld\n", label, (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int main(void) {
    struct timespec ts[2] = {{1000000000, 123456789}, {1100000000, 987654321}};
    qc_enter("utimensat_basic");
    qc_write_file("f", "x");
    symlink("f", "l");
    qc_rep("utimensat set both", syscall(SYS_utimensat, FDCWD, "f", ts, 0));
    show("after set", "f", 0);
    struct timespec omit[2] = {{5, UTIME_OMIT}, {1200000000, 0}};
    qc_rep("utimensat omit atime", syscall(SYS_utimensat, FDCWD, "f", omit, 0));
    show("after omit", "f", 0);
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0);
    qc_rep("utimensat atime now", syscall(SYS_utimensat, FDCWD, "f", now, 0));
    struct stat st;
    stat("f", &st);
    qc_yes("atime is now", st.st_atim.tv_sec >= t0.tv_sec - 1 && st.st_atim.tv_sec <= t0.tv_sec + 5);
    qc_yes("mtime kept", st.st_mtim.tv_sec == 1200000000);
    qc_rep("utimensat NULL times", syscall(SYS_utimensat, FDCWD, "f", NULL, 0));
    stat("f", &st);
    qc_yes("NULL sets mtime to now", st.st_mtim.tv_sec >= t0.tv_sec - 1);
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    qc_rep("utimensat bad nsec", syscall(SYS_utimensat, FDCWD, "f", bad, 0));
    qc_rep("utimensat bad flags", syscall(SYS_utimensat, FDCWD, "f", ts, 0x1L));
    qc_rep("utimensat missing", syscall(SYS_utimensat, FDCWD, "missing", ts, 0));
    qc_rep("utimensat efault times", syscall(SYS_utimensat, FDCWD, "f", BADPTR1, 0));
    qc_rep("utimensat efault path", syscall(SYS_utimensat, FDCWD, BADPTR1, ts, 0));
    qc_rep("utimensat nofollow symlink", syscall(SYS_utimensat, FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
    show("symlink itself", "l", 1);
    int fd = open("f", O_RDONLY);
    qc_rep("utimensat fd with NULL path", syscall(SYS_utimensat, fd, NULL, ts, 0));
    show("via fd", "f", 0);
    qc_rep("utimensat empty path", syscall(SYS_utimensat, fd, "", omit, AT_EMPTY_PATH));
    show("via empty path", "f", 0);
    close(fd);
    qc_leave();
    return 0;
}
