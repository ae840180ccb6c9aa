// covers: execve execveat
#include "qc.h"
#include <sys/wait.h>

static int run_child(void (*fn)(void)) {
    pid_t p = fork();
    if (p == 0) { fn(); _exit(99); }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void exec_self(void) {
    char *argv[] = {"proc_exec", "child", "hello world", NULL};
    char *envp[] = {"QC_EXEC=yes", NULL};
    syscall(SYS_execve, "/proc/self/exe", argv, envp);
}

static void execveat_self(void) {
    char *argv[] = {"proc_exec", "child", "via execveat", NULL};
    char *envp[] = {"QC_EXEC=at", NULL};
    int fd = open("/proc/self/exe", O_RDONLY);
    syscall(SYS_execveat, (long)fd, "", argv, envp, (long)AT_EMPTY_PATH);
}

static void exec_cloexec(void) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    int keep = open("/proc/self/exe", O_RDONLY);
    char a[16], b[16];
    snprintf(a, sizeof a, "%d", fd);
    snprintf(b, sizeof b, "%d", keep);
    char *argv[] = {"proc_exec", "fdcheck", a, b, NULL};
    execve("/proc/self/exe", argv, (char *[]){NULL});
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "child") == 0) {
        printf("child argv: %s, env: %s\n", argv[2], getenv("QC_EXEC") ? getenv("QC_EXEC") : "-");
        fflush(stdout);
        return 4;
    }
    if (argc >= 4 && strcmp(argv[1], "fdcheck") == 0) {
        int cloexec_gone = fcntl(atoi(argv[2]), F_GETFD) == -1 && errno == EBADF;
        int kept = fcntl(atoi(argv[3]), F_GETFD) == 0;
        printf("close-on-exec closed: %s, other kept: %s\n", cloexec_gone ? "yes" : "no", kept ? "yes" : "no");
        fflush(stdout);
        return 6;
    }
    qc_enter("proc_exec");
    fflush(stdout);
    printf("execve child status: %d\n", run_child(exec_self));
    fflush(stdout);
    printf("execveat child status: %d\n", run_child(execveat_self));
    fflush(stdout);
    printf("cloexec child status: %d\n", run_child(exec_cloexec));
    char *none[] = {"x", NULL};
    qc_rep("execve missing file", syscall(SYS_execve, "/no/such/program", none, none));
    qc_write_file("script.txt", "not a program\n");
    chmod("script.txt", 0755);
    qc_rep("execve non-ELF without #!", syscall(SYS_execve, "script.txt", none, none));
    qc_write_file("noexec", "x");
    chmod("noexec", 0644);
    qc_rep("execve without x bit", syscall(SYS_execve, "noexec", none, none));
    qc_rep("execve directory", syscall(SYS_execve, "/", none, none));
    qc_rep("execve bad path pointer", syscall(SYS_execve, BADPTR1, none, none));
    qc_rep("execve bad argv", syscall(SYS_execve, "/proc/self/exe", BADPTR1, none));
    qc_rep("execveat bad flags", syscall(SYS_execveat, FDCWD, "/proc/self/exe", none, none, 0x4L));
    qc_leave();
    return 0;
}
