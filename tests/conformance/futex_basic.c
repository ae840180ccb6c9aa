// covers: futex
#include "qc.h"
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

static long fx(uint32_t *uaddr, int op, uint32_t val, const void *timeout, uint32_t *uaddr2, uint32_t val3) {
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

static uint32_t word;
static volatile int waiter_ready;

static void *waiter(void *arg) {
    (void)arg;
    waiter_ready = 1;
    // Wait until main changes the word and wakes us (EAGAIN if it already did).
    while (__atomic_load_n(&word, __ATOMIC_SEQ_CST) == 0)
        fx(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

int main(void) {
    uint32_t f = 5, g = 3;
    struct timespec short_ts = {0, 20 * 1000 * 1000};
    struct timespec bad_ts = {0, 2000000000L};
    qc_rep("wait wrong value", fx(&f, FUTEX_WAIT, 4, NULL, NULL, 0));
    qc_rep("wait times out", fx(&f, FUTEX_WAIT_PRIVATE, 5, &short_ts, NULL, 0));
    qc_rep("wait bad timespec", fx(&f, FUTEX_WAIT, 5, &bad_ts, NULL, 0));
    qc_rep("wait misaligned", fx((uint32_t *)((char *)&f + 1), FUTEX_WAIT, 5, &short_ts, NULL, 0));
    qc_rep("wait efault", fx((uint32_t *)BADPTRK, FUTEX_WAIT, 5, NULL, NULL, 0));
    qc_rep("wait_bitset zero bitset", fx(&f, FUTEX_WAIT_BITSET, 5, NULL, NULL, 0));
    struct timespec past = {0, 1};
    qc_rep("wait_bitset past deadline", fx(&f, FUTEX_WAIT_BITSET, 5, &past, NULL, FUTEX_BITSET_MATCH_ANY));
    qc_rep("wait_bitset realtime past", fx(&f, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 5, &past, NULL,
                                          FUTEX_BITSET_MATCH_ANY));
    qc_rep("wake nobody", fx(&f, FUTEX_WAKE, 1, NULL, NULL, 0));
    qc_rep("wake_bitset zero bitset", fx(&f, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0));
    qc_rep("wake realtime flag", fx(&f, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0));
    qc_rep("cmp_requeue mismatch", fx(&f, FUTEX_CMP_REQUEUE, 1, (void *)1, &g, 9));
    qc_rep("cmp_requeue match", fx(&f, FUTEX_CMP_REQUEUE, 1, (void *)1, &g, 5));
    qc_rep("requeue negative", fx(&f, FUTEX_REQUEUE, -1, (void *)1, &g, 0));
    // WAKE_OP: *g += 2, then compare the old value (3) > 2.
    qc_rep("wake_op add", fx(&f, FUTEX_WAKE_OP, 1, (void *)1, &g, FUTEX_OP(FUTEX_OP_ADD, 2, FUTEX_OP_CMP_GT, 2)));
    printf("g after add: %u\n", g);
    qc_rep("wake_op or shift", fx(&f, FUTEX_WAKE_OP, 1, (void *)1, &g,
                                  FUTEX_OP((FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT), 4, FUTEX_OP_CMP_EQ, 0)));
    printf("g after or: %u\n", g);
    qc_rep("wake_op bad op", fx(&f, FUTEX_WAKE_OP, 1, (void *)1, &g, 7u << 28));
    qc_rep("unknown op", fx(&f, 99, 0, NULL, NULL, 0));

    // A thread waits; main sets the word and wakes it.
    pthread_t th;
    if (pthread_create(&th, NULL, waiter, NULL) != 0)
        qc_die("pthread_create");
    while (!waiter_ready)
        sched_yield();
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
    long woken = fx(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    qc_yes("wake returned 0 or 1", woken == 0 || woken == 1);
    pthread_join(th, NULL);
    printf("thread joined\n");
    return 0;
}
