/* Orphans are re-parented to PID 1, and PID 1 reaps them.
 * Run as PID 1 of a fresh PID namespace (the container's init). The program
 * forks a child, which forks a grandchild and exits at once; the grandchild
 * waits until its parent is gone, prints getppid() (1: it was adopted by
 * init) and exits 42. Init then reaps both with waitpid(-1) and reports
 * which statuses it collected, in a fixed order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    printf("init pid=%d\n", getpid());
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        pid_t parent = getpid();
        pid_t grandchild = fork();
        if (grandchild < 0)
            _exit(2);
        if (grandchild == 0) {
            /* Wait (up to 10 s) for the parent to exit, then report. */
            for (int i = 0; i < 10000 && getppid() == parent; i++) {
                struct timespec ms = {0, 1000000};
                nanosleep(&ms, NULL);
            }
            printf("orphan ppid=%d\n", getppid());
            fflush(stdout);
            _exit(42);
        }
        _exit(7);
    }
    /* Reap everything: the child (7) and, once adopted, the grandchild (42). */
    int seen_child = 0, seen_orphan = 0, other = 0;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;          /* ECHILD: no one left */
        }
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (pid == child && code == 7)
            seen_child = 1;
        else if (pid != child && code == 42)
            seen_orphan = 1;
        else
            other++;
    }
    printf("reaped child=%d orphan=%d other=%d errno=%s\n", seen_child, seen_orphan, other,
           errno == ECHILD ? "ECHILD" : "?");
    return seen_child && seen_orphan && !other ? 0 : 1;
}
