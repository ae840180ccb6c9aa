// covers: mremap madvise
#include "qc.h"
#include <sys/mman.h>

int main(void) {
    long pg = 4096;
    char *a = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) qc_die("mmap");
    memset(a, 9, 2 * pg);
    char *b = (char *)syscall(SYS_mremap, a, 2 * pg, pg, 0L);
    qc_yes("shrink in place", b == a);
    // Block growth in place with a neighbouring mapping, then grow with MAYMOVE.
    char *guard = mmap(a + pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    qc_yes("guard mapped", guard == a + pg);
    qc_rep("grow without MAYMOVE blocked", syscall(SYS_mremap, a, pg, 4 * pg, 0L));
    char *c = (char *)syscall(SYS_mremap, a, pg, 4 * pg, (long)MREMAP_MAYMOVE);
    qc_yes("grow with MAYMOVE", c != MAP_FAILED);
    qc_yes("contents moved", c[0] == 9 && c[pg - 1] == 9);
    int zero = 1;
    for (long i = pg; i < 4 * pg; i++) if (c[i]) zero = 0;
    qc_yes("grown part zero", zero);
    c[4 * pg - 1] = 1;
    void *fixed = (void *)0x300000000L;
    char *d = (char *)syscall(SYS_mremap, c, 4 * pg, 4 * pg, (long)(MREMAP_MAYMOVE | MREMAP_FIXED), fixed);
    qc_yes("MREMAP_FIXED to address", d == fixed && d[0] == 9 && d[4 * pg - 1] == 1);
    qc_rep("mremap unaligned", syscall(SYS_mremap, d + 1, pg, pg, 0L));
    qc_rep("mremap bad flags", syscall(SYS_mremap, d, pg, pg, 0x100L));
    qc_rep("mremap FIXED without MAYMOVE", syscall(SYS_mremap, d, pg, pg, (long)MREMAP_FIXED, (void *)0x310000000L));
    qc_rep("mremap new size 0", syscall(SYS_mremap, d, pg, 0L, (long)MREMAP_MAYMOVE));
    qc_rep("mremap unmapped", syscall(SYS_mremap, (void *)0x320000000L, pg, 2 * pg, (long)MREMAP_MAYMOVE));
    qc_rep("madvise normal", syscall(SYS_madvise, d, pg, MADV_NORMAL));
    qc_rep("madvise willneed", syscall(SYS_madvise, d, pg, MADV_WILLNEED));
    qc_rep("madvise dontneed", syscall(SYS_madvise, d, 2 * pg, MADV_DONTNEED));
    qc_yes("dontneed anon private reads zero", d[0] == 0 && d[2 * pg - 1] == 0);
    qc_yes("outside range kept", d[4 * pg - 1] == 1);
    qc_rep("madvise bad advice", syscall(SYS_madvise, d, pg, 12345L));
    qc_rep("madvise unaligned", syscall(SYS_madvise, d + 1, pg, MADV_NORMAL));
    qc_rep("madvise unmapped", syscall(SYS_madvise, (void *)0x320000000L, pg, MADV_NORMAL));
    qc_rep("madvise zero length", syscall(SYS_madvise, d, 0L, MADV_NORMAL));
    qc_rep("madvise free", syscall(SYS_madvise, d, pg, MADV_FREE));
    return 0;
}
