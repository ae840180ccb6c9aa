// covers: sendfile copy_file_range preadv pwritev preadv2 pwritev2
#include "qc.h"
#include <sys/sendfile.h>
#include <sys/uio.h>

static void show_file(const char *label, const char *path) {
    char buf[128] = {0};
    int fd = open(path, O_RDONLY);
    long n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("%s: %ld \"%s\"\n", label, n, n > 0 ? buf : "");
}

int main(void) {
    qc_enter("fs_sendfile");
    qc_write_file("src", "0123456789");
    int in = open("src", O_RDONLY);
    int out = open("dst", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    off_t off = 2;
    qc_rep("sendfile with offset", syscall(SYS_sendfile, (long)out, (long)in, &off, 5L));
    printf("offset now: %ld\n", (long)off);
    printf("in position: %ld\n", (long)lseek(in, 0, SEEK_CUR));
    qc_rep("sendfile from position", syscall(SYS_sendfile, (long)out, (long)in, NULL, 100L));
    printf("in position: %ld\n", (long)lseek(in, 0, SEEK_CUR));
    qc_rep("sendfile at eof", syscall(SYS_sendfile, (long)out, (long)in, NULL, 100L));
    show_file("dst", "dst");
    qc_rep("sendfile out not writable", syscall(SYS_sendfile, (long)in, (long)in, NULL, 1L));
    qc_rep("sendfile bad fd", syscall(SYS_sendfile, 999L, (long)in, NULL, 1L));
    qc_rep("sendfile bad offset ptr", syscall(SYS_sendfile, (long)out, (long)in, BADPTR1, 1L));
    int app = open("dst", O_WRONLY | O_APPEND);
    qc_rep("sendfile to O_APPEND", syscall(SYS_sendfile, (long)app, (long)in, &off, 1L));
    close(app);

    int p[2];
    if (pipe(p) != 0) qc_die("pipe");
    off = 0;
    qc_rep("sendfile file to pipe", syscall(SYS_sendfile, (long)p[1], (long)in, &off, 4L));
    char buf[64] = {0};
    qc_rep("pipe read", read(p[0], buf, sizeof buf));
    printf("pipe data: %s\n", buf);
    close(p[0]);
    close(p[1]);

    // copy_file_range
    int a = open("src", O_RDONLY);
    int b = open("cfr", O_RDWR | O_CREAT | O_TRUNC, 0644);
    loff_t oin = 3, oout = 0;
    qc_rep("copy_file_range offsets", syscall(SYS_copy_file_range, (long)a, &oin, (long)b, &oout, 4L, 0L));
    printf("offsets: %ld %ld\n", (long)oin, (long)oout);
    qc_rep("copy_file_range positions", syscall(SYS_copy_file_range, (long)a, NULL, (long)b, NULL, 100L, 0L));
    printf("positions: %ld %ld\n", (long)lseek(a, 0, SEEK_CUR), (long)lseek(b, 0, SEEK_CUR));
    show_file("cfr", "cfr");
    qc_rep("copy_file_range flags", syscall(SYS_copy_file_range, (long)a, NULL, (long)b, NULL, 1L, 1L));
    qc_rep("copy_file_range out read-only", syscall(SYS_copy_file_range, (long)b, NULL, (long)a, NULL, 1L, 0L));
    int d = open(".", O_RDONLY | O_DIRECTORY);
    qc_rep("copy_file_range from dir", syscall(SYS_copy_file_range, (long)d, NULL, (long)b, NULL, 1L, 0L));
    close(d);
    qc_rep("copy_file_range len 0", syscall(SYS_copy_file_range, (long)a, NULL, (long)b, NULL, 0L, 0L));
    close(a);
    close(b);

    // preadv/pwritev and the v2 forms
    int v = open("vec", O_RDWR | O_CREAT | O_TRUNC, 0644);
    struct iovec w[2] = {{"abc", 3}, {"defg", 4}};
    qc_rep("pwritev at 5", syscall(SYS_pwritev, (long)v, w, 2L, 5L, 0L));
    printf("position: %ld\n", (long)lseek(v, 0, SEEK_CUR));
    qc_rep("pwritev2 at -1", syscall(SYS_pwritev2, (long)v, w, 1L, -1L, -1L, 0L));
    printf("position: %ld\n", (long)lseek(v, 0, SEEK_CUR));
    char r1[4], r2[8];
    struct iovec r[2] = {{r1, 4}, {r2, 8}};
    long n = syscall(SYS_preadv, (long)v, r, 2L, 0L, 0L);
    qc_rep("preadv at 0", n);
    printf("data: %.3s|%d%d|%.6s\n", r1, r1[3], r2[0], r2 + 1);
    qc_rep("preadv2 at -1", syscall(SYS_preadv2, (long)v, r, 1L, -1L, -1L, 0L));
    printf("position: %ld\n", (long)lseek(v, 0, SEEK_CUR));
    qc_rep("preadv negative offset", syscall(SYS_preadv, (long)v, r, 1L, -5L, -1L));
    qc_rep("preadv2 bad flags", syscall(SYS_preadv2, (long)v, r, 1L, 0L, 0L, 0x10000L));
    qc_rep("pwritev2 RWF_DSYNC", syscall(SYS_pwritev2, (long)v, w, 1L, 0L, 0L, (long)RWF_DSYNC));
    qc_rep("pwritev2 RWF_APPEND", syscall(SYS_pwritev2, (long)v, w, 1L, 0L, 0L, (long)RWF_APPEND));
    show_file("vec size", "vec");
    qc_rep("preadv bad iov", syscall(SYS_preadv, (long)v, BADPTR1, 1L, 0L, 0L));
    qc_rep("preadv bad fd", syscall(SYS_preadv, 999L, r, 1L, 0L, 0L));
    if (pipe(p) != 0) qc_die("pipe");
    qc_rep("preadv pipe", syscall(SYS_preadv, (long)p[0], r, 1L, 0L, 0L));
    qc_rep("pwritev2 pipe at -1", syscall(SYS_pwritev2, (long)p[1], w, 1L, -1L, -1L, 0L));
    close(v);
    qc_leave();
    return 0;
}
