"""statfs, xattrs, sendfile/copy_file_range/preadv2 family, creat/mknod and
the tmpfs backing, against a real Kernel (no KVM). Handlers run with
kernel.lock held, as the dispatcher runs them."""
from __future__ import annotations

from tests.handlers import call, err

import errno
import os
import struct

import pytest

from qkernel.config import KernelConfig, MountSpec
from qkernel.creds import Credentials
from qkernel.errors import SyscallError
from qkernel.kernel import Kernel
from qkernel.syscalls import fs
from qkernel.task import Task
from qkernel.threadgroup import ThreadGroup
from qkernel.vfs import abi
from qkernel.vfs.build import initial_fs_context
from qkernel.vfs.fdtable import FdTable
from qkernel.vfs.statfs import (PIPEFS_MAGIC, PROC_SUPER_MAGIC, ST_RDONLY, STATFS, TMPFS_MAGIC,
                                host_fstatfs)
from tests.memory import FlatMemory


def make_kernel(tmp_path, mounts=()):
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "ro").mkdir(exist_ok=True)
    return Kernel(KernelConfig(rootfs=str(root), args=["/x"], mounts=list(mounts)), 64 << 20)


@pytest.fixture
def kernel(tmp_path):
    src = tmp_path / "rosrc"
    src.mkdir()
    (src / "file").write_text("ro data")
    k = make_kernel(tmp_path, [
        MountSpec(destination="/tmp", type="tmpfs", source="tmpfs", options=["mode=1777"]),
        MountSpec(destination="/ro", type="bind", source=str(src), options=["rbind", "ro"]),
    ])
    yield k
    k.shutting_down = True
    k.vfs.close()


@pytest.fixture
def task(kernel):
    pid = kernel.alloc_pid()
    tg = ThreadGroup(pid=pid, parent=None, pgid=pid, sid=pid)
    t = Task(kernel=kernel, mm=FlatMemory(), fds=FdTable(),
             fs=initial_fs_context(kernel.vfs, kernel.config), creds=Credentials(),
             pid=pid, tid=pid, tg=tg)
    kernel.register(t)
    return t




def statfs(task, path):
    buf = task.mm.alloc(STATFS.size)
    assert call(task, fs.sys_statfs, task.mm.s(path), buf) == 0
    return STATFS.unpack(task.mm.copy_in(buf, STATFS.size))


def open_(task, path, flags=os.O_RDONLY, mode=0o644):
    return call(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s(path), flags, mode)


