"""Socket syscalls. Only AF_UNIX exists (qkernel/net/unix.py); socket() and
socketpair() of any other family fail with EAFNOSUPPORT until networking
comes. sockaddr, msghdr and cmsg parsing live here."""
from __future__ import annotations

import errno
import os
import posixpath
import struct
from typing import Any

from qkernel.errors import SyscallError
from qkernel.net.unix import (
    AF_UNIX, CONNECTED, LISTENING, MSG_CMSG_CLOEXEC, MSG_CTRUNC, SOCK_DGRAM, SOCK_RAW,
    SOCK_SEQPACKET, SOCK_STREAM, UnixSocket, drop_fds, names, socketpair,
)
from qkernel.syscalls.fs_common import gather, install, install_pair, nofile_limit, read_iovecs, scatter
from qkernel.vfs import abi, ops
from qkernel.vfs.file import MAX_RW, OpenFile

AF_UNSPEC = 0
SOCK_TYPE_MASK = 0xF
SOCK_NONBLOCK = abi.O_NONBLOCK
SOCK_CLOEXEC = abi.O_CLOEXEC
SUN_PATH_MAX = 108
SOCKADDR_UN_SIZE = 2 + SUN_PATH_MAX
AF_MAX = 46

SOL_SOCKET = 1
SO_DEBUG, SO_REUSEADDR, SO_TYPE, SO_ERROR = 1, 2, 3, 4
SO_DONTROUTE, SO_BROADCAST, SO_SNDBUF, SO_RCVBUF = 5, 6, 7, 8
SO_KEEPALIVE, SO_OOBINLINE, SO_LINGER = 9, 10, 13
SO_REUSEPORT, SO_PASSCRED, SO_PEERCRED = 15, 16, 17
SO_RCVLOWAT, SO_SNDLOWAT, SO_RCVTIMEO, SO_SNDTIMEO = 18, 19, 20, 21
SO_ACCEPTCONN, SO_PEERSEC, SO_SNDBUFFORCE, SO_RCVBUFFORCE = 30, 31, 32, 33
SO_PROTOCOL, SO_DOMAIN, SO_PEEK_OFF = 38, 39, 42
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
SOCK_MIN_SNDBUF = 4608
SOCK_MIN_RCVBUF = 2304
SYSCTL_MAX_BUF = 212992

MSGHDR = struct.Struct("<QI4xQQQQi4x")       # name, namelen, iov, iovlen, control, controllen, flags
CMSGHDR = struct.Struct("<Qii")
TIMEVAL = struct.Struct("<qq")
U32 = struct.Struct("<I")
I32 = struct.Struct("<i")


def _align(n: int) -> int:
    return (n + 7) & ~7


# ---------------------------------------------------------------- helpers

def _sock(task: Any, fd: int) -> UnixSocket:
    f = task.fds.get(fd)
    if not isinstance(f, UnixSocket):
        raise SyscallError(errno.ENOTSOCK)
    return f


def _read_addr(task: Any, addr: int, addrlen: int) -> bytes:
    if addrlen < 0 or addrlen > 128:
        raise SyscallError(errno.EINVAL)
    return task.mm.copy_in(addr, addrlen) if addrlen else b""


def _addr_key(task: Any, raw: bytes, for_bind: bool) -> tuple[Any, bytes, str | None]:
    """(table key, name bytes as getsockname shows them, guest path or None)."""
    if len(raw) < 2 or int.from_bytes(raw[:2], "little") != AF_UNIX:
        raise SyscallError(errno.EINVAL)
    if len(raw) <= 2 or len(raw) > SOCKADDR_UN_SIZE:
        raise SyscallError(errno.EINVAL)
    path = raw[2:]
    if path[0] == 0:
        return ("abstract", path), path, None
    path = path.split(b"\0", 1)[0]
    spath = os.fsdecode(path)
    res = ops.lookup(task, abi.AT_FDCWD, spath, follow=False)
    parent = posixpath.dirname(spath.rstrip("/")) or ("/" if spath.startswith("/") else ".")
    pst = ops.stat(task, ops.lookup(task, abi.AT_FDCWD, parent, follow=True))
    if pst.mode & abi.S_IFMT != abi.S_IFDIR:
        raise SyscallError(errno.ENOTDIR)
    return ("path", res.loc.path), path + b"\0", spath


