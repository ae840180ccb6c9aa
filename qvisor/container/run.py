"""`quark run`: create + start, and unless --detach, wait and delete.

A foreground run forks the sandbox like `create` (so one code path makes
every sandbox) but keeps it in the caller's session and terminal, passes on
the signals a caller sends, and exits with the container's status.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
from typing import Iterator

from qvisor.container.lifecycle import (
    create, delete, destroy, prepare_state, run_hook_phases, start, write_pid_file,
)
from qvisor.container.hostproc import wait_exit_code
from qvisor.container.spawn import PASSED_ON, TTY_SIGNALS, CreateOptions, fork_daemon
from qvisor.oci.container import load_container_spec
from qvisor.oci.state import CREATED, RUNNING, ContainerError, StateDir


def run(opts: CreateOptions, detach: bool, log: logging.Logger) -> int:
    """create + start (+ wait + delete unless detached): the container's exit status."""
    if detach:
        create(opts, log)
        try:
            start(opts.root, opts.id, log)
        except BaseException:
            delete(opts.root, opts.id, True, log)
            raise
        return 0
    spec = load_container_spec(opts.bundle)
    if opts.console_socket and not spec.terminal:
        raise ContainerError("cannot use console socket if quark will not detach or allocate tty")
    sd = StateDir(opts.root, opts.id)
    prepare_state(sd, spec, opts)
    try:
        # Without hooks to run in between, the sandbox starts PID 1 as soon
        # as it is loaded: no round trip through the control socket.
        hooks_first = any(spec.hooks.phase(p) for p in
                          ("prestart", "createRuntime", "createContainer", "startContainer"))
        with _signals_to_child() as forward:
            pid = fork_daemon(sd, spec, opts, log, foreground=True, autostart=not hooks_first)
            forward.pid = pid
            if opts.pid_file:
                write_pid_file(opts.pid_file, pid)
            if hooks_first:
                run_hook_phases(spec, sd.load(), ("prestart", "createRuntime", "createContainer"),
                           CREATED, log)
                start(opts.root, opts.id, log)
            else:
                run_hook_phases(spec, sd.load(), ("poststart",), RUNNING, log, warn_only=True)
            return wait_exit_code(pid)
    finally:
        destroy(sd, log)


class _Forwarder:
    pid = 0

    def __call__(self, signo: int, _frame: object) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signo)
            except OSError:
                pass


@contextlib.contextmanager
def _signals_to_child() -> Iterator[_Forwarder]:
    forward = _Forwarder()
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in TTY_SIGNALS}
    old.update({sig: signal.signal(sig, forward) for sig in PASSED_ON})
    try:
        yield forward
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
