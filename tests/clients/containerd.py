"""A private containerd daemon for tests, driven with `ctr`.

The daemon gets its own config, root, state and socket under one directory in
/tmp; only the plugins a `ctr run` needs are loaded (no CRI, no /opt/containerd,
no btrfs/zfs/devmapper/aufs snapshotters). Tasks run under
`io.containerd.runc.v2`, i.e. containerd-shim-runc-v2, which executes the
runtime given by `ctr run --runc-binary` with `--root` set to
`ctr run --runc-root` plus the namespace.

Paths containerd 1.6 does not let us move: the shim's socket is
/run/containerd/s/<sha256(address/namespace/id)> and ctr's default FIFO dir is
/run/containerd/fifo (we pass `--fifo-dir`); the shim removes its socket when
it exits and `cleanup()` removes what a killed shim leaves.

The snapshotter is overlayfs when the kernel has it (it works here), native
otherwise; `QUARK_CONTAINERD_SNAPSHOTTER` overrides.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.clients import (abandoned, kill_pids, mark_owner, mounts_under, pids_with_arg,
                           remove_tree, rmdir_empty_cgroups, rmdir_if_empty, run)

CONTAINERD = "/usr/bin/containerd"
PREFIX = "quark-ctrd-"
CTR = "/usr/bin/ctr"
SHIM = "/usr/bin/containerd-shim-runc-v2"
NAMESPACE = "quark-test"
IMAGE = "docker.io/library/quark-test:latest"
SHIM_SOCKET_DIR = Path("/run/containerd/s")

DISABLED_PLUGINS = [
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",          # would create /opt/containerd
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
]


def snapshotter() -> str:
    forced = os.environ.get("QUARK_CONTAINERD_SNAPSHOTTER")
    if forced:
        return forced
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1] == "overlay" for line in f if line.strip()):
                return "overlayfs"
    except OSError:
        pass
    return "native"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ContainerdError(RuntimeError):
    pass


class Containerd:
    """start() the daemon, ctr(...) against it, cleanup() leaves nothing behind."""

    def __init__(self, base: Path | None = None, snapshotter_name: str | None = None,
                 namespace: str = NAMESPACE):
        self.base = Path(base or tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
        self.root = self.base / "root"
        self.state = self.base / "state"
        self.socket = self.base / "containerd.sock"
        self.config = self.base / "config.toml"
        self.log = self.base / "containerd.log"
        self.fifo_dir = self.base / "fifo"
        self.runc_root = self.base / "runc"
        self.snapshotter = snapshotter_name or snapshotter()
        self.namespace = namespace
        self.proc: subprocess.Popen | None = None
        self.used_runtimes: set[str] = set()
        for d in (self.root, self.state, self.fifo_dir, self.runc_root):
            d.mkdir(parents=True, exist_ok=True)
        self._write_config()
        mark_owner(self.base)

    def _write_config(self) -> None:
        disabled = ", ".join(_toml_str(p) for p in DISABLED_PLUGINS)
        self.config.write_text(f"""\
# Written by tests/clients/containerd.py for one test session (containerd 1.6).
version = 2
root = {_toml_str(str(self.root))}
state = {_toml_str(str(self.state))}
disabled_plugins = [{disabled}]

[grpc]
  address = {_toml_str(str(self.socket))}

