// covers: pause restart_syscall
#include "qc.h"
#include <sys/wait.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { got = s; }

int main(void) {
    qc_enter("sig_pause");
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0) { usleep(50000); kill(parent, SIGUSR1); _exit(0); }
    qc_rep("pause", syscall(SYS_pause));
    qc_yes("handler ran", got == SIGUSR1);
    waitpid(p, NULL, 0);
    qc_rep("restart_syscall with nothing to restart", syscall(SYS_restart_syscall));
    qc_leave();
    return 0;
}
