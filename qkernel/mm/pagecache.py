"""The page cache: one physical frame per page of a file, shared by every
process of the sandbox that maps that file.

Why: every dynamic program maps libc.so, ld.so and friends. Mapping the same
frames read-only into each address space keeps one copy of each page in guest
memory (and in the host's page cache behind it: the frame is read once).

Keys are (st_dev, st_ino, page index) of the file as QKernel stats it (host
numbers for host files). A file whose (mtime, size) changed since its pages
were cached starts over with fresh pages: the old frames stay with the
mappings that hold them and are freed with their last reference. Coherence
with later write(2)s to a file already mapped is NOT kept for MAP_PRIVATE
mappings (Linux keeps it until the first write to the page; programs that
rely on that are rare; note it before relying on it).

Ownership: the cache counts references to its frames (one per PTE that
points at it); AddressSpace hands frames it would free to `release`, which
keeps the cache's own. Pinned frames (the vDSO and its data page) are never
freed. Unreferenced cached pages stay for the next mapper, up to `limit`
pages, then the least recently released are freed.

Residual window (noted, not handled): an unmapped page's reference is
dropped at munmap time, before the guest's deferred TLB flush; the frame is
only reused once it is evicted as the oldest idle page, which needs the cache
to overflow in between.

Every method is called with the kernel lock held (the loader and syscalls).
"""
from __future__ import annotations

import errno
from collections import OrderedDict
from typing import Any, Iterable

from qkernel.errors import SyscallError
from qkernel.mm.physmem import PAGE, FrameAllocator, PhysicalMemory
from qkernel.vfs.file import pread_full

FileKey = tuple[int, int]               # (st_dev, st_ino)
PageKey = tuple[int, int, int]          # (st_dev, st_ino, page index)
_PINNED = 1 << 40                       # a reference count no unmap can end


