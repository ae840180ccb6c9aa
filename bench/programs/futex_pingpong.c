/* Two threads hand a turn back and forth through one futex word, argv[1]
 * round trips (default 10000); prints the mean ns per round trip. Neither
 * thread spins: each waits in FUTEX_WAIT until the other wakes it, so this
 * measures futex wait/wake and the thread switch they cause. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int word;            /* 0: the main thread's turn, 1: the partner's */
static long rounds;

static void futex_wait(int *addr, int val)
{
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(int *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wait for `mine`, then hand the turn over to `theirs`. */
static void take_turn(int mine, int theirs)
{
    while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) != mine)
        futex_wait(&word, theirs);
    __atomic_store_n(&word, theirs, __ATOMIC_RELEASE);
    futex_wake(&word);
}

static void *partner(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++)
        take_turn(1, 0);
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 10000;
    pthread_t t;
    if (pthread_create(&t, NULL, partner, NULL)) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < rounds; i++)
        take_turn(0, 1);
    /* The last hand-over: wait until the partner has given the turn back. */
    while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) != 0)
        futex_wait(&word, 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / rounds;
    printf("%.1f\n", ns);
    return 0;
}
