"""podman with a private store, driving a chosen OCI runtime through conmon.

Nothing touches the machine's default podman store or network: every
invocation gets `--root/--runroot/--tmpdir` under one private directory, and
`CONTAINERS_CONF`/`CONTAINERS_STORAGE_CONF` point at files written there
(the only configuration podman then reads). That containers.conf

- registers each runtime by name in `[engine.runtimes]` (the way users
  register quark), and `--runtime NAME` picks one per command. podman passes
  `--log-format=json --log FILE` on `create` only to runtimes named in
  `runtime_supports_json` (crun, runc, kata, runsc, krun by default);
- sets `netns = "none"` and a private `network_config_dir`, so no CNI
  bridge, iptables rule or /var/lib/cni entry is ever made on the host
  (podman's default network does all three);
- sets `default_ulimits` nofile/nproc 1024:1024: without them runc fails to
  raise RLIMIT_NPROC (CAP_SYS_RESOURCE is not in the bounding set here);
- uses cgroupfs (no systemd here), the `file` events backend and k8s-file
  container logs (no journald).

Storage: overlay when the kernel has it (it works on these machines), vfs
otherwise; `QUARK_PODMAN_STORAGE_DRIVER` overrides.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from tests.clients import (abandoned, kill_pids, mark_owner, mounts_under, pids_with_arg,
                           remove_tree, rmdir_empty_cgroups, run)

PODMAN = "/usr/bin/podman"
PREFIX = "quark-podman-"
IMAGE = "localhost/quark-test:latest"
# The flags these machines need on every `podman run`/`create` (also the
# defaults in the generated containers.conf, so forgetting them is harmless).
RUN_FLAGS = ("--network=none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
CGROUP_PARENT = "libpod_parent"   # podman's cgroupfs default parent


def storage_driver() -> str:
    forced = os.environ.get("QUARK_PODMAN_STORAGE_DRIVER")
    if forced:
        return forced
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1] == "overlay" for line in f if line.strip()):
                return "overlay"
    except OSError:
        pass
    return "vfs"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Podman:
    """One private podman store; `run()` builds the global flags each time."""

    def __init__(self, runtimes: dict[str, Path], base: Path | None = None,
                 driver: str | None = None):
        self.base = Path(base or tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
        self.root = self.base / "root"
        self.runroot = self.base / "runroot"
        self.tmpdir = self.base / "tmp"
        self.driver = driver or storage_driver()
        self.runtimes = dict(runtimes)
        self.used_runtimes: set[str] = set()
        self.image_imported = False
        for d in (self.root, self.runroot, self.tmpdir, self.base / "cni"):
            d.mkdir(parents=True, exist_ok=True)
        self.containers_conf = self.base / "containers.conf"
        self.storage_conf = self.base / "storage.conf"
        if self.runtimes or not self.containers_conf.exists():
            self._write_config()
        else:   # an existing store (sweep_abandoned): learn its runtimes back
            self.runtimes = _registered_runtimes(self.containers_conf)
        mark_owner(self.base)

    # --- configuration ------------------------------------------------------

    def _write_config(self) -> None:
        runtimes = "\n".join(f"{name} = [{_toml_str(str(path))}]"
                             for name, path in self.runtimes.items())
        default = next(iter(self.runtimes), "runc")
        self.containers_conf.write_text(f"""\
# Written by tests/clients/podman.py for one test session.
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = {_toml_str(str(self.base / "events.log"))}
tmp_dir = {_toml_str(str(self.tmpdir))}
image_copy_tmp_dir = {_toml_str(str(self.tmpdir))}
lock_type = "file"
runtime = {_toml_str(default)}

[engine.runtimes]
{runtimes}

[network]
network_config_dir = {_toml_str(str(self.base / "cni"))}
""")
        self.storage_conf.write_text(f"""\