class PageCache:
    def __init__(self, memory: PhysicalMemory, frames: FrameAllocator,
                 limit: int | None = None) -> None:
        self.memory = memory
        self.frames = frames
        # Default: up to a quarter of guest memory in idle cached pages.
        self.limit = limit if limit is not None else max(256, memory.size // PAGE // 4)
        self._pages: dict[PageKey, int] = {}              # current pages of current files
        self._key_of: dict[int, PageKey | None] = {}      # frame -> key (None: orphan)
        self._refs: dict[int, int] = {}                   # frame -> references
        self._version: dict[FileKey, tuple[int, int]] = {}   # file -> (mtime_ns, size)
        self._file_pages: dict[FileKey, set[int]] = {}
        self._idle: OrderedDict[int, None] = OrderedDict()   # cached frames with no reference

    # ---- what AddressSpace asks ------------------------------------------------
    def owns(self, frame: int) -> bool:
        return frame in self._refs

    def ref(self, frame: int) -> None:
        """One more PTE points at `frame` (fork copying a mapping, say)."""
        self._refs[frame] += 1
        self._idle.pop(frame, None)

    def unref(self, frame: int) -> None:
        refs = self._refs[frame] - 1
        self._refs[frame] = refs
        if refs > 0:
            return
        if self._key_of.get(frame) is None:       # orphan of a changed file: nobody wants it
            self._forget(frame)
            self.frames.free([frame])
            return
        self._idle[frame] = None
        self._evict()

    def release(self, frames: Iterable[int]) -> list[int]:
        """Drop one reference to each cache frame in `frames`; return the others
        (the caller's own frames, which it frees as before)."""
        own = []
        for frame in frames:
            if frame in self._refs:
                self.unref(frame)
            else:
                own.append(frame)
        return own

    def copy_frame(self, frame: int) -> int:
        """A fresh private frame holding the same bytes (copy on write/protect)."""
        new = self.frames.alloc()
        view = self.memory.view
        view[new:new + PAGE] = view[frame:frame + PAGE]
        return new

    # ---- filling -----------------------------------------------------------------
    def pin(self, frames: Iterable[int]) -> None:
        """Make frames the kernel keeps for the sandbox's life (the vDSO) shared
        like cache pages: mapped into every process, freed by none."""
        for frame in frames:
            self._refs[frame] = _PINNED
            self._key_of[frame] = None

    def knows(self, dev: int, ino: int) -> bool:
        return (dev, ino) in self._version

    def file_written(self, dev: int, ino: int, offset: int, data: bytes, mtime_ns: int,
                     size: int) -> None:
        """write(2) to a cached file: update its cached pages (so MAP_SHARED
        mappings see the write) and accept the file's new version."""
        fkey = (dev, ino)
        if fkey not in self._version or not data:
            return
        end = offset + len(data)
        for index in range(offset // PAGE, (end - 1) // PAGE + 1):
            frame = self._pages.get((dev, ino, index))
            if frame is None:
                continue
            lo, hi = max(offset, index * PAGE), min(end, (index + 1) * PAGE)
            self.memory.write(frame + lo - index * PAGE, data[lo - offset:hi - offset])
        self._version[fkey] = (mtime_ns, size)

    def get_pages(self, task: Any, file: Any, st: Any, first: int, count: int) -> list[int]:
        """Frames for pages [first, first+count) of an open file, each with one new
        reference the caller passes on to a PTE. Pages past EOF are not cached:
        ask only for pages that hold file data. The tail of the last page past
        EOF reads as zero (fresh frames are zero and only the file data is written)."""
        fkey = (st.dev, st.ino)
        version = (st.mtime_ns, st.size)
        if self._version.get(fkey) != version:
            self._drop_file(fkey)
            self._version[fkey] = version
        out: list[int] = []
        missing: list[int] = []
        for index in range(first, first + count):
            frame = self._pages.get((fkey[0], fkey[1], index))
            out.append(frame if frame is not None else -1)
            if frame is None:
                missing.append(index)
        # Read each run of missing pages with one pread.
        run_start = 0
        while run_start < len(missing):
            run_end = run_start
            while run_end + 1 < len(missing) and missing[run_end + 1] == missing[run_end] + 1:
                run_end += 1
            first_index, n = missing[run_start], run_end - run_start + 1
            new = self._fill(task, file, fkey, first_index, n)
            for i, frame in enumerate(new):
                out[first_index - first + i] = frame
            run_start = run_end + 1
        for frame in out:
            self.ref(frame)
        return out

    def _fill(self, task: Any, file: Any, fkey: FileKey, index: int, n: int) -> list[int]:
        data = pread_full(task, file, n * PAGE, index * PAGE)
        frames = self.frames.alloc_many(n)
        view = self.memory.view
        for i, frame in enumerate(frames):
            chunk = data[i * PAGE:(i + 1) * PAGE]
            if chunk:
                view[frame:frame + len(chunk)] = chunk
            key = (fkey[0], fkey[1], index + i)
            self._pages[key] = frame
            self._key_of[frame] = key
            self._refs[frame] = 0
            self._file_pages.setdefault(fkey, set()).add(index + i)
        return frames

    # ---- eviction ------------------------------------------------------------------
    def _forget(self, frame: int) -> None:
        key = self._key_of.pop(frame, None)
        self._refs.pop(frame, None)
        self._idle.pop(frame, None)
        if key is not None:
            self._pages.pop(key, None)
            pages = self._file_pages.get((key[0], key[1]))
            if pages is not None:
                pages.discard(key[2])

    def _drop_file(self, fkey: FileKey) -> None:
        """The file changed: forget its pages; mapped ones become orphans."""
        free = []
        for index in self._file_pages.pop(fkey, set()):
            frame = self._pages.pop((fkey[0], fkey[1], index))
            if self._refs.get(frame, 0) == 0:
                self._idle.pop(frame, None)
                self._refs.pop(frame, None)
                self._key_of.pop(frame, None)
                free.append(frame)
            else:
                self._key_of[frame] = None
        self.frames.free(free)

    def _evict(self) -> None:
        if len(self._idle) <= self.limit:
            return
        victims = []
        while len(self._idle) > self.limit:
            frame, _ = self._idle.popitem(last=False)
            self._forget(frame)
            victims.append(frame)
        self.frames.free(victims)

    def stats(self) -> dict[str, int]:
        return {"cached": len(self._pages), "idle": len(self._idle),
                "frames": len(self._refs)}


def page_cache_for(kernel: Any, mm: Any) -> PageCache:
    """The sandbox's page cache (made on first use, kept on the kernel), attached
    to `mm` so it knows which of its frames are shared."""
    cache = getattr(kernel, "page_cache", None)
    if cache is None:
        if getattr(mm, "frames", None) is None:
            raise SyscallError(errno.ENODEV, "no physical memory to cache pages in")
        cache = PageCache(mm.memory, mm.frames)
        kernel.page_cache = cache
    if getattr(mm, "page_cache", None) is None:
        mm.page_cache = cache
    return cache
