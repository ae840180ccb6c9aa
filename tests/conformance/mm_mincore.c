// covers: mincore
#include "qc.h"
#include <sys/mman.h>

int main(void) {
    qc_enter("mm_mincore");
    long pg = 4096;
    unsigned char vec[4] = {9, 9, 9, 9};
    char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 4; i++) p[i * pg] = 1;
    qc_rep("mincore touched", syscall(SYS_mincore, p, 4 * pg, vec));
    qc_yes("all resident", (vec[0] & 1) && (vec[1] & 1) && (vec[2] & 1) && (vec[3] & 1));
    qc_rep("mincore unaligned", syscall(SYS_mincore, p + 1, pg, vec));
    munmap(p + 2 * pg, pg);
    qc_rep("mincore with a hole", syscall(SYS_mincore, p, 4 * pg, vec));
    qc_rep("mincore efault vec", syscall(SYS_mincore, p, pg, BADPTR1));
    qc_leave();
    return 0;
}
