/*
 * The hot loop of quark's host side, in C so that no Python runs between two
 * guest entries unless a request needs QKernel (DESIGN §4: a Python vCPU loop
 * and a Python poller fighting for the GIL cost milliseconds per call).
 *
 * - qv_run(): KVM_RUN until an exit that needs QKernel; the GIL is released
 *   by cffi for the whole call.
 * - the poller thread: watches the QCall slots while requests keep coming,
 *   sleeps on a futex when idle, and enters Python once per request through
 *   the extern "Python" callback qv_serve_slot().
 * - claiming: a request (identified by its sequence number) is served by
 *   exactly one host thread; the claim word is host memory the guest cannot
 *   touch.
 */
#include <errno.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define QV_MAX_SLOTS 128   /* = MAX_VCPUS in qvisor/layout.py (checked by a test) */

struct qv_slot {
    volatile uint64_t *guest;      /* the slot in guest memory: untrusted */
    _Atomic uint64_t claimed;      /* last sequence number a host thread took */
    _Atomic uint64_t answered;     /* last sequence number a host thread answered */
};

struct qv_poller {
    struct qv_slot slots[QV_MAX_SLOTS];
    int nslots;
    _Atomic uint32_t wake;         /* futex word: bumped to wake the poller */
    _Atomic int stop;
    _Atomic int sleeping;
    uint64_t idle_spin_ns;         /* how long to keep polling after the last request */
    pthread_t thread;
    int started;
};

static struct qv_poller poller;

/* Defined in Python (extern "Python"): serve slot `index`, request `seq`. */
static void qv_serve_slot(int index, uint64_t seq);

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

/* Offsets of the slot words, from spec/qcall (checked by a test). */
static int off_req_seq = 0, off_done_seq = 1, off_awake = -1;

void qv_set_slot_layout(int req_seq_word, int done_seq_word, int awake_word)
{
    off_req_seq = req_seq_word;
    off_done_seq = done_seq_word;
    off_awake = awake_word;
}

/* Tell every guest whether the poller is polling (guests exit at once when not). */
static void set_awake(uint64_t value)
{
    if (off_awake < 0)
        return;
    for (int i = 0; i < poller.nslots; i++)
        if (poller.slots[i].guest)
            poller.slots[i].guest[off_awake] = value;
}

int qv_slot_register(int index, uint64_t host_addr)
{
    if (index < 0 || index >= QV_MAX_SLOTS)
        return -EINVAL;
    volatile uint64_t *guest = (volatile uint64_t *)(uintptr_t)host_addr;
    /* The slot keeps its sequence numbers from the vCPU's previous task:
     * everything up to now counts as served, or the poller would run that
     * task's last request again for the new one. */
    uint64_t current = guest[off_req_seq];
    atomic_store(&poller.slots[index].claimed, current);
    atomic_store(&poller.slots[index].answered, current);
    guest[off_done_seq] = current;
    if (off_awake >= 0)
        guest[off_awake] = atomic_load(&poller.sleeping) ? 0 : 1;
    poller.slots[index].guest = guest;
    if (index >= poller.nslots)
        poller.nslots = index + 1;
    return 0;
}

/* Take request `seq` of slot `index` for the calling thread.  Returns 1 if
 * this thread now owns it, 0 if another thread owns or answered it. */
int qv_claim(int index, uint64_t seq)
{
    if (index < 0 || index >= QV_MAX_SLOTS)
        return 0;
    struct qv_slot *s = &poller.slots[index];
    uint64_t cur = atomic_load(&s->claimed);
    while (cur < seq) {
        if (atomic_compare_exchange_weak(&s->claimed, &cur, seq))
            return 1;
    }
    return 0;
}

/* Publish the answer of `seq`: data was written before, the number last. */
void qv_publish(int index, uint64_t seq)
{
    if (index < 0 || index >= QV_MAX_SLOTS || !poller.slots[index].guest)
        return;
    struct qv_slot *s = &poller.slots[index];
    atomic_store(&s->answered, seq);
    atomic_thread_fence(memory_order_release);
    s->guest[off_done_seq] = seq;
}

/* Wait until request `seq` has been answered by whichever thread owns it. */
void qv_wait_answered(int index, uint64_t seq)
{
    if (index < 0 || index >= QV_MAX_SLOTS)
        return;
    struct qv_slot *s = &poller.slots[index];
    while (atomic_load(&s->answered) < seq)
        __builtin_ia32_pause();
}

