"""Small validation helpers shared by the spec loaders."""
from __future__ import annotations

import re
from typing import Any, Iterable

from codegen.errors import SpecError
from codegen.yamlload import LDict, LList

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def where(node: Any, key: str | None = None, fallback: LDict | LList | None = None) -> tuple[str, int]:
    """(path, line) of `node` (or of `key` inside it) for an error message."""
    for cand in (node, fallback):
        if isinstance(cand, LDict):
            return cand.path, cand.line_of(key) if key else cand.line
        if isinstance(cand, LList):
            return cand.path, cand.line
    return "<spec>", 1


def fail(node: Any, reason: str, key: str | None = None, parent: Any = None) -> SpecError:
    path, line = where(node, key, parent)
    return SpecError(path, line, reason)


def need_map(node: Any, what: str, parent: Any = None) -> LDict:
    if not isinstance(node, LDict):
        raise fail(node, f"{what} must be a mapping", parent=parent)
    return node


def need_list(node: Any, what: str, parent: Any = None, key: str | None = None) -> LList:
    if not isinstance(node, LList):
        raise fail(parent if key else node, f"{what} must be a list", key=key, parent=parent)
    return node


def check_keys(m: LDict, what: str, required: Iterable[str], optional: Iterable[str] = ()) -> None:
    """Unknown keys and missing required keys are errors (typos must not pass)."""
    req = list(required)
    allowed = set(req) | set(optional)
    for key in m:
        if key not in allowed:
            raise fail(m, f"unknown key {key!r} in {what}", key=str(key))
    for key in req:
        if key not in m:
            raise fail(m, f"missing required key {key!r} in {what}")


def need_str(m: LDict, key: str, what: str, pattern: re.Pattern[str] | None = None) -> str:
    val = m[key]
    if not isinstance(val, str) or (pattern is not None and not pattern.match(val)):
        raise fail(m, f"{what}: {key} must be {'a name' if pattern else 'a string'}, got {val!r}", key=key)
    return val


def need_int(m: LDict, key: str, what: str, minimum: int | None = None) -> int:
    val = m[key]
    if isinstance(val, bool) or not isinstance(val, int) or (minimum is not None and val < minimum):
        raise fail(m, f"{what}: {key} must be an integer{'' if minimum is None else f' >= {minimum}'}, got {val!r}", key=key)
    return val
