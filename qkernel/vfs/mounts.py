"""The mount tree: guest absolute paths -> mounted file systems.

Mount points are matched lexically: a Location is (mount, names inside it),
and '..' at a mount's root steps to the mount point's parent in the parent
mount, as Linux does, without asking any host file system.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qkernel.vfs.fsbase import FileSystem, Parts
from qkernel.vfs.pipe import PipeFactory

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.file import OpenFile


@dataclass
class Mount:
    fs: FileSystem
    point: Parts                    # absolute guest path of the mount point
    source: str = "none"
    type: str = "none"
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Location:
    """A place in the guest's tree. `file` is set only for what a procfs
    magic link (/proc/self/fd/N) names when the file has no path of its
    own (pipes, host stdio)."""
    mount: Mount
    parts: Parts = ()
    file: "OpenFile | None" = field(default=None, compare=False)

    @property
    def abs_parts(self) -> Parts:
        return self.mount.point + self.parts

    @property
    def path(self) -> str:
        return "/" + "/".join(self.abs_parts)

    @property
    def fs(self) -> FileSystem:
        return self.mount.fs

    @property
    def is_mount_root(self) -> bool:
        return not self.parts


class Vfs:
    def __init__(self, root_fs: FileSystem, log: object = None) -> None:
        self.root_mount = Mount(root_fs, (), "rootfs", "rootfs")
        self.mounts: dict[Parts, Mount] = {(): self.root_mount}
        self.log = log
        self.temp_dirs: list[str] = []     # host dirs serving tmpfs mounts; removed by close()
        self.pipes = PipeFactory()         # the kernel's pipe numbering

    # -- building -------------------------------------------------------------
    def mount(self, point: Parts, fs: FileSystem, source: str = "none", type_: str = "none",
              options: list[str] | None = None, cover: bool = False) -> Mount:
        """Mount `fs` at `point`. With `cover`, the mounts below `point` go
        too: on Linux they stay attached to the covered mount, out of reach,
        but in a lexical tree they would still be found by path."""
        m = Mount(fs, point, source, type_, list(options or []))
        old = self.mounts.get(point)
        if old is not None and old is not self.root_mount:
            old.fs.close()             # a later mount at the same place hides the earlier
        if cover:
            for below in [p for p in self.mounts if len(p) > len(point) and p[:len(point)] == point]:
                self.mounts.pop(below).fs.close()
        self.mounts[point] = m
        if not point:
            self.root_mount = m
        return m

    def close(self) -> None:
        import shutil
        for m in self.mounts.values():
            m.fs.close()
        for d in self.temp_dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.temp_dirs.clear()

    # -- navigation -----------------------------------------------------------
    def root(self) -> Location:
        return Location(self.root_mount)

    def mount_at(self, abs_parts: Parts) -> Mount | None:
        return self.mounts.get(abs_parts)

    def child(self, loc: Location, name: str) -> Location:
        abs_parts = loc.abs_parts + (name,)
        m = self.mounts.get(abs_parts)
        if m is not None:
            return Location(m)
        return Location(loc.mount, loc.parts + (name,))

    def parent_mount(self, m: Mount) -> Mount | None:
        if m is self.root_mount:
            return None
        for n in range(len(m.point) - 1, -1, -1):
            p = self.mounts.get(m.point[:n])
            if p is not None:
                return p
        return self.root_mount

    def parent(self, loc: Location) -> Location:
        if loc.file is not None and loc.file.location is None:
            loc = Location(loc.mount, loc.parts)
        if loc.parts:
            return Location(loc.mount, loc.parts[:-1])
        pm = self.parent_mount(loc.mount)
        if pm is None:
            return loc                 # '..' of / is /
        inner = loc.mount.point[len(pm.point):]
        return Location(pm, inner[:-1]) if inner else self.parent(Location(pm))

    def locate(self, abs_parts: Parts) -> Location:
        """Lexical location of an absolute path (no symlinks followed)."""
        loc = self.root()
        for name in abs_parts:
            loc = self.child(loc, name)
        return loc

    def mounts_in_order(self) -> list[Mount]:
        return sorted(self.mounts.values(), key=lambda m: len(m.point))
