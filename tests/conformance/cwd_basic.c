// covers: getcwd chdir fchdir
#include "qc.h"

int main(void) {
    char buf[512], start[512];
    qc_enter("cwd_basic");
    long n = syscall(SYS_getcwd, start, sizeof start);
    qc_yes("getcwd returns length incl NUL", n == (long)strlen(start) + 1);
    qc_yes("getcwd is scratch dir", strcmp(start, qc_dir) == 0);
    mkdir("sub", 0755);
    mkdir("sub/deeper", 0755);
    qc_rep("chdir sub", syscall(SYS_chdir, "sub"));
    syscall(SYS_getcwd, buf, sizeof buf);
    qc_yes("cwd ends with /sub", strlen(buf) > 4 && strcmp(buf + strlen(buf) - 4, "/sub") == 0);
    qc_rep("chdir ..", syscall(SYS_chdir, ".."));
    syscall(SYS_getcwd, buf, sizeof buf);
    qc_yes("back at start", strcmp(buf, start) == 0);
    qc_rep("chdir missing", syscall(SYS_chdir, "missing"));
    qc_write_file("file", "x");
    qc_rep("chdir file", syscall(SYS_chdir, "file"));
    qc_rep("chdir efault", syscall(SYS_chdir, BADPTR1));
    qc_rep("chdir empty", syscall(SYS_chdir, ""));
    int dfd = open("sub/deeper", O_RDONLY | O_DIRECTORY);
    qc_rep("fchdir", syscall(SYS_fchdir, dfd));
    syscall(SYS_getcwd, buf, sizeof buf);
    qc_yes("cwd ends with /sub/deeper", strlen(buf) > 11 && strcmp(buf + strlen(buf) - 11, "/sub/deeper") == 0);
    qc_rep("relative open after fchdir", syscall(SYS_open, "../../file", O_RDONLY));
    int f = open("../../file", O_RDONLY);
    qc_rep("fchdir on file", syscall(SYS_fchdir, f));
    qc_rep("fchdir bad fd", syscall(SYS_fchdir, 999));
    qc_rep("getcwd size 1", syscall(SYS_getcwd, buf, 1));
    qc_rep("getcwd size 0", syscall(SYS_getcwd, buf, 0));
    qc_rep("getcwd efault", syscall(SYS_getcwd, BADPTR1, sizeof buf));
    qc_rep("chdir /", syscall(SYS_chdir, "/"));
    n = syscall(SYS_getcwd, buf, sizeof buf);
    printf("getcwd at root: %ld %s\n", n, buf);
    qc_rep("chdir /.. stays at root", syscall(SYS_chdir, "/.."));
    syscall(SYS_getcwd, buf, sizeof buf);
    printf("cwd: %s\n", buf);
    qc_rep("chdir /tmp", syscall(SYS_chdir, "/tmp"));
    syscall(SYS_getcwd, buf, sizeof buf);
    printf("cwd: %s\n", buf);
    close(dfd);
    close(f);
    qc_leave();
    return 0;
}
