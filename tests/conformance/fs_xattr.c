// covers: getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr
#include "qc.h"
#include <sys/xattr.h>

// Only answers a file without attributes gives everywhere: a host may
// store user.* attributes, quark stores none, so no set succeeds here.
int main(void) {
    char buf[256];
    qc_enter("fs_xattr");
    qc_write_file("f", "data");
    symlink("f", "l");
    int fd = open("f", O_RDONLY);
    qc_rep("getxattr missing attr", syscall(SYS_getxattr, "f", "user.nothing", buf, 256L));
    qc_rep("getxattr size 0", syscall(SYS_getxattr, "f", "user.nothing", NULL, 0L));
    qc_rep("lgetxattr symlink", syscall(SYS_lgetxattr, "l", "user.nothing", buf, 256L));
    qc_rep("fgetxattr", syscall(SYS_fgetxattr, (long)fd, "user.nothing", buf, 256L));
    qc_rep("getxattr no file", syscall(SYS_getxattr, "nofile", "user.x", buf, 256L));
    qc_rep("getxattr bad path", syscall(SYS_getxattr, BADPTR1, "user.x", buf, 256L));
    qc_rep("getxattr unknown namespace", syscall(SYS_getxattr, "f", "bogus.x", buf, 256L));
    qc_rep("fgetxattr bad fd", syscall(SYS_fgetxattr, 999L, "user.x", buf, 256L));
    qc_rep("fgetxattr empty name", syscall(SYS_fgetxattr, (long)fd, "", buf, 256L));
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    memcpy(longname, "user.", 5);
    longname[sizeof longname - 1] = 0;
    qc_rep("fgetxattr long name", syscall(SYS_fgetxattr, (long)fd, longname, buf, 256L));

    qc_rep("listxattr", syscall(SYS_listxattr, "f", buf, 256L));
    qc_rep("listxattr size 0", syscall(SYS_listxattr, "f", NULL, 0L));
    qc_rep("llistxattr symlink", syscall(SYS_llistxattr, "l", buf, 256L));
    qc_rep("flistxattr", syscall(SYS_flistxattr, (long)fd, buf, 256L));
    qc_rep("listxattr no file", syscall(SYS_listxattr, "nofile", buf, 256L));

    qc_rep("setxattr bad flags", syscall(SYS_setxattr, "f", "user.x", "v", 1L, 8L));
    qc_rep("setxattr replace missing", syscall(SYS_setxattr, "f", "user.x", "v", 1L, (long)XATTR_REPLACE));
    qc_rep("fsetxattr replace missing", syscall(SYS_fsetxattr, (long)fd, "user.x", "v", 1L, (long)XATTR_REPLACE));
    qc_rep("setxattr no file", syscall(SYS_setxattr, "nofile", "user.x", "v", 1L, 0L));
    qc_rep("setxattr empty name", syscall(SYS_setxattr, "f", "", "v", 1L, 0L));
    qc_rep("setxattr unknown namespace", syscall(SYS_setxattr, "f", "bogus.x", "v", 1L, 0L));
    qc_rep("lsetxattr bad flags", syscall(SYS_lsetxattr, "l", "user.x", "v", 1L, 8L));

    qc_rep("removexattr missing", syscall(SYS_removexattr, "f", "user.nothing"));
    qc_rep("lremovexattr missing", syscall(SYS_lremovexattr, "l", "user.nothing"));
    qc_rep("fremovexattr missing", syscall(SYS_fremovexattr, (long)fd, "user.nothing"));
    qc_rep("removexattr no file", syscall(SYS_removexattr, "nofile", "user.x"));
    qc_rep("fremovexattr bad fd", syscall(SYS_fremovexattr, 999L, "user.x"));
    close(fd);
    qc_leave();
    return 0;
}
