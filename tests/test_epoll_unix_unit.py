"""eventfd, epoll and AF_UNIX sockets against a real Kernel (no KVM): handlers
run with kernel.lock held, host threads stand in for blocked tasks."""
from __future__ import annotations

import errno
import struct
import time

import pytest

from qkernel.errors import MustExit
from qkernel.syscalls import epoll as se, eventfd as sev, fs, socket as ss, timer as st
from qkernel.task import SignalAction
from tests.test_futex_poll_unit import call, in_thread, kernel, new_task, task, wait_for  # noqa: F401

O_NONBLOCK, O_CLOEXEC = 0o4000, 0o2000000
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET = 1, 2, 5
EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP = 0x1, 0x4, 0x8, 0x10, 0x2000
EPOLLONESHOT, EPOLLET = 1 << 30, 1 << 31
ADD, DEL, MOD = 1, 2, 3
MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT, MSG_NOSIGNAL = 0x2, 0x20, 0x40, 0x4000
SIGPIPE = 13


def u64(task, v: int) -> int:
    return task.mm.alloc(struct.pack("<Q", v))


def get_u64(task, addr: int) -> int:
    return struct.unpack("<Q", task.mm.copy_in(addr, 8))[0]


def write(task, fd: int, data: bytes) -> int:
    return call(task, fs.sys_write, fd, task.mm.alloc(data), len(data))


def read(task, fd: int, n: int = 4096) -> bytes | int:
    buf = task.mm.alloc(n)
    r = call(task, fs.sys_read, fd, buf, n)
    return r if r < 0 else task.mm.copy_in(buf, r)


# ---------------------------------------------------------------- eventfd

def test_eventfd_counter_semaphore_and_nonblock(kernel, task):
    fd = call(task, sev.sys_eventfd2, 3, O_NONBLOCK)
    buf = task.mm.alloc(8)
    assert call(task, fs.sys_read, fd, buf, 8) == 8 and get_u64(task, buf) == 3
    assert call(task, fs.sys_read, fd, buf, 8) == -errno.EAGAIN
    assert call(task, fs.sys_write, fd, u64(task, 5), 8) == 8
    assert call(task, fs.sys_write, fd, u64(task, 2**64 - 1), 8) == -errno.EINVAL
    assert call(task, fs.sys_write, fd, u64(task, 2**64 - 2), 8) == -errno.EAGAIN
    assert call(task, fs.sys_read, fd, buf, 7) == -errno.EINVAL
    sem = call(task, sev.sys_eventfd2, 2, 1)
    assert call(task, fs.sys_read, sem, buf, 8) == 8 and get_u64(task, buf) == 1
    assert call(task, fs.sys_read, sem, buf, 8) == 8 and get_u64(task, buf) == 1
    assert call(task, sev.sys_eventfd2, 0, 0x10) == -errno.EINVAL
    with kernel.lock:
        assert task.fds.get(fd).poll_events(task) & EPOLLIN
        assert task.fds.get(sem).poll_events(task) == EPOLLOUT | 0x100
        assert task.fds.get(fd).proc_link() == "anon_inode:[eventfd]"


def test_eventfd_blocking_read_woken_by_write(kernel, task):
    fd = call(task, sev.sys_eventfd, 0)
    buf = task.mm.alloc(8)
    th, out = in_thread(lambda: call(task, fs.sys_read, fd, buf, 8))
    time.sleep(0.05)
    assert not out
    assert call(task, fs.sys_write, fd, u64(task, 7), 8) == 8
    th.join(5)
    assert out == [8] and get_u64(task, buf) == 7


# ---------------------------------------------------------------- epoll

def ev(task, events: int, data: int) -> int:
    return task.mm.alloc(struct.pack("<IQ", events, data))


def wait(task, epfd: int, maxevents: int = 8, timeout: int = 0) -> list[tuple[int, int]] | int:
    out = task.mm.alloc(12 * maxevents)
    n = call(task, se.sys_epoll_wait, epfd, out, maxevents, timeout)
    if n < 0:
        return n
    raw = task.mm.copy_in(out, 12 * n) if n else b""
    return [struct.unpack_from("<IQ", raw, 12 * i) for i in range(n)]


