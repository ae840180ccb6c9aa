"""VFS v0 and file syscalls, driven through the handlers with a stand-in
address space over a bytearray (real guests run in the acceptance tests)."""
from __future__ import annotations

import errno
import os
import struct

import pytest

from qkernel.config import KernelConfig, MountSpec
from qkernel.creds import Credentials
from qkernel.errors import SyscallError
from qkernel.syscalls import fs
from qkernel.kernel import Kernel
from qkernel.task import Task
from tests.memory import FlatMemory
from qkernel.vfs import abi
from qkernel.vfs.build import initial_fs_context
from qkernel.vfs.fdtable import FdTable

BASE = 0x10000




@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "shadow").write_text("inside")
    (root / "tmp").mkdir()
    (root / "bin").mkdir()
    (tmp_path / "outside").write_text("SECRET")
    return root


def make_task(rootfs, **cfg) -> Task:
    config = KernelConfig(rootfs=str(rootfs), args=["/bin/sh"], **cfg)
    kernel = Kernel(config, 64 << 20)
    vfs = kernel.vfs
    t = Task(kernel=kernel, mm=FlatMemory(), fds=FdTable(), fs=initial_fs_context(vfs, config),
             creds=Credentials.for_user(config.uid, config.gid), pid=1, tid=1)
    t.exe_path = "/bin/sh"
    return t


@pytest.fixture
def task(rootfs):
    t = make_task(rootfs)
    yield t
    t.fds.close_all()
    t.kernel.vfs.close()


def err(fn, *a) -> int:
    with pytest.raises(SyscallError) as ei:
        fn(*a)
    return ei.value.errno


def openf(t: Task, path: str, flags: int = abi.O_RDONLY, mode: int = 0o644) -> int:
    return fs.sys_openat(t, abi.AT_FDCWD, t.mm.s(path), flags, mode)


def read_all(t: Task, fd: int, n: int = 4096) -> bytes:
    buf = t.mm.alloc(n)
    got = fs.sys_read(t, fd, buf, n)
    return t.mm.copy_in(buf, got)


def write(t: Task, fd: int, data: bytes) -> int:
    return fs.sys_write(t, fd, t.mm.alloc(data), len(data))


# -- confinement ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/../../../etc/shadow", "../../../../etc/shadow",
                                  "/etc/../../etc/shadow", "/tmp/../../../../../../etc/shadow"])
def test_dotdot_stays_in_root(task, path):
    fd = openf(task, path)
    assert read_all(task, fd) == b"inside"


def test_absolute_symlink_resolves_in_guest_root(task, rootfs):
    os.symlink("/etc/shadow", rootfs / "tmp" / "abs")
    assert read_all(task, openf(task, "/tmp/abs")) == b"inside"


def test_symlink_to_host_path_outside_is_not_reachable(task, rootfs, tmp_path):
    os.symlink(str(tmp_path / "outside"), rootfs / "tmp" / "hostabs")
    os.symlink("../../../../../../../outside", rootfs / "tmp" / "rel")
    assert err(openf, task, "/tmp/hostabs") == errno.ENOENT
    assert err(openf, task, "/tmp/rel") == errno.ENOENT


def test_symlink_chain_and_dir_symlink_escape(task, rootfs, tmp_path):
    os.symlink("../..", rootfs / "tmp" / "up")
    os.symlink("up/tmp/up/tmp/up", rootfs / "tmp" / "chain")
    # /tmp/chain/outside -> ../../../../.. clamped at the guest root
    assert err(openf, task, "/tmp/chain/outside") == errno.ENOENT
    assert read_all(task, openf(task, "/tmp/chain/etc/shadow")) == b"inside"
    # Creation through an escaping symlink lands inside the root too.
    fd = openf(task, "/tmp/chain/newfile", abi.O_CREAT | abi.O_WRONLY)
    write(task, fd, b"x")
    assert (rootfs / "newfile").read_bytes() == b"x"
    assert not (tmp_path.parent / "newfile").exists()


def test_symlink_loop_is_eloop(task, rootfs):
    os.symlink("b", rootfs / "tmp" / "a")
    os.symlink("a", rootfs / "tmp" / "b")
    assert err(openf, task, "/tmp/a") == errno.ELOOP


