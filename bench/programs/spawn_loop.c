/* Prints the mean cost of one fork+execve+waitpid of a static true, in µs,
 * over argv[1] spawns. argv[2] picks the way: "fork" (default) or
 * "posix_spawn". The child is true_static next to this program (found from
 * argv[0], so the same binary works in a container and on the host). */
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200;
    int use_spawn = argc > 2 && !strcmp(argv[2], "posix_spawn");
    char path[PATH_MAX];
    const char *slash = strrchr(argv[0], '/');
    if (slash)
        snprintf(path, sizeof path, "%.*s/true_static", (int)(slash - argv[0]), argv[0]);
    else
        snprintf(path, sizeof path, "/bin/true_static");
    char *child_argv[] = {path, NULL};

    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        pid_t pid;
        if (use_spawn) {
            if (posix_spawn(&pid, path, NULL, NULL, child_argv, environ)) {
                fprintf(stderr, "posix_spawn %s failed\n", path);
                return 1;
            }
        } else {
            pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                execve(path, child_argv, environ);
                _exit(127);
            }
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "spawn %ld of %s: bad status 0x%x\n", i, path, status);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n / 1e3;
    printf("%.1f\n", us);
    return 0;
}
