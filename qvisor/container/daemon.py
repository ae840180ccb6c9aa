"""The sandbox process of one container: it owns the VM and QKernel, serves
the control socket, and exits with the container's exit status.

`quark create` forks it: the pid in --pid-file is this process, so a shim
that waits for that pid (containerd-shim, conmon: both subreapers) gets the
container's status. PID 1 is loaded before it reports ready and runs only
when `start` asks. Each control connection is served on a thread of its own;
the main thread waits for PID 1 (it must stay free to run signal handlers).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
from typing import Any

from qkernel.config import KernelConfig
from qvisor.container import control
from qvisor.oci.state import CREATED, RUNNING, STOPPED, StateDir, process_start_time
from qvisor.oci.errors import BundleError
from qvisor.oci.process import ProcessSpec, parse_process
from qvisor.sandbox import Sandbox, SandboxError

# Signals whose default action ends a process: what `kill` of a created
# (not yet started) container must honour at once, as runc's does.
REQUEST_TIMEOUT = 30.0     # seconds a client has to send its request

_NON_FATAL = {signal.SIGCHLD, signal.SIGCONT, signal.SIGURG, signal.SIGWINCH,
              signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}


class SandboxDaemon:
    def __init__(self, state_dir: StateDir, config: KernelConfig, log: logging.Logger,
                 host_fds: list[int] | None = None) -> None:
        self.state_dir = state_dir
        self.config = config
        self.log = log
        self.sandbox = Sandbox(config, log, host_fds)
        self.listener: socket.socket | None = None
        self._killed_before_start: int | None = None
        self._stop = threading.Event()

    # ---- the life of the process ------------------------------------------------------
    def prepare(self) -> None:
        """Build the VM with PID 1 loaded and open the control socket: "created"."""
        self.sandbox.build()
        path = self.state_dir.socket_path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(16)
        self.listener = listener
        pid = os.getpid()
        self.state_dir.update(status=CREATED, pid=pid, pid_start=process_start_time(pid))
        threading.Thread(target=self._accept_loop, name="quark-control", daemon=True).start()

    def run_until_exit(self, autostart: bool = False) -> int:
        """Wait for PID 1 (starting it first with `autostart`); its exit status."""
        if autostart:
            self._start()
        try:
            while True:
                status = self.sandbox.wait(timeout=0.5)
                if status is not None:
                    break
                if self._killed_before_start is not None:
                    status = self._killed_before_start
                    break
        finally:
            self._finish()
        self.state_dir_update_stopped(status)
        return status

    def state_dir_update_stopped(self, status: int) -> None:
        try:
            if self.state_dir.exists():
                self.state_dir.update(status=STOPPED, exit_status=status)
        except OSError as err:       # a `delete --force` may have removed it already
            self.log.info("state of %s not updated: %s", self.state_dir.id, err)

    def _finish(self) -> None:
        self._stop.set()
        if self.listener is not None:
            try:
                os.unlink(self.state_dir.socket_path)
            except OSError:
                pass
            self.listener.close()
        self.sandbox.close()

    # ---- control requests -------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self.listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            # A client that connects and says nothing must not hold a thread forever.
            conn.settimeout(REQUEST_TIMEOUT)
            try:
                message, fds = control.recv_message(conn, want_fds=True)
                if message is None:
                    return
                op = message.get("op")
                if op == "exec":
                    self._exec(conn, message, fds)
                    return
                control.close_fds(fds)
                handler = {"start": self._op_start, "kill": self._op_kill,
                           "ps": self._op_ps}.get(str(op))
                if handler is None:
                    reply: dict[str, Any] = {"error": f"unknown request {op!r}"}
                else:
                    reply = handler(message)
            except (control.ControlError, SandboxError, ValueError, TypeError, OSError) as err:
                reply = {"error": str(err)}
            except Exception as err:   # noqa: BLE001 - a quark bug must not kill the sandbox
                self.log.exception("control request failed")
                reply = {"error": f"internal error: {err}"}
            try:
                control.send_message(conn, reply)
            except OSError:
                pass

    def _start(self) -> None:
        self.sandbox.start()
        self.state_dir.update(status=RUNNING)

    def _op_start(self, _message: dict[str, Any]) -> dict[str, Any]:
        if self.sandbox.started:
            raise SandboxError("cannot start an already running container")
        self._start()
        return {"ok": True}

    def _op_kill(self, message: dict[str, Any]) -> dict[str, Any]:
        signo = int(message.get("signal", signal.SIGTERM))
        if not 1 <= signo <= 64:
            raise SandboxError(f"invalid signal {signo}")
        if not self.sandbox.started:
            # PID 1 has not run yet, so it has no handlers: a fatal signal ends it now.
            if signo not in _NON_FATAL:
                self._killed_before_start = 128 + signo
            return {"ok": True}
        self.sandbox.signal(signo, everyone=bool(message.get("all")))
        return {"ok": True}

    def _op_ps(self, _message: dict[str, Any]) -> dict[str, Any]:
        return {"processes": self.sandbox.processes()}

    def _exec(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        try:
            spec = process_spec_from_message(message.get("process"))
            tg = self.sandbox.spawn(spec, fds)
        except SandboxError as err:
            control.send_message(conn, {"error": str(err), "status": err.status})
            return
        finally:
            control.close_fds(fds)                 # the guest has its own dups
        control.send_message(conn, {"pid": tg.pid})
        conn.settimeout(None)          # from now on the connection lives as long as the process
        threading.Thread(target=self._exec_client, args=(conn, tg), daemon=True).start()
        status = self.sandbox.wait_process(tg)
        try:
            control.send_message(conn, {"exit": status})
        except OSError:
            pass

    def _exec_client(self, conn: socket.socket, tg: Any) -> None:
        """Signals from `quark exec`'s process; its end (EOF) kills the guest process."""
        while True:
            try:
                message, _ = control.recv_message(conn)
            except (OSError, control.ControlError):
                message = None
            if message is None:
                if not tg.zombie:
                    self.sandbox.signal(signal.SIGKILL, tg=tg)
                return
            if message.get("op") == "signal":
                signo = int(message.get("signal", 0))
                if 1 <= signo <= 64:
                    self.sandbox.signal_process(tg, signo)


def process_spec_from_message(doc: Any) -> ProcessSpec:
    """The process of an exec request, parsed (not trusted) as the CLI did."""
    try:
        return parse_process(doc, "exec: process")
    except BundleError as err:
        raise SandboxError(str(err)) from None


def report_ready(fd: int, error: str | None = None, status: int = 1) -> None:
    """Tell `quark create` (waiting on a pipe) how the sandbox's start went."""
    doc = {"ok": True} if error is None else {"error": error, "status": status}
    try:
        os.write(fd, (json.dumps(doc) + "\n").encode())
    except OSError:
        pass
