"""Virtual memory areas: what the guest mapped, with which rights."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_SHARED_VALIDATE = 0x03
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_GROWSDOWN = 0x100
MAP_DENYWRITE = 0x800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_NONBLOCK = 0x10000
MAP_STACK = 0x20000
MAP_HUGETLB = 0x40000
MAP_SYNC = 0x80000
MAP_FIXED_NOREPLACE = 0x100000


@dataclass
class Vma:
    start: int
    end: int                 # exclusive, page aligned
    prot: int
    flags: int
    name: str = ""           # "[heap]", "[stack]", a file path, or ""
    file_offset: int = 0
    # A MAP_SHARED file mapping holds its open file (one reference per Vma)
    # so that its pages can be written back (msync, munmap, exit).
    shared_file: Any = None

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def is_shared(self) -> bool:
        return self.flags & MAP_TYPE in (MAP_SHARED, MAP_SHARED_VALIDATE)

    def piece(self, start: int, end: int) -> "Vma":
        """The part of this area in [start, end), as its own Vma."""
        if self.shared_file is not None:
            self.shared_file.incref()
        return Vma(start, end, self.prot, self.flags, self.name,
                   self.file_offset + (start - self.start) if self.name else 0,
                   self.shared_file)

    def drop(self) -> None:
        """This Vma is gone: let go of its file."""
        if self.shared_file is not None:
            self.shared_file.decref()
            self.shared_file = None