def test_epoll_level_triggered_and_ctl_errors(kernel, task):
    ep = call(task, se.sys_epoll_create1, O_CLOEXEC)
    efd = call(task, sev.sys_eventfd2, 0, O_NONBLOCK)
    assert call(task, se.sys_epoll_ctl, ep, ADD, efd, ev(task, EPOLLIN, 42)) == 0
    assert call(task, se.sys_epoll_ctl, ep, ADD, efd, ev(task, EPOLLIN, 42)) == -errno.EEXIST
    assert call(task, se.sys_epoll_ctl, ep, ADD, ep, ev(task, EPOLLIN, 0)) == -errno.EINVAL
    assert call(task, se.sys_epoll_ctl, efd, ADD, ep, ev(task, EPOLLIN, 0)) == -errno.EINVAL
    assert call(task, se.sys_epoll_ctl, ep, MOD, 99, ev(task, EPOLLIN, 0)) == -errno.EBADF
    assert call(task, se.sys_epoll_ctl, ep, 7, efd, ev(task, EPOLLIN, 0)) == -errno.EINVAL
    assert call(task, se.sys_epoll_create, 0) == -errno.EINVAL
    assert call(task, se.sys_epoll_create1, 1) == -errno.EINVAL
    assert wait(task, ep) == []
    write(task, efd, struct.pack("<Q", 1))
    assert wait(task, ep) == [(EPOLLIN, 42)]
    assert wait(task, ep) == [(EPOLLIN, 42)]                 # level-triggered: again
    assert call(task, se.sys_epoll_ctl, ep, MOD, efd, ev(task, EPOLLIN | EPOLLOUT, 7)) == 0
    assert wait(task, ep) == [(EPOLLIN | EPOLLOUT, 7)]
    assert call(task, se.sys_epoll_ctl, ep, DEL, efd, 0) == 0
    assert call(task, se.sys_epoll_ctl, ep, DEL, efd, 0) == -errno.ENOENT
    assert wait(task, ep) == []
    assert wait(task, ep, maxevents=0) == -errno.EINVAL
    assert wait(task, efd) == -errno.EINVAL


def test_epoll_edge_oneshot_and_nesting(kernel, task):
    ep = call(task, se.sys_epoll_create1, 0)
    efd = call(task, sev.sys_eventfd2, 0, O_NONBLOCK)
    assert call(task, se.sys_epoll_ctl, ep, ADD, efd, ev(task, EPOLLIN | EPOLLET, 1)) == 0
    write(task, efd, struct.pack("<Q", 1))
    assert wait(task, ep) == [(EPOLLIN, 1)]
    assert wait(task, ep) == []                               # no new edge
    write(task, efd, struct.pack("<Q", 1))
    assert wait(task, ep) == [(EPOLLIN, 1)]                   # a write is a new edge
    efd2 = call(task, sev.sys_eventfd2, 1, 0)
    assert call(task, se.sys_epoll_ctl, ep, ADD, efd2, ev(task, EPOLLIN | EPOLLONESHOT, 2)) == 0
    assert wait(task, ep) == [(EPOLLIN, 2)]
    assert wait(task, ep) == []
    assert call(task, se.sys_epoll_ctl, ep, MOD, efd2, ev(task, EPOLLIN, 3)) == 0
    assert wait(task, ep) == [(EPOLLIN, 3)]
    outer = call(task, se.sys_epoll_create1, 0)
    assert call(task, se.sys_epoll_ctl, outer, ADD, ep, ev(task, EPOLLIN, 9)) == 0
    assert call(task, se.sys_epoll_ctl, ep, ADD, outer, ev(task, EPOLLIN, 9)) == -errno.ELOOP
    assert wait(task, outer) == [(EPOLLIN, 9)]


def test_epoll_wait_blocks_until_ready_and_timeout(kernel, task):
    ep = call(task, se.sys_epoll_create1, 0)
    r, w = _pipe(task)
    assert call(task, se.sys_epoll_ctl, ep, ADD, r, ev(task, EPOLLIN, 5)) == 0
    t0 = time.monotonic()
    assert wait(task, ep, timeout=30) == []
    assert time.monotonic() - t0 >= 0.029
    th, out = in_thread(lambda: wait(task, ep, timeout=-1))
    time.sleep(0.05)
    assert not out
    write(task, w, b"x")
    th.join(5)
    assert out == [[(EPOLLIN, 5)]]
    # closing the last fd of the file drops the item
    assert call(task, fs.sys_close, r) == 0
    assert wait(task, ep) == []
    # on the poller a wait that would block goes to the task's thread
    with kernel.lock, kernel.serving_in_poller():
        with pytest.raises(MustExit):
            se.sys_epoll_wait(task, ep, task.mm.alloc(12), 1, -1)


