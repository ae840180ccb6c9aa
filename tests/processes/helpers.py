"""Running one bundle two ways for the process tests: in the container runtime
(quark, or runc to check the tests themselves) and natively.

Two native references are used:

* `tests.guest.run_native` (chroot into the rootfs) for the busybox scripts,
  as tests/test_busybox.py does.
* `run_native_ns` for everything that depends on the mounts, PID 1 or the
  hostname: a private mount, PID, UTS and IPC namespace (util-linux
  `unshare`) in which the bundle's config.json mounts are made for real
  (bind mounts read-only where asked, a fresh tmpfs on /tmp, proc), then a
  chroot into the same rootfs and an exec of process.args as PID 1, with
  process.env, process.cwd and the bundle's hostname. So the native program
  sees the same paths, the same empty tmpfs, PID 1 and the same hostname as
  the container, and outputs are byte-identical without rewriting them.
  (Running the command directly on the host in a temporary cwd would differ
  in cwd paths, PIDs, orphan re-parenting and /tmp contents; copying the
  host's /usr for a plain chroot would take gigabytes.) /dev and /sys are
  the host's, bound: a tmpfs /dev would lack the device nodes that the
  container's own /dev provides.

Set QUARK_PROCESS_RUNTIME=runc to run the "container" side with runc instead
of quark: the tests must pass that way too (it checks the tests, not quark).
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.guest import ROOT, Result

RUNTIME = os.environ.get("QUARK_PROCESS_RUNTIME", "quark")
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
HOST_BUNDLE_SCRIPT = ROOT / "scripts" / "build_host_bundle.sh"
PROGRAMS = ROOT / "tests" / "programs"
# Python and perl start-ups make many syscalls each; QUARK_PROCESS_TIMEOUT to change.
TIMEOUT = float(os.environ.get("QUARK_PROCESS_TIMEOUT", "600"))
_ids = itertools.count()


def container_cmd(bundle: Path) -> list[str]:
    """The command line that runs the bundle to completion in the runtime under test."""
    if RUNTIME == "runc":
        cid = f"quark-proc-{os.getpid()}-{next(_ids)}"
        return ["runc", "--root", str(bundle.parent / "runc-state"), "run", "--bundle",
                str(bundle), cid]
    return [sys.executable, "-m", "qvisor.cli", "run", str(bundle)]


def _result(proc: subprocess.CompletedProcess) -> Result:
    return Result(proc.returncode, proc.stdout.decode(errors="replace"),
                  proc.stderr.decode(errors="replace"))


def run_container(bundle: Path, timeout: float = TIMEOUT) -> Result:
    proc = subprocess.run(container_cmd(bundle), capture_output=True, timeout=timeout,
                          cwd=ROOT, stdin=subprocess.DEVNULL)
    return _result(proc)


def set_process(bundle: Path, args: list[str], cwd: str | None = None,
                env: list[str] | None = None) -> None:
    """Edit config.json in place: what to run, where, with which environment."""
    path = bundle / "config.json"
    config = json.loads(path.read_text())
    config["process"]["args"] = args
    config["process"]["terminal"] = False
    if cwd is not None:
        config["process"]["cwd"] = cwd
    if env is not None:
        config["process"]["env"] = env
    path.write_text(json.dumps(config, indent=2))


# Runs inside the new namespaces (as their PID 1 until it execs the program,
# which then is PID 1): make the config's mounts, chroot, exec.
_NS_INIT = r"""
import json, os, socket, subprocess, sys

bundle = sys.argv[1]
with open(os.path.join(bundle, "config.json")) as f:
    cfg = json.load(f)
root = os.path.join(bundle, cfg["root"]["path"])

def mount(*args):
    subprocess.run(["mount", *args], check=True)

mount("--make-rprivate", "/")
mount("--bind", root, root)
if cfg["root"].get("readonly"):
    mount("-o", "remount,bind,ro", root)
for m in cfg.get("mounts", []):
    dst = os.path.normpath("/" + m["destination"].lstrip("/"))
    opts = m.get("options", [])
    kind = m.get("type", "")
    target = root + dst
    if dst.startswith(("/dev/", "/sys/")):
        continue                             # came with the host's /dev and /sys
    if dst in ("/dev", "/sys"):
        mount("--rbind", dst, target)
    elif kind == "proc":
        mount("-t", "proc", "proc", target)
    elif kind == "tmpfs":
        keep = [o for o in opts if o.startswith(("mode=", "size=")) or o in ("nosuid", "nodev")]
        mount("-t", "tmpfs", "-o", ",".join(keep or ["defaults"]), "tmpfs", target)
    elif kind == "bind" or "bind" in opts or "rbind" in opts:
        mount("--rbind", m["source"], target)
        if "ro" in opts:
            mount("-o", "remount,bind,ro", target)
    else:
        raise SystemExit(f"native runner: cannot make mount {m}")
socket.sethostname(cfg.get("hostname", "native"))
proc = cfg["process"]
env = dict(e.split("=", 1) for e in proc.get("env", []))
os.chroot(root)
os.chdir(proc.get("cwd", "/"))
sys.stdout.flush()
os.execvpe(proc["args"][0], proc["args"], env)
"""


def native_ns_cmd(bundle: Path) -> list[str]:
    return [UNSHARE, "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child",
            sys.executable, "-c", _NS_INIT, str(bundle)]


def run_native_ns(bundle: Path, timeout: float = TIMEOUT) -> Result:
    """config.json's process, run natively as PID 1 with the bundle's mounts."""
    proc = subprocess.run(native_ns_cmd(bundle), capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd="/")
    return _result(proc)


def build_host_bundle(bundle: Path) -> Path:
    """scripts/build_host_bundle.sh into BUNDLE (the fixture and the script are one)."""
    env = dict(os.environ, PY=sys.executable)
    subprocess.run([str(HOST_BUNDLE_SCRIPT), str(bundle)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return bundle


def compile_into(rootfs: Path, name: str, static: bool = True, out: str | None = None) -> str:
    """Build tests/programs/NAME.c into ROOTFS/t; returns the path inside the guest."""
    (rootfs / "t").mkdir(exist_ok=True)
    dest = out or name
    cmd = ["gcc", "-O1", "-pthread", "-o", str(rootfs / "t" / dest), str(PROGRAMS / f"{name}.c")]
    if static:
        cmd.insert(1, "-static")
    subprocess.run(cmd, check=True)
    return f"/t/{dest}"


def assert_same(got: Result, want: Result) -> None:
    """Container and native runs printed and returned the same."""
    assert got.stderr == want.stderr, f"stderr\nquark:  {got.stderr!r}\nnative: {want.stderr!r}"
    assert got.stdout == want.stdout, f"stdout\nquark:  {got.stdout!r}\nnative: {want.stdout!r}"
    assert got.status == want.status