[storage]
driver = {_toml_str(self.driver)}
graphroot = {_toml_str(str(self.root))}
runroot = {_toml_str(str(self.runroot))}
""")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CONTAINERS_") and k not in ("CONTAINER_HOST",)}
        env["CONTAINERS_CONF"] = str(self.containers_conf)
        env["CONTAINERS_STORAGE_CONF"] = str(self.storage_conf)
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env["TMPDIR"] = str(self.tmpdir)
        return env

    def _runtime_flag(self, runtime) -> str:
        """`--runtime` takes a registered name, or else a path."""
        name = getattr(runtime, "name", None)
        if name in self.runtimes:
            return name
        if isinstance(runtime, str) and runtime in self.runtimes:
            return runtime
        return str(runtime)

    def global_args(self, runtime=None) -> list[str]:
        args = [PODMAN,
                "--root", str(self.root),
                "--runroot", str(self.runroot),
                "--tmpdir", str(self.tmpdir),
                "--storage-driver", self.driver,
                "--cgroup-manager", "cgroupfs",
                "--events-backend", "file"]
        if runtime is not None:
            flag = self._runtime_flag(runtime)
            self.used_runtimes.add(flag)
            args += ["--runtime", flag]
        return args

    def argv(self, *args: str, runtime=None) -> list[str]:
        return self.global_args(runtime) + [str(a) for a in args]

    def run(self, *args: str, runtime=None, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        return run(self.argv(*args, runtime=runtime), timeout=timeout, env=self.env(),
                   input=input)

    # --- image ----------------------------------------------------------------

    def import_image(self, rootfs: Path, ref: str = IMAGE) -> str:
        """`tar -C rootfs -c . | podman import - ref`, once per store."""
        if self.image_imported:
            return ref
        tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True,
                             check=True, timeout=60)
        # Copying an image updates containers/image's blob-info cache, whose
        # place is fixed for root (/var/lib/containers/cache): give the import
        # a private mount namespace where that directory is a throw-away tmpfs.
        # (The store itself is on disk under self.base, so nothing is lost.)
        hide = ("mount -t tmpfs -o size=16m quark-test /var/lib/containers 2>/dev/null"
                " || mount -t tmpfs -o size=16m quark-test /var/lib"
                ' && exec "$@"')
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide, "sh",
                *self.argv("import", "-", ref)]
        proc = subprocess.run(argv, input=tar.stdout, capture_output=True, env=self.env(),
                              timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"podman import failed: {proc.stderr.decode(errors='replace')}")
        self.image_imported = True
        return ref

    # --- cleanup --------------------------------------------------------------

    def container_ids(self) -> list[str]:
        proc = self.run("ps", "-aq", "--no-trunc")
        return proc.stdout.split() if proc.returncode == 0 else []

    def remove_all_containers(self) -> None:
        # A container remembers its runtime by name (resolved through
        # containers.conf); one given as a bare path wants `--runtime PATH`.
        for runtime in [None, *sorted(self.used_runtimes)]:
            if not self.container_ids():
                break
            self.run("rm", "--all", "--force", "--time", "0", runtime=runtime, timeout=60)

    def cleanup(self) -> None:
        """Remove every container and the whole store, whatever state it is in."""
        ids: list[str] = []
        try:
            ids = self.container_ids()
            self.remove_all_containers()
        except (subprocess.TimeoutExpired, OSError):
            pass
        # conmon names our paths on its command line.
        kill_pids(pids_with_arg(str(self.base)))
        # A container podman failed to remove still has its runtime state:
        # `delete --force` kills its processes and removes its cgroups.
        binaries = {str(p) for p in self.runtimes.values()}
        binaries |= {flag for flag in self.used_runtimes if flag.startswith("/")}
        for cid in ids:
            for binary in binaries:
                try:
                    run([binary, "delete", "--force", cid], timeout=30)
                except (subprocess.TimeoutExpired, OSError):
                    pass
        try:
            self.run("unmount", "--all", "--force", timeout=30)
        except (subprocess.TimeoutExpired, OSError):
            pass
        remove_tree(self.base)
        rmdir_empty_cgroups(CGROUP_PARENT)

    def leftovers(self) -> dict[str, list]:
        """What cleanup missed (for the tests' own check)."""
        return {"mounts": mounts_under(self.base),
                "processes": pids_with_arg(str(self.base))}



def _registered_runtimes(conf: Path) -> dict[str, Path]:
    """The `[engine.runtimes]` table of a containers.conf this module wrote."""
    runtimes, inside = {}, False
    for line in conf.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == "[engine.runtimes]"
        elif inside and "=" in line:
            key, value = line.split("=", 1)
            paths = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
            if paths:
                runtimes[key.strip()] = Path(paths[0])
    return runtimes


def sweep_abandoned() -> list[Path]:
    """Clean the stores of test runs that were killed before their own cleanup."""
    swept = []
    for base in abandoned(PREFIX):
        Podman({}, base=base).cleanup()
        swept.append(base)
    return swept
