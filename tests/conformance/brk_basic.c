// covers: brk
#include "qc.h"

// The raw brk syscall returns the (new or unchanged) break, never -1.
int main(void) {
    char *cur = (char *)syscall(SYS_brk, 0);
    qc_yes("brk(0) returns a break", cur != NULL && (long)cur > 0);
    qc_yes("brk(0) is stable", (char *)syscall(SYS_brk, 0) == cur);
    char *grown = (char *)syscall(SYS_brk, cur + 3 * 4096 + 100);
    qc_yes("grow by 3 pages+100", grown == cur + 3 * 4096 + 100);
    memset(cur, 0x5a, 3 * 4096 + 100);
    qc_yes("grown memory usable", cur[3 * 4096 + 99] == 0x5a);
    // Memory new to the heap reads as zero (pages beyond the old break).
    char *more = (char *)syscall(SYS_brk, grown + 8192);
    int zero = 1;
    for (char *p = grown + 4096; p < more; p++) if (*p) zero = 0;
    qc_yes("fresh heap pages are zero", zero);
    char *shrunk = (char *)syscall(SYS_brk, cur + 4096);
    qc_yes("shrink accepted", shrunk == cur + 4096);
    qc_yes("kept part still there", cur[4095] == 0x5a);
    char *again = (char *)syscall(SYS_brk, cur + 2 * 4096);
    qc_yes("regrow accepted", again == cur + 2 * 4096);
    qc_yes("regrown page is zero", cur[4096 + 10] == 0);
    char *below = (char *)syscall(SYS_brk, (char *)0x1000);
    qc_yes("brk below start refused (unchanged)", below == again);
    char *huge = (char *)syscall(SYS_brk, cur + (1UL << 46));
    qc_yes("absurd brk refused (unchanged)", huge == again);
    char *kern = (char *)syscall(SYS_brk, BADPTRK);
    qc_yes("kernel-half brk refused (unchanged)", kern == again);
    char *m = malloc(100000);
    qc_yes("malloc works", m != NULL);
    memset(m, 1, 100000);
    free(m);
    syscall(SYS_brk, cur);
    qc_yes("back to start", (char *)syscall(SYS_brk, 0) == cur);
    return 0;
}
