"""Credentials of a task (the guest's own uids and gids; no host meaning)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Credentials:
    uid: int = 0
    gid: int = 0
    euid: int = 0
    egid: int = 0
    suid: int = 0
    sgid: int = 0
    fsuid: int = 0
    fsgid: int = 0
    groups: list[int] = field(default_factory=list)

    @classmethod
    def for_user(cls, uid: int, gid: int, groups: list[int] | None = None) -> "Credentials":
        return cls(uid, gid, uid, gid, uid, gid, uid, gid, list(groups or []))
