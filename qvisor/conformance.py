"""Syscall conformance runner: each program in tests/conformance/ runs natively
and under quark; stdout and exit status must match.

Conventions (tests/conformance/README.md): programs are static, print only
deterministic lines, start with cwd "/" and write only below /tmp in a
scratch directory of their own; they run as root (uid 0) in both worlds, and
natively in a new session so that, like quark's pid 1, they lead their
session and process group.

Then every syscall number is reported with its spec status, the programs that
cover it (the codegen manifest's `tests` plus the programs' `// covers:`
lines) and pass / fail / not-run, in reports/conformance.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests" / "conformance"
BIN = TESTS / "bin"
MANIFEST = REPO / "generated" / "conformance_manifest.json"
SPEC_DIR = REPO / "spec" / "syscalls"
ROOTFS = REPO / "bundles" / "busybox" / "rootfs"
TIMEOUT_S = 120
COVERS_RE = re.compile(r"^//\s*covers:\s*(.*)$", re.MULTILINE)


@dataclass
class Run:
    status: int | None          # exit status; None = timed out or did not start
    stdout: str
    stderr: str = ""


@dataclass
class Result:
    name: str
    covers: list[str]
    verdict: str                # pass | fail | error | native-only
    detail: str = ""
    native: dict[str, Any] = field(default_factory=dict)
    quark: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- programs

def programs() -> dict[str, list[str]]:
    """name -> syscalls listed on the program's `// covers:` line."""
    out: dict[str, list[str]] = {}
    for src in sorted(TESTS.glob("*.c")):
        m = COVERS_RE.search(src.read_text(errors="replace"))
        out[src.stem] = m.group(1).split() if m else []
    return out


def build() -> None:
    # make itself decides what is stale (every bin/<name> depends on <name>.c and qc.h).
    subprocess.run(["make", "-s", "-C", str(TESTS)], check=True)


def run_native(name: str) -> Run:
    try:
        p = subprocess.run([str(BIN / name)], cwd="/", stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT_S, start_new_session=True,
                           env={"PATH": "/usr/bin:/bin", "HOME": "/root"})
    except subprocess.TimeoutExpired as e:
        return Run(None, _text(e.stdout), "timeout")
    return Run(p.returncode, _text(p.stdout), _text(p.stderr))


def _text(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b if isinstance(b, str) else b.decode("utf-8", "replace")


def _spec_for(name: str) -> dict[str, Any]:
    try:
        from qvisor.oci.spec import default_spec
        spec = default_spec()
    except ImportError:     # pragma: no cover - the OCI layer is always there in-tree
        spec = {"ociVersion": "1.0.2", "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/",
                                                   "env": []}, "root": {}, "mounts": []}
    proc = spec.setdefault("process", {})
    proc["args"] = [f"/t/{name}"]
    proc["terminal"] = False
    proc["cwd"] = "/"
    # The reference is the program run natively, where no_new_privs starts unset.
    proc["noNewPrivileges"] = False
    proc.setdefault("env", ["PATH=/usr/bin:/bin"])
    # The programs write below /tmp of the (private, copied) root.
    spec["root"] = {"path": "rootfs", "readonly": False}
    return spec


