// covers: arch_prctl set_tid_address set_robust_list get_robust_list rseq
#include "qc.h"
#include <asm/prctl.h>
#include <stddef.h>
#include <stdint.h>

extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;

int main(void) {
    unsigned long fs = 0, gs = 1;
    qc_rep("ARCH_GET_FS", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
    // glibc's TCB starts with a pointer to itself at %fs:0.
    unsigned long self;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(self));
    qc_yes("fs base is the TCB", fs == self && fs != 0);
    qc_rep("ARCH_SET_FS same value", syscall(SYS_arch_prctl, ARCH_SET_FS, fs));
    __asm__ volatile("mov %%fs:0, %0" : "=r"(self));
    qc_yes("TLS still works", self == fs);
    qc_rep("ARCH_SET_FS kernel address", syscall(SYS_arch_prctl, ARCH_SET_FS, 0xffff800000000000UL));
    qc_rep("ARCH_GET_FS efault", syscall(SYS_arch_prctl, ARCH_GET_FS, BADPTR1));
    static unsigned long gsarea[4] = {0x1234};
    qc_rep("ARCH_SET_GS", syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)gsarea));
    qc_rep("ARCH_GET_GS", syscall(SYS_arch_prctl, ARCH_GET_GS, &gs));
    qc_yes("gs base round-trips", gs == (unsigned long)gsarea);
    unsigned long v;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(v));
    qc_yes("gs-relative load", v == 0x1234);
    qc_rep("ARCH_SET_GS 0", syscall(SYS_arch_prctl, ARCH_SET_GS, 0UL));
    qc_rep("ARCH_GET_CPUID", syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0UL));
    qc_rep("arch_prctl bad code", syscall(SYS_arch_prctl, 0x9999, 0UL));

    int tidword;
    long tid = syscall(SYS_set_tid_address, &tidword);
    qc_yes("set_tid_address returns tid", tid == syscall(SYS_gettid));

    struct { void *next; long off; void *pending; } head = {&head, 0, NULL};
    void *gh; size_t gl;
    qc_rep("set_robust_list bad len", syscall(SYS_set_robust_list, &head, 23L));
    qc_rep("set_robust_list", syscall(SYS_set_robust_list, &head, sizeof head));
    qc_rep("get_robust_list self", syscall(SYS_get_robust_list, 0L, &gh, &gl));
    qc_yes("robust head round-trips", gh == (void *)&head && gl == 24);
    qc_rep("get_robust_list by tid", syscall(SYS_get_robust_list, tid, &gh, &gl));
    qc_rep("get_robust_list efault", syscall(SYS_get_robust_list, 0L, BADPTR1, &gl));
    qc_rep("get_robust_list no such pid", syscall(SYS_get_robust_list, 999999L, &gh, &gl));

    // glibc registered its rseq area at start-up (thread pointer + __rseq_offset).
    char *area = (char *)__builtin_thread_pointer() + __rseq_offset;
    qc_yes("glibc registered rseq", __rseq_size > 0);
    int32_t cpu = *(volatile int32_t *)(area + 4);
    qc_yes("rseq cpu_id is a cpu", cpu >= 0);
    static __attribute__((aligned(32))) char other[32];
    qc_rep("rseq register again same", syscall(SYS_rseq, area, 32L, 0L, 0x53053053L));
    qc_rep("rseq register other area", syscall(SYS_rseq, other, 32L, 0L, 0x53053053L));
    qc_rep("rseq bad flags", syscall(SYS_rseq, area, 32L, 2L, 0x53053053L));
    qc_rep("rseq unregister wrong sig", syscall(SYS_rseq, area, 32L, 1L, 0x1L));
    qc_rep("rseq unregister", syscall(SYS_rseq, area, 32L, 1L, 0x53053053L));
    qc_yes("cpu_id uninitialized after unregister", *(volatile int32_t *)(area + 4) == -1);
    qc_rep("rseq unregister again", syscall(SYS_rseq, area, 32L, 1L, 0x53053053L));
    qc_rep("rseq short len", syscall(SYS_rseq, other, 16L, 0L, 0x53053053L));
    qc_rep("rseq misaligned", syscall(SYS_rseq, other + 4, 32L, 0L, 0x53053053L));
    memset(other, 0xff, sizeof other);
    qc_rep("rseq register other", syscall(SYS_rseq, other, 32L, 0L, 0x53053053L));
    sched_yield();
    qc_yes("other cpu_id_start written", *(volatile int32_t *)(other + 0) >= 0);
    qc_yes("other cpu_id written", *(volatile int32_t *)(other + 4) >= 0);
    qc_rep("rseq unregister other", syscall(SYS_rseq, other, 32L, 1L, 0x53053053L));
    qc_rep("rseq register glibc area back", syscall(SYS_rseq, area, 32L, 0L, 0x53053053L));
    return 0;
}