uint64_t qv_read_req_seq(int index)
{
    if (index < 0 || index >= QV_MAX_SLOTS || !poller.slots[index].guest)
        return 0;
    return poller.slots[index].guest[off_req_seq];
}

static void *poller_main(void *arg)
{
    (void)arg;
    uint64_t last_work = now_ns();
    while (!atomic_load(&poller.stop)) {
        int worked = 0;
        for (int i = 0; i < poller.nslots; i++) {
            struct qv_slot *s = &poller.slots[i];
            if (!s->guest)
                continue;
            uint64_t seq = s->guest[off_req_seq];
            if (seq > atomic_load(&s->claimed) && qv_claim(i, seq)) {
                qv_serve_slot(i, seq);
                worked = 1;
            }
        }
        if (worked) {
            last_work = now_ns();
            continue;
        }
        if (now_ns() - last_work < poller.idle_spin_ns) {
            __builtin_ia32_pause();
            continue;
        }
        /* Idle: sleep until a vCPU thread sees the guest fall back to an exit. */
        uint32_t w = atomic_load(&poller.wake);
        atomic_store(&poller.sleeping, 1);
        set_awake(0);
        /* A request posted just before the flag went down is still seen. */
        int pending = 0;
        for (int i = 0; i < poller.nslots; i++) {
            struct qv_slot *s = &poller.slots[i];
            if (s->guest && s->guest[off_req_seq] > atomic_load(&s->claimed))
                pending = 1;
        }
        if (!pending) {
            struct timespec ts = {1, 0};
            futex(&poller.wake, FUTEX_WAIT_PRIVATE, w, &ts);
        }
        atomic_store(&poller.sleeping, 0);
        set_awake(1);
        last_work = now_ns();
    }
    return NULL;
}

void qv_poller_wake(void)
{
    atomic_fetch_add(&poller.wake, 1);
    if (atomic_load(&poller.sleeping))
        futex(&poller.wake, FUTEX_WAKE_PRIVATE, 1, NULL);
}

int qv_max_slots(void)
{
    return QV_MAX_SLOTS;
}

int qv_poller_start(uint64_t idle_spin_ns)
{
    if (poller.started)
        return 0;
    poller.idle_spin_ns = idle_spin_ns;
    atomic_store(&poller.stop, 0);
    int r = pthread_create(&poller.thread, NULL, poller_main, NULL);
    if (r)
        return -r;
    poller.started = 1;
    return 0;
}

void qv_poller_stop(void)
{
    if (!poller.started)
        return;
    atomic_store(&poller.stop, 1);
    qv_poller_wake();
    pthread_join(poller.thread, NULL);
    poller.started = 0;
    for (int i = 0; i < QV_MAX_SLOTS; i++)
        poller.slots[i].guest = NULL;
    poller.nslots = 0;
}

/* ---- vCPU ---------------------------------------------------------------- */

/* Run the vCPU until an exit QKernel must see.  Returns the exit reason, or
 * -errno when KVM_RUN failed (EINTR is returned too: the caller was kicked). */
int qv_run(int vcpu_fd, struct kvm_run *run)
{
    for (;;) {
        int r = ioctl(vcpu_fd, KVM_RUN, 0);
        if (r < 0) {
            int e = errno;
            if (e == EAGAIN)
                continue;
            return -e;
        }
        return (int)run->exit_reason;
    }
}

/* Kick a vCPU thread out of KVM_RUN (needs a no-op signal handler installed
 * for `sig` in that thread's process). */
int qv_kick(struct kvm_run *run, unsigned long thread, int sig)
{
    run->immediate_exit = 1;
    return pthread_kill((pthread_t)thread, sig);
}

unsigned long qv_thread_self(void)
{
    return (unsigned long)pthread_self();
}

/* Plain ioctl with a pointer argument, GIL released (for KVM_SET_* calls). */
int qv_ioctl(int fd, unsigned long req, void *arg)
{
    int r = ioctl(fd, req, arg);
    return r < 0 ? -errno : r;
}

int qv_ioctl_int(int fd, unsigned long req, unsigned long arg)
{
    int r = ioctl(fd, req, arg);
    return r < 0 ? -errno : r;
}

/* The host's XCR0: under kvm_pvm the guest runs with it whatever it sets
 * (DESIGN §3), and on VMX it is the most a guest may enable. */
uint64_t qv_host_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
