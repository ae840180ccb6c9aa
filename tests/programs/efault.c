/* Hostile pointers from the guest: each must give EFAULT, never hurt the host. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void check(const char *what, long r)
{
    printf("%s: %s\n", what, r == -1 && errno == EFAULT ? "EFAULT" : "WRONG");
}

int main(void)
{
    check("write NULL", syscall(SYS_write, 1, (void *)0, 10));
    check("write kernel half", syscall(SYS_write, 1, (void *)0xffff888000000000UL, 10));
    check("write unmapped", syscall(SYS_write, 1, (void *)0x10000000UL, 10));
    int zero = open("/dev/zero", O_RDONLY);
    check("read into NULL", syscall(SYS_read, zero, (void *)0, 10));
    check("open NULL path", syscall(SYS_open, (void *)0, 0));
    check("open kernel path", syscall(SYS_open, (void *)0xffffffffff600000UL, 0));
    check("uname NULL", syscall(SYS_uname, (void *)0));
    check("clock_gettime bad", syscall(SYS_clock_gettime, 0, (void *)0x1000));
    check("fstat bad", syscall(SYS_fstat, 1, (void *)0x7ffffffff800UL + 0x100000));
    return 0;
}
