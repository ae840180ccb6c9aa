"""The sandbox process, forked by `create` (and by a foreground `run`).

The child becomes the container's sandbox: terminal or stdio, network
namespace, cgroup, then the VM with PID 1 loaded; it reports over a pipe
(JSON line: ok, or the error to show) and then serves until PID 1 ends,
exiting with its status. The parent returns the child's pid.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import dataclass

from qvisor.container.console import become_terminal_owner, open_pty, send_console
from qvisor.container.daemon import SandboxDaemon, report_ready
from qvisor.container.hostproc import NamespaceError, die_with_parent, enter_namespaces, set_oom_score_adj
from qvisor.oci import cgroups
from qvisor.oci.container import ContainerSpec
from qvisor.oci.state import ContainerError, StateDir, process_start_time
from qvisor.errors import SandboxError

# A terminal's own signals (^C, ^\\, ^Z, a resize) reach the sandbox directly
# when it shares the caller's terminal; the rest are what a caller sends.
TTY_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGWINCH)
PASSED_ON = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


@dataclass
class CreateOptions:
    root: str
    id: str
    bundle: str
    pid_file: str | None = None
    console_socket: str | None = None
    preserve_fds: int = 0
    systemd_cgroup: bool = False
    strace: bool = False


def fork_daemon(sd: StateDir, spec: ContainerSpec, opts: CreateOptions, log: logging.Logger,
                 foreground: bool = False, autostart: bool = False) -> int:
    """Fork the sandbox process and wait until it reports PID 1 loaded; its pid."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:                                   # the sandbox process
        os.close(read_end)
        if foreground:
            die_with_parent(parent)
        status = 1
        try:
            status = _daemon_main(sd, spec, opts, write_end, log, foreground, autostart)
        except BaseException as err:   # noqa: BLE001 - report, never unwind into the CLI's code
            log.exception("sandbox %s failed", opts.id)
            report_ready(write_end, f"sandbox: {err}")
        finally:
            os._exit(status & 0xFF)
    os.close(write_end)
    # Known at once, so that a `delete --force` while it starts can kill it.
    sd.update(pid=pid, pid_start=process_start_time(pid))
    with os.fdopen(read_end, "rb") as pipe:
        line = pipe.readline()
    try:
        doc = json.loads(line) if line else {"error": "the sandbox process died while starting"}
    except ValueError:
        doc = {"error": "the sandbox process sent a bad start-up report"}
    if "error" in doc:
        reap(pid)
        raise SandboxError(str(doc["error"]), int(doc.get("status", 1)))
    return pid


def _daemon_main(sd: StateDir, spec: ContainerSpec, opts: CreateOptions, ready_fd: int,
                 log: logging.Logger, foreground: bool, autostart: bool) -> int:
    keep = {0, 1, 2, ready_fd, *range(3, 3 + opts.preserve_fds), *_log_fds(log)}
    for sig in (*TTY_SIGNALS, *PASSED_ON):
        signal.signal(sig, signal.SIG_DFL)       # the CLI's forwarding is not ours
    if spec.terminal and opts.console_socket:
        master, slave = open_pty(spec.console_size)
        send_console(opts.console_socket, master)
        os.close(master)
        become_terminal_owner(slave)
    elif not foreground:
        os.setsid()            # out of the caller's job control: it is a daemon now
    # A foreground `run` keeps the caller's stdio (a terminal too, as runc does).
    _close_fds_except(keep)
    try:
        enter_namespaces(spec.namespaces)
        set_oom_score_adj(spec.oom_score_adj)
        resources = cgroups.parse_resources({"resources": spec.resources})
        cgroup = cgroups.Cgroup.create(sd.load().cgroup_path)
        sd.update(cgroup_paths=cgroup.paths)
        cgroup.apply(resources)
        join = _CgroupJoin(cgroup, resources.wants_cpuset())
        daemon = SandboxDaemon(sd, spec.kernel, log,
                               host_fds=[0, 1, 2, *range(3, 3 + opts.preserve_fds)])
        daemon.prepare()
        join.wait()
    except SandboxError as err:
        report_ready(ready_fd, str(err), err.status)
        return err.status
    except (ContainerError, cgroups.CgroupError, NamespaceError) as err:
        report_ready(ready_fd, str(err))
        return 1
    report_ready(ready_fd)
    os.close(ready_fd)
    return daemon.run_until_exit(autostart=autostart)


class _CgroupJoin:
    """Moves this process into its cgroup on a thread of its own, while the
    VM is built: the first cgroup move of a process waits ~15-25 ms in the
    kernel (an RCU grace period) without using the CPU. PID 1 has not run
    yet, so the pages the build touches meanwhile (a few, charged where they
    are first used on v1) are all that escapes the limit."""

    def __init__(self, cgroup: cgroups.Cgroup, cpuset: bool) -> None:
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._join, args=(cgroup, os.getpid(), cpuset),
                                        name="quark-cgroup-join")
        self._thread.start()

    def _join(self, cgroup: cgroups.Cgroup, pid: int, cpuset: bool) -> None:
        try:
            cgroup.add_pid(pid, cpuset=cpuset)
        except BaseException as err:   # noqa: BLE001 - handed to wait()
            self.error = err

    def wait(self) -> None:
        self._thread.join()
        if self.error is not None:
            raise self.error


def _log_fds(log: logging.Logger) -> list[int]:
    fds = []
    for handler in log.handlers:
        stream = getattr(handler, "stream", None)
        try:
            fds.append(stream.fileno())       # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            pass
    return fds


def _close_fds_except(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
