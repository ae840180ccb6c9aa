"""Preemption (a busy process does not starve the others) and signals sent to
the sandbox from outside (SIGTERM to `quark run` reaches the container's PID 1)."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.guest import ROOT, run_native, write_config
from tests.processes.helpers import assert_same, container_cmd, native_ns_cmd, run_container

TICKER = r"""
{busy} &
busy=$!
i=0
while [ $i -lt 10 ]; do echo "tick $i"; sleep 0.1; i=$((i + 1)); done
kill $busy; wait $busy; echo "busy loop ended with $?"
"""
BUSY = {
    "shell_loop": "while :; do :; done",
    "c_spin": "/t/proc_spin",        # no syscall at all: only a timer can preempt it
}


@pytest.mark.parametrize("busy", sorted(BUSY))
def test_busy_loop_does_not_starve_printer(bb_bundle: Path, busy: str) -> None:
    args = ["/bin/sh", "-c", TICKER.format(busy=BUSY[busy])]
    write_config(bb_bundle, args)
    t0 = time.monotonic()
    got = run_container(bb_bundle, timeout=60)
    elapsed = time.monotonic() - t0
    want = run_native(bb_bundle / "rootfs", args)
    # stdout only: whether ash prints "Terminated" depends on whether the
    # child's SIGCHLD beats ash's blocking wait, a race on Linux too.
    assert (got.status, got.stdout) == (want.status, want.stdout)
    assert got.stdout.splitlines() == [f"tick {i}" for i in range(10)] + [
        "busy loop ended with 143"]
    assert elapsed < 5, f"10 ticks of 0.1 s took {elapsed:.1f} s next to a busy loop"


TRAP_TERM = 'trap "echo got TERM; exit 7" TERM; echo ready; sleep 100 & wait'


def _start_and_term(cmd: list[str], cwd: Path, target: Callable[[int], int] | None = None
                    ) -> tuple[int, str, str]:
    """Start CMD, wait for its "ready" line, SIGTERM it (or TARGET(its pid)),
    collect its output and status."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=cwd)
    out = b""
    try:
        deadline = time.monotonic() + 120
        while b"ready\n" not in out:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
            chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                break           # timed out, or the process died before it got ready
            out += chunk
        assert b"ready\n" in out, (out, proc.poll())
        # The trap is set before "ready" is printed; give the shell time to reach `wait`.
        time.sleep(1.5)
        os.kill(target(proc.pid) if target else proc.pid, signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, (out + rest).decode(errors="replace"), err.decode(errors="replace")


def _ns_init_pid(unshare_pid: int) -> int:
    """The PID 1 of the namespace that `unshare --fork` made: its only child."""
    children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_sigterm_reaches_pid1(bb_bundle: Path) -> None:
    args = ["/bin/sh", "-c", TRAP_TERM]
    write_config(bb_bundle, args)
    status, out, err = _start_and_term(container_cmd(bb_bundle), ROOT)
    # Native: the shell is PID 1 of its own namespaces (run_native_ns's command),
    # and the SIGTERM goes to it. When it exits, the kernel kills the background
    # sleep, which would otherwise hold the output pipe open for 100 s.
    want = _start_and_term(native_ns_cmd(bb_bundle), Path("/"), _ns_init_pid)
    assert (status, out, err) == want
    assert (status, out) == (7, "ready\ngot TERM\n")


def test_signal_between_guest_processes(bb_bundle: Path) -> None:
    # kill from one guest process to another, default actions and exit statuses.
    # (Not SIGINT: a non-interactive shell ignores it in background jobs, so
    # the result would depend on whether the child got that far.)
    # wait's stderr is dropped: ash's "Killed" note depends on whether the
    # child's SIGCHLD beats the wait, a race on Linux too.
    script = r"""
sleep 10 & a=$!; kill -KILL $a; wait $a 2>/dev/null; echo "KILL $?"
sleep 10 & b=$!; kill -USR1 $b; wait $b 2>/dev/null; echo "USR1 $?"
sh -c 'kill -STOP $$; echo resumed' & c=$!
sleep 0.3; kill -CONT $c; wait $c; echo "CONT $?"
sh -c 'trap "" TERM; kill -TERM $$; echo ignored TERM'; echo "ignored $?"
"""
    args = ["/bin/sh", "-c", script]
    write_config(bb_bundle, args)
    got = run_container(bb_bundle)
    assert_same(got, run_native(bb_bundle / "rootfs", args))
