/* 8 threads share one counter under a mutex; a condition variable gates the
 * start (all threads wait for the main thread's broadcast) and reports the
 * end (the main thread waits until every thread has finished).
 * Usage: proc_pthread [THREADS [TOTAL_INCREMENTS]]   (default 8 1000000)
 * Prints "threads=N total=T expected=E" and exits 0 only when T == E. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int started, go, finished;
static long counter, per_thread;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    started++;
    pthread_cond_broadcast(&cond);      /* the main thread waits for all to start */
    while (!go)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);

    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }

    pthread_mutex_lock(&lock);
    finished++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return (void *)per_thread;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 8;
    long total = argc > 2 ? atol(argv[2]) : 1000000;
    if (n < 1 || n > 256 || total % n) {
        fprintf(stderr, "usage: %s [THREADS [TOTAL]] (TOTAL a multiple of THREADS)\n", argv[0]);
        return 2;
    }
    per_thread = total / n;
    pthread_t tids[256];
    for (int i = 0; i < n; i++) {
        int err = pthread_create(&tids[i], NULL, worker, NULL);
        if (err) {
            fprintf(stderr, "pthread_create: error %d\n", err);
            return 1;
        }
    }
    pthread_mutex_lock(&lock);
    while (started < n)
        pthread_cond_wait(&cond, &lock);
    go = 1;
    pthread_cond_broadcast(&cond);
    while (finished < n)
        pthread_cond_wait(&cond, &lock);
    long seen = counter;
    pthread_mutex_unlock(&lock);

    long joined = 0;
    for (int i = 0; i < n; i++) {
        void *ret;
        if (pthread_join(tids[i], &ret)) {
            fprintf(stderr, "pthread_join failed\n");
            return 1;
        }
        joined += (long)ret;
    }
    printf("threads=%d total=%ld joined=%ld expected=%ld\n", n, seen, joined, total);
    return seen == total && joined == total ? 0 : 1;
}
