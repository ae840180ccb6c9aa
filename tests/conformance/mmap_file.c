// covers: mmap munmap msync
#include "qc.h"
#include <sys/mman.h>

int main(void) {
    long pg = 4096;
    qc_enter("mmap_file");
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char data[8192];
    for (int i = 0; i < 8192; i++) data[i] = 'a' + i % 26;
    write(fd, data, 6000);
    char *p = (char *)syscall(SYS_mmap, NULL, 2 * pg, PROT_READ, MAP_PRIVATE, (long)fd, 0L);
    qc_yes("private file map", p != MAP_FAILED);
    qc_yes("file contents visible", memcmp(p, data, 6000) == 0);
    int zero = 1;
    for (long i = 6000; i < 2 * pg; i++) if (p[i]) zero = 0;
    qc_yes("tail of last page is zero", zero);
    munmap(p, 2 * pg);
    char *q = (char *)syscall(SYS_mmap, NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, (long)fd, pg);
    qc_yes("map at file offset", q != MAP_FAILED && q[0] == data[4096]);
    q[0] = '#';
    char c;
    pread(fd, &c, 1, pg);
    qc_yes("private write not in file", c == data[4096]);
    munmap(q, pg);
    char *s = (char *)syscall(SYS_mmap, NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, (long)fd, 0L);
    qc_yes("shared file map", s != MAP_FAILED);
    s[1] = '!';
    qc_rep("msync", syscall(SYS_msync, s, pg, MS_SYNC));
    pread(fd, &c, 1, 1);
    qc_yes("shared write reaches file", c == '!');
    pwrite(fd, "?", 1, 2);
    qc_yes("file write visible in shared map", s[2] == '?');
    munmap(s, pg);
    int ro = open("f", O_RDONLY);
    qc_rep("shared writable map of read-only fd", syscall(SYS_mmap, NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, (long)ro, 0L));
    char *pr = (char *)syscall(SYS_mmap, NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, (long)ro, 0L);
    qc_yes("private writable map of read-only fd", pr != MAP_FAILED);
    int wo = open("f", O_WRONLY);
    qc_rep("map of write-only fd", syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_PRIVATE, (long)wo, 0L));
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    qc_rep("map of directory", syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_PRIVATE, (long)dfd, 0L));
    int pp[2];
    pipe(pp);
    qc_rep("map of pipe", syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_PRIVATE, (long)pp[0], 0L));
    close(fd); close(ro); close(wo); close(dfd);
    qc_leave();
    return 0;
}