[ttrpc]
  address = {_toml_str(str(self.socket) + ".ttrpc")}

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""
""")

    # --- daemon ---------------------------------------------------------------

    def start(self, timeout: float = 20) -> None:
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen([CONTAINERD, "--config", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         start_new_session=True)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ContainerdError(f"containerd exited with {self.proc.returncode}:\n"
                                      + self.log_tail())
            if self.socket.exists():
                proc = self.ctr("version", timeout=5)
                if proc.returncode == 0 and "Server:" in proc.stdout:
                    return
            time.sleep(0.05)
        raise ContainerdError("containerd did not answer on its socket in time:\n"
                              + self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    # --- ctr --------------------------------------------------------------------

    def ctr_argv(self, *args: str) -> list[str]:
        return [CTR, "--address", str(self.socket), "--namespace", self.namespace,
                *[str(a) for a in args]]

    def ctr(self, *args: str, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        return run(self.ctr_argv(*args), timeout=timeout, input=input)

    def runtime_args(self, runtime) -> list[str]:
        """`ctr run` flags that send the task to `runtime` (a path or PathLike)."""
        path = str(os.fspath(runtime))
        if path not in self.used_runtimes:
            self.used_runtimes.add(path)
            with open(self.base / "runtimes", "a") as f:   # for sweep_abandoned
                f.write(path + "\n")
        return ["--runc-binary", path, "--runc-root", str(self.runc_root),
                "--snapshotter", self.snapshotter, "--fifo-dir", str(self.fifo_dir)]

    def import_image(self, archive: Path) -> subprocess.CompletedProcess:
        proc = self.ctr("images", "import", "--snapshotter", self.snapshotter, str(archive),
                        timeout=120)
        if proc.returncode != 0:
            raise ContainerdError(f"ctr images import failed: {proc.stderr}")
        return proc

    # --- cleanup ----------------------------------------------------------------

    def _names(self, *args: str) -> list[str]:
        proc = self.ctr(*args, "--quiet", timeout=30)
        return proc.stdout.split() if proc.returncode == 0 else []

    def remove_all(self) -> None:
        """Kill and delete every task and container through containerd."""
        for cid in self._names("containers", "ls"):
            self.ctr("tasks", "kill", "--signal", "SIGKILL", "--all", cid, timeout=30)
            self.ctr("tasks", "delete", "--force", cid, timeout=30)
            self.ctr("containers", "delete", cid, timeout=30)

    def _shim_sockets(self) -> list[Path]:
        """The shim sockets of our tasks, from the `address` file of each bundle."""
        sockets = []
        for address in self.state.glob("io.containerd.runtime.v2.task/*/*/address"):
            try:
                value = address.read_text().strip()
            except OSError:
                continue
            if value.startswith("unix://"):
                sockets.append(Path(value[len("unix://"):]))
        return sockets

    def shim_socket(self, cid: str) -> Path:
        """Where containerd 1.6 puts the shim socket of task `cid`."""
        key = f"{self.socket}/{self.namespace}/{cid}"
        return SHIM_SOCKET_DIR / hashlib.sha256(key.encode()).hexdigest()

    def cleanup(self) -> None:
        """Tasks, containers, daemon, shims, runtime state, mounts, files: all gone."""
        sockets: list[Path] = []
        try:
            if self.proc is not None and self.proc.poll() is None:
                try:
                    self.remove_all()
                except (subprocess.TimeoutExpired, OSError):
                    pass
            sockets = self._shim_sockets()
        finally:
            self.stop()
        # Shims outlive the daemon on purpose (theirs name our socket); a
        # daemon we did not start ourselves (sweep_abandoned) names our config.
        kill_pids(pids_with_arg(str(self.base)))
        # Containers whose shim died: the runtime's own state still knows them.
        for ns_dir in self.runc_root.glob("*"):
            for cdir in ns_dir.glob("*"):
                for runtime in self.used_runtimes:
                    try:
                        run([runtime, "--root", str(ns_dir), "delete", "--force", cdir.name],
                            timeout=30)
                    except (subprocess.TimeoutExpired, OSError):
                        pass
        for sock in sockets:
            try:
                sock.unlink()
            except OSError:
                pass
        remove_tree(self.base)
        rmdir_empty_cgroups(self.namespace)
        # The shims made these if missing; a containerd in use keeps its
        # socket there, so only an empty (unused) one goes.
        rmdir_if_empty(SHIM_SOCKET_DIR, SHIM_SOCKET_DIR.parent)

    def leftovers(self) -> dict[str, list]:
        return {"mounts": mounts_under(self.base),
                "processes": pids_with_arg(str(self.base)),
                "daemon": [self.proc.pid] if self.proc and self.proc.poll() is None else []}



def sweep_abandoned() -> list[Path]:
    """Clean up after test runs killed before their own cleanup.

    A fresh daemon on the old root and state reconnects to the shims still
    running there, so tasks are removed the ordinary way first.
    """
    swept = []
    for base in abandoned(PREFIX):
        kill_pids(pids_with_arg(str(base / "config.toml")))   # the old daemon
        daemon = Containerd(base)
        try:
            daemon.used_runtimes = set((base / "runtimes").read_text().split())
        except OSError:
            pass
        try:
            daemon.start()
        except (ContainerdError, subprocess.TimeoutExpired, OSError):
            pass
        daemon.cleanup()
        swept.append(base)
    return swept
