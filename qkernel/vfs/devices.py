"""/dev: the in-kernel character devices and the standard symlinks, and
the terminal nodes (/dev/tty always; /dev/pts/0 and /dev/console when the
container's stdio is a terminal, see terminal.py)."""
from __future__ import annotations

import errno
import os
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.file import MAX_RW, OpenFile
from qkernel.vfs.memfs import DeviceNode, DirNode, MemFileSystem, SymlinkNode
from qkernel.vfs.statinfo import StatInfo

DEVFS_DEV = 0x06
TTY_GID = 5               # group tty, as devpts' gid=5 gives the console


class DeviceFile(OpenFile):
    """Reads and writes at any offset behave the same, so pread/pwrite are
    the primitives and the offset just moves."""
    seekable = True

    def __init__(self, node: DeviceNode, flags: int, path: str) -> None:
        super().__init__(flags, path)
        self.node = node

    def stat(self, task: Any) -> StatInfo:
        return self.node.stat(task, DEVFS_DEV)

    def lseek(self, task: Any, offset: int, whence: int) -> int:
        self.offset = 0                # Linux: seeking a null/zero device always yields 0
        return 0

    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return b""

    def pwrite(self, task: Any, data: bytes, offset: int) -> int:
        return len(data)


class NullFile(DeviceFile):
    pass


class ZeroFile(DeviceFile):
    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return bytes(min(n, MAX_RW))


class FullFile(ZeroFile):
    def pwrite(self, task: Any, data: bytes, offset: int) -> int:
        raise SyscallError(errno.ENOSPC)


class RandomFile(DeviceFile):
    def pread(self, task: Any, n: int, offset: int) -> bytes:
        return os.urandom(min(n, MAX_RW))


class TerminalNode(DeviceNode):
    """/dev/pts/0 (and /dev/console, the same node as runc's bind mount of
    it): the container's terminal, owned by the container's user as runc
    makes the console (mode 0620, group tty)."""

    def __init__(self, ino: int, terminal: Any, uid: int, gid: int = TTY_GID) -> None:
        super().__init__(ino, abi.S_IFCHR | 0o620, terminal.rdev, _no_opener)
        self.terminal = terminal
        self.uid, self.gid = uid, gid

    def stat(self, task: Any, dev: int) -> StatInfo:
        s = super().stat(task, dev)
        s.uid, s.gid = self.uid, self.gid
        return s

    def open(self, task: Any, flags: int, path: str, dev: int) -> OpenFile:
        term = self.terminal
        _check_exclusive(task, term)
        f = _terminal_file(term, flags, path, self, dev)
        # Linux's tty_open_proc_set_tty: a session leader without a terminal
        # that opens one nobody controls (for reading, without O_NOCTTY) gets it.
        tg = task.tg
        if (not flags & abi.O_NOCTTY and tg.sid == tg.pid and tg.ctty is None
                and term.session is None and f.readable):
            term.attach(tg)
        return f


class CurrentTtyNode(DeviceNode):
    """/dev/tty: whatever terminal controls the opener; ENXIO without one."""

    def __init__(self, ino: int) -> None:
        super().__init__(ino, abi.S_IFCHR | 0o666, abi.makedev(5, 0), _no_opener)

    def open(self, task: Any, flags: int, path: str, dev: int) -> OpenFile:
        term = getattr(task.tg, "ctty", None)
        if term is None:
            raise SyscallError(errno.ENXIO)
        _check_exclusive(task, term)
        return _terminal_file(term, flags, path, self, dev)


def _no_opener(node: DeviceNode, flags: int, path: str) -> OpenFile:
    raise SyscallError(errno.ENXIO)        # these nodes open through open()


def _check_exclusive(task: Any, term: Any) -> None:
    if term.exclusive and task.creds.euid != 0:
        raise SyscallError(errno.EBUSY)     # TIOCEXCL: only CAP_SYS_ADMIN may open it


def _terminal_file(term: Any, flags: int, path: str, node: DeviceNode, dev: int) -> OpenFile:
    from qkernel.vfs.tty_file import TerminalFile
    fd = os.dup(term.host_fd)
    os.set_inheritable(fd, False)
    return TerminalFile(fd, flags, path, term, node, dev)


def add_terminal(devfs: MemFileSystem, terminal: Any, uid: int, console: bool) -> None:
    """Give a terminal its /dev/pts/N, and /dev/console for the container's own."""
    assert isinstance(devfs.root, DirNode)
    pts = devfs.root.children["pts"]
    assert isinstance(pts, DirNode)
    node = TerminalNode(devfs.new_ino(), terminal, uid)
    pts.children[str(os.minor(terminal.rdev))] = node
    if console:
        devfs.root.children["console"] = node
    terminal.node, terminal.node_dev = node, devfs.dev


def remove_terminal(devfs: MemFileSystem, terminal: Any) -> None:
    """Take a terminal's /dev/pts/N away (its last file closed)."""
    assert isinstance(devfs.root, DirNode)
    pts = devfs.root.children["pts"]
    assert isinstance(pts, DirNode)
    name = str(os.minor(terminal.rdev))
    if pts.children.get(name) is terminal.node:
        del pts.children[name]


def devfs_mount(vfs: Any) -> Any:
    """The mount serving /dev when it is ours (None: /dev came from elsewhere)."""
    m = vfs.mounts.get(("dev",))
    if m is not None and isinstance(m.fs, MemFileSystem) and m.fs.dev == DEVFS_DEV:
        return m
    return None


def _chr(fs: MemFileSystem, major: int, minor: int, cls: type[DeviceFile]) -> DeviceNode:
    return DeviceNode(fs.new_ino(), abi.S_IFCHR | 0o666, abi.makedev(major, minor),
                      lambda node, flags, path: cls(node, flags, path))


def build_devfs() -> MemFileSystem:
    fs = MemFileSystem(DEVFS_DEV)
    root = fs.root
    root.mode = abi.S_IFDIR | 0o755
    c = root.children
    c["null"] = _chr(fs, 1, 3, NullFile)
    c["zero"] = _chr(fs, 1, 5, ZeroFile)
    c["full"] = _chr(fs, 1, 7, FullFile)
    c["random"] = _chr(fs, 1, 8, RandomFile)
    c["urandom"] = _chr(fs, 1, 9, RandomFile)
    c["tty"] = CurrentTtyNode(fs.new_ino())
    c["fd"] = SymlinkNode(fs.new_ino(), "/proc/self/fd")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        c[name] = SymlinkNode(fs.new_ino(), f"/proc/self/fd/{i}")
    c["ptmx"] = SymlinkNode(fs.new_ino(), "pts/ptmx")
    c["pts"] = DirNode(fs.new_ino(), abi.S_IFDIR | 0o755)
    c["shm"] = DirNode(fs.new_ino(), abi.S_IFDIR | 0o1777)     # hidden by a tmpfs mount if configured
    c["mqueue"] = DirNode(fs.new_ino(), abi.S_IFDIR | 0o755)
    return fs
