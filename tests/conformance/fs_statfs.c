// covers: statfs fstatfs
#include "qc.h"
#include <sys/vfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>

// Only what every host agrees on: the magic of /proc, /dev/shm and pipes,
// sane counts for the root, and the errors. The root's own type and sizes
// belong to the host's file system.
static void sane(const char *label, struct statfs *s) {
    qc_yes(label, s->f_bsize > 0 && s->f_frsize > 0 && s->f_bfree <= s->f_blocks &&
                  s->f_bavail <= s->f_bfree && s->f_namelen == 255);
}

int main(void) {
    struct statfs s, s2;
    qc_rep("statfs /", syscall(SYS_statfs, "/", &s));
    sane("root sane", &s);
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    qc_rep("fstatfs / fd", syscall(SYS_fstatfs, fd, &s2));
    qc_yes("fstatfs matches statfs", s.f_type == s2.f_type && s.f_bsize == s2.f_bsize &&
                                     s.f_blocks == s2.f_blocks);
    qc_yes("root writable", !(s.f_flags & ST_RDONLY));
    close(fd);

    qc_rep("statfs /proc", syscall(SYS_statfs, "/proc", &s));
    qc_yes("/proc is procfs", s.f_type == PROC_SUPER_MAGIC);
    qc_rep("statfs /proc/self/status", syscall(SYS_statfs, "/proc/self/status", &s));
    qc_yes("/proc/self/status on procfs", s.f_type == PROC_SUPER_MAGIC);
    qc_rep("statfs /dev/shm", syscall(SYS_statfs, "/dev/shm", &s));
    qc_yes("/dev/shm is tmpfs", s.f_type == TMPFS_MAGIC);
    sane("/dev/shm sane", &s);
    qc_rep("statfs /dev/null", syscall(SYS_statfs, "/dev/null", &s));
    qc_yes("/dev/null on tmpfs", s.f_type == TMPFS_MAGIC);

    int p[2];
    if (pipe(p) != 0) qc_die("pipe");
    qc_rep("fstatfs pipe", syscall(SYS_fstatfs, p[0], &s));
    qc_yes("pipe is pipefs", s.f_type == PIPEFS_MAGIC);

    qc_rep("statfs missing", syscall(SYS_statfs, "/no/such/path", &s));
    qc_rep("statfs empty", syscall(SYS_statfs, "", &s));
    qc_rep("statfs through file", syscall(SYS_statfs, "/proc/self/status/x", &s));
    qc_rep("statfs bad path", syscall(SYS_statfs, BADPTR1, &s));
    qc_rep("statfs bad buf", syscall(SYS_statfs, "/", BADPTR1));
    qc_rep("fstatfs bad fd", syscall(SYS_fstatfs, 999L, &s));
    qc_rep("fstatfs bad buf", syscall(SYS_fstatfs, (long)p[0], BADPTRK));
    return 0;
}
