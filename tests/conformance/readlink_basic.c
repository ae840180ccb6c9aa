// covers: symlink symlinkat readlink readlinkat
#include "qc.h"

int main(int argc, char **argv) {
    char buf[256];
    (void)argc;
    qc_enter("readlink_basic");
    qc_write_file("target", "t");
    qc_rep("symlink", syscall(SYS_symlink, "target", "l1"));
    qc_rep("symlink exists", syscall(SYS_symlink, "target", "l1"));
    qc_rep("symlink dangling", syscall(SYS_symlink, "nowhere/x", "l2"));
    qc_rep("symlink empty target", syscall(SYS_symlink, "", "l3"));
    qc_rep("symlink efault", syscall(SYS_symlink, BADPTR1, "l4"));
    qc_rep("symlink missing parent", syscall(SYS_symlink, "target", "nodir/l"));
    mkdir("d", 0755);
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    qc_rep("symlinkat dirfd", syscall(SYS_symlinkat, "../target", dfd, "l5"));
    qc_rep("symlinkat cwd", syscall(SYS_symlinkat, "d/l5", FDCWD, "l6"));
    long n = qc_rep("readlink", syscall(SYS_readlink, "l1", buf, sizeof buf));
    if (n > 0) printf("readlink value: %.*s\n", (int)n, buf);
    n = qc_rep("readlink truncated", syscall(SYS_readlink, "l1", buf, 3));
    if (n > 0) printf("truncated value: %.*s\n", (int)n, buf);
    qc_rep("readlink size 0", syscall(SYS_readlink, "l1", buf, 0));
    qc_rep("readlink not link", syscall(SYS_readlink, "target", buf, sizeof buf));
    qc_rep("readlink missing", syscall(SYS_readlink, "missing", buf, sizeof buf));
    qc_rep("readlink efault buf", syscall(SYS_readlink, "l1", BADPTR1, sizeof buf));
    n = qc_rep("readlinkat dirfd", syscall(SYS_readlinkat, dfd, "l5", buf, sizeof buf));
    if (n > 0) printf("readlinkat value: %.*s\n", (int)n, buf);
    n = qc_rep("readlinkat cwd", syscall(SYS_readlinkat, FDCWD, "l6", buf, sizeof buf));
    if (n > 0) printf("readlinkat cwd value: %.*s\n", (int)n, buf);
    qc_rep("readlinkat bad dirfd", syscall(SYS_readlinkat, 999, "l5", buf, sizeof buf));
    char r[16];
    int fd = open("l6", O_RDONLY);
    qc_rep("open through two links", fd);
    qc_rep("read through links", read(fd, r, sizeof r));
    close(fd);
    qc_rep("open dangling", syscall(SYS_open, "l2", O_RDONLY));
    qc_rep("open nofollow on link", syscall(SYS_open, "l1", O_RDONLY | O_NOFOLLOW));
    symlink("loop_b", "loop_a");
    symlink("loop_a", "loop_b");
    qc_rep("open symlink loop", syscall(SYS_open, "loop_a", O_RDONLY));
    n = syscall(SYS_readlink, "/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) qc_rep("readlink /proc/self/exe", n);
    buf[n > 0 ? n : 0] = 0;
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    char want[128];
    snprintf(want, sizeof want, "/%s", base);
    size_t bl = strlen(buf), wl = strlen(want);
    qc_yes("/proc/self/exe ends with program name", bl >= wl && strcmp(buf + bl - wl, want) == 0);
    qc_yes("/proc/self/exe is absolute", buf[0] == '/');
    close(dfd);
    qc_leave();
    return 0;
}
