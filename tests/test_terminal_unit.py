"""The guest terminal's rules (man 2 ioctl_tty, man 3 tcsetpgrp, man 2
setsid), handler by handler, on a real host pty: who may read the
foreground group, change it, take or drop the terminal, and which signals
a background process gets. tests/test_terminal.py runs real guests."""
from __future__ import annotations

import errno
import fcntl
import os
import struct
import termios
from pathlib import Path
from typing import Iterator

import pytest

from qkernel.config import KernelConfig
from qkernel.creds import Credentials
from qkernel.kernel import ERESTARTSYS, Kernel
from qkernel.signals.consts import (
    SIG_IGN, SIGHUP, SIGINT, SIGTERM, SIGTTIN, SIGTTOU, SIGWINCH, sigbit,
)
from qkernel.syscalls.fs_open import sys_close, sys_ioctl, sys_open
from qkernel.syscalls.fs_rw import sys_read, sys_write
from qkernel.syscalls.fs_stat import sys_fstat, sys_readlink, sys_stat
from qkernel.syscalls.process import sys_setpgid, sys_setsid
from qkernel.task import SignalAction, Task
from qkernel.threadgroup import ThreadGroup
from qkernel.vfs import abi
from qkernel.vfs.procfs_pid import stat as proc_stat
from tests.handlers import call, err
from tests.memory import FlatMemory

STAT_SIZE = 144


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    yield master, slave
    os.close(master)
    os.close(slave)


@pytest.fixture
def kernel(tmp_path: Path, pty: tuple[int, int]) -> Kernel:
    """PID 1 with the pty's slave as fds 0-2 and controlling terminal."""
    k = Kernel(KernelConfig(rootfs=str(tmp_path), args=["/init"]), 64 << 20)
    slave = pty[1]
    init = k.new_process_task(FlatMemory(), k.config, (slave, slave, slave), controlling_tty=True,
                               console=True)
    k.init_tg = init.tg
    k.terminal = init.tg.ctty
    return k


def init_task(k: Kernel) -> Task:
    return k.tasks[1]


def fork(k: Kernel, parent: Task | None, own_group: bool = True, uid: int = 0) -> Task:
    """A process as fork(2) makes it (sharing the parent's fds), then, as a
    job-control shell does, in a group of its own. parent None: a process
    of init's session with no parent in the container (an exec'd one)."""
    like = parent or init_task(k)
    pid = k.alloc_pid()
    tg = ThreadGroup(pid=pid, parent=parent.tg if parent else None, pgid=like.pgid,
                     sid=like.sid, ctty=like.tg.ctty)
    if parent is not None:
        parent.tg.children.append(tg)
    t = Task(kernel=k, mm=FlatMemory(1 << 16), fds=like.fds, fs=like.fs,
             creds=Credentials.for_user(uid, uid), pid=pid, tid=pid, tg=tg)
    k.register(t)
    if own_group:
        call(t, sys_setpgid, 0, 0)
    return t


def pgrp_of_tty(t: Task, fd: int = 0) -> int:
    buf = t.mm.alloc(4)
    call(t, sys_ioctl, fd, abi.TIOCGPGRP, buf)
    return t.mm.read_u32(buf)


def set_pgrp(t: Task, pgrp: int, fd: int = 0) -> int:
    return call(t, sys_ioctl, fd, abi.TIOCSPGRP, t.mm.alloc(struct.pack("<i", pgrp)))


def set_pgrp_err(t: Task, pgrp: int, fd: int = 0) -> int:
    return err(t, sys_ioctl, fd, abi.TIOCSPGRP, t.mm.alloc(struct.pack("<i", pgrp)))


def pending(t: Task, signo: int) -> bool:
    return bool(t.tg.shared_pending.get(signo))


def open_path(t: Task, path: str, flags: int = abi.O_RDWR) -> int:
    return call(t, sys_open, t.mm.s(path), flags, 0)


def ignore(t: Task, signo: int) -> None:
    t.tg.sigactions[signo] = SignalAction(handler=SIG_IGN)


