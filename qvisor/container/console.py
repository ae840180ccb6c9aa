"""Terminals for containers: a pty whose master goes to the caller's
--console-socket (SCM_RIGHTS, as runc sends it) and whose slave becomes the
container's stdio and controlling terminal."""
from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios

from qvisor.oci.state import ContainerError


def open_pty(size: tuple[int, int] | None = None) -> tuple[int, int]:
    """(master, slave) of a new pty, the window set to (rows, cols) if given."""
    master, slave = os.openpty()
    os.set_inheritable(master, False)
    if size is not None:
        rows, cols = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return master, slave


def send_console(socket_path: str, master: int) -> None:
    """Hand the pty master to whoever listens on `socket_path` (conmon, containerd-shim)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(socket_path)
            # runc sends the master's name with it; callers ignore it but expect data.
            socket.send_fds(sock, [b"/dev/ptmx"], [master])
    except OSError as err:
        raise ContainerError(f"console socket {socket_path}: {err.strerror or err}") from None


def become_terminal_owner(slave: int) -> None:
    """Make this process a session leader whose controlling terminal is
    `slave`, and give it the slave as 0/1/2: the host line discipline then
    sends ^C, ^Z and window changes to this process, which forwards them
    into the container."""
    try:
        os.setsid()
    except PermissionError:
        pass                           # already a session leader
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
