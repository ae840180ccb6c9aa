// covers: rt_sigaction rt_sigprocmask
#include "qc.h"

struct ksa { unsigned long handler, flags, restorer, mask; };

static void h(int s) { (void)s; }

int main(void) {
    struct ksa a = {(unsigned long)h, 0x04000000UL /* SA_RESTORER */, 0, (1UL << 8) | (1UL << 18) | 1UL}, o;
    a.restorer = (unsigned long)h;
    memset(&o, 0x55, sizeof o);
    qc_rep("rt_sigaction SIGUSR1", syscall(SYS_rt_sigaction, SIGUSR1, &a, &o, 8L));
    printf("old: handler=%lu mask=%lx\n", o.handler, o.mask);
    qc_rep("rt_sigaction read back", syscall(SYS_rt_sigaction, SIGUSR1, NULL, &o, 8L));
    qc_yes("handler round-trips", o.handler == (unsigned long)h);
    printf("stored mask: %lx (KILL/STOP dropped)\n", o.mask);
    printf("stored flags has SA_RESTORER: %d\n", !!(o.flags & 0x04000000UL));
    qc_rep("rt_sigaction SIGKILL set", syscall(SYS_rt_sigaction, SIGKILL, &a, NULL, 8L));
    qc_rep("rt_sigaction SIGSTOP set", syscall(SYS_rt_sigaction, SIGSTOP, &a, NULL, 8L));
    qc_rep("rt_sigaction SIGKILL query", syscall(SYS_rt_sigaction, SIGKILL, NULL, &o, 8L));
    qc_rep("rt_sigaction sig 0", syscall(SYS_rt_sigaction, 0L, NULL, &o, 8L));
    qc_rep("rt_sigaction sig 65", syscall(SYS_rt_sigaction, 65L, NULL, &o, 8L));
    qc_rep("rt_sigaction sig 64", syscall(SYS_rt_sigaction, 64L, NULL, &o, 8L));
    qc_rep("rt_sigaction bad sigsetsize", syscall(SYS_rt_sigaction, SIGUSR1, NULL, &o, 16L));
    qc_rep("rt_sigaction efault act", syscall(SYS_rt_sigaction, SIGUSR1, BADPTR1, NULL, 8L));
    qc_rep("rt_sigaction efault oact", syscall(SYS_rt_sigaction, SIGUSR1, NULL, BADPTRK, 8L));
    struct ksa ign = {1 /* SIG_IGN */, 0x04000000UL, (unsigned long)h, 0};
    qc_rep("rt_sigaction SIG_IGN", syscall(SYS_rt_sigaction, SIGUSR2, &ign, NULL, 8L));
    syscall(SYS_rt_sigaction, SIGUSR2, NULL, &o, 8L);
    printf("SIGUSR2 handler now: %lu\n", o.handler);

    unsigned long set = (1UL << (SIGUSR1 - 1)) | (1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1)), old = 77;
    qc_rep("sigprocmask SETMASK 0", syscall(SYS_rt_sigprocmask, SIG_SETMASK, &(unsigned long){0}, NULL, 8L));
    qc_rep("sigprocmask BLOCK", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8L));
    printf("old mask: %lx\n", old);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &old, 8L);
    printf("mask (KILL/STOP never blocked): %lx\n", old);
    unsigned long usr2 = 1UL << (SIGUSR2 - 1);
    qc_rep("sigprocmask BLOCK more", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &usr2, NULL, 8L));
    qc_rep("sigprocmask UNBLOCK", syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, &old, 8L));
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &old, 8L);
    printf("mask: %lx\n", old);
    qc_rep("sigprocmask bad how", syscall(SYS_rt_sigprocmask, 5L, &set, NULL, 8L));
    qc_rep("sigprocmask bad how no set", syscall(SYS_rt_sigprocmask, 5L, NULL, &old, 8L));
    qc_rep("sigprocmask bad size", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4L));
    qc_rep("sigprocmask efault set", syscall(SYS_rt_sigprocmask, SIG_BLOCK, BADPTR1, NULL, 8L));
    qc_rep("sigprocmask efault oset", syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, BADPTRK, 8L));
    unsigned long all = ~0UL;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8L);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &old, 8L);
    printf("setmask all: %lx\n", old);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &(unsigned long){0}, NULL, 8L);
    return 0;
}