def catch(t: Task, signo: int) -> None:
    t.tg.sigactions[signo] = SignalAction(handler=0x401000)


# ---------------------------------------------------------------- the initial state

def test_init_controls_the_terminal(kernel: Kernel) -> None:
    init = init_task(kernel)
    assert pgrp_of_tty(init) == 1
    sid = init.mm.alloc(4)
    call(init, sys_ioctl, 1, abi.TIOCGSID, sid)
    assert init.mm.read_u32(sid) == 1
    fields = proc_stat(init, init.tg, None).split()
    assert fields[6:8] == [str(136 << 8), "1"]      # tty_nr (pts 0), tpgid


def test_identity_is_the_guests_dev_pts_0(kernel: Kernel) -> None:
    """fstat(0) and stat(/dev/pts/0) agree (ttyname(3) checks just that),
    and /proc/self/fd/0 names it."""
    init = init_task(kernel)
    a, b = init.mm.alloc(STAT_SIZE), init.mm.alloc(STAT_SIZE)
    call(init, sys_fstat, 0, a)
    call(init, sys_stat, init.mm.s("/dev/pts/0"), b)
    assert init.mm.copy_in(a, STAT_SIZE) == init.mm.copy_in(b, STAT_SIZE)
    dev, ino, _nlink, mode, _uid, _gid, _pad, rdev = struct.unpack_from(
        "<QQQIIIIQ", init.mm.copy_in(a, STAT_SIZE))
    assert mode & abi.S_IFMT == abi.S_IFCHR and rdev == os.makedev(136, 0)
    buf = init.mm.alloc(64)
    n = call(init, sys_readlink, init.mm.s("/proc/self/fd/0"), buf, 64)
    assert init.mm.copy_in(buf, n) == b"/dev/pts/0"


# ---------------------------------------------------------------- foreground group

def test_tcsetpgrp_rules(kernel: Kernel) -> None:
    init = init_task(kernel)
    job = fork(kernel, init)
    assert set_pgrp(init, job.pgid) == 0
    assert pgrp_of_tty(job) == job.pgid             # fork kept the terminal
    assert set_pgrp_err(job, -1) == errno.EINVAL
    assert set_pgrp_err(job, 77777) == errno.ESRCH
    other = fork(kernel, init, own_group=False)
    call(other, sys_setsid)                         # another session
    assert set_pgrp_err(job, other.pgid) == errno.EPERM
    assert set_pgrp(job, 1) == 0                    # the foreground may hand it back


def test_setsid_leaves_the_terminal(kernel: Kernel) -> None:
    init = init_task(kernel)
    child = fork(kernel, init, own_group=False)
    assert call(child, sys_setsid) == child.pid
    assert err(child, sys_ioctl, 0, abi.TIOCGPGRP, child.mm.alloc(4)) == errno.ENOTTY
    assert err(child, sys_ioctl, 0, abi.TIOCGSID, child.mm.alloc(4)) == errno.ENOTTY
    assert set_pgrp_err(child, child.pgid) == errno.ENOTTY
    assert err(child, sys_open, child.mm.s("/dev/tty"), abi.O_RDWR, 0) == errno.ENXIO
    assert proc_stat(child, child.tg, None).split()[6:8] == ["0", "-1"]


def test_background_tcsetpgrp_gets_sigttou(kernel: Kernel) -> None:
    init = init_task(kernel)
    job = fork(kernel, init)                        # background: init's group is foreground
    assert err(job, sys_ioctl, 0, abi.TIOCSPGRP, job.mm.alloc(struct.pack("<i", job.pgid))) == ERESTARTSYS
    assert pending(job, SIGTTOU) and pgrp_of_tty(init) == 1
    job.tg.shared_pending.clear()
    job.sigmask |= sigbit(SIGTTOU)                  # blocked: allowed, no signal
    assert set_pgrp(job, job.pgid) == 0 and not pending(job, SIGTTOU)
    job2 = fork(kernel, init)
    ignore(job2, SIGTTOU)                           # ignored: allowed too (what shells do)
    assert set_pgrp(job2, job2.pgid) == 0


