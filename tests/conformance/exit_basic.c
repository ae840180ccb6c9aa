// covers: exit
#include "qc.h"

// The thread-level exit of the only thread ends the process with its status.
int main(void) {
    printf("before exit\n");
    fflush(stdout);
    syscall(SYS_exit, 0L);
    printf("not reached\n");
    return 3;
}
