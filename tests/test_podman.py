"""podman (through conmon) runs containers with the runtime under test.

The runtimes come from QUARK_CLIENT_RUNTIMES (default "quark"); run with
`QUARK_CLIENT_RUNTIMES=runc` to check the harness itself. Each test checks
what the container really printed and what status podman returned. The store
is private (tests/clients/podman.py) and removed at the end of the module.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.clients import (ROOTFS, Runtime, assert_tty_session, drive_pty, missing_runtime,
                           run, runtime_for_tests, runtime_names)
from tests.clients.podman import IMAGE, PODMAN, PREFIX, RUN_FLAGS, Podman, sweep_abandoned

pytestmark = pytest.mark.skipif(not (shutil.which("podman") or os.path.exists(PODMAN))
                                or not shutil.which("conmon"),
                                reason="podman or conmon is not installed "
                                       "(apt-get install podman conmon)")

NAMES = runtime_names()


@pytest.fixture(scope="module")
def podman():
    sweep_abandoned()   # stores of runs killed before their cleanup
    base = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
    runtimes = {n: runtime_for_tests(n, base) for n in NAMES}
    client = Podman({rt.name: rt.path for rt in runtimes.values()}, base=base)
    client.runtime_objects = runtimes
    try:
        client.import_image(ROOTFS)
        yield client
    finally:
        client.cleanup()
    left = client.leftovers()
    assert not any(left.values()), f"podman cleanup left {left}"


@pytest.fixture(params=NAMES)
def runtime(request, podman) -> Runtime:
    """The runtime podman is told to use (registered by name in containers.conf)."""
    why = missing_runtime(request.param)
    assert why is None, why
    return podman.runtime_objects[request.param]


def name(tag: str) -> str:
    return f"q-{tag}-{uuid.uuid4().hex[:8]}"


def gone(podman: Podman, cname: str) -> bool:
    return podman.run("container", "exists", cname).returncode == 1


@pytest.fixture
def detached(podman, runtime):
    """Start `podman run -d` containers; force-remove them after the test."""
    started = []

    def start(*cmd: str, cname: str | None = None) -> str:
        cname = cname or name("d")
        proc = podman.run("run", "-d", "--name", cname, *RUN_FLAGS, IMAGE, *cmd,
                          runtime=runtime)
        assert proc.returncode == 0, proc.stderr
        started.append(cname)
        return cname

    yield start
    for cname in started:
        podman.run("rm", "--force", "--time", "0", cname, runtime=runtime)


def wait_for_log(podman: Podman, cname: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    logs = ""
    while time.monotonic() < deadline:
        logs = podman.run("logs", cname).stdout
        if text in logs:
            return logs
        time.sleep(0.1)
    raise AssertionError(f"{cname} never printed {text!r}; logs: {logs!r}")


def state(podman: Podman, cname: str) -> tuple[str, int]:
    proc = podman.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", cname)
    assert proc.returncode == 0, proc.stderr
    status, code = proc.stdout.split()
    return status, int(code)


# --- podman run ----------------------------------------------------------------

def test_run_echo(podman, runtime):
    cname = name("echo")
    proc = podman.run("run", "--rm", "--name", cname, *RUN_FLAGS, IMAGE, "echo", "hello",
                      runtime=runtime)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello\n"
    assert gone(podman, cname)


def test_run_exit_status(podman, runtime):
    proc = podman.run("run", "--rm", *RUN_FLAGS, IMAGE, "sh", "-c", "exit 7",
                      runtime=runtime)
    assert proc.returncode == 7, proc.stderr


def test_run_stdin(podman, runtime):
    """`run -i`: podman's stdin reaches the container's stdin (and its EOF too)."""
    proc = podman.run("run", "--rm", "-i", *RUN_FLAGS, IMAGE, "sh", "-c", "tr a-z A-Z; echo done",
                      runtime=runtime, input="quark\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "QUARK\ndone\n"


def test_run_tty(podman, runtime):
    """`run -it` from a real terminal: conmon hands the runtime --console-socket."""
    argv = podman.argv("run", "--rm", "-it", *RUN_FLAGS, IMAGE, "sh", runtime=runtime)
    env = dict(podman.env(), TERM="xterm")
    out, status = drive_pty(argv, env, b"echo $((6*7)); tty; exit 3\r")
    text = out.decode(errors="replace")
    assert status == 3, text
    assert_tty_session(text)


# --- a running container --------------------------------------------------------

def test_exec(podman, runtime, detached):
    cname = detached("sleep", "1000")
    proc = podman.run("exec", cname, "echo", "inside", runtime=runtime)
    assert (proc.returncode, proc.stdout) == (0, "inside\n"), proc.stderr
    proc = podman.run("exec", cname, "sh", "-c", "exit 5", runtime=runtime)
    assert proc.returncode == 5, proc.stderr
    assert state(podman, cname)[0] == "running"


def test_exec_tty(podman, runtime, detached):
    """`exec -it`: an exec with its own terminal (--console-socket on exec)."""
    cname = detached("sleep", "1000")
    argv = podman.argv("exec", "-it", cname, "sh", runtime=runtime)
    out, status = drive_pty(argv, dict(podman.env(), TERM="xterm"),
                            b"echo $((6*7)); tty; exit 4\r")
    text = out.decode(errors="replace")
    assert status == 4, text
    assert_tty_session(text)


STOP_TIMEOUT = 2
MARGIN = 8   # a functional check, not a benchmark


def test_stop_kills_after_timeout(podman, runtime, detached):
    """PID 1 with no SIGTERM handler ignores it: stop -t 2 must SIGKILL it."""
    cname = detached("sleep", "1000")
    t0 = time.monotonic()
    proc = podman.run("stop", "-t", str(STOP_TIMEOUT), cname, runtime=runtime)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert elapsed < STOP_TIMEOUT + MARGIN, elapsed
    assert state(podman, cname) == ("exited", 137)


def test_stop_sigterm_handler(podman, runtime, detached):
    """A container that traps SIGTERM exits through its handler, before the timeout."""
    cname = detached("sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; "
                                 "sleep 1000 & wait")
    wait_for_log(podman, cname, "ready")
    t0 = time.monotonic()
    proc = podman.run("stop", "-t", "20", cname, runtime=runtime)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 10, elapsed   # well before the 20 s SIGKILL
    assert state(podman, cname) == ("exited", 42)
    assert "got TERM" in podman.run("logs", cname).stdout


def test_rm_force_running(podman, runtime, detached):
    cname = detached("sleep", "1000")
    cid = podman.run("inspect", "--format", "{{.Id}}", cname).stdout.strip()
    assert state(podman, cname)[0] == "running"
    proc = podman.run("rm", "--force", "--time", "1", cname, runtime=runtime)
    assert proc.returncode == 0, proc.stderr
    assert gone(podman, cname)
    ps = podman.run("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}")
    assert ps.returncode == 0, ps.stderr
    assert cid not in ps.stdout and cname not in ps.stdout
    # The runtime has forgotten it too (podman uses the runtime's default --root).
    assert run([str(runtime.path), "state", cid]).returncode != 0
