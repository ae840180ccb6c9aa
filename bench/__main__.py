"""`python -m bench`: quark vs runc vs native, measured in the same run.

Figures are medians over repeated runs. runc (the Debian package) runs the
same bundle as quark; native runs the program directly on the host. Nothing
here asserts a time: the numbers are printed, with targets for reference.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"
QUARK = [sys.executable, "-m", "qvisor.cli"]


def build_bundle(workdir: Path) -> Path:
    bundle = workdir / "bundle"
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    for d in ("proc", "dev", "tmp", "sys"):
        (rootfs / d).mkdir()
    for src in PROGRAMS.glob("*.c"):
        subprocess.run(["gcc", "-static", "-O2", "-o", str(rootfs / "bin" / src.stem), str(src)],
                       check=True)
    subprocess.run(QUARK + ["spec", "--bundle", str(bundle)], check=True, cwd=ROOT)
    return bundle


def set_args(bundle: Path, args: list[str]) -> None:
    path = bundle / "config.json"
    config = json.loads(path.read_text())
    config["process"]["args"] = args
    config["process"]["terminal"] = False
    config["root"]["readonly"] = False
    path.write_text(json.dumps(config))


def timed(cmd: list[str], runs: int, cwd: Path | None = None) -> tuple[float, str]:
    samples, out = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
        samples.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
        out = proc.stdout
    return statistics.median(samples), out


def runners(bundle: Path) -> dict[str, callable]:
    rootfs = bundle / "rootfs"
    have_runc = shutil.which("runc") is not None and os.geteuid() == 0

    def native(args: list[str], runs: int) -> tuple[float, str]:
        return timed([str(rootfs / args[0].lstrip("/"))] + args[1:], runs)

    def quark(args: list[str], runs: int) -> tuple[float, str]:
        set_args(bundle, args)
        return timed(QUARK + ["run", str(bundle)], runs, cwd=ROOT)

    def runc(args: list[str], runs: int) -> tuple[float, str]:
        set_args(bundle, args)
        name = f"quark-bench-{os.getpid()}"
        return timed(["runc", "--root", str(bundle.parent / "runc-state"), "run", "--bundle",
                      str(bundle), name], runs)

    out = {"native": native, "quark": quark}
    if have_runc:
        out["runc"] = runc
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--calls", type=int, default=100000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp:
        bundle = build_bundle(Path(tmp))
        run = runners(bundle)
        results: dict[str, dict[str, float]] = {}
        for name, fn in run.items():
            try:
                start, _ = fn(["/bin/hello"], args.runs)
                _, out = fn(["/bin/getppid_loop", str(args.calls)], 3)
                results[name] = {"start_ms": start * 1000, "getppid_ns": float(out.strip())}
            except (RuntimeError, ValueError) as exc:
                print(f"{name}: failed: {exc}", file=sys.stderr)
    print(f"{'':10} {'start+teardown (ms)':>20} {'getppid (ns)':>14}")
    for name, r in results.items():
        print(f"{name:10} {r['start_ms']:20.1f} {r['getppid_ns']:14.1f}")
    q = results.get("quark")
    if q:
        for base in ("native", "runc"):
            b = results.get(base)
            if b:
                print(f"quark/{base}: start x{q['start_ms'] / b['start_ms']:.1f}, "
                      f"getppid x{q['getppid_ns'] / b['getppid_ns']:.1f}")
        print("targets on this PVM host: start+teardown <= 60 ms, getppid <= 25000 ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
