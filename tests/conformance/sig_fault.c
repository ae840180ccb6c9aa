// covers: rt_sigaction rt_sigreturn rt_sigprocmask
#include "qc.h"
#include <setjmp.h>
#include <ucontext.h>

static sigjmp_buf jb;
static volatile int got_sig, got_code, addr_ok;
static volatile void *want_addr;

static void jump_out(int s, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = s;
    got_code = si->si_code;
    addr_ok = si->si_addr == want_addr;
    siglongjmp(jb, 1);
}

// Resume past the faulting instruction by editing the saved context:
// checks that rt_sigreturn restores what the handler changed.
static volatile int skip_len;
static void skip_over(int s, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    got_sig = s;
    got_code = si->si_code;
    addr_ok = si->si_addr == (void *)uc->uc_mcontext.gregs[REG_RIP];
    uc->uc_mcontext.gregs[REG_RIP] += skip_len;
    uc->uc_mcontext.gregs[REG_RAX] = 1234;
}

static void install(int s, void (*fn)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(s, &sa, NULL) != 0)
        qc_die("sigaction");
}

static void report(const char *label) {
    printf("%s: sig=%d code=%d addr_ok=%d\n", label, got_sig, got_code, addr_ok);
    got_sig = got_code = addr_ok = 0;
}

int main(void) {
    install(SIGSEGV, jump_out, 0);
    want_addr = NULL;
    if (sigsetjmp(jb, 1) == 0) {
        *(volatile int *)0 = 1;
        printf("NULL write did not fault\n");
    }
    report("NULL write");
    // siglongjmp with savemask restored the mask: SIGSEGV is not blocked now.
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    qc_yes("SIGSEGV unblocked after siglongjmp", !sigismember(&cur, SIGSEGV));

    want_addr = (void *)0x1000;
    if (sigsetjmp(jb, 1) == 0) {
        (void)*(volatile int *)0x1000;
        printf("read of 0x1000 did not fault\n");
    }
    report("read 0x1000");

    static const char ro[4096] __attribute__((aligned(4096))) = "x";
    want_addr = (void *)ro;
    if (sigsetjmp(jb, 1) == 0) {
        *(volatile char *)ro = 1;
        printf("write to rodata did not fault\n");
    }
    report("write rodata");

    install(SIGFPE, jump_out, 0);
    volatile int zero = 0, n = 7;
    want_addr = NULL;
    if (sigsetjmp(jb, 1) == 0) {
        n = n / zero;
        printf("division did not fault\n");
    }
    printf("divide by zero: sig=%d code=%d\n", got_sig, got_code);
    got_sig = got_code = 0;

    install(SIGILL, skip_over, 0);
    skip_len = 2;
    long rax;
    __asm__ volatile("xor %%eax, %%eax\n\tud2" : "=a"(rax) : : "memory");
    report("ud2");
    printf("ud2 resumed with rax=%ld\n", rax);

    install(SIGTRAP, skip_over, 0);
    skip_len = 0;                            // int3 traps after the instruction
    __asm__ volatile("int3" ::: "memory");
    printf("int3: sig=%d code=%d\n", got_sig, got_code);
    return 0;
}
