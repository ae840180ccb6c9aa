"""`quark exec`: a new process in a running container's kernel.

The process runs inside the sandbox; this host process stands for it: it
passes its stdio (or a new pty's slave) to the sandbox, forwards the
signals it gets, and exits with the guest process's status. With
--detach it forks first and the pid in --pid-file is that stand-in, so a
shim that waits for the pid (conmon, containerd-shim) gets the status; if
the stand-in is killed, the guest process is killed with it.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from typing import Any

from qvisor.container import control
from qvisor.container.console import open_pty, send_console
from qvisor.container.lifecycle import status_of, write_pid_file
from qvisor.oci.process import parse_process
from qvisor.oci.state import CREATED, RUNNING, ContainerError, StateDir
from qvisor.errors import SandboxError

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGWINCH, signal.SIGTSTP, signal.SIGCONT)


@dataclass
class ExecOptions:
    root: str
    id: str
    args: list[str] = field(default_factory=list)
    process_file: str | None = None
    detach: bool = False
    tty: bool = False
    console_socket: str | None = None
    pid_file: str | None = None
    env: list[str] = field(default_factory=list)
    cwd: str | None = None
    user: str | None = None
    additional_gids: list[int] = field(default_factory=list)
    preserve_fds: int = 0
    no_new_privs: bool = False


def process_doc(opts: ExecOptions, container_process: dict[str, Any]) -> dict[str, Any]:
    """The process to run: --process FILE, or the container's process with
    the command line's args and overrides (what runc exec does)."""
    if opts.process_file:
        try:
            with open(opts.process_file, "rb") as f:
                doc = json.loads(f.read())
        except OSError as err:
            raise ContainerError(f"process file {opts.process_file}: {err.strerror}") from None
        except ValueError as err:
            raise ContainerError(f"process file {opts.process_file}: invalid JSON: {err}") from None
        parse_process(doc, "process")      # the field that is wrong, before asking the sandbox
        return doc
    if not opts.args:
        raise ContainerError("exec: no command given (args or --process)")
    user = dict(container_process.get("user") or {})
    if opts.user:
        uid, _, gid = opts.user.partition(":")
        try:
            user = {"uid": int(uid), "gid": int(gid) if gid else 0}
        except ValueError:
            raise ContainerError(f"--user {opts.user!r}: expected UID[:GID] numbers") from None
    if opts.additional_gids:
        user["additionalGids"] = list(opts.additional_gids)
    doc = {
        "args": list(opts.args),
        "env": list(container_process.get("env") or []) + list(opts.env),
        "cwd": opts.cwd or container_process.get("cwd") or "/",
        "user": user,
        "terminal": opts.tty,
        "noNewPrivileges": bool(container_process.get("noNewPrivileges")) or opts.no_new_privs,
    }
    parse_process(doc, "process")
    return doc


def exec_process(opts: ExecOptions, log: logging.Logger) -> int:
    sd = StateDir(opts.root, opts.id)
    state = sd.load()
    status = status_of(sd, state)
    if status not in (RUNNING, CREATED):
        raise ContainerError(f"cannot exec in a {status} container")
    try:
        with open(sd.config_path, "rb") as f:
            container_process = json.loads(f.read()).get("process") or {}
    except (OSError, ValueError, AttributeError):
        container_process = {}
    doc = process_doc(opts, container_process)
    tty = bool(doc.get("terminal"))
    if tty and opts.detach and not opts.console_socket:
        raise ContainerError("cannot allocate tty if quark will detach without setting console socket")
    master = slave = -1
    if tty:
        master, slave = open_pty()
        fds = [slave, slave, slave]
    else:
        fds = [0, 1, 2]
    fds += list(range(3, 3 + opts.preserve_fds))
    sock = control.connect(sd.socket_path, timeout=30)
    control.send_message(sock, {"op": "exec", "process": doc}, fds)
    reply, _ = control.recv_message(sock)
    if reply is None or "error" in reply:
        sock.close()
        message = "the sandbox closed the connection" if reply is None else reply["error"]
        raise SandboxError(f"exec failed: {message}", int((reply or {}).get("status", 1)))
    sock.settimeout(None)
    if tty and opts.console_socket:
        send_console(opts.console_socket, master)
        os.close(master)
        master = -1
    if opts.detach:
        pid = os.fork()
        if pid:
            sock.close()
            for fd in (master, slave):
                if fd >= 0:
                    os.close(fd)
            if opts.pid_file:
                write_pid_file(opts.pid_file, pid)
            return 0
        _detach_stdio()
    if tty and master >= 0:
        # Our own terminal is relayed; a forked stand-in owns the pty.
        from qvisor.container.relay import relay_terminal
        done_read, done_write = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            os.close(master)
            os.close(done_read)
            _take_terminal(slave)
            os.close(slave)
            os._exit(_stand_in(sock) & 0xFF)     # done_write closes with us
        sock.close()
        os.close(slave)
        os.close(done_write)
        return relay_terminal(master, pid, done_read)
    if tty:
        # Own the pty as our controlling terminal: its ^C and resizes then
        # come to us as signals, and we forward them into the container.
        _take_terminal(slave)
        os.close(slave)
    return _stand_in(sock)


def _take_terminal(slave: int) -> None:
    import fcntl
    import termios
    try:
        os.setsid()
    except PermissionError:
        pass
    try:
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    except OSError:
        pass


def _detach_stdio() -> None:
    """The caller may wait for EOF on the pipes it gave us: let go of them."""
    os.setsid()
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _install_forwarding(sock: socket.socket) -> None:
    def forward(signo: int, _frame: object) -> None:
        try:
            control.send_message(sock, {"op": "signal", "signal": signo})
        except OSError:
            pass
    for sig in FORWARDED:
        signal.signal(sig, forward)


def _stand_in(sock: socket.socket) -> int:
    """Forward signals; exit with the guest process's status."""
    _install_forwarding(sock)
    while True:
        message, _ = control.recv_message(sock)
        if message is None:
            return 137                  # the sandbox went away: killed with it
        if "exit" in message:
            return int(message["exit"])
