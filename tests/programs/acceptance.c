/* The foundation issue's acceptance program: malloc (brk and mmap), floats,
 * TLS, the stack protector, a 256 MiB anonymous mapping, file operations in
 * the rootfs, exit status 3. Built with -static -fstack-protector-all. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static __thread int tls_counter = 41;

static int checksum(const char *s)
{
    char buf[64];                   /* a protected frame */
    strncpy(buf, s, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    int sum = 0;
    for (char *p = buf; *p; p++)
        sum = sum * 31 + *p;
    return sum;
}

int main(void)
{
    char *small = malloc(100);              /* brk */
    char *big = malloc(8 << 20);            /* mmap */
    if (!small || !big)
        return 10;
    strcpy(small, "small block");
    memset(big, 0xab, 8 << 20);
    printf("malloc: %s %d\n", small, (unsigned char)big[(8 << 20) - 1]);
    free(big);
    free(small);

    double x = 1.0;
    for (int i = 1; i <= 10; i++)
        x = x * 1.5 + 0.25 / i;
    printf("floats: %.6f %.3e %g\n", x, x / 7.0, 2.5f * 4);

    tls_counter++;
    printf("tls: %d\n", tls_counter);
    printf("checksum: %d\n", checksum("quark stack protector"));

    size_t len = 256u << 20;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 11;
    unsigned long total = 0;
    for (size_t off = 0; off < len; off += 4096) {
        m[off] = (unsigned char)(off >> 12);
        total += m[off];
    }
    printf("touched 256 MiB: %lu\n", total);
    munmap(m, len);

    mkdir("/tmp/acc", 0755);
    FILE *f = fopen("/tmp/acc/a.txt", "w");
    if (!f)
        return 12;
    fprintf(f, "line one\nline two\n");
    fclose(f);
    if (rename("/tmp/acc/a.txt", "/tmp/acc/b.txt"))
        return 13;
    char line[64];
    f = fopen("/tmp/acc/b.txt", "r");
    if (!f)
        return 14;
    while (fgets(line, sizeof line, f))
        printf("read: %s", line);
    fclose(f);
    struct stat st;
    printf("stat size: %ld\n", stat("/tmp/acc/b.txt", &st) == 0 ? (long)st.st_size : -1L);
    if (unlink("/tmp/acc/b.txt") || access("/tmp/acc/b.txt", F_OK) == 0)
        return 15;
    rmdir("/tmp/acc");
    printf("files: ok\n");
    fflush(stdout);
    return 3;
}
