// covers: getdents64 getdents
#include "qc.h"
#include <dirent.h>

struct d64 { unsigned long ino; long off; unsigned short reclen; unsigned char type; char name[]; };

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(void) {
    char buf[4096];
    char *names[64];
    int count = 0;
    qc_enter("getdents_basic");
    mkdir("dir", 0755);
    qc_write_file("dir/b_file", "x");
    qc_write_file("dir/a_file", "xy");
    mkdir("dir/c_sub", 0755);
    symlink("a_file", "dir/d_link");
    int fd = open("dir", O_RDONLY | O_DIRECTORY);
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0) { qc_rep("getdents64 end", n); break; }
        for (long off = 0; off < n;) {
            struct d64 *d = (struct d64 *)(buf + off);
            char *s = malloc(300);
            snprintf(s, 300, "%s type=%d reclen%%8=%d", d->name, d->type, d->reclen % 8);
            if (count < 64) names[count++] = s;
            off += d->reclen;
        }
    }
    qsort(names, count, sizeof names[0], cmp);
    for (int i = 0; i < count; i++) printf("entry: %s\n", names[i]);
    qc_rep("lseek rewind", syscall(SYS_lseek, fd, 0, SEEK_SET));
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    qc_yes("rewind lists again", n > 0);
    lseek(fd, 0, SEEK_SET);
    qc_rep("getdents64 tiny buffer", syscall(SYS_getdents64, fd, buf, 8));
    qc_rep("getdents64 efault", syscall(SYS_getdents64, fd, BADPTR1, sizeof buf));
    int f = open("dir/a_file", O_RDONLY);
    qc_rep("getdents64 on file", syscall(SYS_getdents64, f, buf, sizeof buf));
    qc_rep("getdents64 bad fd", syscall(SYS_getdents64, 999, buf, sizeof buf));
    close(f);
    close(fd);
    mkdir("empty", 0755);
    fd = open("empty", O_RDONLY | O_DIRECTORY);
    count = 0;
    n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    for (long off = 0; off < n; off += ((struct d64 *)(buf + off))->reclen) count++;
    printf("empty dir entries: %d\n", count);
    close(fd);
    /* The old getdents: d_ino, d_off, d_reclen, name, then d_type in the last byte. */
    fd = open("dir", O_RDONLY | O_DIRECTORY);
    n = syscall(SYS_getdents, fd, buf, sizeof buf);
    count = 0;
    int types_ok = 1;
    for (long off = 0; off < n;) {
        unsigned short reclen = *(unsigned short *)(buf + off + 16);
        char *name = buf + off + 18;
        unsigned char type = buf[off + reclen - 1];
        if (strcmp(name, "c_sub") == 0 && type != DT_DIR) types_ok = 0;
        if (strcmp(name, "a_file") == 0 && type != DT_REG) types_ok = 0;
        if (strcmp(name, "d_link") == 0 && type != DT_LNK) types_ok = 0;
        count++;
        off += reclen;
    }
    printf("getdents entries: %d\n", count);
    qc_yes("getdents types", types_ok);
    qc_rep("getdents efault", syscall(SYS_getdents, fd, BADPTR1, sizeof buf));
    close(fd);
    qc_leave();
    return 0;
}
