// covers: eventfd eventfd2
#include "qc.h"
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

int main(void) {
    int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    qc_ok("eventfd2", fd);
    uint64_t v = 0;
    qc_rep("read", read(fd, &v, 8));
    printf("value: %lu\n", (unsigned long)v);
    qc_rep("read empty", read(fd, &v, 8));
    v = 5;
    qc_rep("write 5", write(fd, &v, 8));
    v = 2;
    qc_rep("write 2", write(fd, &v, 8));
    qc_rep("read short", read(fd, &v, 4));
    qc_rep("read", read(fd, &v, 8));
    printf("value: %lu\n", (unsigned long)v);
    v = UINT64_MAX;
    qc_rep("write max", write(fd, &v, 8));
    v = UINT64_MAX - 1;
    qc_rep("write max-1", write(fd, &v, 8));
    v = 1;
    qc_rep("write overflow", write(fd, &v, 8));
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    qc_rep("poll full", poll(&p, 1, 0));
    printf("revents: %#x\n", p.revents);

    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    qc_rep("sem read", read(sem, &v, 8));
    printf("value: %lu\n", (unsigned long)v);
    qc_rep("sem read", read(sem, &v, 8));
    qc_rep("sem read empty", read(sem, &v, 8));
    p.fd = sem;
    qc_rep("poll empty", poll(&p, 1, 0));
    printf("revents: %#x\n", p.revents);
    qc_rep("eventfd bad flags", syscall(SYS_eventfd2, 0L, 0x10L));
    int old = syscall(SYS_eventfd, 1L);
    qc_ok("eventfd", old);
    qc_rep("fcntl cloexec", fcntl(fd, F_GETFD));
    qc_rep("fcntl nonblock", fcntl(old, F_GETFL) & O_NONBLOCK);

    // A blocking reader woken by a write from a child.
    int b = eventfd(0, 0);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        uint64_t one = 9;
        write(b, &one, 8);
        _exit(0);
    }
    qc_rep("blocking read", read(b, &v, 8));
    printf("value: %lu\n", (unsigned long)v);
    waitpid(pid, NULL, 0);
    return 0;
}