def test_orphaned_background_group(kernel: Kernel) -> None:
    """No parent in another group of the session could continue a stopped
    orphan: it gets EIO (ENOTTY from TIOCSPGRP) instead of a stop signal."""
    init = init_task(kernel)
    orphan = fork(kernel, None)
    assert set_pgrp_err(orphan, orphan.pgid) == errno.ENOTTY
    assert err(orphan, sys_read, 0, orphan.mm.alloc(8), 8) == errno.EIO
    assert not pending(orphan, SIGTTOU) and not pending(orphan, SIGTTIN)
    assert pgrp_of_tty(init) == 1


def test_background_read_and_tostop_write(kernel: Kernel, pty: tuple[int, int]) -> None:
    init = init_task(kernel)
    job = fork(kernel, init)
    buf = job.mm.alloc(8)
    assert err(job, sys_read, 0, buf, 8) == ERESTARTSYS
    assert pending(job, SIGTTIN)
    job.tg.shared_pending.clear()
    ignore(job, SIGTTIN)
    assert err(job, sys_read, 0, buf, 8) == errno.EIO
    data = job.mm.alloc(b"bg\n")
    assert call(job, sys_write, 1, data, 3) == 3    # no TOSTOP: background output is fine
    attrs = termios.tcgetattr(pty[1])
    attrs[3] |= termios.TOSTOP
    termios.tcsetattr(pty[1], termios.TCSANOW, attrs)
    assert err(job, sys_write, 1, data, 3) == ERESTARTSYS
    assert pending(job, SIGTTOU)
    assert call(init, sys_write, 1, init.mm.alloc(b"fg\n"), 3) == 3


# ---------------------------------------------------------------- taking and leaving

def test_tiocsctty_rules(kernel: Kernel) -> None:
    init = init_task(kernel)
    assert call(init, sys_ioctl, 0, abi.TIOCSCTTY, 0) == 0          # already its own
    job = fork(kernel, init)
    assert err(job, sys_ioctl, 0, abi.TIOCSCTTY, 0) == errno.EPERM  # not a session leader
    leader = fork(kernel, init, own_group=False, uid=1000)
    call(leader, sys_setsid)
    assert err(leader, sys_ioctl, 0, abi.TIOCSCTTY, 0) == errno.EPERM   # session 1 has it
    assert err(leader, sys_ioctl, 0, abi.TIOCSCTTY, 1) == errno.EPERM   # steal needs privilege
    thief = fork(kernel, init, own_group=False)
    call(thief, sys_setsid)
    assert call(thief, sys_ioctl, 0, abi.TIOCSCTTY, 1) == 0             # root steals it
    assert pgrp_of_tty(thief) == thief.pgid
    assert err(init, sys_ioctl, 0, abi.TIOCGPGRP, init.mm.alloc(4)) == errno.ENOTTY
    assert init.tg.ctty is None and job.tg.ctty is None                 # the old session lost it
    fd = open_path(thief, "/dev/tty")
    assert call(thief, sys_close, fd) == 0


def test_tiocnotty(kernel: Kernel) -> None:
    init = init_task(kernel)
    quitter = fork(kernel, init)
    assert call(quitter, sys_ioctl, 0, abi.TIOCNOTTY, 0) == 0   # only itself
    assert quitter.tg.ctty is None and pgrp_of_tty(init) == 1
    job = fork(kernel, init)
    catch(job, SIGHUP)
    set_pgrp(init, job.pgid)
    job.tg.stopped = True                                      # say ^Z had stopped it
    assert call(init, sys_ioctl, 0, abi.TIOCNOTTY, 0) == 0      # the leader: for everyone
    assert pending(job, SIGHUP) and not job.tg.stopped          # SIGHUP, and SIGCONT resumed it
    assert kernel.terminal is not None and kernel.terminal.session is None
    assert init.tg.ctty is None and job.tg.ctty is None
    assert err(init, sys_ioctl, 0, abi.TIOCNOTTY, 0) == errno.ENOTTY


