"""containerd (through containerd-shim-runc-v2) runs tasks with the runtime under test.

A private containerd daemon (tests/clients/containerd.py) is started for the
module; the busybox rootfs becomes an OCI image archive
(tests/clients/oci_image.py) that `ctr images import` loads. Every task gets
the runtime with `ctr run --runc-binary`. The runtimes come from
QUARK_CLIENT_RUNTIMES (default "quark"); `QUARK_CLIENT_RUNTIMES=runc` checks
the harness itself.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.clients import (ROOTFS, Runtime, assert_tty_session, drive_pty, missing_runtime,
                           run, runtime_for_tests, runtime_names)
from tests.clients.containerd import (CONTAINERD, CTR, IMAGE, PREFIX, SHIM, Containerd,
                                      sweep_abandoned)
from tests.clients.oci_image import build_oci_archive

_missing = [b for b in (CONTAINERD, CTR, SHIM)
            if not (shutil.which(Path(b).name) or os.path.exists(b))]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"not installed: {', '.join(_missing)} "
                                                       "(apt-get install containerd)")

NAMES = runtime_names()


@pytest.fixture(scope="module")
def containerd():
    sweep_abandoned()   # daemons and tasks of runs killed before their cleanup
    base = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
    daemon = Containerd(base)
    daemon.runtime_objects = {n: runtime_for_tests(n, base) for n in NAMES}
    try:
        daemon.start()
        image = build_oci_archive(ROOTFS, base / "quark-test.oci.tar", IMAGE)
        daemon.import_image(image.path)
        yield daemon
    finally:
        daemon.cleanup()
    left = daemon.leftovers()
    assert not any(left.values()), f"containerd cleanup left {left}"


@pytest.fixture(params=NAMES)
def runtime(request, containerd) -> Runtime:
    why = missing_runtime(request.param)
    assert why is None, why
    return containerd.runtime_objects[request.param]


def task_id(tag: str) -> str:
    return f"q-{tag}-{uuid.uuid4().hex[:8]}"


def containers(containerd: Containerd) -> list[str]:
    proc = containerd.ctr("containers", "ls", "--quiet")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def task_status(containerd: Containerd, tid: str) -> str | None:
    proc = containerd.ctr("tasks", "ls")
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == tid:
            return fields[-1]
    return None


@pytest.fixture
def detached(containerd, runtime):
    """`ctr run -d` tasks whose stdout goes to a log file; removed after the test."""
    started = []

    def start(*cmd: str) -> tuple[str, Path]:
        tid = task_id("d")
        log = containerd.base / f"{tid}.log"
        proc = containerd.ctr("run", "-d", *containerd.runtime_args(runtime),
                              "--log-uri", f"file://{log}", IMAGE, tid, *cmd)
        assert proc.returncode == 0, proc.stderr
        started.append(tid)
        return tid, log

    yield start
    for tid in started:
        if task_status(containerd, tid) is not None:
            containerd.ctr("tasks", "kill", "--signal", "SIGKILL", tid)
            containerd.ctr("tasks", "delete", "--force", tid)
        if tid in containers(containerd):
            containerd.ctr("containers", "delete", tid)


def delete_task(containerd: Containerd, tid: str) -> int:
    """`ctr task delete` a stopped task; its exit status (ctr warns when non-zero)."""
    proc = containerd.ctr("tasks", "delete", tid)
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"exit with non-zero exit code (\d+)", proc.stdout + proc.stderr)
    return int(found.group(1)) if found else 0


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- ctr run ---------------------------------------------------------------------

def test_run_echo(containerd, runtime):
    tid = task_id("echo")
    proc = containerd.ctr("run", "--rm", *containerd.runtime_args(runtime), IMAGE, tid,
                          "echo", "hello")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello\n"
    assert tid not in containers(containerd)


def test_run_exit_status(containerd, runtime):
    proc = containerd.ctr("run", "--rm", *containerd.runtime_args(runtime), IMAGE,
                          task_id("exit"), "sh", "-c", "exit 7")
    assert proc.returncode == 7, proc.stderr


def test_run_tty(containerd, runtime):
    """`ctr run -t` from a real terminal: the shim hands the runtime --console-socket."""
    argv = containerd.ctr_argv("run", "--rm", "-t", *containerd.runtime_args(runtime), IMAGE,
                               task_id("tty"), "sh")
    out, status = drive_pty(argv, dict(os.environ, TERM="xterm"),
                            b"echo $((6*7)); tty; exit 3\r")
    text = out.decode(errors="replace")
    assert status == 3, text
    assert_tty_session(text)


# --- a running task ----------------------------------------------------------------

def test_exec(containerd, runtime, detached):
    tid, _ = detached("sleep", "1000")
    assert task_status(containerd, tid) == "RUNNING"
    proc = containerd.ctr("tasks", "exec", "--exec-id", "e1", "--fifo-dir",
                          str(containerd.fifo_dir), tid, "echo", "inside")
    assert (proc.returncode, proc.stdout) == (0, "inside\n"), proc.stderr
    proc = containerd.ctr("tasks", "exec", "--exec-id", "e2", "--fifo-dir",
                          str(containerd.fifo_dir), tid, "sh", "-c", "exit 5")
    assert proc.returncode == 5, proc.stderr
    assert task_status(containerd, tid) == "RUNNING"


def test_kill_sigterm_then_remove(containerd, runtime, detached):
    """`ctr task kill` (SIGTERM) reaches the handler; then task rm and container rm."""
    tid, log = detached("sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; "
                                    "sleep 1000 & wait")
    wait_for(lambda: log.exists() and "ready" in log.read_text(), what=f"{tid} ready")
    proc = containerd.ctr("tasks", "kill", tid)   # SIGTERM is ctr's default
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: task_status(containerd, tid) == "STOPPED", timeout=15,
             what=f"{tid} STOPPED")
    assert "got TERM" in log.read_text()
    assert delete_task(containerd, tid) == 42
    assert task_status(containerd, tid) is None
    proc = containerd.ctr("containers", "delete", tid)
    assert proc.returncode == 0, proc.stderr
    assert tid not in containers(containerd)
    # The runtime forgot it too.
    root = containerd.runc_root / containerd.namespace
    assert run([str(runtime.path), "--root", str(root), "state", tid]).returncode != 0


def test_kill_sigkill(containerd, runtime, detached):
    """SIGKILL ends a PID 1 that ignores SIGTERM (sleep has no handler)."""
    tid, _ = detached("sleep", "1000")
    proc = containerd.ctr("tasks", "kill", "--signal", "SIGKILL", tid)
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: task_status(containerd, tid) == "STOPPED", timeout=15,
             what=f"{tid} STOPPED")
    assert delete_task(containerd, tid) == 137


def test_exec_tty(containerd, runtime, detached):
    """`ctr task exec -t`: an exec with its own terminal (--console-socket on exec)."""
    tid, _ = detached("sleep", "1000")
    argv = containerd.ctr_argv("tasks", "exec", "-t", "--exec-id", "t1", "--fifo-dir",
                               str(containerd.fifo_dir), tid, "sh")
    out, status = drive_pty(argv, dict(os.environ, TERM="xterm"),
                            b"echo $((6*7)); tty; exit 4\r")
    text = out.decode(errors="replace")
    assert status == 4, text
    assert_tty_session(text)


def test_task_ps(containerd, runtime, detached):
    """`ctr task ps` (the runtime's `ps --format json`) lists the task's processes.

    runc lists host pids, so the task's init pid is among them; a sandboxed
    runtime may list the pids its guest sees instead (gVisor's runsc does),
    where init is 1. The shim only shows them and matches exec pids.
    """
    tid, _ = detached("sleep", "1000")
    proc = containerd.ctr("tasks", "ls")
    init_pid = next(line.split()[1] for line in proc.stdout.splitlines()[1:]
                    if line.split()[0] == tid)
    proc = containerd.ctr("tasks", "ps", tid)
    assert proc.returncode == 0, proc.stderr
    pids = [line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert pids and all(pid.isdigit() and int(pid) > 0 for pid in pids), proc.stdout
    assert init_pid in pids or "1" in pids, proc.stdout
