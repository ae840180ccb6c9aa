"""FsContext: a task's root, working directory and umask."""
from __future__ import annotations

from dataclasses import dataclass

from qkernel.vfs.mounts import Location


@dataclass
class FsContext:
    root: Location
    cwd: Location
    umask: int = 0o022

    @property
    def cwd_path(self) -> str:
        """The guest path of the working directory (what getcwd returns)."""
        return self.cwd.path

    def fork(self) -> "FsContext":
        return FsContext(self.root, self.cwd, self.umask)
