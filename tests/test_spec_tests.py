"""The spec's `tests:` lists agree with what the conformance programs cover,
and no syscall marked implemented or partial is without a test."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import sync_spec_tests  # noqa: E402


def manifest() -> list[dict]:
    data = json.loads((ROOT / "generated" / "conformance_manifest.json").read_text())
    return data["syscalls"] if isinstance(data, dict) else data


def test_every_implemented_syscall_has_a_test() -> None:
    missing = [e["name"] for e in manifest()
               if e["status"] in ("implemented", "partial") and not e["tests"]]
    assert missing == []


def test_spec_tests_match_covers_lines() -> None:
    covers = sync_spec_tests.covers()
    for entry in manifest():
        assert sorted(entry["tests"]) == sorted(covers.get(entry["name"], [])), entry["name"]


def test_listed_tests_exist() -> None:
    for entry in manifest():
        for name in entry["tests"]:
            assert (ROOT / "tests" / "conformance" / f"{name}.c").exists(), name
