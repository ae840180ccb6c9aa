"""`python -m bench`: quark vs runc vs native, measured in the same run.

Figures are medians over repeated runs. runc (the Debian package) runs the
same bundle as quark; native runs the program directly on the host. Nothing
here asserts a time: the numbers are printed, with targets for reference.
Each benchmark runs on its own: one that fails (or hangs past --timeout) for
a runner prints "<runner>: failed: <benchmark>: <reason>" and the others go on.

Benchmarks (programs in bench/programs, built static into the bundle's /bin):
  start+teardown  `run` of a static hello, end to end
  getppid         one trivial syscall (getppid_loop)
  spawn           fork + execve of a static true + waitpid (spawn_loop)
  futex rt        two threads handing a turn through a futex word, one
                  round trip = two wait/wake hand-overs (futex_pingpong)
  podman run      `podman run --rm` of hello through conmon, quark vs runc as
                  the runtime (bench/podman_run.py)
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
        subprocess.run(["gcc", "-static", "-O2", "-pthread", "-o", str(rootfs / "bin" / src.stem),
                        str(src)], check=True)
    subprocess.run(QUARK + ["spec", "--bundle", str(bundle)], check=True, cwd=ROOT)
    return bundle


def set_args(bundle: Path, args: list[str]) -> None:
    path = bundle / "config.json"
    config = json.loads(path.read_text())
    config["process"]["args"] = args
    config["process"]["terminal"] = False
    config["root"]["readonly"] = False
    path.write_text(json.dumps(config))


TIMEOUT = 600.0     # seconds per run; --timeout


def timed(cmd: list[str], runs: int, cwd: Path | None = None) -> tuple[float, str]:
    samples, out = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{' '.join(cmd)} timed out after {TIMEOUT:.0f} s") from None
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


# (key, column title, column width, format)
COLUMNS = [
    ("start_ms", "start+teardown (ms)", 20, "{:.1f}"),
    ("getppid_ns", "getppid (ns)", 14, "{:.1f}"),
    ("spawn_us", "spawn (us)", 12, "{:.1f}"),
    ("futex_ns", "futex rt (ns)", 15, "{:.1f}"),
]
RATIO_NAMES = {"start_ms": "start", "getppid_ns": "getppid", "spawn_us": "spawn",
               "futex_ns": "futex"}


def benchmarks(args: argparse.Namespace) -> list[tuple[str, callable]]:
    """(key, fn(runner) -> value) for each benchmark, in table order."""
    def number(out: str) -> float:
        return float(out.strip())

    return [
        ("start_ms", lambda fn: fn(["/bin/hello"], args.runs)[0] * 1000),
        ("getppid_ns", lambda fn: number(fn(["/bin/getppid_loop", str(args.calls)], 3)[1])),
        ("spawn_us", lambda fn: number(fn(["/bin/spawn_loop", str(args.spawns)], 3)[1])),
        ("futex_ns", lambda fn: number(fn(["/bin/futex_pingpong", str(args.rounds)], 3)[1])),
    ]


def main(argv: list[str] | None = None) -> int:
    global TIMEOUT
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--spawns", type=int, default=200, help="fork+exec+wait per run")
    ap.add_argument("--rounds", type=int, default=10000, help="futex round trips per run")
    ap.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per run")
    ap.add_argument("--no-podman", action="store_true", help="skip podman run --rm")
    args = ap.parse_args(argv)
    TIMEOUT = args.timeout
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp:
        bundle = build_bundle(Path(tmp))
        run = runners(bundle)
        results: dict[str, dict[str, float]] = {}
        for name, fn in run.items():
            results[name] = {}
            for key, bench in benchmarks(args):
                try:
                    results[name][key] = bench(fn)
                except (RuntimeError, ValueError, OSError) as exc:
                    print(f"{name}: failed: {RATIO_NAMES[key]}: {exc}", file=sys.stderr)
        podman: dict[str, float] = {}
        if not args.no_podman:
            from bench.podman_run import podman_run_ms
            try:
                podman = podman_run_ms(bundle / "rootfs", args.runs, TIMEOUT)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                print(f"podman: failed: {exc}", file=sys.stderr)
    print(f"{'':10}" + "".join(f" {title:>{width}}" for _, title, width, _ in COLUMNS))
    for name, r in results.items():
        cells = [fmt.format(r[key]) if key in r else "-" for key, _, _, fmt in COLUMNS]
        print(f"{name:10}" + "".join(f" {cell:>{width}}"
                                     for cell, (_, _, width, _) in zip(cells, COLUMNS)))
    q = results.get("quark")
    if q:
        for base in ("native", "runc"):
            b = results.get(base)
            if b:
                ratios = [f"{RATIO_NAMES[key]} x{q[key] / b[key]:.1f}" for key, *_ in COLUMNS
                          if key in q and key in b and b[key] > 0]
                if ratios:
                    print(f"quark/{base}: " + ", ".join(ratios))
        print("targets on this PVM host: start+teardown <= 60 ms, getppid <= 25000 ns, "
              "spawn (fork+exec+wait) <= 5000 us (runsc-ptrace here: 7000 us)")
    if podman:
        line = "podman run --rm hello (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in podman.items())
        if "quark" in podman and podman.get("runc"):
            line += f"; quark/runc x{podman['quark'] / podman['runc']:.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