def test_dangling_symlink_creates_target_inside(task, rootfs, tmp_path):
    os.symlink(str(tmp_path / "created_outside"), rootfs / "tmp" / "dang")
    # The target's directories do not exist in the guest's root: ENOENT.
    assert err(openf, task, "/tmp/dang", abi.O_CREAT | abi.O_WRONLY) == errno.ENOENT
    assert not (tmp_path / "created_outside").exists()
    os.symlink("/../../created", rootfs / "tmp" / "dang2")
    write(task, openf(task, "/tmp/dang2", abi.O_CREAT | abi.O_WRONLY), b"y")
    assert (rootfs / "created").read_bytes() == b"y"
    assert not (tmp_path / "created").exists()


def test_o_nofollow_and_readlink(task, rootfs):
    os.symlink("/etc/shadow", rootfs / "tmp" / "l")
    assert err(openf, task, "/tmp/l", abi.O_NOFOLLOW) == errno.ELOOP
    buf = task.mm.alloc(64)
    n = fs.sys_readlink(task, task.mm.s("/tmp/l"), buf, 64)
    assert task.mm.copy_in(buf, n) == b"/etc/shadow"
    assert err(fs.sys_readlink, task, task.mm.s("/etc/shadow"), buf, 64) == errno.EINVAL


# -- read-only root -----------------------------------------------------------------

def test_readonly_root_erofs(rootfs):
    t = make_task(rootfs, readonly_root=True)
    try:
        assert read_all(t, openf(t, "/etc/shadow")) == b"inside"
        assert err(openf, t, "/etc/new", abi.O_CREAT | abi.O_WRONLY) == errno.EROFS
        assert err(openf, t, "/etc/shadow", abi.O_WRONLY) == errno.EROFS
        assert err(fs.sys_mkdir, t, t.mm.s("/d"), 0o755) == errno.EROFS
        assert err(fs.sys_unlink, t, t.mm.s("/etc/shadow")) == errno.EROFS
        assert err(fs.sys_rename, t, t.mm.s("/etc/shadow"), t.mm.s("/etc/x")) == errno.EROFS
        assert err(fs.sys_chmod, t, t.mm.s("/etc/shadow"), 0o600) == errno.EROFS
        assert err(fs.sys_symlink, t, t.mm.s("x"), t.mm.s("/etc/l")) == errno.EROFS
        assert err(fs.sys_truncate, t, t.mm.s("/etc/shadow"), 0) == errno.EROFS
        assert err(fs.sys_access, t, t.mm.s("/etc/shadow"), abi.W_OK) == errno.EROFS
        # /dev is not the root mount: still writable.
        assert write(t, openf(t, "/dev/null", abi.O_WRONLY), b"abc") == 3
    finally:
        t.fds.close_all()
        t.kernel.vfs.close()


