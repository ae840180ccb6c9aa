// Shared helpers of the conformance programs (see README.md).
// Every line printed must be the same natively and under quark: print
// results, errno names and comparisons, never pids, times, inode numbers or
// addresses.
#ifndef QC_H
#define QC_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

// Pointers no syscall may dereference: unmapped low page, NULL, kernel half.
#define BADPTR1 ((void *)1)
#define BADPTRK ((void *)0xffff800000000000UL)
// AT_FDCWD as a full-width syscall() argument.
#define FDCWD ((long)AT_FDCWD)

// Line-buffered stdout so that output written before a crash is not lost.
__attribute__((constructor)) static void qc_init(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

// Print "label: <ret>" or "label: -1 <ERRNO>" for a raw result r (-1 + errno).
static long qc_rep(const char *label, long r) {
    if (r == -1)
        printf("%s: -1 %s\n", label, strerrorname_np(errno));
    else
        printf("%s: %ld\n", label, r);
    return r;
}

// Print only whether the call succeeded, or its errno (for results that vary).
static long qc_ok(const char *label, long r) {
    if (r == -1)
        printf("%s: -1 %s\n", label, strerrorname_np(errno));
    else
        printf("%s: ok\n", label);
    return r;
}

// A yes/no fact.  The output comparison is the verdict; the exit status
// stays 0 unless setup itself fails.
static void qc_yes(const char *label, int cond) {
    printf("%s: %s\n", label, cond ? "yes" : "no");
}

static void qc_die(const char *what) {
    printf("setup failed: %s: %s\n", what, strerrorname_np(errno));
    exit(1);
}

static char qc_dir[256];

static int qc_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

// Create a private scratch directory /tmp/qc-<name>-<pid> and chdir into it.
// The pid keeps concurrent native runs apart; it is never printed.
static void qc_enter(const char *name) {
    mkdir("/tmp", 01777);
    snprintf(qc_dir, sizeof qc_dir, "/tmp/qc-%s-%d", name, (int)getpid());
    if (mkdir(qc_dir, 0755) != 0 || chdir(qc_dir) != 0)
        qc_die("scratch dir");
}

// Leave and remove the scratch directory with whatever is left in it.
static void qc_leave(void) {
    if (chdir("/") != 0)
        qc_die("chdir /");
    nftw(qc_dir, qc_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void qc_write_file(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data) || close(fd) != 0)
        qc_die(path);
}

#endif
