"""The one error a spec can produce: a reason tied to a file and line."""
from __future__ import annotations


class SpecError(Exception):
    """A spec is invalid; `str()` is the single line the CLI prints."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason
