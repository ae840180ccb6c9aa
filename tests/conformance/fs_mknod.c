// covers: creat mknod mknodat
#include "qc.h"
#include <sys/sysmacros.h>

// Regular files, FIFOs and the errors; device nodes are left out (root may
// make them natively, quark refuses them).
static void show(const char *label, const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) { printf("%s: -1 %s\n", label, strerrorname_np(errno)); return; }
    printf("%s: type=%o perm=%o size=%ld\n", label, st.st_mode & S_IFMT, st.st_mode & 07777,
           (long)st.st_size);
}

int main(void) {
    qc_enter("fs_mknod");
    umask(022);
    long fd = syscall(SYS_creat, "c", 0666L);
    qc_ok("creat", fd);
    qc_rep("write", write((int)fd, "hello", 5));
    qc_rep("read on creat fd", read((int)fd, (char[8]){0}, 8));
    close((int)fd);
    show("created", "c");
    fd = syscall(SYS_creat, "c", 0600L);
    qc_ok("creat existing", fd);
    close((int)fd);
    show("truncated", "c");
    qc_rep("creat no dir", syscall(SYS_creat, "nodir/x", 0644L));
    qc_rep("creat bad path", syscall(SYS_creat, BADPTR1, 0644L));

    qc_rep("mknod fifo", syscall(SYS_mknod, "fifo", (long)(S_IFIFO | 0644), 0L));
    show("fifo", "fifo");
    qc_rep("mknod regular", syscall(SYS_mknod, "reg", (long)(S_IFREG | 0640), 0L));
    show("reg", "reg");
    qc_rep("mknod type 0", syscall(SYS_mknod, "reg0", 0644L, 0L));
    show("reg0", "reg0");
    qc_rep("mknod exists", syscall(SYS_mknod, "reg", (long)(S_IFREG | 0640), 0L));
    qc_rep("mknod dir type", syscall(SYS_mknod, "d", (long)(S_IFDIR | 0755), 0L));
    qc_rep("mknod bad type", syscall(SYS_mknod, "bad", (long)(S_IFMT | 0644), 0L));
    qc_rep("mknod no dir", syscall(SYS_mknod, "nodir/x", (long)(S_IFIFO | 0644), 0L));
    mkdir("sub", 0755);
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    qc_rep("mknodat fifo", syscall(SYS_mknodat, (long)dfd, "f2", (long)(S_IFIFO | 0600), 0L));
    show("sub/f2", "sub/f2");
    qc_rep("mknodat cwd", syscall(SYS_mknodat, FDCWD, "f3", (long)(S_IFREG | 0600), 0L));
    show("f3", "f3");
    qc_rep("mknodat bad dirfd", syscall(SYS_mknodat, 999L, "f4", (long)(S_IFIFO | 0600), 0L));
    qc_rep("mknodat file dirfd", syscall(SYS_mknodat, (long)open("c", O_RDONLY), "f5",
                                         (long)(S_IFIFO | 0600), 0L));
    close(dfd);
    qc_leave();
    return 0;
}
