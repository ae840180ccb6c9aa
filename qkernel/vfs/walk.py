"""Guest path resolution: names, '.', '..', mount crossings and symlinks.

'.' and '..' are handled here against the mount tree; each run of plain
names inside one mount is handed to its file system in one call to find
the first symlink (one host openat2 in the common case); a symlink's target
is spliced into the remaining path, so symlinks may cross mounts as they do
on Linux, and an absolute target restarts from the task's root, never the
host's.
"""
from __future__ import annotations

import errno
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qkernel.errors import SyscallError
from qkernel.vfs.mounts import Location, Vfs

if TYPE_CHECKING:  # pragma: no cover
    pass

MAXSYMLINKS = 40
PATH_MAX = 4096


@dataclass(frozen=True)
class Resolved:
    loc: Location
    must_dir: bool = False        # the path ended in '/' (or '/.'): a directory is required


def resolve(vfs: Vfs, task: Any, start: Location, path: str, follow_last: bool = True) -> Resolved:
    if not path:
        raise SyscallError(errno.ENOENT)
    if len(path) >= PATH_MAX:
        raise SyscallError(errno.ENAMETOOLONG)
    root: Location = task.fs.root
    must_dir = path.endswith("/") or path.endswith("/.") or path in (".", "..") or path.endswith("/..")
    if must_dir:
        follow_last = True
    pending: deque[str] = deque(c for c in path.split("/") if c and c != ".")
    loc = root if path.startswith("/") else start
    links = 0
    while pending:
        name = pending.popleft()
        if len(name) > 255:
            raise SyscallError(errno.ENAMETOOLONG)
        if name == "..":
            if loc != root:
                loc = vfs.parent(loc)
            continue
        if loc.file is not None:
            loc = _enter_file(loc)
        nxt = vfs.child(loc, name)
        if nxt.mount is not loc.mount:
            loc = nxt                  # a mount's root is never a symlink
            continue
        # A run of plain names inside this mount, resolved in one call.
        run = [name]
        while pending and pending[0] != ".." and vfs.mount_at(loc.abs_parts + tuple(run) + (pending[0],)) is None:
            if len(pending[0]) > 255:
                raise SyscallError(errno.ENAMETOOLONG)
            run.append(pending.popleft())
        last_is_final = not pending
        hit = loc.fs.first_symlink(task, loc.parts, tuple(run), follow_last or not last_is_final)
        if hit is None:
            loc = Location(loc.mount, loc.parts + tuple(run))
            continue
        i, target = hit
        links += 1
        if links > MAXSYMLINKS:
            raise SyscallError(errno.ELOOP)
        pending.extendleft(reversed(run[i + 1:]))
        if not isinstance(target, str):          # a magic link: the open file itself
            if target.location is not None:
                loc = target.location
            else:
                loc = Location(loc.mount, loc.parts + tuple(run[: i + 1]), file=target)
            continue
        if not target:
            raise SyscallError(errno.ENOENT)
        pending.extendleft(reversed([c for c in target.split("/") if c and c != "."]))
        loc = root if target.startswith("/") else Location(loc.mount, loc.parts + tuple(run[:i]))
    return Resolved(loc, must_dir)


def _enter_file(loc: Location) -> Location:
    """More names after a magic link: only a directory may have them."""
    assert loc.file is not None
    if loc.file.location is not None and loc.file.is_dir:
        return loc.file.location
    raise SyscallError(errno.ENOTDIR)