def make_bundle(name: str, parent: str) -> Path:
    bundle = Path(parent) / "bundle"
    rootfs = bundle / "rootfs"
    if ROOTFS.is_dir():
        shutil.copytree(ROOTFS, rootfs, symlinks=True)
    else:
        rootfs.mkdir(parents=True)
    for d in ("t", "tmp", "proc", "dev"):
        (rootfs / d).mkdir(exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    shutil.copy2(BIN / name, rootfs / "t" / name)
    (bundle / "config.json").write_text(json.dumps(_spec_for(name), indent=2))
    return bundle


def quark_command() -> list[str]:
    """How to start quark: the installed script next to this Python, else the module."""
    script = Path(sys.executable).with_name("quark")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from qvisor.cli import main; sys.exit(main())"]


def run_quark(name: str) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"quark-conf-{name}-") as tmp:
        bundle = make_bundle(name, tmp)
        cmd = quark_command() + ["--log", str(Path(tmp) / "quark.log"),
                                 "run", "--bundle", str(bundle), f"conf-{name}-{os.getpid()}"]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        try:
            p = subprocess.run(cmd, cwd=str(REPO), stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired as e:
            return Run(None, _text(e.stdout), "timeout")
        return Run(p.returncode, _text(p.stdout), _text(p.stderr)[-4000:])


def _first_difference(a: str, b: str) -> str:
    al, bl = a.splitlines(), b.splitlines()
    for i in range(max(len(al), len(bl))):
        x = al[i] if i < len(al) else "<missing>"
        y = bl[i] if i < len(bl) else "<missing>"
        if x != y:
            return f"line {i + 1}: native {x!r} / quark {y!r}"
    return ""


def check(name: str, covers: list[str], with_quark: bool) -> Result:
    native = run_native(name)
    res = Result(name, covers, "native-only", native=asdict(native))
    if native.status != 0:
        res.verdict, res.detail = "error", f"native run exited {native.status}: fix the test"
        return res
    if not with_quark:
        return res
    q = run_quark(name)
    res.quark = asdict(q)
    if q.stdout == native.stdout and q.status == native.status:
        res.verdict = "pass"
    else:
        res.verdict = "fail"
        res.detail = (f"exit native {native.status} / quark {q.status}; "
                      + (_first_difference(native.stdout, q.stdout) or "same stdout"))
    return res


# ---------------------------------------------------------------- syscall table

def syscall_table() -> list[dict[str, Any]]:
    """Every syscall number with name, status, notes and tests: from the
    codegen manifest, or straight from the specs when it is missing."""
    if MANIFEST.exists():
        data = json.loads(MANIFEST.read_text())
        rows = data["syscalls"] if isinstance(data, dict) else data
    else:
        import yaml
        rows = []
        for f in sorted(SPEC_DIR.glob("*.yaml")):
            for e in yaml.safe_load(f.read_text()) or []:
                if isinstance(e, dict) and "nr" in e and "name" in e:
                    rows.append(e)
    out = []
    for r in rows:
        out.append({"nr": int(r["nr"]), "name": str(r["name"]),
                    "status": str(r.get("status", "unsupported")),
                    "notes": str(r.get("notes", "") or ""),
                    "tests": list(r.get("tests", []) or [])})
    return sorted(out, key=lambda r: r["nr"])


def merge(table: list[dict[str, Any]], progs: dict[str, list[str]],
          results: dict[str, Result]) -> list[dict[str, Any]]:
    by_name: dict[str, set[str]] = {}
    for prog, names in progs.items():
        for n in names:
            by_name.setdefault(n, set()).add(prog)
    rows = []
    for r in table:
        tests = sorted(set(r["tests"]) | by_name.get(r["name"], set()))
        verdicts = [results[t].verdict for t in tests if t in results]
        if not verdicts:
            outcome = "not-run"
        elif any(v in ("fail", "error") for v in verdicts):
            outcome = "fail"
        elif all(v == "pass" for v in verdicts):
            outcome = "pass"
        else:
            outcome = "not-run"          # native-only runs prove nothing about quark
        rows.append(dict(r, tests=tests, result=outcome,
                         missing_tests=[t for t in tests if t not in progs]))
    return rows


def write_reports(out: Path, rows: list[dict[str, Any]], results: dict[str, Result]) -> str:
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for r in rows:
        key = f"{r['status']}/{r['result']}"
        counts[key] = counts.get(key, 0) + 1
    summary = ["| status | pass | fail | not-run |", "|---|---|---|---|"]
    for status in ("implemented", "partial", "unsupported"):
        summary.append(f"| {status} | " + " | ".join(
            str(counts.get(f"{status}/{res}", 0)) for res in ("pass", "fail", "not-run")) + " |")
    progs = ["| program | verdict | detail |", "|---|---|---|"]
    progs += [f"| {r.name} | {r.verdict} | {r.detail.replace('|', '/')} |"
              for r in sorted(results.values(), key=lambda r: r.name)]
    table = ["| nr | name | status | tests | result |", "|---|---|---|---|---|"]
    table += [f"| {r['nr']} | {r['name']} | {r['status']} | {' '.join(r['tests'])} | {r['result']} |"
              for r in rows]
    md = "\n".join(["# Syscall conformance", "", "## Summary", "", *summary, "",
                    "## Programs", "", *progs, "", "## Every syscall", "", *table, ""])
    (out / "conformance.md").write_text(md)
    (out / "conformance.json").write_text(json.dumps(
        {"syscalls": rows, "programs": {k: asdict(v) for k, v in sorted(results.items())}},
        indent=1, sort_keys=True))
    return "\n".join(summary + [""] + progs)


# ---------------------------------------------------------------- entry point

def parse_args(argv: Sequence[str] | argparse.Namespace | None) -> argparse.Namespace:
    if isinstance(argv, argparse.Namespace):     # called from `quark conformance`
        ns = argv
        return argparse.Namespace(out=getattr(ns, "out", None), only=getattr(ns, "only", None),
                                  no_quark=getattr(ns, "no_quark", False))
    p = argparse.ArgumentParser(prog="quark-conformance", description=__doc__.splitlines()[0])
    p.add_argument("--out", metavar="DIR", help="report directory (default: reports/)")
    p.add_argument("--only", metavar="NAME", action="append",
                   help="run only this program (repeatable)")
    p.add_argument("--no-quark", action="store_true", help="native runs only (debugging tests)")
    return p.parse_args(list(argv) if argv is not None else None)


def main(argv: Sequence[str] | argparse.Namespace | None = None) -> int:
    args = parse_args(argv)
    build()
    progs = programs()
    only = args.only
    if isinstance(only, str):
        only = [only]
    names = [n for n in progs if not only or n in only]
    unknown = set(only or []) - set(progs)
    if unknown:
        print(f"no such conformance program: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    results: dict[str, Result] = {}
    for name in names:
        res = check(name, progs[name], not args.no_quark)
        results[name] = res
        print(f"{res.verdict:12} {name}" + (f"  ({res.detail})" if res.detail else ""), flush=True)
    rows = merge(syscall_table(), progs, results)
    out = Path(args.out) if args.out else REPO / "reports"
    print(write_reports(out, rows, results))
    print(f"reports: {out / 'conformance.md'} {out / 'conformance.json'}")
    bad = [r for r in results.values() if r.verdict in ("fail", "error")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
