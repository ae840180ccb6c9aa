// covers: chmod fchmod fchmodat chown fchown lchown fchownat umask
#include "qc.h"

static void show(const char *label, const char *p, int nofollow) {
    struct stat st;
    if ((nofollow ? lstat(p, &st) : stat(p, &st)) != 0) { printf("%s: -1 %s\n", label, strerrorname_np(errno)); return; }
    printf("%s: mode=%o uid=%d gid=%d\n", label, st.st_mode & 07777, st.st_uid, st.st_gid);
}

int main(void) {
    qc_enter("chmod_chown");
    qc_rep("umask set 077 (old)", syscall(SYS_umask, 077));
    qc_rep("umask get back (old)", syscall(SYS_umask, 022));
    qc_rep("umask masks to 0777", syscall(SYS_umask, 0177777));
    qc_rep("umask read", syscall(SYS_umask, 022));
    qc_write_file("f", "x");
    show("created", "f", 0);
    qc_rep("chmod", syscall(SYS_chmod, "f", 0600));
    show("after chmod", "f", 0);
    qc_rep("chmod with setuid bits", syscall(SYS_chmod, "f", 04755));
    show("after chmod 4755", "f", 0);
    qc_rep("chmod missing", syscall(SYS_chmod, "missing", 0600));
    qc_rep("chmod efault", syscall(SYS_chmod, BADPTR1, 0600));
    int fd = open("f", O_RDONLY);
    qc_rep("fchmod", syscall(SYS_fchmod, fd, 0640));
    show("after fchmod", "f", 0);
    qc_rep("fchmod bad fd", syscall(SYS_fchmod, 999, 0640));
    qc_rep("fchmodat", syscall(SYS_fchmodat, FDCWD, "f", 0444));
    show("after fchmodat", "f", 0);
    symlink("f", "l");
    qc_rep("chown", syscall(SYS_chown, "f", 1000L, 1000L));
    show("after chown", "f", 0);
    qc_rep("chown -1 -1 keeps", syscall(SYS_chown, "f", -1L, -1L));
    show("after chown -1", "f", 0);
    qc_rep("fchown gid only", syscall(SYS_fchown, fd, -1L, 2000L));
    show("after fchown", "f", 0);
    qc_rep("lchown symlink", syscall(SYS_lchown, "l", 3000L, 3000L));
    show("symlink after lchown", "l", 1);
    show("target after lchown", "f", 0);
    qc_rep("fchownat nofollow", syscall(SYS_fchownat, FDCWD, "l", 0L, 0L, AT_SYMLINK_NOFOLLOW));
    show("symlink after fchownat", "l", 1);
    qc_rep("fchownat follow", syscall(SYS_fchownat, FDCWD, "l", 0L, 0L, 0));
    show("target after fchownat", "f", 0);
    qc_rep("fchownat empty path", syscall(SYS_fchownat, fd, "", 5L, 5L, AT_EMPTY_PATH));
    show("after fchownat empty path", "f", 0);
    qc_rep("fchownat bad flags", syscall(SYS_fchownat, FDCWD, "f", 0L, 0L, 0x1L));
    qc_rep("fchown bad fd", syscall(SYS_fchown, 999, 0L, 0L));
    chmod("f", 06755);
    chown("f", 0, 0);
    show("chown clears setuid/setgid", "f", 0);
    // Not the owner and not privileged: EPERM.
    chown("f", 0, 0);
    if (syscall(SYS_setresuid, -1L, 1000L, -1L) != 0) qc_die("seteuid");
    qc_rep("euid 1000: chmod others' file", syscall(SYS_chmod, "f", 0777));
    qc_rep("euid 1000: chown others' file", syscall(SYS_chown, "f", 1000L, 1000L));
    if (syscall(SYS_setresuid, -1L, 0L, -1L) != 0) qc_die("seteuid back");
    close(fd);
    qc_leave();
    return 0;
}
