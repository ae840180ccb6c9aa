"""File syscalls. The generated dispatch table looks handlers up here as
qkernel.syscalls.fs.sys_<name>; they live in small fs_* modules by topic.

Known v0 limits: record locks (F_SETLK/F_GETLK/OFD) always succeed; a pipe
with no reader gives EPIPE without SIGPIPE; blocking waits are not yet
interruptible by signals; O_TMPFILE and linkat(AT_EMPTY_PATH) are refused.
"""
from __future__ import annotations

from qkernel.syscalls.fs_attr import (sys_chmod, sys_chown, sys_fchmod, sys_fchmodat, sys_fchown,
                                      sys_fchownat, sys_fdatasync, sys_fsync, sys_ftruncate,
                                      sys_lchown, sys_truncate, sys_umask, sys_utimensat)
from qkernel.syscalls.fs_dir import (sys_chdir, sys_fchdir, sys_getcwd, sys_link, sys_linkat,
                                     sys_mkdir, sys_mkdirat, sys_mknod, sys_mknodat, sys_rename,
                                     sys_renameat, sys_renameat2, sys_rmdir, sys_symlink,
                                     sys_symlinkat, sys_unlink, sys_unlinkat)
from qkernel.syscalls.fs_open import (sys_close, sys_creat, sys_dup, sys_dup2, sys_dup3, sys_fcntl,
                                      sys_ioctl, sys_open, sys_openat, sys_pipe, sys_pipe2)
from qkernel.syscalls.fs_rw import (sys_lseek, sys_pread64, sys_pwrite64, sys_read, sys_readv,
                                    sys_write, sys_writev)
from qkernel.syscalls.fs_statfs import sys_fstatfs, sys_statfs
from qkernel.syscalls.fs_xfer import (sys_copy_file_range, sys_preadv, sys_preadv2, sys_pwritev,
                                      sys_pwritev2, sys_sendfile)
from qkernel.syscalls.xattr import (sys_fgetxattr, sys_flistxattr, sys_fremovexattr, sys_fsetxattr,
                                    sys_getxattr, sys_lgetxattr, sys_listxattr, sys_llistxattr,
                                    sys_lremovexattr, sys_lsetxattr, sys_removexattr, sys_setxattr)
from qkernel.syscalls.fs_stat import (sys_access, sys_faccessat, sys_faccessat2, sys_fstat,
                                      sys_getdents, sys_getdents64, sys_lstat, sys_newfstatat,
                                      sys_readlink, sys_readlinkat, sys_stat, sys_statx)

__all__ = [
    "sys_access", "sys_chdir", "sys_chmod", "sys_chown", "sys_close", "sys_creat", "sys_dup",
    "sys_dup2", "sys_dup3", "sys_faccessat", "sys_faccessat2", "sys_fchdir", "sys_fchmod",
    "sys_fchmodat", "sys_fchown", "sys_fchownat", "sys_fcntl", "sys_fdatasync", "sys_fstat",
    "sys_fsync", "sys_ftruncate", "sys_getcwd", "sys_getdents", "sys_getdents64", "sys_ioctl",
    "sys_lchown", "sys_link", "sys_linkat", "sys_lseek", "sys_lstat", "sys_mkdir", "sys_mkdirat",
    "sys_mknod", "sys_mknodat", "sys_newfstatat", "sys_open", "sys_openat", "sys_pipe",
    "sys_pipe2", "sys_pread64", "sys_pwrite64", "sys_read", "sys_readlink", "sys_readlinkat",
    "sys_readv", "sys_rename", "sys_renameat", "sys_renameat2", "sys_rmdir", "sys_stat",
    "sys_statx", "sys_symlink", "sys_symlinkat", "sys_truncate", "sys_umask", "sys_unlink",
    "sys_unlinkat", "sys_utimensat", "sys_write", "sys_writev",
    "sys_statfs", "sys_fstatfs", "sys_sendfile", "sys_copy_file_range", "sys_preadv",
    "sys_pwritev", "sys_preadv2", "sys_pwritev2", "sys_getxattr", "sys_lgetxattr",
    "sys_fgetxattr", "sys_listxattr", "sys_llistxattr", "sys_flistxattr", "sys_setxattr",
    "sys_lsetxattr", "sys_fsetxattr", "sys_removexattr", "sys_lremovexattr", "sys_fremovexattr",
]
