/* Spawns PROGRAM COUNT times, one at a time, and waits for each.
 * Usage: proc_spawn MODE PROGRAM COUNT
 *   MODE fork:        fork() then execv() in the child
 *   MODE vfork:       vfork() then execv()
 *   MODE posix_spawn: posix_spawn() (glibc: clone(CLONE_VM|CLONE_VFORK))
 * Prints one summary line; exits 0 only when every child exited with 0 and
 * no child is left to reap. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s fork|vfork|posix_spawn PROGRAM COUNT\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *prog = argv[2];
    int count = atoi(argv[3]), ok = 0, distinct_pids = 0;
    pid_t last = 0;
    char *child_argv[] = {(char *)prog, NULL};

    for (int i = 0; i < count; i++) {
        pid_t pid;
        if (!strcmp(mode, "posix_spawn")) {
            int err = posix_spawn(&pid, prog, NULL, NULL, child_argv, environ);
            if (err) {
                fprintf(stderr, "posix_spawn: %s\n", strerror(err));
                return 1;
            }
        } else {
            pid = !strcmp(mode, "vfork") ? vfork() : fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                execv(prog, child_argv);
                _exit(127);
            }
        }
        int status;
        pid_t got = waitpid(pid, &status, 0);
        if (got != pid) {
            fprintf(stderr, "waitpid(%d) returned %d: %s\n", pid, got, strerror(errno));
            return 1;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else
            fprintf(stderr, "child %d: status 0x%x\n", i, status);
        if (pid != last)
            distinct_pids++;
        last = pid;
    }
    /* Every child was reaped: nothing is left. */
    pid_t extra = waitpid(-1, NULL, WNOHANG);
    int echild = extra < 0 && errno == ECHILD;
    printf("%s: %d/%d exited 0, pids changed %d times, no children left: %s\n",
           mode, ok, count, distinct_pids, echild ? "yes" : "no");
    return ok == count && echild ? 0 : 1;
}