def test_epoll_wait_interrupted_is_eintr(kernel, task):
    from qkernel.signals import send_signal
    task.tg.sigactions[10] = SignalAction(handler=0x1000)
    ep = call(task, se.sys_epoll_create1, 0)
    th, out = in_thread(lambda: wait(task, ep, timeout=-1))
    time.sleep(0.05)
    with kernel.lock:
        send_signal(kernel, task, 10)
    th.join(5)
    assert out == [-errno.EINTR]


def test_epoll_with_timerfd(kernel, task):
    ep = call(task, se.sys_epoll_create1, 0)
    tfd = call(task, st.sys_timerfd_create, 1, 0)
    assert call(task, se.sys_epoll_ctl, ep, ADD, tfd, ev(task, EPOLLIN, 11)) == 0
    spec = task.mm.alloc(struct.pack("<qqqq", 0, 0, 0, 20_000_000))
    assert call(task, st.sys_timerfd_settime, tfd, 0, spec, 0) == 0
    assert wait(task, ep, timeout=2000) == [(EPOLLIN, 11)]


def _pipe(task) -> tuple[int, int]:
    p = task.mm.alloc(8)
    assert call(task, fs.sys_pipe2, p, 0) == 0
    return struct.unpack("<ii", task.mm.copy_in(p, 8))


# ---------------------------------------------------------------- AF_UNIX

def pair(task, stype: int = SOCK_STREAM) -> tuple[int, int]:
    sv = task.mm.alloc(8)
    assert call(task, ss.sys_socketpair, AF_UNIX, stype, 0, sv) == 0
    return struct.unpack("<ii", task.mm.copy_in(sv, 8))


def sun(task, path: bytes) -> tuple[int, int]:
    raw = struct.pack("<H", AF_UNIX) + path
    return task.mm.alloc(raw), len(raw)


def test_socket_families_and_types(task):
    assert call(task, ss.sys_socket, AF_INET, SOCK_STREAM, 0) == -errno.EAFNOSUPPORT
    assert call(task, ss.sys_socket, AF_INET6, SOCK_DGRAM, 0) == -errno.EAFNOSUPPORT
    assert call(task, ss.sys_socket, AF_NETLINK, SOCK_DGRAM, 0) == -errno.EAFNOSUPPORT
    assert call(task, ss.sys_socket, AF_UNIX, 7, 0) == -errno.ESOCKTNOSUPPORT
    assert call(task, ss.sys_socket, AF_UNIX, SOCK_STREAM, 9) == -errno.EPROTONOSUPPORT
    fd = call(task, ss.sys_socket, AF_UNIX, SOCK_STREAM | O_NONBLOCK | O_CLOEXEC, 0)
    assert fd >= 0 and task.fds.get_cloexec(fd)
    assert call(task, ss.sys_listen, fd, 5) == -errno.EINVAL     # unbound
    assert read(task, fd) == -errno.EINVAL
    assert write(task, fd, b"x") == -errno.ENOTCONN
    efd = call(task, sev.sys_eventfd, 0)
    assert call(task, ss.sys_listen, efd, 5) == -errno.ENOTSOCK


def test_socketpair_stream_data_shutdown_epipe(kernel, task):
    a, b = pair(task)
    assert write(task, a, b"hello") == 5
    assert read(task, b) == b"hello"
    assert write(task, b, b"back") == 4
    assert read(task, a, 2) == b"ba" and read(task, a) == b"ck"
    assert call(task, ss.sys_shutdown, a, 1) == 0
    assert read(task, b) == b""                                 # EOF
    with kernel.lock:
        assert task.fds.get(b).poll_events(task) & EPOLLRDHUP
    task.tg.sigactions[SIGPIPE] = SignalAction(handler=0x1000)
    assert write(task, a, b"x") == -errno.EPIPE
    assert task.pending.get(SIGPIPE)
    task.pending.clear()
    assert call(task, ss.sys_sendto, a, task.mm.alloc(b"x"), 1, MSG_NOSIGNAL, 0, 0) == -errno.EPIPE
    assert not task.pending.get(SIGPIPE)
    assert call(task, fs.sys_close, b) == 0
    with kernel.lock:
        assert task.fds.get(a).poll_events(task) & EPOLLHUP


