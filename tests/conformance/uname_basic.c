// covers: uname sethostname setdomainname
#include "qc.h"
#include <sys/utsname.h>

int main(void) {
    struct utsname u;
    qc_rep("uname", syscall(SYS_uname, &u));
    printf("sysname: %s\nmachine: %s\n", u.sysname, u.machine);
    int major = 0, minor = 0;
    sscanf(u.release, "%d.%d", &major, &minor);
    qc_yes("release >= 3.2", major > 3 || (major == 3 && minor >= 2));
    qc_yes("nodename non-empty", u.nodename[0] != 0);
    qc_rep("uname efault", syscall(SYS_uname, BADPTR1));
    qc_rep("uname efault kernel", syscall(SYS_uname, BADPTRK));
    // Set the names to their current values: harmless natively (as root).
    qc_rep("sethostname same", syscall(SYS_sethostname, u.nodename, strlen(u.nodename)));
    qc_rep("setdomainname same", syscall(SYS_setdomainname, u.domainname, strlen(u.domainname)));
    struct utsname v;
    uname(&v);
    qc_yes("names unchanged", !strcmp(u.nodename, v.nodename) && !strcmp(u.domainname, v.domainname));
    char longname[100];
    memset(longname, 'h', sizeof longname);
    qc_rep("sethostname 65 bytes", syscall(SYS_sethostname, longname, 65L));
    qc_rep("sethostname negative len", syscall(SYS_sethostname, longname, -1L));
    qc_rep("sethostname efault", syscall(SYS_sethostname, BADPTR1, 4L));
    qc_rep("setdomainname 65 bytes", syscall(SYS_setdomainname, longname, 65L));
    qc_rep("setdomainname efault", syscall(SYS_setdomainname, BADPTRK, 4L));
    if (syscall(SYS_setresuid, -1L, 1000L, -1L) != 0) qc_die("seteuid");
    qc_rep("euid 1000: sethostname", syscall(SYS_sethostname, u.nodename, strlen(u.nodename)));
    qc_rep("euid 1000: setdomainname", syscall(SYS_setdomainname, u.domainname, strlen(u.domainname)));
    if (syscall(SYS_setresuid, -1L, 0L, -1L) != 0) qc_die("seteuid back");
    return 0;
}
