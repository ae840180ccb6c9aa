"""The container's terminal under real guests: `quark run` with a host pty's
slave as its stdio and controlling terminal (as a shell, or podman/docker
with -t, runs it), driven from the master as a user would type.

The host line discipline turns ^C/^Z and a resize into SIGINT/SIGTSTP/
SIGWINCH for the sandbox process (the pty's foreground process group);
QKernel passes them on to the guest terminal's foreground group, so
busybox ash's job control behaves as on Linux.
"""
from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.guest import ENV, ROOT, make_rootfs, write_config

PROMPT = "qsh$ "
QUARK = ["-m", "qvisor.cli"]
TIMEOUT = 20.0


class PtySession:
    """quark on a new pty: session leader with the slave as controlling tty."""

    def __init__(self, bundle: Path, rows: int = 24, cols: int = 80) -> None:
        self.master, slave = os.openpty()
        self.resize(rows, cols)
        self.proc = subprocess.Popen(
            [sys.executable, *QUARK, "run", str(bundle)], cwd=ROOT,
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.seen = ""          # everything read so far
        self._pos = 0           # where the next expect() starts looking

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def expect(self, text: str, timeout: float = TIMEOUT) -> str:
        """Read until `text` appears; returns the output up to and including it."""
        deadline = time.monotonic() + timeout
        while (i := self.seen.find(text, self._pos)) < 0:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(0.0, left))
            if not ready:
                raise AssertionError(f"no {text!r} after {timeout}s; output:\n{self.seen[self._pos:]!r}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:               # EIO: the slave side is closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF before {text!r}; output:\n{self.seen[self._pos:]!r}")
            self.seen += chunk.decode(errors="replace")
        start, self._pos = self._pos, i + len(text)
        return self.seen[start:self._pos]

    def run(self, command: str) -> str:
        """Type a command line; returns its output (up to the next prompt)."""
        self.send(command + "\n")
        out = self.expect(PROMPT)
        # The echoed command line comes first; ash's line editor may add
        # escape sequences (cursor queries, redraws) around it.
        return out.split("\r\n", 1)[1] if "\r\n" in out else out

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


@pytest.fixture(scope="module")
def sh_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = tmp_path_factory.mktemp("tty")
    make_rootfs(bundle / "rootfs")
    write_config(bundle, ["/bin/sh", "-i"], env=ENV + [f"PS1={PROMPT}"])
    return bundle


@pytest.fixture
def shell(sh_bundle: Path) -> Iterator[PtySession]:
    session = PtySession(sh_bundle)
    try:
        session.expect(PROMPT)
        yield session
    finally:
        session.close()


def test_shell_session(shell: PtySession) -> None:
    assert "42\r\n" in shell.run("echo $((6*7))")
    # ttyname(3) checks that /proc/self/fd/0 names the same device as fd 0.
    assert shell.run("tty").startswith("/dev/pts/0\r\n")
    assert shell.run("stty size").startswith("24 80\r\n")
    assert shell.run("readlink /proc/self/fd/0; ls -l /dev/console").startswith(
        "/dev/pts/0\r\ncrw--w----")
    # pgrp session tty_nr tpgid of `cut` itself: its own foreground job.
    fields = shell.run("cut -d' ' -f5-8 /proc/self/stat").split("\r\n")[0].split()
    assert fields[1:3] == ["1", str(136 << 8)] and fields[0] == fields[3] != "1"
    shell.send("exit 3\n")
    assert shell.wait() == 3


def test_ctrl_c_interrupts_foreground_job(shell: PtySession) -> None:
    shell.send("sleep 100\n")
    time.sleep(1.0)                   # the job is running (sleep's group is the foreground)
    shell.send("\x03")
    shell.expect(PROMPT)
    assert shell.run("echo status $?").startswith("status 130\r\n")   # SIGINT killed it
    assert "still 7\r\n" in shell.run("echo still $((3+4))")
    shell.send("exit\n")
    assert shell.wait() == 0


def test_resize_sends_sigwinch_to_foreground(shell: PtySession) -> None:
    shell.send("sh -c 'trap \"echo WIN\"\"CH \\$(stty size)\" WINCH; echo ar\"\"med;"
               " while :; do sleep 0.1; done'\n")
    shell.expect("armed")
    shell.resize(50, 132)
    shell.expect("WINCH 50 132")
    shell.send("\x03")                # ^C ends the whole foreground job
    shell.expect(PROMPT)
    assert shell.run("stty size").startswith("50 132\r\n")
    shell.send("exit 0\n")
    assert shell.wait() == 0


def test_background_jobs(shell: PtySession) -> None:
    shell.run("sleep 100 &")
    assert "Running" in shell.run("jobs")
    shell.send("fg\n")
    shell.expect("sleep 100")
    time.sleep(0.5)
    shell.send("\x03")
    shell.expect(PROMPT)
    assert shell.run("jobs; echo none").startswith("none")
    # A background read from the terminal stops the job (SIGTTIN).
    shell.run("cat &")
    time.sleep(1.0)
    assert "Stopped (tty input)" in shell.run("jobs")
    shell.run("kill -9 %1")
    # ash learns of the death at its next look (SIGCHLD is asynchronous; a
    # stopped job is not waited for): until then `exit` would only warn.
    for _ in range(50):
        if "cat" not in shell.run("jobs"):
            break
        time.sleep(0.1)
    shell.send("exit 0\n")
    assert shell.wait() == 0


def _tstp_forwarded() -> bool:
    from qvisor import sandbox
    return signal.SIGTSTP in getattr(sandbox, "FORWARDED_SIGNALS", ())


@pytest.mark.skipif(not _tstp_forwarded(), reason="the sandbox does not forward SIGTSTP yet")
def test_ctrl_z_stops_and_fg_resumes(shell: PtySession) -> None:
    shell.send("sleep 100\n")
    time.sleep(1.0)
    shell.send("\x1a")
    assert "Stopped" in shell.expect(PROMPT)
    shell.send("fg\n")
    shell.expect("sleep 100")
    time.sleep(0.5)
    shell.send("\x03")
    shell.expect(PROMPT)
    assert "ok\r\n" in shell.run("echo ok")
    shell.send("exit 0\n")
    assert shell.wait() == 0


def test_no_terminal(sh_bundle: Path) -> None:
    """Without a tty on stdio there is no controlling terminal: /dev/tty is ENXIO."""
    write_config(sh_bundle, ["/bin/sh", "-c", "tty; echo x >/dev/tty; echo status $?"])
    try:
        proc = subprocess.run([sys.executable, "-m", "qvisor.cli", "run", str(sh_bundle)],
                              cwd=ROOT, capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        write_config(sh_bundle, ["/bin/sh", "-i"], env=ENV + [f"PS1={PROMPT}"])
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert out.startswith("not a tty\n") and "status 1\n" in out
    assert "No such device or address" in err