def test_stream_blocking_read_and_peercred(kernel, task):
    a, b = pair(task)
    th, out = in_thread(lambda: read(task, b))
    time.sleep(0.05)
    assert not out
    write(task, a, b"wake")
    th.join(5)
    assert out == [b"wake"]
    cred = task.mm.alloc(12)
    ln = task.mm.alloc(struct.pack("<i", 12))
    assert call(task, ss.sys_getsockopt, a, 1, 17, cred, ln) == 0
    assert struct.unpack("<iII", task.mm.copy_in(cred, 12)) == (task.pid, 0, 0)
    val = task.mm.alloc(4)
    assert call(task, ss.sys_getsockopt, a, 1, 3, val, ln) == 0
    assert struct.unpack("<i", task.mm.copy_in(val, 4))[0] == SOCK_STREAM


def test_dgram_and_seqpacket_boundaries(kernel, task):
    a, b = pair(task, SOCK_DGRAM)
    write(task, a, b"one")
    write(task, a, b"twothree")
    assert read(task, b) == b"one"
    buf = task.mm.alloc(16)
    assert call(task, ss.sys_recvfrom, b, buf, 3, MSG_TRUNC, 0, 0) == 8
    assert call(task, ss.sys_recvfrom, b, buf, 3, MSG_DONTWAIT, 0, 0) == -errno.EAGAIN
    c, d = pair(task, SOCK_SEQPACKET)
    write(task, c, b"abc")
    write(task, c, b"de")
    assert call(task, ss.sys_recvfrom, d, buf, 16, MSG_PEEK, 0, 0) == 3
    assert read(task, d) == b"abc" and read(task, d) == b"de"


def _msghdr(task, iov_data: bytes, control: bytes = b"", ctl_room: int = 0,
            name: tuple[int, int] = (0, 0)) -> tuple[int, int, int]:
    base = task.mm.alloc(max(len(iov_data), 64))
    if iov_data:
        task.mm.copy_out(base, iov_data)
    iov = task.mm.alloc(struct.pack("<QQ", base, len(iov_data) or 64))
    ctl = task.mm.alloc(control or ctl_room) if (control or ctl_room) else 0
    if control:
        task.mm.copy_out(ctl, control)
    msg = task.mm.alloc(struct.pack("<QI4xQQQQi4x", name[0], name[1], iov, 1, ctl,
                                    len(control) or ctl_room, 0))
    return msg, base, ctl


def test_scm_rights_passes_an_fd(kernel, task):
    a, b = pair(task)
    efd = call(task, sev.sys_eventfd, 41)
    cmsg = struct.pack("<Qii", 20, 1, 1) + struct.pack("<i", efd) + b"\0" * 4
    msg, _, _ = _msghdr(task, b"fd!", cmsg)
    assert call(task, ss.sys_sendmsg, a, msg, 0) == 3
    assert call(task, fs.sys_close, efd) == 0                  # the in-flight reference keeps it
    rmsg, base, ctl = _msghdr(task, b"", ctl_room=24)
    assert call(task, ss.sys_recvmsg, b, rmsg, 0) == 3
    assert task.mm.copy_in(base, 3) == b"fd!"
    clen, level, ctype, newfd = struct.unpack("<Qiii", task.mm.copy_in(ctl, 20))
    assert (clen, level, ctype) == (20, 1, 1)
    buf = task.mm.alloc(8)
    assert call(task, fs.sys_read, newfd, buf, 8) == 8 and get_u64(task, buf) == 41


