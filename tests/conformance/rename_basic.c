// covers: rename renameat renameat2
#include "qc.h"
#include <linux/fs.h>

static void cat(const char *label, const char *path) {
    char buf[32] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s: -1 %s\n", label, strerrorname_np(errno)); return; }
    read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("%s: %s\n", label, buf);
}

int main(void) {
    qc_enter("rename_basic");
    qc_write_file("a", "A");
    qc_write_file("b", "B");
    mkdir("d", 0755);
    mkdir("e", 0755);
    qc_write_file("e/x", "x");
    qc_rep("rename", syscall(SYS_rename, "a", "c"));
    cat("c holds", "c");
    qc_rep("old name gone", syscall(SYS_access, "a", F_OK));
    qc_rep("rename over existing", syscall(SYS_rename, "c", "b"));
    cat("b holds", "b");
    qc_rep("rename missing", syscall(SYS_rename, "nope", "z"));
    qc_rep("rename to same", syscall(SYS_rename, "b", "b"));
    qc_rep("rename file over dir", syscall(SYS_rename, "b", "d"));
    qc_rep("rename dir over file", syscall(SYS_rename, "d", "b"));
    qc_rep("rename dir over nonempty dir", syscall(SYS_rename, "d", "e"));
    qc_rep("rename dir into itself", syscall(SYS_rename, "d", "d/sub"));
    qc_rep("rename dir over empty dir", syscall(SYS_rename, "e", "d"));
    qc_rep("moved dir content", syscall(SYS_access, "d/x", F_OK));
    qc_rep("rename efault", syscall(SYS_rename, BADPTR1, "z"));
    qc_rep("rename missing dest dir", syscall(SYS_rename, "b", "nodir/b"));
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    qc_rep("renameat into dirfd", syscall(SYS_renameat, FDCWD, "b", dfd, "b2"));
    cat("d/b2 holds", "d/b2");
    qc_rep("renameat bad dirfd", syscall(SYS_renameat, 999, "x", FDCWD, "y"));
    qc_write_file("p", "P");
    qc_write_file("q", "Q");
    qc_rep("renameat2 noreplace existing", syscall(SYS_renameat2, FDCWD, "p", FDCWD, "q", RENAME_NOREPLACE));
    qc_rep("renameat2 noreplace new", syscall(SYS_renameat2, FDCWD, "p", FDCWD, "r", RENAME_NOREPLACE));
    qc_rep("renameat2 exchange", syscall(SYS_renameat2, FDCWD, "r", FDCWD, "q", RENAME_EXCHANGE));
    cat("q holds", "q");
    cat("r holds", "r");
    qc_rep("renameat2 exchange missing", syscall(SYS_renameat2, FDCWD, "r", FDCWD, "zz", RENAME_EXCHANGE));
    qc_rep("renameat2 both flags", syscall(SYS_renameat2, FDCWD, "r", FDCWD, "q", RENAME_EXCHANGE | RENAME_NOREPLACE));
    qc_rep("renameat2 bad flags", syscall(SYS_renameat2, FDCWD, "r", FDCWD, "q", 0x100L));
    qc_rep("renameat2 flags 0", syscall(SYS_renameat2, FDCWD, "r", dfd, "r", 0L));
    cat("d/r holds", "d/r");
    close(dfd);
    qc_leave();
    return 0;
}
