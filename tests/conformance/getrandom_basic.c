// covers: getrandom
#include "qc.h"
#include <sys/random.h>

int main(void) {
    unsigned char a[64] = {0}, b[64] = {0};
    qc_rep("getrandom 64", syscall(SYS_getrandom, a, 64L, 0L));
    qc_rep("getrandom nonblock", syscall(SYS_getrandom, b, 64L, (long)GRND_NONBLOCK));
    qc_yes("two reads differ", memcmp(a, b, 64) != 0);
    qc_rep("getrandom GRND_RANDOM", syscall(SYS_getrandom, a, 16L, (long)GRND_RANDOM));
    qc_rep("getrandom GRND_INSECURE", syscall(SYS_getrandom, a, 16L, 4L));
    qc_rep("getrandom INSECURE|RANDOM", syscall(SYS_getrandom, a, 16L, 6L));
    qc_rep("getrandom bad flags", syscall(SYS_getrandom, a, 16L, 8L));
    qc_rep("getrandom zero", syscall(SYS_getrandom, a, 0L, 0L));
    qc_rep("getrandom efault", syscall(SYS_getrandom, BADPTR1, 16L, 0L));
    qc_rep("getrandom efault kernel", syscall(SYS_getrandom, BADPTRK, 16L, 0L));
    size_t big = 40UL << 20;
    unsigned char *m = malloc(big);
    qc_rep("getrandom 40 MiB capped", syscall(SYS_getrandom, m, big, 0L));
    free(m);
    int ones = 0;
    unsigned char c[4096];
    syscall(SYS_getrandom, c, sizeof c, 0L);
    for (size_t i = 0; i < sizeof c; i++) ones += __builtin_popcount(c[i]);
    qc_yes("bits roughly balanced", ones > 4096 * 3 && ones < 4096 * 5);
    return 0;
}
