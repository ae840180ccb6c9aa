// covers: exit_group
#include "qc.h"

// Only the low 8 bits of the status are reported: 256 exits with 0.
int main(void) {
    printf("before exit_group\n");
    fflush(stdout);
    syscall(SYS_exit_group, 256L);
    printf("not reached\n");
    return 3;
}
