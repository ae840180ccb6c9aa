"""procfs against a real Kernel (no KVM): per-process directories for every
thread group, zombies, threads, and the system files. Handlers run with
kernel.lock held."""
from __future__ import annotations

from tests.handlers import call, err

import errno
import os

import pytest

from qkernel.config import KernelConfig
from qkernel.creds import Credentials
from qkernel.errors import SyscallError
from qkernel.kernel import Kernel
from qkernel.syscalls import fs
from qkernel.task import Task
from qkernel.threadgroup import ThreadGroup
from qkernel.vfs import abi
from qkernel.vfs.build import initial_fs_context
from qkernel.vfs.fdtable import FdTable
from qkernel.vfs.procfs import record_exec
from tests.memory import FlatMemory


@pytest.fixture
def kernel(tmp_path):
    (tmp_path / "root").mkdir()
    k = Kernel(KernelConfig(rootfs=str(tmp_path / "root"), args=["/bin/init", "-x"]), 64 << 20)
    yield k
    k.shutting_down = True
    k.vfs.close()


def new_task(kernel, parent=None, tg=None, creds=None):
    pid = kernel.alloc_pid()
    if tg is None:
        tg = ThreadGroup(pid=pid, parent=parent, pgid=pid, sid=pid)
        if parent is not None:
            parent.children.append(tg)
    t = Task(kernel=kernel, mm=FlatMemory(), fds=FdTable(),
             fs=initial_fs_context(kernel.vfs, kernel.config), creds=creds or Credentials(),
             pid=tg.pid, tid=pid, tg=tg)
    kernel.register(t)
    return t


@pytest.fixture
def task(kernel):
    t = new_task(kernel)
    t.comm = b"init"
    t.exe_path = "/bin/init"
    return t




def read(task, path):
    fd = call(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s(path), os.O_RDONLY, 0)
    buf = task.mm.alloc(1 << 16)
    out = b""
    while True:
        n = call(task, fs.sys_read, fd, buf, 1 << 16)
        if not n:
            break
        out += task.mm.copy_in(buf, n)
    call(task, fs.sys_close, fd)
    return out


def readlink(task, path):
    buf = task.mm.alloc(512)
    n = call(task, fs.sys_readlink, task.mm.s(path), buf, 512)
    return task.mm.copy_in(buf, n).decode()


def listdir(task, path):
    import struct
    fd = call(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s(path), os.O_RDONLY | abi.O_DIRECTORY, 0)
    buf = task.mm.alloc(1 << 15)
    names = []
    while True:
        n = call(task, fs.sys_getdents64, fd, buf, 1 << 15)
        if not n:
            break
        raw = task.mm.copy_in(buf, n)
        off = 0
        while off < n:
            reclen = struct.unpack_from("<H", raw, off + 16)[0]
            names.append(raw[off + 19:off + reclen].split(b"\0", 1)[0].decode())
            off += reclen
    call(task, fs.sys_close, fd)
    return names


def fields(text):
    return dict(line.split(":\t", 1) for line in text.decode().splitlines() if ":\t" in line)


def test_every_process_has_a_directory(kernel, task):
    child = new_task(kernel, parent=task.tg)
    names = listdir(task, "/proc")
    assert str(task.pid) in names and str(child.pid) in names
    assert "self" in names and "meminfo" in names
    st = fields(read(task, f"/proc/{child.pid}/status"))
    assert st["Pid"] == str(child.pid) and st["PPid"] == str(task.pid)
    assert st["State"].startswith("S")
    assert fields(read(task, "/proc/self/status"))["State"].startswith("R")
    assert readlink(task, "/proc/self") == str(task.pid)
    assert readlink(task, "/proc/thread-self") == f"{task.pid}/task/{task.tid}"
    assert err(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s("/proc/9999/status"), 0, 0) == errno.ENOENT


def test_status_fields(task):
    st = fields(read(task, "/proc/self/status"))
    for key in ("Name", "Umask", "State", "Tgid", "Ngid", "Pid", "PPid", "TracerPid", "Uid", "Gid",
                "FDSize", "Groups", "VmPeak", "VmSize", "VmRSS", "Threads", "SigQ", "SigPnd",
                "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapInh", "CapPrm", "CapEff", "CapBnd",
                "CapAmb", "NoNewPrivs", "Seccomp", "Cpus_allowed", "voluntary_ctxt_switches"):
        assert key in st, key
    assert st["Name"] == "init"
    assert st["Umask"] == "0022"
    assert st["Uid"] == "0\t0\t0\t0"
    assert st["Threads"] == "1"
    assert st["CapEff"] == "000001ffffffffff"
    assert int(st["VmSize"].split()[0]) >= 1024


def test_zombie_shows_z(kernel, task):
    child = new_task(kernel, parent=task.tg)
    tg = child.tg
    with kernel.lock:
        tg.tasks.pop(child.tid)
        kernel.tasks.pop(child.tid)
        tg.zombie = True
        tg.group_exit_status = 3 << 8
    st = fields(read(task, f"/proc/{tg.pid}/status"))
    assert st["State"] == "Z (zombie)"
    line = read(task, f"/proc/{tg.pid}/stat").decode().split()
    assert line[2] == "Z" and len(line) == 52 and line[-1] == str(3 << 8)
    assert read(task, f"/proc/{tg.pid}/cmdline") == b""
    assert err(task, fs.sys_readlink, task.mm.s(f"/proc/{tg.pid}/exe"), task.mm.alloc(64), 64) == errno.ENOENT


