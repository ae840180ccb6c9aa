"""`podman run --rm` of the static hello, through conmon, with quark and with
runc as the OCI runtime: the whole path a user of podman pays for.

The store is private (tests/clients/podman.py: no network, cgroupfs, the
flags these machines need); the image is the bench bundle's rootfs.
"""
from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

from tests.clients import resolve_runtime
from tests.clients.podman import RUN_FLAGS, Podman


def podman_run_ms(rootfs: Path, runs: int, timeout: float) -> dict[str, float]:
    """Median wall time (ms) of `podman run --rm IMAGE /bin/hello` per runtime."""
    if shutil.which("podman") is None or shutil.which("conmon") is None:
        raise RuntimeError("podman or conmon is not installed")
    runtimes = {"quark": resolve_runtime("quark")}
    if shutil.which("runc"):
        runtimes["runc"] = resolve_runtime("runc")
    podman = Podman(runtimes)
    try:
        image = podman.import_image(rootfs, "localhost/quark-bench:latest")
        out: dict[str, float] = {}
        for name in runtimes:
            samples = []
            for i in range(runs + 1):          # the first run warms podman's caches
                t0 = time.perf_counter()
                proc = podman.run("run", "--rm", *RUN_FLAGS, image, "/bin/hello",
                                  runtime=name, timeout=timeout)
                elapsed = time.perf_counter() - t0
                if proc.returncode != 0 or "hello" not in proc.stdout:
                    raise RuntimeError(f"podman run with {name} failed ({proc.returncode}): "
                                       f"{proc.stderr.strip()[:300]}")
                if i:
                    samples.append(elapsed)
            out[name] = statistics.median(samples) * 1000
        return out
    finally:
        podman.cleanup()