def test_bind_mount_ro_and_tmpfs(rootfs, tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    (src / "f").write_text("bound")
    t = make_task(rootfs, mounts=[MountSpec("/data", "bind", str(src), ["rbind", "ro"]),
                                  MountSpec("/scratch", "tmpfs", "tmpfs", []),
                                  MountSpec("/sys", "sysfs", "sysfs", [])])
    try:
        assert read_all(t, openf(t, "/data/f")) == b"bound"
        assert read_all(t, openf(t, "/data/../etc/shadow")) == b"inside"
        assert err(openf, t, "/data/g", abi.O_CREAT | abi.O_WRONLY) == errno.EROFS
        fd = openf(t, "/scratch/x", abi.O_CREAT | abi.O_RDWR)
        assert write(t, fd, b"tmp") == 3
        assert err(fs.sys_rename, t, t.mm.s("/scratch/x"), t.mm.s("/tmp/x")) == errno.EXDEV
        assert err(fs.sys_mkdir, t, t.mm.s("/sys/x"), 0o755) == errno.EROFS
        assert err(fs.sys_rmdir, t, t.mm.s("/data")) == errno.EBUSY
    finally:
        t.fds.close_all()
        t.kernel.vfs.close()


# -- stat, getdents ---------------------------------------------------------------

def test_stat_layout(task, rootfs):
    buf = task.mm.alloc(144)
    fs.sys_stat(task, task.mm.s("/etc/shadow"), buf)
    raw = task.mm.copy_in(buf, 144)
    host = os.stat(rootfs / "etc" / "shadow")
    dev, ino, nlink, mode, uid, gid, _pad, rdev, size = struct.unpack_from("<QQQIIIIQq", raw)
    assert (ino, mode, size, nlink) == (host.st_ino, host.st_mode, 6, 1)
    fs.sys_stat(task, task.mm.s("/dev/null"), buf)
    mode = struct.unpack_from("<I", task.mm.copy_in(buf, 144), 24)[0]
    assert mode & abi.S_IFMT == abi.S_IFCHR
    sx = task.mm.alloc(256)
    fs.sys_statx(task, abi.AT_FDCWD, task.mm.s("/etc/shadow"), 0, abi.STATX_BASIC_STATS, sx)
    raw = task.mm.copy_in(sx, 256)
    assert struct.unpack_from("<Q", raw, 32)[0] == host.st_ino
    assert struct.unpack_from("<Q", raw, 40)[0] == 6
    assert err(fs.sys_stat, task, task.mm.s("/etc/shadow/"), buf) == errno.ENOTDIR


def _parse_dirents64(raw: bytes) -> list[tuple[int, int, int, bytes]]:
    out, pos = [], 0
    while pos < len(raw):
        ino, off, reclen, dtype = struct.unpack_from("<QqHB", raw, pos)
        assert reclen % 8 == 0 and reclen >= 20
        name = raw[pos + 19:pos + reclen].split(b"\0", 1)[0]
        out.append((ino, off, dtype, name))
        pos += reclen
    return out


def test_getdents64_layout(task, rootfs):
    (rootfs / "tmp" / "file").write_text("z")
    (rootfs / "tmp" / "dir").mkdir()
    os.symlink("file", rootfs / "tmp" / "lnk")
    fd = openf(task, "/tmp", abi.O_RDONLY | abi.O_DIRECTORY)
    buf = task.mm.alloc(4096)
    n = fs.sys_getdents64(task, fd, buf, 4096)
    ents = _parse_dirents64(task.mm.copy_in(buf, n))
    by_name = {e[3]: e for e in ents}
    assert set(by_name) == {b".", b"..", b"file", b"dir", b"lnk"}
    assert by_name[b"file"][2] == abi.DT_REG and by_name[b"dir"][2] == abi.DT_DIR
    assert by_name[b"lnk"][2] == abi.DT_LNK
    assert by_name[b"file"][0] == os.stat(rootfs / "tmp" / "file").st_ino
    assert fs.sys_getdents64(task, fd, buf, 4096) == 0          # end
    # Rewind and read one record at a time; a too-small buffer is EINVAL.
    fs.sys_lseek(task, fd, 0, abi.SEEK_SET)
    assert err(fs.sys_getdents64, task, fd, buf, 8) == errno.EINVAL
    first = fs.sys_getdents64(task, fd, buf, 24)
    assert first == 24 and _parse_dirents64(task.mm.copy_in(buf, 24))[0][1] == 1
    assert err(fs.sys_getdents64, task, openf(task, "/etc/shadow"), buf, 4096) == errno.ENOTDIR


def test_getdents_old_layout(task):
    fd = openf(task, "/dev", abi.O_RDONLY | abi.O_DIRECTORY)
    buf = task.mm.alloc(4096)
    n = fs.sys_getdents(task, fd, buf, 4096)
    raw, pos, names = task.mm.copy_in(buf, n), 0, {}
    while pos < n:
        _ino, _off, reclen = struct.unpack_from("<QqH", raw, pos)
        names[raw[pos + 18:pos + reclen].split(b"\0", 1)[0]] = raw[pos + reclen - 1]
        pos += reclen
    assert names[b"null"] == abi.DT_CHR and names[b"fd"] == abi.DT_LNK


# -- devices, proc, cwd -----------------------------------------------------------

def test_devices(task):
    assert read_all(task, openf(task, "/dev/zero"), 16) == bytes(16)
    assert read_all(task, openf(task, "/dev/null")) == b""
    assert len(read_all(task, openf(task, "/dev/urandom"), 32)) == 32
    assert err(write, task, openf(task, "/dev/full", abi.O_WRONLY), b"a") == errno.ENOSPC


def test_proc_self(task):
    fd = openf(task, "/etc/shadow")
    buf = task.mm.alloc(256)
    n = fs.sys_readlink(task, task.mm.s(f"/proc/self/fd/{fd}"), buf, 256)
    assert task.mm.copy_in(buf, n) == b"/etc/shadow"
    n = fs.sys_readlink(task, task.mm.s("/proc/self/exe"), buf, 256)
    assert task.mm.copy_in(buf, n) == b"/bin/sh"
    assert read_all(task, openf(task, f"/dev/fd/{fd}")) == b"inside"
    assert err(openf, task, "/proc/no-such-entry") == errno.ENOENT
    # A pipe reached through /dev/stdout-style magic links.
    pfds = task.mm.alloc(8)
    fs.sys_pipe(task, pfds)
    r, w = struct.unpack("<ii", task.mm.copy_in(pfds, 8))
    fd2 = openf(task, f"/proc/self/fd/{w}", abi.O_WRONLY)
    write(task, fd2, b"via proc")
    assert read_all(task, r) == b"via proc"


def test_cwd_and_relative(task, rootfs):
    buf = task.mm.alloc(256)
    fs.sys_chdir(task, task.mm.s("/etc"))
    n = fs.sys_getcwd(task, buf, 256)
    assert task.mm.copy_in(buf, n) == b"/etc\0"
    assert read_all(task, openf(task, "shadow")) == b"inside"
    fs.sys_chdir(task, task.mm.s("/proc/self"))
    n = fs.sys_getcwd(task, buf, 256)
    assert task.mm.copy_in(buf, n) == b"/proc/1\0"
    fs.sys_chdir(task, task.mm.s("../.."))
    n = fs.sys_getcwd(task, buf, 256)
    assert task.mm.copy_in(buf, n) == b"/\0"
    assert err(fs.sys_getcwd, task, buf, 1) == errno.ERANGE
    dfd = openf(task, "/etc", abi.O_DIRECTORY)
    fd = fs.sys_openat(task, dfd, task.mm.s("shadow"), 0, 0)
    assert read_all(task, fd) == b"inside"


def test_namespace_ops(task, rootfs):
    m = task.mm
    fs.sys_mkdir(task, m.s("/tmp/d"), 0o777)
    assert (rootfs / "tmp" / "d").stat().st_mode & 0o777 == 0o755     # umask 022
    assert err(fs.sys_mkdir, task, m.s("/tmp/d"), 0o777) == errno.EEXIST
    fd = openf(task, "/tmp/d/f", abi.O_CREAT | abi.O_RDWR, 0o666)
    assert write(task, fd, b"hello world") == 11
    assert fs.sys_lseek(task, fd, 0, abi.SEEK_SET) == 0
    assert read_all(task, fd, 5) == b"hello"
    pb = m.alloc(5)
    assert fs.sys_pread64(task, fd, pb, 5, 6) == 5 and m.copy_in(pb, 5) == b"world"
    fs.sys_ftruncate(task, fd, 4)
    assert (rootfs / "tmp" / "d" / "f").read_bytes() == b"hell"
    fs.sys_rename(task, m.s("/tmp/d/f"), m.s("/tmp/g"))
    fs.sys_link(task, m.s("/tmp/g"), m.s("/tmp/h"))
    assert os.stat(rootfs / "tmp" / "h").st_nlink == 2
    fs.sys_symlink(task, m.s("g"), m.s("/tmp/s"))
    assert os.readlink(rootfs / "tmp" / "s") == "g"
    assert err(fs.sys_rmdir, task, m.s("/tmp")) == errno.ENOTEMPTY
    fs.sys_unlink(task, m.s("/tmp/h"))
    fs.sys_unlinkat(task, abi.AT_FDCWD, m.s("/tmp/d"), abi.AT_REMOVEDIR)
    assert err(fs.sys_unlink, task, m.s("/tmp/nope")) == errno.ENOENT
    assert err(openf, task, "/tmp/g", abi.O_CREAT | abi.O_EXCL | abi.O_WRONLY) == errno.EEXIST
    fs.sys_renameat2(task, abi.AT_FDCWD, m.s("/tmp/g"), abi.AT_FDCWD, m.s("/tmp/s"), 0)
    assert err(fs.sys_renameat2, task, abi.AT_FDCWD, m.s("/etc/shadow"), abi.AT_FDCWD,
               m.s("/tmp/s"), abi.RENAME_NOREPLACE) == errno.EEXIST


def test_access_uses_guest_creds(task, rootfs):
    p = rootfs / "etc" / "shadow"
    os.chmod(p, 0o640)
    os.chown(p, 0, 0)
    m = task.mm
    assert fs.sys_access(task, m.s("/etc/shadow"), abi.R_OK | abi.W_OK) == 0
    assert err(fs.sys_access, task, m.s("/etc/shadow"), abi.X_OK) == errno.EACCES
    task.creds = Credentials.for_user(1000, 1000)
    assert err(fs.sys_access, task, m.s("/etc/shadow"), abi.R_OK) == errno.EACCES
    assert err(openf, task, "/etc/shadow") == errno.EACCES
    assert fs.sys_access(task, m.s("/etc/shadow"), abi.F_OK) == 0
    task.creds = Credentials.for_user(1000, 0)
    assert fs.sys_access(task, m.s("/etc/shadow"), abi.R_OK) == 0
    assert err(fs.sys_access, task, m.s("/etc/shadow"), abi.W_OK) == errno.EACCES


def test_created_files_belong_to_guest(task, rootfs):
    task.creds = Credentials.for_user(1234, 5678)
    os.chmod(rootfs / "tmp", 0o1777)
    openf(task, "/tmp/mine", abi.O_CREAT | abi.O_WRONLY, 0o600)
    st = os.stat(rootfs / "tmp" / "mine")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1234, 5678, 0o600)


# -- pipes --------------------------------------------------------------------------

def _pipe(t: Task, flags: int = 0) -> tuple[int, int]:
    a = t.mm.alloc(8)
    fs.sys_pipe2(t, a, flags)
    return struct.unpack("<ii", t.mm.copy_in(a, 8))





def test_fd_table_dup_cloexec_emfile(task):
    a = openf(task, "/etc/shadow")
    assert a == 0                          # no stdio in this table: lowest free fd
    b = fs.sys_dup(task, a)
    assert b == 1
    assert fs.sys_fcntl(task, b, abi.F_GETFD, 0) == 0
    c = fs.sys_dup3(task, a, 10, abi.O_CLOEXEC)
    assert c == 10 and fs.sys_fcntl(task, 10, abi.F_GETFD, 0) == abi.FD_CLOEXEC
    assert err(fs.sys_dup3, task, a, a, 0) == errno.EINVAL
    assert fs.sys_dup2(task, a, a) == a
    assert fs.sys_fcntl(task, a, abi.F_DUPFD, 5) == 5
    assert fs.sys_fcntl(task, a, abi.F_DUPFD_CLOEXEC, 5) == 6
    # Shared offset between dups.
    assert read_all(task, a, 2) == b"in"
    assert read_all(task, b, 2) == b"si"
    fs.sys_ioctl(task, b, abi.FIOCLEX, 0)
    assert fs.sys_fcntl(task, b, abi.F_GETFD, 0) == abi.FD_CLOEXEC
    task.fds.close_on_exec()
    assert task.fds.lookup(10) is None and task.fds.lookup(b) is None and task.fds.lookup(a)
    assert err(fs.sys_close, task, 10) == errno.EBADF
    task.limits.set(7, 8, 8)
    while True:
        try:
            fd = fs.sys_dup(task, a)
        except SyscallError as e:
            assert e.errno == errno.EMFILE
            break
        assert fd < 8
    assert err(openf, task, "/etc/shadow") == errno.EMFILE
    assert err(fs.sys_dup2, task, a, 8) == errno.EBADF
    assert err(fs.sys_fcntl, task, a, abi.F_DUPFD, 8) == errno.EINVAL
    fl = fs.sys_fcntl(task, a, abi.F_GETFL, 0)
    assert fl & abi.O_ACCMODE == abi.O_RDONLY
    fs.sys_fcntl(task, a, abi.F_SETFL, abi.O_NONBLOCK)
    assert fs.sys_fcntl(task, a, abi.F_GETFL, 0) & abi.O_NONBLOCK


def test_with_stdio():
    table = FdTable.with_stdio()
    try:
        assert table.lookup(0) is not None or table.lookup(1) is not None
    finally:
        table.close_all()


def test_readv_writev(task):
    fd = openf(task, "/tmp/v", abi.O_CREAT | abi.O_RDWR)
    m = task.mm
    p1, p2 = m.alloc(b"abc"), m.alloc(b"defg")
    iov = m.alloc(struct.pack("<QQQQ", p1, 3, p2, 4))
    assert fs.sys_writev(task, fd, iov, 2) == 7
    fs.sys_lseek(task, fd, 0, abi.SEEK_SET)
    d1, d2 = m.alloc(2), m.alloc(8)
    iov = m.alloc(struct.pack("<QQQQ", d1, 2, d2, 8))
    assert fs.sys_readv(task, fd, iov, 2) == 7
    assert m.copy_in(d1, 2) == b"ab" and m.copy_in(d2, 5) == b"cdefg"
    assert err(fs.sys_openat, task, abi.AT_FDCWD, 0x10, 0, 0) == errno.EFAULT
