/* recv(MSG_WAITALL) on an AF_UNIX stream gets every byte even when they
   arrive in pieces: one chunk is there when recv starts, two come later. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); return 1; }
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec pause = {0, 100 * 1000 * 1000};
        for (int i = 0; i < 3; i++) {
            char chunk[1000];
            memset(chunk, 'a' + i, sizeof chunk);
            if (i)
                nanosleep(&pause, NULL);
            if (write(sv[1], chunk, sizeof chunk) != (ssize_t)sizeof chunk) return 2;
        }
        return 0;
    }
    struct timespec settle = {0, 30 * 1000 * 1000};
    nanosleep(&settle, NULL);          /* the first chunk is queued before recv */
    for (int round = 0; round < 20; round++) {
        if (round) {            /* later rounds: the child is gone; write them ourselves */
            char chunk[1500];
            memset(chunk, 'x', sizeof chunk);
            if (write(sv[1], chunk, sizeof chunk) != (ssize_t)sizeof chunk) return 3;
            if (write(sv[1], chunk, sizeof chunk) != (ssize_t)sizeof chunk) return 3;
        }
        char buf[3000];
        ssize_t n = recv(sv[0], buf, sizeof buf, MSG_WAITALL);
        if (n != (ssize_t)sizeof buf) { printf("round %d: got %zd bytes\n", round, n); return 4; }
        if (round == 0 && (buf[0] != 'a' || buf[1000] != 'b' || buf[2999] != 'c')) {
            printf("bytes out of order\n"); return 5;
        }
    }
    int status;
    waitpid(pid, &status, 0);
    printf("all %d bytes in order\n", 3000);
    return WEXITSTATUS(status);
}