def _exists(task: Any, spath: str) -> bool:
    try:
        ops.stat(task, ops.lookup(task, abi.AT_FDCWD, spath, follow=False))
        return True
    except SyscallError:
        return False


def _find_target(task: Any, raw: bytes) -> UnixSocket:
    key, _, spath = _addr_key(task, raw, False)
    target = names(task.kernel).get(key)
    if target is None or target.released:
        if spath is not None and not _exists(task, spath):
            raise SyscallError(errno.ENOENT)
        raise SyscallError(errno.ECONNREFUSED)
    return target


def _put_addr(task: Any, addr: int, addrlen_ptr: int, raw: bytes) -> None:
    """Write a sockaddr to (addr, *addrlen) and the full length back, as
    move_addr_to_user: truncated to the buffer given."""
    if not addr or not addrlen_ptr:
        return
    have = I32.unpack(task.mm.copy_in(addrlen_ptr, 4))[0]
    if have < 0:
        raise SyscallError(errno.EINVAL)
    if raw[:have]:
        task.mm.copy_out(addr, raw[:have])
    task.mm.copy_out(addrlen_ptr, U32.pack(len(raw)))


def _new_fd(task: Any, s: OpenFile, flags: int) -> int:
    return install(task, s, bool(flags & SOCK_CLOEXEC))


def _check_type(family: int, stype: int, protocol: int) -> tuple[int, int]:
    kind = stype & SOCK_TYPE_MASK
    flags = stype & ~SOCK_TYPE_MASK
    if flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise SyscallError(errno.EINVAL)
    if family < 0 or family >= AF_MAX:
        raise SyscallError(errno.EAFNOSUPPORT)
    if family != AF_UNIX:
        raise SyscallError(errno.EAFNOSUPPORT)     # no other family yet
    if protocol not in (0, AF_UNIX):
        raise SyscallError(errno.EPROTONOSUPPORT)
    if kind == SOCK_RAW:
        kind = SOCK_DGRAM                          # as Linux's unix_create
    if kind not in (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET):
        raise SyscallError(errno.ESOCKTNOSUPPORT)
    return kind, flags


# ---------------------------------------------------------------- creation

def sys_socket(task: Any, family: int, type: int, protocol: int) -> int:
    kind, flags = _check_type(family, type, protocol)
    s = UnixSocket(task.kernel, kind, flags)
    s.uid, s.gid = task.creds.euid, task.creds.egid
    return _new_fd(task, s, flags)


def sys_socketpair(task: Any, family: int, type: int, protocol: int, usockvec: int) -> int:
    kind, flags = _check_type(family, type, protocol)
    a, b = socketpair(task.kernel, task, kind, flags)
    install_pair(task, a, b, bool(flags & SOCK_CLOEXEC), usockvec)
    return 0


# ---------------------------------------------------------------- names, connections

def sys_bind(task: Any, fd: int, umyaddr: int, addrlen: int) -> int:
    s = _sock(task, fd)
    raw = _read_addr(task, umyaddr, addrlen)
    if len(raw) == 2 and int.from_bytes(raw, "little") == AF_UNIX:
        if s.name is not None:
            raise SyscallError(errno.EINVAL)
        s.autobind()
        return 0
    key, name, spath = _addr_key(task, raw, True)
    # A path is created before the socket's own name is looked at (Linux
    # makes the node first): a taken path is EADDRINUSE even for a bound socket.
    if spath is not None and (_exists(task, spath) or key in names(task.kernel)):
        raise SyscallError(errno.EADDRINUSE)
    if s.name is not None:
        raise SyscallError(errno.EINVAL)
    s.bind(key, name)
    return 0


def sys_listen(task: Any, fd: int, backlog: int) -> int:
    _sock(task, fd).listen(task, backlog)
    return 0


def sys_connect(task: Any, fd: int, uservaddr: int, addrlen: int) -> int:
    s = _sock(task, fd)
    raw = _read_addr(task, uservaddr, addrlen)
    if len(raw) >= 2 and int.from_bytes(raw[:2], "little") == AF_UNSPEC and s.stype == SOCK_DGRAM:
        s.peer = None                              # dissolve the association
        s.changed()
        return 0
    target = _find_target(task, raw)
    s.connect(task, target)
    return 0


