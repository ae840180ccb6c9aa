"""Rewrites each syscall's `tests:` list in spec/syscalls/*.yaml from the
`// covers:` lines of tests/conformance/*.c (the programs say what they
cover; the spec records it). Run after adding a conformance program."""
from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def covers() -> dict[str, list[str]]:
    by_syscall: dict[str, list[str]] = defaultdict(list)
    for prog in sorted((ROOT / "tests" / "conformance").glob("*.c")):
        first = prog.read_text().splitlines()[0]
        if first.startswith("// covers:"):
            for name in first.split(":", 1)[1].split():
                by_syscall[name].append(prog.stem)
    return by_syscall


def sync(path: Path, table: dict[str, list[str]]) -> bool:
    lines = path.read_text().splitlines(keepends=True)
    current = None
    changed = False
    for i, line in enumerate(lines):
        m = re.match(r"^\s+name: (\S+)\s*$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^(\s+)tests: .*$", line)
        if m and current is not None:
            new = f"{m.group(1)}tests: [{', '.join(table.get(current, []))}]\n"
            if new != line:
                lines[i] = new
                changed = True
            current = None
    if changed:
        path.write_text("".join(lines))
    return changed


def main() -> int:
    table = covers()
    for path in sorted((ROOT / "spec" / "syscalls").glob("*.yaml")):
        if sync(path, table):
            print("updated", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
