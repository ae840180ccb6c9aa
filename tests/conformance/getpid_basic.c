// covers: getpid gettid getppid
#include "qc.h"

int main(void) {
    long pid = syscall(SYS_getpid), tid = syscall(SYS_gettid), ppid = syscall(SYS_getppid);
    qc_yes("getpid positive", pid > 0);
    qc_yes("gettid equals getpid in main thread", tid == pid);
    qc_yes("getppid non-negative", ppid >= 0);
    qc_yes("getppid differs from getpid", ppid != pid);
    qc_yes("getpid stable", syscall(SYS_getpid) == pid);
    qc_yes("libc getpid agrees", getpid() == pid);
    return 0;
}
