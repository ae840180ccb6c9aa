// covers: sigaltstack rt_sigaction rt_sigreturn
#include "qc.h"
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

#define ALT_SIZE (256 * 1024)
static char alt[ALT_SIZE] __attribute__((aligned(16)));
static volatile int on_alt, flags_inside, eperm_inside, hits;

static void on_sig(int s) {
    (void)s;
    char local;
    hits++;
    on_alt = &local > alt && &local < alt + ALT_SIZE;
    stack_t cur;
    sigaltstack(NULL, &cur);
    flags_inside = cur.ss_flags;
    stack_t other = {.ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0};
    eperm_inside = sigaltstack(&other, NULL) == -1 && errno == EPERM;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, NULL);
}

static const char *flag_name(int f) {
    static char buf[64];
    snprintf(buf, sizeof buf, "%s%s%s%s", f & SS_ONSTACK ? "ONSTACK " : "",
             f & SS_DISABLE ? "DISABLE " : "", f & SS_AUTODISARM ? "AUTODISARM " : "",
             f == 0 ? "0" : "");
    return buf;
}

int main(void) {
    stack_t ss, old;
    memset(&old, 0x55, sizeof old);
    qc_rep("query", sigaltstack(NULL, &old));
    printf("initial flags: %s size=%zu sp_null=%d\n", flag_name(old.ss_flags), old.ss_size,
           old.ss_sp == NULL);

    ss.ss_sp = alt; ss.ss_size = 1024; ss.ss_flags = 0;
    qc_rep("too small", sigaltstack(&ss, NULL));
    ss.ss_size = ALT_SIZE; ss.ss_flags = 7;
    qc_rep("bad flags", sigaltstack(&ss, NULL));
    qc_rep("efault", syscall(SYS_sigaltstack, BADPTR1, NULL));
    ss.ss_flags = 0;
    qc_rep("set", sigaltstack(&ss, NULL));
    sigaltstack(NULL, &old);
    printf("after set: flags=%s size_ok=%d sp_ok=%d\n", flag_name(old.ss_flags),
           old.ss_size == ALT_SIZE, old.ss_sp == alt);

    install(SA_ONSTACK);
    raise(SIGUSR1);
    printf("SA_ONSTACK: hits=%d on_alt=%d flags_inside=%s eperm_inside=%d\n", hits, on_alt,
           flag_name(flags_inside), eperm_inside);
    sigaltstack(NULL, &old);
    printf("after handler: flags=%s\n", flag_name(old.ss_flags));

    install(0);
    raise(SIGUSR1);
    printf("no SA_ONSTACK: on_alt=%d flags_inside=%s\n", on_alt, flag_name(flags_inside));

    ss.ss_flags = SS_AUTODISARM;
    qc_rep("set autodisarm", sigaltstack(&ss, NULL));
    install(SA_ONSTACK);
    raise(SIGUSR1);
    printf("autodisarm: on_alt=%d flags_inside=%s\n", on_alt, flag_name(flags_inside));
    sigaltstack(NULL, &old);
    printf("after handler: flags=%s\n", flag_name(old.ss_flags));

    ss.ss_flags = SS_DISABLE;
    qc_rep("disable", sigaltstack(&ss, &old));
    sigaltstack(NULL, &old);
    printf("disabled: flags=%s size=%zu\n", flag_name(old.ss_flags), old.ss_size);
    raise(SIGUSR1);
    printf("disabled SA_ONSTACK: on_alt=%d\n", on_alt);
    return 0;
}