def test_leader_opening_a_free_terminal_takes_it(kernel: Kernel) -> None:
    init = init_task(kernel)
    call(init, sys_ioctl, 0, abi.TIOCNOTTY, 0)
    leader = fork(kernel, init, own_group=False)
    call(leader, sys_setsid)
    fd = open_path(leader, "/dev/pts/0", abi.O_RDWR | abi.O_NOCTTY)
    assert leader.tg.ctty is None                               # O_NOCTTY
    fd2 = open_path(leader, "/dev/console")
    assert pgrp_of_tty(leader, fd2) == leader.pgid
    for f in (fd, fd2):
        call(leader, sys_close, f)


def test_exclusive_mode(kernel: Kernel) -> None:
    init = init_task(kernel)
    user = fork(kernel, init, uid=1000)
    assert call(init, sys_ioctl, 0, abi.TIOCEXCL, 0) == 0
    assert err(user, sys_open, user.mm.s("/dev/tty"), abi.O_RDWR, 0) == errno.EBUSY
    call(init, sys_close, open_path(init, "/dev/tty"))          # root may
    call(init, sys_ioctl, 0, abi.TIOCNXCL, 0)
    call(user, sys_close, open_path(user, "/dev/tty"))


# ---------------------------------------------------------------- the host tty's side

def test_device_ioctls_reach_the_host_tty(kernel: Kernel, pty: tuple[int, int]) -> None:
    master = pty[0]
    init = init_task(kernel)
    ws = init.mm.alloc(struct.pack("HHHH", 50, 132, 0, 0))
    call(init, sys_ioctl, 0, abi.TIOCSWINSZ, ws)
    assert struct.unpack("HHHH", fcntl.ioctl(master, termios.TIOCGWINSZ, bytes(8)))[:2] == (50, 132)
    tio = init.mm.alloc(abi.TERMIOS_SIZE)
    call(init, sys_ioctl, 0, abi.TCGETS, tio)
    lflag = struct.unpack_from("<I", init.mm.copy_in(tio, 16), 12)[0]
    assert lflag == termios.tcgetattr(pty[1])[3]
    out = init.mm.alloc(4)
    assert call(init, sys_ioctl, 1, abi.TIOCOUTQ, out) == 0
    assert call(init, sys_ioctl, 0, abi.TCFLSH, termios.TCIFLUSH) == 0
    assert call(init, sys_ioctl, 1, abi.TCSBRK, 1) == 0                  # tcdrain
    assert call(init, sys_ioctl, 0, abi.TIOCSETD, init.mm.alloc(struct.pack("<i", 0))) == 0
    assert err(init, sys_ioctl, 0, abi.TIOCSETD, init.mm.alloc(struct.pack("<i", 2))) == errno.EINVAL
    assert err(init, sys_ioctl, 0, abi.TIOCSTI, init.mm.s("x")) == errno.EIO
    assert err(init, sys_ioctl, 0, 0x5415, out) == errno.ENOTTY          # TIOCMGET: no modem here


def test_host_signals_go_to_the_foreground_group(kernel: Kernel) -> None:
    init = init_task(kernel)
    job = fork(kernel, init)
    catch(job, SIGWINCH)
    catch(init, SIGTERM)
    catch(init, SIGWINCH)
    set_pgrp(init, job.pgid)
    with kernel.lock:                                   # as the sandbox calls it
        kernel.forward_host_signal(SIGWINCH)
        assert pending(job, SIGWINCH) and not pending(init, SIGWINCH)
        kernel.forward_host_signal(SIGINT)              # ^C: the job dies, init is untouched
        assert job.tg.exiting and not init.tg.exiting
        kernel.forward_host_signal(SIGTERM)             # not a terminal's signal: PID 1
        assert pending(init, SIGTERM)
