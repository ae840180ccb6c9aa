"""Guest physical memory: one large host mapping, and the frames in it.

The mapping is MAP_NORESERVE anonymous memory: untouched frames cost the
host nothing and read as zero, so mapping guest memory eagerly is free
(DESIGN §3). Freed frames are given back with MADV_DONTNEED, which also
zeroes them for their next user.
"""
from __future__ import annotations

import ctypes
import mmap
import struct

PAGE = 4096
_MAP_NORESERVE = 0x4000        # not exported by Python's mmap module

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]


class PhysicalMemory:
    """The guest's physical address space [0, size) as host memory."""

    def __init__(self, size: int) -> None:
        if size % (2 << 20):
            raise ValueError("guest memory size must be a multiple of 2 MiB")
        addr = _libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE,
                          mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE, -1, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "cannot reserve guest memory")
        self.size = size
        self.host_addr: int = addr
        self.view = memoryview((ctypes.c_char * size).from_address(addr)).cast("B")

    def read(self, pa: int, length: int) -> bytes:
        return bytes(self.view[pa:pa + length])

    def write(self, pa: int, data: bytes | bytearray | memoryview) -> None:
        self.view[pa:pa + len(data)] = data

    def read_u64(self, pa: int) -> int:
        return struct.unpack_from("<Q", self.view, pa)[0]

    def write_u64(self, pa: int, value: int) -> None:
        struct.pack_into("<Q", self.view, pa, value)

    def resident(self, frames: list[int]) -> list[bool]:
        """Whether each frame has host memory behind it (untouched ones read as zero)."""
        if not frames:
            return []
        lo, hi = min(frames), max(frames) + PAGE
        vec = (ctypes.c_ubyte * ((hi - lo) // PAGE))()
        if _libc.mincore(ctypes.c_void_p(self.host_addr + lo), hi - lo, vec) != 0:
            return [True] * len(frames)
        return [bool(vec[(pa - lo) // PAGE] & 1) for pa in frames]

    def discard(self, pa: int, length: int) -> None:
        """Give frames back to the host; they read as zero afterwards."""
        _libc.madvise(self.host_addr + pa, length, mmap.MADV_DONTNEED)


class FrameAllocator:
    """Hands out 4 KiB frames above `start`; freed frames are zeroed."""

    def __init__(self, memory: PhysicalMemory, start: int) -> None:
        self.memory = memory
        self.next_free = start
        self.free_frames: list[int] = []
        # Frames with more than one owner (MAP_SHARED memory after fork): owner count.
        self.owners: dict[int, int] = {}

    @property
    def frames_left(self) -> int:
        return (self.memory.size - self.next_free) // PAGE + len(self.free_frames)

    def alloc(self) -> int:
        if self.free_frames:
            return self.free_frames.pop()
        if self.next_free >= self.memory.size:
            raise MemoryError("guest physical memory exhausted")
        pa = self.next_free
        self.next_free += PAGE
        return pa

    def alloc_many(self, count: int) -> list[int]:
        if count > self.frames_left:
            raise MemoryError("guest physical memory exhausted")
        take = min(count, len(self.free_frames))
        frames = self.free_frames[len(self.free_frames) - take:]
        del self.free_frames[len(self.free_frames) - take:]
        rest = count - take
        if rest:
            frames.extend(range(self.next_free, self.next_free + rest * PAGE, PAGE))
            self.next_free += rest * PAGE
        return frames

    def share(self, pa: int) -> None:
        """One more owner for frame `pa`; `free` then only drops an owner."""
        self.owners[pa] = self.owners.get(pa, 1) + 1

    def free(self, frames: list[int]) -> None:
        if self.owners:
            kept = []
            for pa in frames:
                n = self.owners.get(pa)
                if n is None:
                    kept.append(pa)
                elif n <= 2:
                    del self.owners[pa]
                else:
                    self.owners[pa] = n - 1
            frames = kept
        if not frames:
            return
        # Zero in runs of contiguous frames: one madvise per run.
        ordered = sorted(frames)
        run_start = prev = ordered[0]
        for pa in ordered[1:]:
            if pa != prev + PAGE:
                self.memory.discard(run_start, prev + PAGE - run_start)
                run_start = pa
            prev = pa
        self.memory.discard(run_start, prev + PAGE - run_start)
        self.free_frames.extend(frames)