def sys_accept4(task: Any, fd: int, upeer_sockaddr: int, upeer_addrlen: int, flags: int) -> int:
    if flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise SyscallError(errno.EINVAL)
    s = _sock(task, fd)
    if not s.connection:
        raise SyscallError(errno.EOPNOTSUPP)
    server = s.accept(task)
    if flags & SOCK_NONBLOCK:
        server.flags |= abi.O_NONBLOCK
    peer = server.peer
    try:
        newfd = task.fds.install(server, bool(flags & SOCK_CLOEXEC), nofile_limit(task))
    except SyscallError:
        s.backlog.appendleft(server)               # EMFILE: the connection waits
        raise
    _put_addr(task, upeer_sockaddr, upeer_addrlen, peer.sockaddr() if peer else AF_UNIX.to_bytes(2, "little"))
    return newfd


def sys_accept(task: Any, fd: int, upeer_sockaddr: int, upeer_addrlen: int) -> int:
    return sys_accept4(task, fd, upeer_sockaddr, upeer_addrlen, 0)


def sys_shutdown(task: Any, fd: int, how: int) -> int:
    _sock(task, fd).shutdown(how)
    return 0


def sys_getsockname(task: Any, fd: int, usockaddr: int, usockaddr_len: int) -> int:
    s = _sock(task, fd)
    _put_addr(task, usockaddr, usockaddr_len, s.sockaddr())
    return 0


def sys_getpeername(task: Any, fd: int, usockaddr: int, usockaddr_len: int) -> int:
    s = _sock(task, fd)
    peer = s.peer
    if peer is None or (s.connection and s.state != CONNECTED):
        raise SyscallError(errno.ENOTCONN)
    _put_addr(task, usockaddr, usockaddr_len, peer.sockaddr())
    return 0


# ---------------------------------------------------------------- data

def _resolve_dest(task: Any, s: UnixSocket, addr: int, addrlen: int) -> UnixSocket | None:
    if not addr or not addrlen:
        return None
    raw = _read_addr(task, addr, addrlen)
    if s.connection:
        raise SyscallError(errno.EISCONN if s.state == CONNECTED else errno.EOPNOTSUPP)
    return _find_target(task, raw)


def _parse_control(task: Any, control: int, controllen: int) -> list[OpenFile]:
    """SCM_RIGHTS files (each with a reference taken); SCM_CREDENTIALS is
    checked for form and otherwise ignored (the kernel fills in the truth)."""
    if not control or not controllen:
        return []
    if controllen > 1 << 20:
        raise SyscallError(errno.ENOBUFS)
    raw = task.mm.copy_in(control, controllen)
    files: list[OpenFile] = []
    pos = 0
    try:
        while pos + CMSGHDR.size <= len(raw):
            clen, level, ctype = CMSGHDR.unpack_from(raw, pos)
            if clen < CMSGHDR.size or pos + clen > len(raw):
                raise SyscallError(errno.EINVAL)
            body = raw[pos + CMSGHDR.size:pos + clen]
            if level != SOL_SOCKET:
                raise SyscallError(errno.EINVAL)
            if ctype == SCM_RIGHTS:
                n = len(body) // 4
                for (fd,) in struct.iter_unpack("<i", body[:n * 4]):
                    f = task.fds.get(fd)
                    f.incref()
                    files.append(f)
            elif ctype == SCM_CREDENTIALS:
                if len(body) < 12:
                    raise SyscallError(errno.EINVAL)
            else:
                raise SyscallError(errno.EINVAL)
            pos += _align(clen)
    except BaseException:
        drop_fds(files)
        raise
    return files


def sys_sendto(task: Any, fd: int, buff: int, len: int, flags: int, addr: int, addr_len: int) -> int:
    s = _sock(task, fd)
    dest = _resolve_dest(task, s, addr, addr_len)
    data = task.mm.copy_in(buff, min(len, MAX_RW)) if len else b""
    return s.send(task, data, [], flags, dest)


