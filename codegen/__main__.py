"""`python -m codegen [--check] [--spec DIR] [--out DIR]` (run from the repo root)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen.errors import SpecError
from codegen.render import render_all

ROOT = Path(__file__).resolve().parent.parent


def write_outputs(files: dict[str, str], out_dir: Path) -> list[str]:
    """Write files that changed; returns their names (so mtimes stay put otherwise)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for name in sorted(files):
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != files[name]:
            path.write_text(files[name], encoding="utf-8")
            changed.append(name)
    return changed


def stale_outputs(files: dict[str, str], out_dir: Path) -> list[str]:
    """Names of generated files that are missing or differ from the specs."""
    stale = []
    for name in sorted(files):
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != files[name]:
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m codegen", description="Generate generated/ from spec/.")
    ap.add_argument("--spec", type=Path, default=ROOT / "spec", help="spec directory (default: spec/)")
    ap.add_argument("--out", type=Path, default=ROOT / "generated", help="output directory (default: generated/)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the output directory is stale")
    ap.add_argument("-q", "--quiet", action="store_true", help="no warnings")
    args = ap.parse_args(argv)
    try:
        files, warnings = render_all(args.spec)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    if not args.quiet:
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
    if args.check:
        stale = stale_outputs(files, args.out)
        if stale:
            print(f"generated/ is stale ({', '.join(stale)}): run `make gen`", file=sys.stderr)
            return 1
        return 0
    for name in write_outputs(files, args.out):
        print(f"wrote {args.out.name}/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
