"""Helpers for tests that run real guests: bundles in a temp dir, quark and
native (chroot) runs of the same program, compared."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from qvisor.oci.spec import default_spec

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"
BUSYBOX = "/bin/busybox"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
       "TERM=xterm", "LANG=C"]


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


def make_rootfs(rootfs: Path) -> None:
    """A small busybox rootfs, like bundles/busybox."""
    for d in ("bin", "etc", "tmp", "proc", "dev", "sys", "root", "data", "t"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                          "nobody:x:65534:65534:nobody:/:/bin/false\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (rootfs / "etc" / "hostname").write_text("quark-test\n")


def compile_program(name: str, rootfs: Path, extra: list[str] | None = None) -> str:
    out = rootfs / "t" / name
    subprocess.run(["gcc", "-static", "-O1", "-o", str(out), str(PROGRAMS / f"{name}.c")]
                   + (extra or []), check=True)
    return f"/t/{name}"


def write_config(bundle: Path, args: list[str], hostname: str = "quark-test",
                 readonly: bool = False, env: list[str] | None = None, cwd: str = "/") -> None:
    spec = default_spec()
    spec["process"]["args"] = args
    spec["process"]["terminal"] = False
    spec["process"]["env"] = env if env is not None else ENV
    spec["process"]["cwd"] = cwd
    spec["root"] = {"path": "rootfs", "readonly": readonly}
    spec["hostname"] = hostname
    (bundle / "config.json").write_text(json.dumps(spec, indent=2))


def quark(*argv: str, timeout: float = 120, stdin: bytes | None = None) -> Result:
    proc = subprocess.run([sys.executable, "-m", "qvisor.cli", *argv], capture_output=True,
                          timeout=timeout, cwd=ROOT, input=stdin)
    return Result(proc.returncode, proc.stdout.decode(errors="replace"),
                  proc.stderr.decode(errors="replace"))


def run_in_quark(bundle: Path, args: list[str], **config: object) -> Result:
    write_config(bundle, args, **config)
    return quark("run", str(bundle))


def run_native(rootfs: Path, args: list[str], env: list[str] | None = None) -> Result:
    """The same program natively: chroot into the same rootfs, same env and cwd."""
    environ = dict(e.split("=", 1) for e in (env if env is not None else ENV))
    proc = subprocess.run([CHROOT, str(rootfs), *args], capture_output=True, env=environ,
                          timeout=120, cwd="/")
    return Result(proc.returncode, proc.stdout.decode(errors="replace"),
                  proc.stderr.decode(errors="replace"))
