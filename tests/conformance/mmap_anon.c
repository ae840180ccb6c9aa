// covers: mmap munmap mprotect
#include "qc.h"
#include <sys/mman.h>

// Whether the kernel can read [p, p+n): write(2) from it to a pipe (no fault
// in the program, the kernel reports EFAULT).
static int readable(int fd, void *p, size_t n) {
    long r = syscall(SYS_write, fd, p, n);
    if (r > 0) { char sink[8192]; read(fd - 1, sink, sizeof sink); }
    return r == (long)n;
}

static int writable(int rfd, int wfd, void *p) {
    write(wfd, "w", 1);
    return syscall(SYS_read, rfd, p, 1) == 1;
}

int main(void) {
    int pp[2];
    if (pipe(pp)) qc_die("pipe");
    long pg = 4096;
    char *a = (char *)syscall(SYS_mmap, NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1L, 0L);
    qc_yes("mmap anon ok", a != MAP_FAILED);
    qc_yes("page aligned", ((long)a & (pg - 1)) == 0);
    int zero = 1;
    for (long i = 0; i < 4 * pg; i++) if (a[i]) zero = 0;
    qc_yes("anon memory is zero", zero);
    memset(a, 7, 4 * pg);
    qc_yes("writes stick", a[4 * pg - 1] == 7);
    qc_rep("mprotect read-only", syscall(SYS_mprotect, a + pg, pg, PROT_READ));
    qc_yes("kernel reads ro page", readable(pp[1], a + pg, pg));
    qc_yes("kernel cannot write ro page", !writable(pp[0], pp[1], a + pg));
    qc_rep("mprotect none", syscall(SYS_mprotect, a + 2 * pg, pg, PROT_NONE));
    qc_yes("kernel cannot read PROT_NONE page", !readable(pp[1], a + 2 * pg, 16));
    printf("errno: %s\n", strerrorname_np(errno));
    qc_rep("mprotect back rw", syscall(SYS_mprotect, a + pg, 2 * pg, PROT_READ | PROT_WRITE));
    qc_yes("contents kept across mprotect", a[2 * pg] == 7 && a[pg] == 7);
    qc_rep("mprotect unaligned", syscall(SYS_mprotect, a + 1, pg, PROT_READ));
    qc_rep("mprotect bad prot", syscall(SYS_mprotect, a, pg, 0x100L));
    qc_rep("munmap middle page", syscall(SYS_munmap, a + pg, pg));
    qc_yes("unmapped page unreadable", !readable(pp[1], a + pg, 16));
    qc_yes("neighbours still mapped", readable(pp[1], a, pg) && readable(pp[1], a + 2 * pg, pg));
    qc_rep("mprotect over hole", syscall(SYS_mprotect, a, 3 * pg, PROT_READ));
    qc_rep("munmap unaligned", syscall(SYS_munmap, a + 1, pg));
    qc_rep("munmap zero length", syscall(SYS_munmap, a, 0L));
    qc_rep("munmap already unmapped", syscall(SYS_munmap, a + pg, pg));
    qc_rep("munmap rest", syscall(SYS_munmap, a, 4 * pg));
    qc_yes("all gone", !readable(pp[1], a, 16));
    qc_rep("mmap zero length", syscall(SYS_mmap, NULL, 0L, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1L, 0L));
    qc_rep("mmap no share type", syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_ANONYMOUS, -1L, 0L));
    qc_rep("mmap fixed unaligned", syscall(SYS_mmap, (void *)0x10001000001L, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1L, 0L));
    qc_rep("mmap bad fd", syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_PRIVATE, 999L, 0L));
    qc_rep("mmap unaligned offset", syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_PRIVATE, 0L, 1L));
    void *hint = (void *)0x200000000L;
    char *f = (char *)syscall(SYS_mmap, hint, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1L, 0L);
    qc_yes("MAP_FIXED at requested address", f == hint);
    f[0] = 1;
    char *g = (char *)syscall(SYS_mmap, hint, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1L, 0L);
    qc_yes("MAP_FIXED replaces and zeroes", g == hint && g[0] == 0);
    long r = syscall(SYS_mmap, hint, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1L, 0L);
    qc_rep("MAP_FIXED_NOREPLACE over mapping", r);
    char *big = (char *)syscall(SYS_mmap, NULL, 64L << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1L, 0L);
    qc_yes("64 MiB mapping", big != MAP_FAILED);
    big[(64L << 20) - 1] = 3;
    qc_yes("last byte of 64 MiB writable", big[(64L << 20) - 1] == 3);
    qc_rep("munmap 64 MiB", syscall(SYS_munmap, big, 64L << 20));
    char *s = (char *)syscall(SYS_mmap, NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1L, 0L);
    qc_yes("shared anon mapping", s != MAP_FAILED && s[0] == 0);
    char *ro = (char *)syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1L, 0L);
    qc_yes("read-only anon readable by kernel", readable(pp[1], ro, 16));
    qc_yes("read-only anon not writable by kernel", !writable(pp[0], pp[1], ro));
    return 0;
}
