"""Harness for driving quark (or runc) from real container engines.

`tests/test_podman.py` and `tests/test_containerd.py` run podman (through
conmon) and containerd (through containerd-shim-runc-v2) against a runtime
binary and check what the container really printed and returned. The same
tests run with runc, to prove the harness, and with quark, to prove quark is
used exactly like runc.

Which runtimes: `QUARK_CLIENT_RUNTIMES` (comma-separated, default `quark`).
A name is `runc` (the host's runc), `quark` (`<repo>/.venv/bin/quark`) or an
absolute path to any runc-compatible binary.

`QUARK_CLIENT_ARGV_LOG=/some/file.jsonl` wraps the runtime in a small script
that appends every command line the engine runs (argv, cwd, parent) as one
JSON line before exec'ing the real binary: the way to see what podman, conmon
and the containerd shim ask of a runtime.

Everything the engines write lives under a private directory in /tmp (short
paths: unix socket names are limited to 108 bytes) that the fixtures unmount
and remove, whatever the tests did.
"""
from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTFS = REPO / "bundles" / "busybox" / "rootfs"
ENV_RUNTIMES = "QUARK_CLIENT_RUNTIMES"
ENV_ARGV_LOG = "QUARK_CLIENT_ARGV_LOG"
DEFAULT_RUNTIMES = "quark"


@dataclass(frozen=True)
class Runtime:
    """A runtime under test: its name and the binary the engines are given."""
    name: str
    path: Path

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def runtime_names() -> list[str]:
    raw = os.environ.get(ENV_RUNTIMES, DEFAULT_RUNTIMES)
    return [name.strip() for name in raw.split(",") if name.strip()]


def resolve_runtime(name: str) -> Path:
    """The binary behind a runtime name (`runc`, `quark` or a path)."""
    if name == "quark":
        return REPO / ".venv" / "bin" / "quark"
    if name == "runc":
        found = shutil.which("runc") or "/usr/sbin/runc"
        return Path(found)
    return Path(name)


def runtime_id(name: str) -> str:
    """A short name for the runtime: what podman's runtime table uses."""
    return name if name in ("runc", "quark") else Path(name).name


WRAPPER = """#!{python} -I
# Written by tests/clients: log the command line, then become the runtime.
import json, os, sys
try:
    parent = open("/proc/%d/comm" % os.getppid()).read().strip()
except OSError:
    parent = "?"
entry = {{"runtime": {name!r}, "argv": sys.argv[1:], "cwd": os.getcwd(), "parent": parent}}
with open({log!r}, "a") as f:
    f.write(json.dumps(entry) + "\\n")
os.execv({real!r}, [{real!r}] + sys.argv[1:])
"""


def logging_wrapper(real: Path, name: str, log: Path, directory: Path) -> Path:
    """A script in `directory` that logs its argv to `log` and execs `real`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{runtime_id(name)}-argv-logger"
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    path.write_text(WRAPPER.format(python=python, name=name, log=str(log), real=str(real)))
    path.chmod(0o755)
    return path


def runtime_for_tests(name: str, scratch: Path) -> Runtime:
    """The runtime the engines are given: the binary, or its argv logger."""
    real = resolve_runtime(name)
    log = os.environ.get(ENV_ARGV_LOG)
    if log:
        real = logging_wrapper(real, name, Path(log).resolve(), scratch / "wrappers")
    return Runtime(runtime_id(name), real)


def missing_runtime(name: str) -> str | None:
    """Why the runtime `name` cannot run, or None."""
    path = resolve_runtime(name)
    if not (path.is_file() and os.access(path, os.X_OK)):
        return f"runtime {name!r}: {path} is not an executable file"
    return None


def read_argv_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


# --- processes and mounts ----------------------------------------------------

def run(argv: list[str], *, timeout: float = 60, env: dict | None = None,
        input: str | bytes | None = None, text: bool = True,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a command and capture its output; a hang fails the test, not the run."""
    return subprocess.run(argv, capture_output=True, text=text, timeout=timeout,
                          env=env, input=input, cwd=cwd,
                          stdin=None if input is not None else subprocess.DEVNULL)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root`, deepest first (the order to unmount)."""
    root_s = str(Path(root).resolve())
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # The mount point is field 5; spaces and such are octal-escaped.
            point = line.split()[4].encode().decode("unicode_escape")
            if point == root_s or point.startswith(root_s + "/"):
                points.append(point)
    # Deepest first; for stacked mounts on one point, the later ones first.
    order = {p: i for i, p in enumerate(points)}
    return sorted(points, key=lambda p: (p.count("/"), order[p]), reverse=True)


def umount_all(root: Path) -> list[str]:
    """Unmount everything under `root`; lazily if a plain umount fails."""
    done = []
    for _ in range(5):
        points = mounts_under(root)
        if not points:
            break
        for point in points:
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)
            done.append(point)
    return done


def pids_with_arg(needle: str) -> list[int]:
    """Processes whose command line contains `needle` (a path of ours)."""
    pids = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry))
    return pids


def kill_pids(pids: list[int], grace: float = 3.0) -> None:
    """SIGTERM each pid, then SIGKILL what is still there after `grace` s."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _alive(pid)]
        time.sleep(0.05)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def mark_owner(base: Path) -> None:
    """Record which process owns `base`, so a later run can tell it was abandoned."""
    (Path(base) / "owner").write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")


def abandoned(prefix: str) -> list[Path]:
    """/tmp/PREFIX* directories whose owner process is gone (a killed test run)."""
    found = []
    for base in Path("/tmp").glob(prefix + "*"):
        try:
            pid, start = (base / "owner").read_text().split()
        except (OSError, ValueError):
            continue
        if _start_time(int(pid)) != start:
            found.append(base)
    return found


def remove_tree(root: Path) -> None:
    """Unmount what is left under `root`, then delete it (never across a mount)."""
    umount_all(root)
    if mounts_under(root):
        return  # something is still mounted: leave it rather than delete through it
    shutil.rmtree(root, ignore_errors=True)


def rmdir_empty_cgroups(name: str) -> None:
    """rmdir /sys/fs/cgroup/*/NAME and its empty children; a busy one stays."""
    base = Path("/sys/fs/cgroup")
    for top in list(base.glob(f"*/{name}")) + [base / name]:
        if not top.is_dir():
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def rmdir_if_empty(*paths: Path) -> None:
    for path in paths:
        try:
            os.rmdir(path)
        except OSError:
            pass


# --- terminals -----------------------------------------------------------------

def drive_pty(argv: list[str], env: dict, line: bytes, *, ready: bytes = b"#",
              timeout: float = 60) -> tuple[bytes, int]:
    """Run argv on a fresh pty; type `line` once `ready` shows; return (output, status)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: podman with the pty as its terminal
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    out = b""
    sent = False
    start = time.monotonic()
    deadline = start + timeout
    try:
        while time.monotonic() < deadline:
            if not sent and (ready in out or time.monotonic() - start > 20):
                os.write(fd, line)
                sent = True
            readable, _, _ = select.select([fd], [], [], 0.2)
            if not readable:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            out += data
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return out, os.waitstatus_to_exitcode(status)


def assert_tty_session(text: str) -> None:
    """The shell computed 6*7 and `tty` named a terminal (not "not a tty")."""
    lines = [line.strip() for line in text.splitlines()]
    assert "42" in lines, text
    assert any(re.fullmatch(r"/dev/(pts/\d+|console)", line) for line in lines), text
