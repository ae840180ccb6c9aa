// covers: truncate ftruncate fsync fdatasync
#include "qc.h"

static long size(const char *p) {
    struct stat st;
    return stat(p, &st) ? -1 : (long)st.st_size;
}

int main(void) {
    char buf[16];
    qc_enter("truncate_sync");
    qc_write_file("f", "0123456789");
    qc_rep("truncate shrink", syscall(SYS_truncate, "f", 4L));
    printf("size: %ld\n", size("f"));
    qc_rep("truncate grow", syscall(SYS_truncate, "f", 8L));
    printf("size: %ld\n", size("f"));
    int fd = open("f", O_RDWR);
    long n = read(fd, buf, sizeof buf);
    qc_yes("grown part reads zeros", n == 8 && memcmp(buf, "0123\0\0\0\0", 8) == 0);
    qc_rep("truncate negative", syscall(SYS_truncate, "f", -1L));
    qc_rep("truncate missing", syscall(SYS_truncate, "missing", 0L));
    qc_rep("truncate dir", syscall(SYS_truncate, ".", 0L));
    qc_rep("truncate efault", syscall(SYS_truncate, BADPTR1, 0L));
    qc_rep("ftruncate", syscall(SYS_ftruncate, fd, 2L));
    printf("size: %ld\n", size("f"));
    qc_rep("offset kept", syscall(SYS_lseek, fd, 0, SEEK_CUR));
    qc_rep("ftruncate negative", syscall(SYS_ftruncate, fd, -5L));
    qc_rep("ftruncate bad fd", syscall(SYS_ftruncate, 999, 0L));
    int ro = open("f", O_RDONLY);
    qc_rep("ftruncate read-only fd", syscall(SYS_ftruncate, ro, 0L));
    int p[2];
    pipe(p);
    qc_rep("ftruncate pipe", syscall(SYS_ftruncate, p[1], 0L));
    qc_rep("fsync", syscall(SYS_fsync, fd));
    qc_rep("fdatasync", syscall(SYS_fdatasync, fd));
    qc_rep("fsync read-only fd", syscall(SYS_fsync, ro));
    qc_rep("fsync bad fd", syscall(SYS_fsync, 999));
    qc_rep("fdatasync bad fd", syscall(SYS_fdatasync, -1L));
    qc_rep("fsync pipe", syscall(SYS_fsync, p[0]));
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    qc_rep("fsync dir", syscall(SYS_fsync, dfd));
    close(dfd); close(p[0]); close(p[1]); close(ro); close(fd);
    qc_leave();
    return 0;
}
