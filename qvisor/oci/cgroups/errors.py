"""The one exception of the cgroup package."""
from __future__ import annotations


class CgroupError(Exception):
    """A cgroup operation failed; str() is one line naming the file and value."""

    def __init__(self, msg: str) -> None:
        super().__init__(" ".join(str(msg).split()))