def test_stat_statm_maps(task):
    line = read(task, "/proc/self/stat").decode()
    parts = line.split()
    assert len(parts) == 52 and parts[0] == str(task.pid) and parts[1] == "(init)" and parts[2] == "R"
    statm = read(task, "/proc/self/statm").decode().split()
    assert len(statm) == 7 and int(statm[0]) > 0
    maps = read(task, "/proc/self/maps").decode().splitlines()
    assert maps and all(len(m.split()) >= 5 for m in maps)
    start, end = maps[0].split()[0].split("-")
    assert int(start, 16) == 0x10000 and maps[0].split()[1] == "rw-p"


def test_cmdline_environ_comm(kernel, task):
    assert read(task, "/proc/self/cmdline") == b"/bin/init\0-x\0"
    record_exec(task, [b"/bin/ls", b"-l"], [b"A=1", b"B=2"])
    assert read(task, "/proc/self/cmdline") == b"/bin/ls\0-l\0"
    assert read(task, "/proc/self/environ") == b"A=1\0B=2\0"
    child = new_task(kernel, parent=task.tg)
    assert read(task, f"/proc/{child.pid}/cmdline") == b"/bin/ls\0-l\0"   # not exec'd: the parent's
    assert read(task, "/proc/self/comm") == b"init\n"
    fd = call(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s("/proc/self/comm"), os.O_WRONLY, 0)
    buf = task.mm.alloc(b"renamed\n")
    assert call(task, fs.sys_write, fd, buf, 8) == 8
    assert task.comm == b"renamed"


def test_fd_fdinfo_links(kernel, task):
    fd = call(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s("/proc/meminfo"), os.O_RDONLY | abi.O_CLOEXEC, 0)
    assert str(fd) in listdir(task, "/proc/self/fd")
    assert readlink(task, f"/proc/self/fd/{fd}") == "/proc/meminfo"
    info = fields(read(task, f"/proc/self/fdinfo/{fd}"))
    assert info["pos"] == "0" and int(info["flags"], 8) & abi.O_CLOEXEC
    assert readlink(task, "/proc/self/cwd") == "/"
    assert readlink(task, "/proc/self/root") == "/"
    assert readlink(task, "/proc/self/exe") == "/bin/init"
    other = new_task(kernel, parent=task.tg)
    ofd = call(other, fs.sys_openat, abi.AT_FDCWD, other.mm.s("/proc/version"), os.O_RDONLY, 0)
    assert readlink(task, f"/proc/{other.pid}/fd/{ofd}") == "/proc/version"


def test_threads(kernel, task):
    thread = new_task(kernel, tg=task.tg)
    assert sorted(listdir(task, "/proc/self/task")) == sorted([".", "..", str(task.tid), str(thread.tid)])
    st = fields(read(task, f"/proc/self/task/{thread.tid}/status"))
    assert st["Pid"] == str(thread.tid) and st["Tgid"] == str(task.pid)
    assert st["Threads"] == "2"
    assert read(task, f"/proc/self/task/{thread.tid}/stat").decode().split()[0] == str(thread.tid)
    assert str(thread.tid) not in listdir(task, "/proc")          # threads are hidden...
    assert fields(read(task, f"/proc/{thread.tid}/status"))["Pid"] == str(thread.tid)  # ...but reachable


def test_mounts(task):
    mounts = read(task, "/proc/mounts").decode().splitlines()
    points = [m.split()[1] for m in mounts]
    assert points[0] == "/" and "/proc" in points and "/dev" in points and "/dev/shm" in points
    assert any(m.startswith("proc /proc proc rw,nosuid,nodev,noexec") for m in mounts)
    info = read(task, "/proc/self/mountinfo").decode().splitlines()
    assert len(info) == len(mounts) and all(" - " in line for line in info)


def test_system_files(kernel, task):
    mem = fields(read(task, "/proc/meminfo").replace(b": ", b":\t"))
    assert int(mem["MemTotal"].split()[0]) == (64 << 20) // 1024
    assert b"processor\t: 0" in read(task, "/proc/cpuinfo")
    up = read(task, "/proc/uptime").decode().split()
    assert len(up) == 2 and float(up[0]) >= 0
    assert len(read(task, "/proc/loadavg").decode().split()) == 5
    assert read(task, "/proc/stat").startswith(b"cpu  ")
    assert read(task, "/proc/version").startswith(b"Linux version ")
    assert b"\tproc\n" in read(task, "/proc/filesystems")
    assert read(task, "/proc/sys/kernel/ostype") == b"Linux\n"
    assert read(task, "/proc/sys/kernel/hostname") == f"{kernel.hostname}\n".encode()
    assert read(task, "/proc/sys/kernel/pid_max") == b"4194304\n"
    assert read(task, "/proc/sys/kernel/cap_last_cap") == b"40\n"
    assert read(task, "/proc/sys/kernel/ngroups_max") == b"65536\n"
    assert read(task, "/proc/sys/vm/overcommit_memory") == b"0\n"
    assert read(task, "/proc/sys/fs/file-max").strip().isdigit()
    assert read(task, "/proc/sys/kernel/osrelease").startswith(b"6.")


def test_proc_files_refuse_writes_and_report_size_zero(task):
    assert err(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s("/proc/meminfo"), os.O_WRONLY, 0) == errno.EACCES
    assert err(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s("/proc/newfile"),
               os.O_WRONLY | os.O_CREAT, 0o644) == errno.EACCES
    fd = call(task, fs.sys_openat, abi.AT_FDCWD, task.mm.s("/proc/self/status"), os.O_RDONLY, 0)
    buf = task.mm.alloc(144)
    call(task, fs.sys_fstat, fd, buf)
    import struct
    mode, uid = struct.unpack_from("<II", task.mm.copy_in(buf, 144), 24)
    assert mode & abi.S_IFMT == abi.S_IFREG and uid == 0
    assert struct.unpack_from("<q", task.mm.copy_in(buf, 144), 48)[0] == 0