def write_file(task, path, data):
    fd = open_(task, path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    buf = task.mm.alloc(data)
    assert call(task, fs.sys_write, fd, buf, len(data)) == len(data)
    call(task, fs.sys_close, fd)


def read_all(task, path):
    fd = open_(task, path)
    buf = task.mm.alloc(65536)
    n = call(task, fs.sys_read, fd, buf, 65536)
    call(task, fs.sys_close, fd)
    return task.mm.copy_in(buf, n)


# -- statfs -----------------------------------------------------------------------
def test_statfs_root_is_the_hosts(task, kernel):
    f = statfs(task, "/")
    host = host_fstatfs(kernel.vfs.root_mount.fs.dirfd)
    assert f[0] == host.type and f[1] == host.bsize and f[2] == host.blocks
    assert not f[11] & ST_RDONLY
    assert f[9] == host.namelen


def test_statfs_tmpfs_proc_dev_and_ro(task):
    assert statfs(task, "/tmp")[0] == TMPFS_MAGIC
    assert statfs(task, "/proc")[0] == PROC_SUPER_MAGIC
    assert statfs(task, "/proc/self")[0] == PROC_SUPER_MAGIC
    assert statfs(task, "/dev")[0] == TMPFS_MAGIC
    assert statfs(task, "/dev/shm")[0] == TMPFS_MAGIC
    ro = statfs(task, "/ro/file")
    assert ro[11] & ST_RDONLY


def test_statfs_errors(task):
    buf = task.mm.alloc(STATFS.size)
    assert err(task, fs.sys_statfs, task.mm.s("/nonexistent/x"), buf) == errno.ENOENT
    assert err(task, fs.sys_statfs, task.mm.s(""), buf) == errno.ENOENT
    assert err(task, fs.sys_statfs, 1, buf) == errno.EFAULT
    assert err(task, fs.sys_statfs, task.mm.s("/"), 1) == errno.EFAULT
    assert err(task, fs.sys_fstatfs, 99, buf) == errno.EBADF


def test_fstatfs_files_and_pipes(task):
    buf = task.mm.alloc(STATFS.size)
    fd = open_(task, "/tmp", os.O_RDONLY | os.O_DIRECTORY)
    assert call(task, fs.sys_fstatfs, fd, buf) == 0
    assert STATFS.unpack(task.mm.copy_in(buf, STATFS.size))[0] == TMPFS_MAGIC
    fds = task.mm.alloc(8)
    call(task, fs.sys_pipe2, fds, 0)
    r, _w = struct.unpack("<ii", task.mm.copy_in(fds, 8))
    assert call(task, fs.sys_fstatfs, r, buf) == 0
    assert STATFS.unpack(task.mm.copy_in(buf, STATFS.size))[0] == PIPEFS_MAGIC


def test_tmpfs_served_from_dev_shm(kernel):
    if not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm")
    tmp = kernel.vfs.mounts[("tmp",)]
    assert host_fstatfs(tmp.fs.dirfd).type == TMPFS_MAGIC
    assert ("dev", "shm") in kernel.vfs.mounts


# -- xattrs -------------------------------------------------------------------------
def test_xattrs(task):
    write_file(task, "/tmp/f", b"x")
    p, name, buf = task.mm.s("/tmp/f"), task.mm.s("user.test"), task.mm.alloc(64)
    assert err(task, fs.sys_getxattr, p, name, buf, 64) == errno.ENODATA
    assert err(task, fs.sys_lgetxattr, p, name, buf, 64) == errno.ENODATA
    assert err(task, fs.sys_getxattr, task.mm.s("/tmp/nope"), name, buf, 64) == errno.ENOENT
    assert err(task, fs.sys_getxattr, p, task.mm.s(""), buf, 64) == errno.ERANGE
    assert err(task, fs.sys_getxattr, p, task.mm.s("x" * 300), buf, 64) == errno.ERANGE
    assert err(task, fs.sys_getxattr, p, task.mm.s("bogus.ns"), buf, 64) == errno.EOPNOTSUPP
    assert call(task, fs.sys_listxattr, p, buf, 64) == 0
    assert call(task, fs.sys_llistxattr, p, 0, 0) == 0
    assert err(task, fs.sys_setxattr, p, name, buf, 1, 0) == errno.ENOTSUP
    assert err(task, fs.sys_setxattr, p, name, buf, 1, 8) == errno.EINVAL
    assert err(task, fs.sys_setxattr, p, name, buf, 1, 2) == errno.ENODATA
    assert err(task, fs.sys_removexattr, p, name) == errno.ENODATA
    fd = open_(task, "/tmp/f")
    assert err(task, fs.sys_fgetxattr, fd, name, buf, 64) == errno.ENODATA
    assert call(task, fs.sys_flistxattr, fd, buf, 64) == 0
    assert err(task, fs.sys_fsetxattr, fd, name, buf, 1, 0) == errno.ENOTSUP
    assert err(task, fs.sys_fremovexattr, fd, name) == errno.ENODATA
    assert err(task, fs.sys_fgetxattr, 77, name, buf, 64) == errno.EBADF
    ro = task.mm.s("/ro/file")
    assert err(task, fs.sys_setxattr, ro, name, buf, 1, 0) == errno.EROFS
    assert err(task, fs.sys_lremovexattr, ro, name) == errno.EROFS


# -- sendfile / copy_file_range / preadv2 ------------------------------------------
def test_sendfile_offsets(task):
    write_file(task, "/tmp/src", b"0123456789")
    src = open_(task, "/tmp/src")
    dst = open_(task, "/tmp/dst", os.O_WRONLY | os.O_CREAT)
    off = task.mm.alloc(8)
    task.mm.write_u64(off, 2)
    assert call(task, fs.sys_sendfile, dst, src, off, 5) == 5
    assert task.mm.read_u64(off) == 7
    assert call(task, fs.sys_lseek, src, 0, os.SEEK_CUR) == 0     # offset pointer: file offset kept
    assert call(task, fs.sys_sendfile, dst, src, 0, 100) == 10
    assert call(task, fs.sys_lseek, src, 0, os.SEEK_CUR) == 10
    assert call(task, fs.sys_sendfile, dst, src, 0, 100) == 0
    assert read_all(task, "/tmp/dst") == b"234560123456789"
    assert err(task, fs.sys_sendfile, src, dst, 0, 1) == errno.EBADF


def test_sendfile_pipe_in_and_out(task):
    fds = task.mm.alloc(8)
    call(task, fs.sys_pipe2, fds, 0)
    r, w = struct.unpack("<ii", task.mm.copy_in(fds, 8))
    write_file(task, "/tmp/src", b"hello pipe")
    src = open_(task, "/tmp/src")
    assert call(task, fs.sys_sendfile, w, src, 0, 64) == 10
    dst = open_(task, "/tmp/out", os.O_WRONLY | os.O_CREAT)
    off = task.mm.alloc(8)
    assert err(task, fs.sys_sendfile, dst, r, off, 4) == errno.ESPIPE
    assert call(task, fs.sys_sendfile, dst, r, 0, 64) == 10
    assert read_all(task, "/tmp/out") == b"hello pipe"


def test_copy_file_range(task):
    write_file(task, "/tmp/a", b"abcdefgh")
    a = open_(task, "/tmp/a")
    b = open_(task, "/tmp/b", os.O_RDWR | os.O_CREAT)
    oin, oout = task.mm.alloc(8), task.mm.alloc(8)
    task.mm.write_u64(oin, 3)
    task.mm.write_u64(oout, 0)
    assert call(task, fs.sys_copy_file_range, a, oin, b, oout, 4, 0) == 4
    assert task.mm.read_u64(oin) == 7 and task.mm.read_u64(oout) == 4
    assert call(task, fs.sys_copy_file_range, a, 0, b, 0, 100, 0) == 8
    assert call(task, fs.sys_lseek, a, 0, os.SEEK_CUR) == 8
    assert call(task, fs.sys_lseek, b, 0, os.SEEK_CUR) == 8
    assert read_all(task, "/tmp/b") == b"abcdefgh"
    assert err(task, fs.sys_copy_file_range, a, 0, b, 0, 1, 1) == errno.EINVAL
    assert err(task, fs.sys_copy_file_range, b, 0, a, 0, 1, 0) == errno.EBADF


def test_preadv_pwritev(task):
    fd = open_(task, "/tmp/v", os.O_RDWR | os.O_CREAT)
    b1, b2 = task.mm.alloc(b"abc"), task.mm.alloc(b"defg")
    iov = task.mm.alloc(struct.pack("<QQQQ", b1, 3, b2, 4))
    assert call(task, fs.sys_pwritev, fd, iov, 2, 5, 0) == 7
    assert call(task, fs.sys_lseek, fd, 0, os.SEEK_CUR) == 0
    assert call(task, fs.sys_pwritev2, fd, iov, 1, (1 << 64) - 1, 0, 0) == 3   # -1: current position
    assert call(task, fs.sys_lseek, fd, 0, os.SEEK_CUR) == 3
    r1, r2 = task.mm.alloc(4), task.mm.alloc(8)
    riov = task.mm.alloc(struct.pack("<QQQQ", r1, 4, r2, 8))
    assert call(task, fs.sys_preadv, fd, riov, 2, 0, 0) == 12
    assert task.mm.copy_in(r1, 4) + task.mm.copy_in(r2, 8) == b"abc\0\0abcdefg"
    assert call(task, fs.sys_preadv2, fd, riov, 1, (1 << 64) - 1, 0, 0) == 4
    assert call(task, fs.sys_lseek, fd, 0, os.SEEK_CUR) == 7
    assert call(task, fs.sys_preadv2, fd, riov, 1, 0, 0, 0x8) == 4       # RWF_NOWAIT: a hint
    assert err(task, fs.sys_preadv2, fd, riov, 1, 0, 0, 0x1000) == errno.EOPNOTSUPP
    assert err(task, fs.sys_preadv, fd, riov, 1, (1 << 64) - 1, 0) == errno.EINVAL
    assert call(task, fs.sys_pwritev2, fd, iov, 1, 0, 0, 0x10) == 3      # RWF_APPEND
    assert read_all(task, "/tmp/v")[-3:] == b"abc"


def test_creat_and_mknod(task):
    fd = call(task, fs.sys_creat, task.mm.s("/tmp/c"), 0o600)
    assert fd >= 0
    assert call(task, fs.sys_mknod, task.mm.s("/tmp/fifo"), abi.S_IFIFO | 0o644, 0) == 0
    assert call(task, fs.sys_mknodat, abi.AT_FDCWD, task.mm.s("/tmp/reg"), abi.S_IFREG | 0o644, 0) == 0
    assert err(task, fs.sys_mknod, task.mm.s("/tmp/chr"), abi.S_IFCHR | 0o644,
               abi.makedev(1, 3)) == errno.EPERM