def sys_sendmsg(task: Any, fd: int, msg: int, flags: int) -> int:
    s = _sock(task, fd)
    name, namelen, iov, iovlen, control, controllen, _ = MSGHDR.unpack(task.mm.copy_in(msg, MSGHDR.size))
    dest = _resolve_dest(task, s, name, namelen)
    data = gather(task, read_iovecs(task, iov, iovlen))
    files = _parse_control(task, control, controllen)
    return s.send(task, data, files, flags, dest)


def sys_recvfrom(task: Any, fd: int, ubuf: int, size: int, flags: int, addr: int, addr_len: int) -> int:
    s = _sock(task, fd)
    data, files, first, _, length = s.recv(task, min(size, MAX_RW), flags)
    drop_fds(files)
    if data:
        task.mm.copy_out(ubuf, data)
    if addr and addr_len:
        sender = first.sender if first is not None else None
        _put_addr(task, addr, addr_len, sender or b"")
    return length


def _build_control(task: Any, s: UnixSocket, first: Any, files: list[OpenFile], room: int,
                   flags: int) -> tuple[bytes, int]:
    out = bytearray()
    out_flags = 0
    if s.passcred and first is not None:
        body = struct.pack("<iII", *first.creds)
        if room - len(out) >= CMSGHDR.size + len(body):
            out += CMSGHDR.pack(CMSGHDR.size + len(body), SOL_SOCKET, SCM_CREDENTIALS) + body
            out += b"\0" * (_align(len(out)) - len(out))
        else:
            out_flags |= MSG_CTRUNC
    if files:
        space = room - len(out) - CMSGHDR.size
        fit = max(0, space // 4) if space >= 0 else 0
        keep, extra = files[:fit], files[fit:]
        drop_fds(extra)
        if extra:
            out_flags |= MSG_CTRUNC
        if keep:
            fds = []
            try:
                for f in keep:
                    fds.append(task.fds.install(f, bool(flags & MSG_CMSG_CLOEXEC), nofile_limit(task)))
            except SyscallError:
                out_flags |= MSG_CTRUNC
            drop_fds(keep)                          # the in-flight references
            if fds:
                body = struct.pack(f"<{len(fds)}i", *fds)
                out += CMSGHDR.pack(CMSGHDR.size + len(body), SOL_SOCKET, SCM_RIGHTS) + body
    return bytes(out[:room]), out_flags


def sys_recvmsg(task: Any, fd: int, msg: int, flags: int) -> int:
    s = _sock(task, fd)
    hdr = task.mm.copy_in(msg, MSGHDR.size)
    name, namelen, iov, iovlen, control, controllen, _ = MSGHDR.unpack(hdr)
    if namelen > 0x7FFF_FFFF:
        raise SyscallError(errno.EINVAL)
    iovs = read_iovecs(task, iov, iovlen)
    total = sum(n for _, n in iovs)
    data, files, first, out_flags, length = s.recv(task, total, flags)
    scatter(task, iovs, data)
    cbytes, cflags = _build_control(task, s, first, files, controllen if control else 0, flags)
    if cbytes:
        task.mm.copy_out(control, cbytes)
    sender = (first.sender if first is not None else None) or b""
    if name and sender:
        task.mm.copy_out(name, sender[:namelen])
    new = bytearray(hdr)
    struct.pack_into("<I", new, 8, len(sender) if name else 0)
    struct.pack_into("<Q", new, 40, len(cbytes))
    struct.pack_into("<i", new, 48, out_flags | cflags | (flags & MSG_CMSG_CLOEXEC))
    task.mm.copy_out(msg, bytes(new))
    return length


# ---------------------------------------------------------------- options

def _int_opt(task: Any, optval: int, optlen: int) -> int:
    if optlen < 4:
        raise SyscallError(errno.EINVAL)
    return I32.unpack(task.mm.copy_in(optval, 4))[0]


def sys_setsockopt(task: Any, fd: int, level: int, optname: int, optval: int, optlen: int) -> int:
    s = _sock(task, fd)
    if level != SOL_SOCKET:
        raise SyscallError(errno.EOPNOTSUPP)
    if optname in (SO_RCVTIMEO, SO_SNDTIMEO):
        if optlen < TIMEVAL.size:
            raise SyscallError(errno.EINVAL)
        sec, usec = TIMEVAL.unpack(task.mm.copy_in(optval, TIMEVAL.size))
        if not 0 <= usec < 1_000_000:
            raise SyscallError(errno.EDOM)
        secs = 0.0 if sec < 0 else sec + usec / 1e6
        if optname == SO_RCVTIMEO:
            s.rcvtimeo = secs
        else:
            s.sndtimeo = secs
        return 0
    if optname == SO_LINGER:
        if optlen < 8:
            raise SyscallError(errno.EINVAL)
        s.opts[(level, optname)] = task.mm.copy_in(optval, 8)
        return 0
    val = _int_opt(task, optval, optlen)
    if optname in (SO_SNDBUF, SO_SNDBUFFORCE):
        s.sndbuf = max(SOCK_MIN_SNDBUF, min(val & 0x7FFF_FFFF, SYSCTL_MAX_BUF) * 2)
    elif optname in (SO_RCVBUF, SO_RCVBUFFORCE):
        s.rcvbuf = max(SOCK_MIN_RCVBUF, min(val & 0x7FFF_FFFF, SYSCTL_MAX_BUF) * 2)
        s.changed()
    elif optname == SO_PASSCRED:
        s.passcred = bool(val)
    elif optname in (SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_DEBUG, SO_DONTROUTE,
                     SO_BROADCAST, SO_OOBINLINE, SO_RCVLOWAT, SO_SNDLOWAT, SO_PEEK_OFF):
        s.opts[(level, optname)] = I32.pack(1 if val and optname not in (SO_RCVLOWAT, SO_SNDLOWAT, SO_PEEK_OFF) else val)
    elif optname in (SO_TYPE, SO_ERROR, SO_PEERCRED, SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN):
        raise SyscallError(errno.ENOPROTOOPT)
    else:
        raise SyscallError(errno.ENOPROTOOPT)
    return 0


def sys_getsockopt(task: Any, fd: int, level: int, optname: int, optval: int, optlen: int) -> int:
    s = _sock(task, fd)
    have = I32.unpack(task.mm.copy_in(optlen, 4))[0]
    if have < 0:
        raise SyscallError(errno.EINVAL)
    if level != SOL_SOCKET:
        raise SyscallError(errno.EOPNOTSUPP)
    val: bytes
    if optname == SO_TYPE:
        val = I32.pack(s.stype)
    elif optname == SO_ERROR:
        val, s.err = I32.pack(s.err), 0
    elif optname == SO_PASSCRED:
        val = I32.pack(int(s.passcred))
    elif optname == SO_PEERCRED:
        pid, uid, gid = s.peercred if s.peercred is not None else (0, 0xFFFF_FFFF, 0xFFFF_FFFF)
        val = struct.pack("<iII", pid, uid, gid)
    elif optname == SO_SNDBUF:
        val = I32.pack(s.sndbuf)
    elif optname == SO_RCVBUF:
        val = I32.pack(s.rcvbuf)
    elif optname == SO_ACCEPTCONN:
        val = I32.pack(int(s.state == LISTENING))
    elif optname == SO_DOMAIN:
        val = I32.pack(AF_UNIX)
    elif optname == SO_PROTOCOL:
        val = I32.pack(0)
    elif optname in (SO_RCVTIMEO, SO_SNDTIMEO):
        secs = s.rcvtimeo if optname == SO_RCVTIMEO else s.sndtimeo
        whole = int(secs)
        val = TIMEVAL.pack(whole, int(round((secs - whole) * 1e6)))
    elif optname == SO_LINGER:
        val = s.opts.get((level, optname), b"\0" * 8)
    elif optname in (SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_DEBUG, SO_DONTROUTE,
                     SO_BROADCAST, SO_OOBINLINE, SO_SNDLOWAT, SO_PEEK_OFF):
        val = s.opts.get((level, optname), I32.pack(-1 if optname == SO_PEEK_OFF else 0))
    elif optname == SO_RCVLOWAT:
        val = s.opts.get((level, optname), I32.pack(1))
    else:
        raise SyscallError(errno.ENOPROTOOPT)
    n = min(have, len(val))
    if n:
        task.mm.copy_out(optval, val[:n])
    task.mm.copy_out(optlen, I32.pack(n))
    return 0