def test_bind_listen_connect_accept_and_names(kernel, task):
    srv = call(task, ss.sys_socket, AF_UNIX, SOCK_STREAM, 0)
    addr, alen = sun(task, b"/qsock\0")
    assert call(task, ss.sys_bind, srv, addr, alen) == 0
    other = call(task, ss.sys_socket, AF_UNIX, SOCK_STREAM, 0)
    assert call(task, ss.sys_bind, other, addr, alen) == -errno.EADDRINUSE
    cli = call(task, ss.sys_socket, AF_UNIX, SOCK_STREAM, 0)
    assert call(task, ss.sys_connect, cli, addr, alen) == -errno.ECONNREFUSED
    assert call(task, ss.sys_listen, srv, 4) == 0
    missing, mlen = sun(task, b"/nothere\0")
    assert call(task, ss.sys_connect, other, missing, mlen) == -errno.ENOENT
    assert call(task, ss.sys_connect, cli, addr, alen) == 0
    assert call(task, ss.sys_connect, cli, addr, alen) == -errno.EISCONN
    pa = task.mm.alloc(110)
    pl = task.mm.alloc(struct.pack("<i", 110))
    conn = call(task, ss.sys_accept4, srv, pa, pl, O_CLOEXEC)
    assert conn >= 0 and struct.unpack("<i", task.mm.copy_in(pl, 4))[0] == 2   # unnamed client
    write(task, cli, b"ping")
    assert read(task, conn) == b"ping"
    task.mm.copy_out(pl, struct.pack("<i", 110))
    assert call(task, ss.sys_getpeername, cli, pa, pl) == 0
    n = struct.unpack("<i", task.mm.copy_in(pl, 4))[0]
    assert task.mm.copy_in(pa, n) == struct.pack("<H", AF_UNIX) + b"/qsock\0"
    task.mm.copy_out(pl, struct.pack("<i", 110))
    assert call(task, ss.sys_getsockname, conn, pa, pl) == 0
    assert struct.unpack("<i", task.mm.copy_in(pl, 4))[0] == n
    # accept blocks until a connection arrives
    th, out = in_thread(lambda: call(task, ss.sys_accept, srv, 0, 0))
    time.sleep(0.05)
    assert not out
    cli2 = call(task, ss.sys_socket, AF_UNIX, SOCK_STREAM, 0)
    assert call(task, ss.sys_connect, cli2, addr, alen) == 0
    th.join(5)
    assert out and out[0] >= 0
    # closing frees the name
    assert call(task, fs.sys_close, srv) == 0
    again = call(task, ss.sys_socket, AF_UNIX, SOCK_STREAM, 0)
    assert call(task, ss.sys_bind, again, addr, alen) == 0


def test_abstract_dgram_sendto_and_autobind(kernel, task):
    srv = call(task, ss.sys_socket, AF_UNIX, SOCK_DGRAM, 0)
    addr, alen = sun(task, b"\0quark-abstract")
    assert call(task, ss.sys_bind, srv, addr, alen) == 0
    cli = call(task, ss.sys_socket, AF_UNIX, SOCK_DGRAM, 0)
    fam, _ = sun(task, b"")
    assert call(task, ss.sys_bind, cli, fam, 2) == 0              # autobind
    data = task.mm.alloc(b"dgram")
    assert call(task, ss.sys_sendto, cli, data, 5, 0, addr, alen) == 5
    buf = task.mm.alloc(16)
    fa = task.mm.alloc(110)
    fl = task.mm.alloc(struct.pack("<i", 110))
    assert call(task, ss.sys_recvfrom, srv, buf, 16, 0, fa, fl) == 5
    assert struct.unpack("<i", task.mm.copy_in(fl, 4))[0] == 8     # family + NUL + 5 hex digits
    assert call(task, ss.sys_sendto, cli, data, 5, 0, 0, 0) == -errno.ENOTCONN
    nowhere, nlen = sun(task, b"\0nobody")
    assert call(task, ss.sys_sendto, cli, data, 5, 0, nowhere, nlen) == -errno.ECONNREFUSED


def test_epoll_on_sockets(kernel, task):
    a, b = pair(task)
    ep = call(task, se.sys_epoll_create1, 0)
    assert call(task, se.sys_epoll_ctl, ep, ADD, b, ev(task, EPOLLIN | EPOLLRDHUP, 1)) == 0
    assert wait(task, ep) == []
    write(task, a, b"x")
    assert wait(task, ep) == [(EPOLLIN, 1)]
    call(task, fs.sys_close, a)
    got = wait(task, ep)
    assert got and got[0][0] & (EPOLLIN | EPOLLRDHUP | EPOLLHUP) == EPOLLIN | EPOLLRDHUP | EPOLLHUP
