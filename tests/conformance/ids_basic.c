// covers: getuid getgid geteuid getegid getgroups setgroups getresuid getresgid
#include "qc.h"
#include <grp.h>

int main(void) {
    printf("uid=%ld gid=%ld euid=%ld egid=%ld\n", syscall(SYS_getuid), syscall(SYS_getgid),
           syscall(SYS_geteuid), syscall(SYS_getegid));
    unsigned r, e, s;
    qc_rep("getresuid", syscall(SYS_getresuid, &r, &e, &s));
    printf("resuid: %u %u %u\n", r, e, s);
    qc_rep("getresgid", syscall(SYS_getresgid, &r, &e, &s));
    printf("resgid: %u %u %u\n", r, e, s);
    qc_rep("getresuid efault", syscall(SYS_getresuid, &r, BADPTR1, &s));
    qc_rep("getresgid efault", syscall(SYS_getresgid, NULL, &e, &s));
    gid_t set[3] = {30, 10, 20};
    qc_rep("setgroups 3", syscall(SYS_setgroups, 3L, set));
    gid_t got[8];
    qc_rep("getgroups count", syscall(SYS_getgroups, 0L, NULL));
    long n = qc_rep("getgroups", syscall(SYS_getgroups, 8L, got));
    printf("groups:");
    for (long i = 0; i < n; i++) printf(" %u", got[i]);
    printf("\n");
    qc_rep("getgroups too small", syscall(SYS_getgroups, 1L, got));
    qc_rep("getgroups negative", syscall(SYS_getgroups, -1L, got));
    qc_rep("getgroups efault", syscall(SYS_getgroups, 8L, BADPTR1));
    qc_rep("setgroups efault", syscall(SYS_setgroups, 2L, BADPTR1));
    qc_rep("setgroups negative", syscall(SYS_setgroups, -1L, set));
    qc_rep("setgroups too many", syscall(SYS_setgroups, 65537L, set));
    qc_rep("setgroups 0", syscall(SYS_setgroups, 0L, NULL));
    qc_rep("getgroups after clear", syscall(SYS_getgroups, 0L, NULL));
    if (syscall(SYS_setresuid, -1L, 1000L, -1L) != 0) qc_die("seteuid");
    qc_rep("euid 1000: setgroups", syscall(SYS_setgroups, 1L, set));
    printf("euid now %ld uid %ld\n", syscall(SYS_geteuid), syscall(SYS_getuid));
    if (syscall(SYS_setresuid, -1L, 0L, -1L) != 0) qc_die("seteuid back");
    return 0;
}
