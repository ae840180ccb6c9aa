"""A process's address space: VMAs, page tables, brk, and guest-memory access.

Policy: anonymous and private file memory is mapped eagerly (every page gets
a frame and a present PTE at map time). Fresh frames are untouched host
memory, so this costs nothing until the guest touches them, and it spares
the ~100 µs forwarded page fault of kvm_pvm (DESIGN §3). PROT_NONE pages keep
their frame in a non-present PTE (PTE_RETAINED) so mprotect back keeps the
contents. Every reduction of an entry is queued in `flush_queue` for the
guest's flush stub, since host-side reductions are invisible to kvm_pvm's
shadow MMU; frames of reduced entries are freed only after that flush.
"""
from __future__ import annotations

import bisect
import errno
import struct
from typing import Any

from qkernel.errors import SyscallError
from qkernel.mm.pagetable import (ADDR_MASK, PTE_A, PTE_D, PTE_NX, PTE_P, PTE_RETAINED, PTE_RW,
                                  PTE_US, PageTable)
from qkernel.mm.physmem import PAGE, FrameAllocator, PhysicalMemory
from qkernel.mm.vma import (MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, PROT_EXEC,
                            PROT_NONE, PROT_READ, PROT_WRITE, Vma)

# The guest's mappable space ends 2 MiB below Linux's TASK_SIZE (0x7ffffffff000):
# that last stretch of the user half holds the QCall trampoline pages.
TASK_SIZE = 0x7FFF_FFE0_0000
STACK_TOP = TASK_SIZE - 0x1000        # a guard page below the trampolines
MMAP_BASE = STACK_TOP - (8 << 20) - (256 << 20)   # top-down mmaps start below a 256 MiB stack gap
MMAP_MIN_ADDR = 0x10000


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


def page_down(x: int) -> int:
    return x & ~(PAGE - 1)


def pte_flags(prot: int) -> int:
    if prot == PROT_NONE:
        return PTE_RETAINED
    flags = PTE_P | PTE_US | PTE_A
    if prot & PROT_WRITE:
        flags |= PTE_RW | PTE_D
    if not prot & PROT_EXEC:
        flags |= PTE_NX
    return flags


def _efault(addr: int) -> SyscallError:
    return SyscallError(errno.EFAULT, f"bad guest address {addr:#x}")


class AddressSpace:
    def __init__(self, memory: PhysicalMemory, frames: FrameAllocator,
                 kernel_entries: dict[int, int] | None = None) -> None:
        self.memory = memory
        self.frames = frames
        self.pt = PageTable(memory, frames, kernel_entries or {})
        self.vmas: list[Vma] = []
        self._starts: list[int] = []
        self.brk_start = 0
        self.brk = 0
        self.mmap_base = MMAP_BASE
        # (pte physical address, new value, va to invalidate) for the guest stub.
        self.flush_queue: list[tuple[int, int, int]] = []
        self.deferred_free: list[int] = []
        # Page-cache frames are shared by every process mapping the file (and
        # the vDSO's by all): this space must not free or write them. Set by
        # the loader / file mmap (qkernel/mm/pagecache.py); None = none mapped.
        self.page_cache: Any = None
        self.users = 1                       # tasks sharing this space (CLONE_VM)

    # ---- VMA bookkeeping -------------------------------------------------
    def _reindex(self) -> None:
        self.vmas.sort(key=lambda v: v.start)
        self._starts = [v.start for v in self.vmas]

    def find_vma(self, addr: int) -> Vma | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and self.vmas[i].start <= addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def overlapping(self, start: int, end: int) -> list[Vma]:
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        out = []
        for v in self.vmas[i:]:
            if v.start >= end:
                break
            if v.end > start:
                out.append(v)
        return out

    def is_free(self, start: int, end: int) -> bool:
        return not self.overlapping(start, end)

    def _carve(self, start: int, end: int) -> list[Vma]:
        """Remove [start, end) from the VMA list; return the removed pieces."""
        removed: list[Vma] = []
        kept: list[Vma] = []
        for v in self.overlapping(start, end):
            self.vmas.remove(v)
            if v.start < start:
                kept.append(v.piece(v.start, start))
            if v.end > end:
                kept.append(v.piece(end, v.end))
            removed.append(v.piece(max(v.start, start), min(v.end, end)))
            v.drop()
        self.vmas.extend(kept)
        self._reindex()
        return removed

    def find_free(self, length: int, below: int | None = None) -> int:
        """Highest free range of `length` bytes below `below` (top-down, as Linux)."""
        top = self.mmap_base if below is None else below
        for v in reversed(self.vmas):
            if v.start >= top:
                continue
            if v.end <= top - length:
                return top - length
            top = min(top, v.start)
        if top - length >= MMAP_MIN_ADDR:
            return top - length
        raise SyscallError(errno.ENOMEM, "no room in the address space")

    # ---- mapping -----------------------------------------------------------
    def map_anonymous(self, addr: int, length: int, prot: int, flags: int,
                      name: str = "", file_offset: int = 0,
                      frames: list[int] | None = None) -> int:
        """Map zeroed pages; returns the address. Follows mmap(2)'s placement rules.
        `frames`: map these (page-cache frames, one reference each) instead."""
        if length <= 0:
            raise SyscallError(errno.EINVAL)
        length = page_up(length)
        if length > TASK_SIZE:
            raise SyscallError(errno.ENOMEM)
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
            if addr & (PAGE - 1):
                raise SyscallError(errno.EINVAL)
            if addr + length > TASK_SIZE or addr < MMAP_MIN_ADDR:
                raise SyscallError(errno.EPERM if addr < MMAP_MIN_ADDR else errno.ENOMEM)
            if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED:
                if not self.is_free(addr, addr + length):
                    raise SyscallError(errno.EEXIST)
            else:
                self.unmap(addr, length)
        else:
            hint = page_down(addr)
            if hint and MMAP_MIN_ADDR <= hint and hint + length <= TASK_SIZE \
                    and self.is_free(hint, hint + length):
                addr = hint
            else:
                addr = self.find_free(length)
        npages = length // PAGE
        if frames is None:
            # Frames first: running out must leave no half-made mapping behind.
            if npages > self.frames.frames_left:
                raise SyscallError(errno.ENOMEM, "guest memory exhausted")
            frames = self.frames.alloc_many(npages)
        vma = Vma(addr, addr + length, prot, flags, name, file_offset)
        self.vmas.append(vma)
        self._reindex()
        bits = pte_flags(prot)
        self.pt.write_range(addr, [pa | bits for pa in frames])
        return addr

    def write_initial(self, addr: int, data: bytes | memoryview) -> None:
        """Fill freshly mapped pages whatever their protection (loader use)."""
        pos = 0
        while pos < len(data):
            va = addr + pos
            pte = self.pt.get(va)
            if not pte & (PTE_P | PTE_RETAINED):
                raise SyscallError(errno.EFAULT)
            off = va & (PAGE - 1)
            n = min(PAGE - off, len(data) - pos)
            self.memory.write((pte & ADDR_MASK) + off, data[pos:pos + n])
            pos += n

    def _queue_reduction(self, va: int, new_value: int) -> None:
        entry = self.pt.entry_address(va)
        if entry is not None:
            self.flush_queue.append((entry, new_value, va))

    def unmap(self, addr: int, length: int) -> None:
        if addr & (PAGE - 1) or length <= 0:
            raise SyscallError(errno.EINVAL)
        end = page_up(addr + length)
        if end > TASK_SIZE or end < addr:
            raise SyscallError(errno.EINVAL)
        for piece in self._carve(addr, end):
            self.write_back(piece)
            piece.drop()
            npages = piece.length // PAGE
            ptes = self.pt.read_range(piece.start, npages)
            freed = []
            for i, pte in enumerate(ptes):
                if pte & (PTE_P | PTE_RETAINED):
                    freed.append(pte & ADDR_MASK)
                    if pte & PTE_P:
                        self._queue_reduction(piece.start + i * PAGE, 0)
            self.pt.write_range(piece.start, [0] * npages)
            self.deferred_free.extend(self._own_frames(freed))

    def protect(self, addr: int, length: int, prot: int) -> None:
        if addr & (PAGE - 1):
            raise SyscallError(errno.EINVAL)
        if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC):
            raise SyscallError(errno.EINVAL)
        end = page_up(addr + length)
        if end == addr:
            return
        # Every page of the range must be mapped (ENOMEM otherwise).
        pos = addr
        for v in self.overlapping(addr, end):
            if v.start > pos:
                raise SyscallError(errno.ENOMEM)
            pos = v.end
        if pos < end:
            raise SyscallError(errno.ENOMEM)
        pieces = self._carve(addr, end)
        new_bits = pte_flags(prot)
        for piece in pieces:
            piece.prot = prot
            self.vmas.append(piece)
            npages = piece.length // PAGE
            ptes = self.pt.read_range(piece.start, npages)
            out = []
            for i, pte in enumerate(ptes):
                frame = pte & ADDR_MASK
                if not pte & (PTE_P | PTE_RETAINED):
                    frame = self.frames.alloc()
                elif new_bits & PTE_RW and self._is_shared(frame) and not piece.is_shared:
                    # Writable now: this process gets its own copy of the shared
                    # page; the swap of frames is stored by the guest stub.
                    copy = self.page_cache.copy_frame(frame)
                    self.page_cache.unref(frame)
                    frame = copy
                    if pte & PTE_P:
                        self._queue_reduction(piece.start + i * PAGE, frame | new_bits)
                        pte = 0          # queued already
                value = frame | new_bits
                if pte & PTE_P and (not value & PTE_P or (pte & PTE_RW and not value & PTE_RW)
                                    or (value & PTE_NX and not pte & PTE_NX)):
                    self._queue_reduction(piece.start + i * PAGE, value)
                out.append(value)
            self.pt.write_range(piece.start, out)
        self._reindex()

    def remap(self, old: int, old_size: int, new_size: int, may_move: bool,
              fixed_addr: int | None = None) -> int:
        """mremap(2) for private mappings: shrink, grow in place, or move."""
        if old & (PAGE - 1) or new_size <= 0:
            raise SyscallError(errno.EINVAL)
        old_size, new_size = page_up(old_size), page_up(new_size)
        vma = self.find_vma(old)
        if vma is None or old + old_size > vma.end:
            raise SyscallError(errno.EFAULT)
        if fixed_addr is None:
            if new_size <= old_size:
                if new_size < old_size:
                    self.unmap(old + new_size, old_size - new_size)
                return old
            if old + new_size <= TASK_SIZE and self.is_free(old + old_size, old + new_size):
                if (new_size - old_size) // PAGE > self.frames.frames_left:
                    raise SyscallError(errno.ENOMEM, "guest memory exhausted")
                frames = self.frames.alloc_many((new_size - old_size) // PAGE)
                grown = Vma(old + old_size, old + new_size, vma.prot, vma.flags, vma.name)
                self.vmas.append(grown)
                self._reindex()
                bits = pte_flags(vma.prot)
                self.pt.write_range(old + old_size, [pa | bits for pa in frames])
                return old
            if not may_move:
                raise SyscallError(errno.ENOMEM)
            target = self.find_free(new_size)
        else:
            target = fixed_addr
            if target & (PAGE - 1):
                raise SyscallError(errno.EINVAL)
            self.unmap(target, new_size)
        keep = min(old_size, new_size)
        all_ptes = self.pt.read_range(old, old_size // PAGE)
        ptes = all_ptes[:keep // PAGE]
        freed_tail = [p & ADDR_MASK for p in all_ptes[keep // PAGE:] if p & (PTE_P | PTE_RETAINED)]
        self._carve(old, old + old_size)
        for i, pte in enumerate(all_ptes):
            if pte & PTE_P:
                self._queue_reduction(old + i * PAGE, 0)
        self.pt.write_range(old, [0] * (old_size // PAGE))
        self.vmas.append(Vma(target, target + new_size, vma.prot, vma.flags, vma.name))
        self._reindex()
        self.pt.write_range(target, ptes)
        if new_size > keep:
            frames = self.frames.alloc_many((new_size - keep) // PAGE)
            bits = pte_flags(vma.prot)
            self.pt.write_range(target + keep, [pa | bits for pa in frames])
        self.deferred_free.extend(self._own_frames(freed_tail))
        return target

    def discard(self, addr: int, length: int) -> None:
        """MADV_DONTNEED on private memory: the pages read as zero again."""
        end = page_up(addr + length)
        ptes = self.pt.read_range(addr, (end - addr) // PAGE)
        for pte in ptes:
            # A shared page-cache frame already holds what the file says.
            if pte & (PTE_P | PTE_RETAINED) and not self._is_shared(pte & ADDR_MASK):
                self.memory.discard(pte & ADDR_MASK, PAGE)

    def set_brk(self, new_brk: int) -> int:
        """brk(2): returns the new break, or the old one on failure."""
        if new_brk < self.brk_start:
            return self.brk
        old_top, new_top = page_up(self.brk), page_up(new_brk)
        try:
            if new_top > old_top:
                if not self.is_free(old_top, new_top):
                    return self.brk
                self.map_anonymous(old_top, new_top - old_top, PROT_READ | PROT_WRITE,
                                   MAP_FIXED | 0x22, name="[heap]")
            elif new_top < old_top:
                self.unmap(new_top, old_top - new_top)
        except (SyscallError, MemoryError):
            return self.brk
        self.brk = new_brk
        return self.brk

    # ---- shared frames (page cache, vDSO) ----------------------------------
    def _is_shared(self, frame: int) -> bool:
        return self.page_cache is not None and self.page_cache.owns(frame)

    def _own_frames(self, frames: list[int]) -> list[int]:
        """The frames this space may free; shared ones just lose our reference."""
        return frames if self.page_cache is None else self.page_cache.release(frames)

    def take_flush(self) -> tuple[list[tuple[int, int, int]], list[int]]:
        """Hand the queued reductions (and frames to free after them) to the vCPU."""
        queue, frames = self.flush_queue, self.deferred_free
        self.flush_queue, self.deferred_free = [], []
        return queue, frames

    # ---- guest memory access ---------------------------------------------
    def _frames_for(self, addr: int, length: int, write: bool) -> list[tuple[int, int]]:
        """(physical address, byte count) runs covering [addr, addr+length)."""
        if addr < 0 or length < 0 or addr + length > TASK_SIZE:
            raise _efault(addr)
        first = page_down(addr)
        npages = (page_up(addr + length) - first) // PAGE
        need = PTE_P | PTE_US | (PTE_RW if write else 0)
        runs: list[tuple[int, int]] = []
        pos = addr
        end = addr + length
        for i, pte in enumerate(self.pt.read_range(first, npages)):
            if pte & need != need:
                raise _efault(first + i * PAGE)
            page_end = first + (i + 1) * PAGE
            n = min(page_end, end) - pos
            runs.append(((pte & ADDR_MASK) + (pos & (PAGE - 1)), n))
            pos += n
        return runs

    def copy_in(self, addr: int, length: int) -> bytes:
        if length == 0:
            return b""
        view = self.memory.view
        return b"".join(bytes(view[pa:pa + n]) for pa, n in self._frames_for(addr, length, False))

    def copy_out(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        view = self.memory.view
        pos = 0
        src = memoryview(data).cast("B")
        for pa, n in self._frames_for(addr, len(src), True):
            view[pa:pa + n] = src[pos:pos + n]
            pos += n

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        out = bytearray()
        while len(out) < limit:
            chunk_len = min(PAGE - (addr & (PAGE - 1)), limit - len(out))
            chunk = self.copy_in(addr, chunk_len)
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            addr += chunk_len
        raise SyscallError(errno.ENAMETOOLONG)

    def read_u32(self, addr: int) -> int:
        return struct.unpack("<I", self.copy_in(addr, 4))[0]

    def read_u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.copy_in(addr, 8))[0]

    def write_u32(self, addr: int, value: int) -> None:
        self.copy_out(addr, struct.pack("<I", value & 0xFFFFFFFF))

    def write_u64(self, addr: int, value: int) -> None:
        self.copy_out(addr, struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF))

    def read_struct(self, addr: int, cls: Any) -> Any:
        import ctypes
        return cls.from_buffer_copy(self.copy_in(addr, ctypes.sizeof(cls)))

    def write_struct(self, addr: int, obj: Any) -> None:
        self.copy_out(addr, bytes(obj))

    # ---- fork ------------------------------------------------------------
    def copy_into(self, child: "AddressSpace") -> None:
        """Fill `child` (fresh) with a copy of every mapping: fork without CLONE_VM.

        Copy, not copy-on-write: under kvm_pvm a write-protected parent page
        costs a guest-side PTE store (~3 µs interpreted) plus a ~100 µs fault
        on the first write, while copying a page costs ~1 µs. Frames the host
        never touched read as zero and are not copied at all (mincore); the
        page cache's read-only frames (libraries, the vDSO) are shared."""
        child.brk_start, child.brk, child.mmap_base = self.brk_start, self.brk, self.mmap_base
        child.page_cache = self.page_cache
        view = self.memory.view
        for vma in self.vmas:
            child.vmas.append(vma.piece(vma.start, vma.end))
            ptes = self.pt.read_range(vma.start, vma.length // PAGE)
            if vma.is_shared:
                # MAP_SHARED: parent and child keep using the same frames.
                for pte in ptes:
                    if pte & (PTE_P | PTE_RETAINED):
                        frame = pte & ADDR_MASK
                        if self._is_shared(frame):
                            self.page_cache.ref(frame)
                        else:
                            self.frames.share(frame)
                child.pt.write_range(vma.start, ptes)
                continue
            own = [p & ADDR_MASK for p in ptes
                   if p & (PTE_P | PTE_RETAINED) and not self._is_shared(p & ADDR_MASK)]
            frames = iter(self.frames.alloc_many(len(own)))
            resident = iter(self.memory.resident(own))
            out = []
            for pte in ptes:
                if not pte & (PTE_P | PTE_RETAINED):
                    out.append(0)
                    continue
                src = pte & ADDR_MASK
                if self._is_shared(src):
                    self.page_cache.ref(src)
                    out.append(pte)
                    continue
                dst = next(frames)
                if next(resident):
                    view[dst:dst + PAGE] = view[src:src + PAGE]
                out.append(dst | (pte & ~ADDR_MASK))
            child.pt.write_range(vma.start, out)
        child._reindex()

    # ---- stacks ------------------------------------------------------------
    def grow_stack(self, addr: int, limit: int) -> bool:
        """A fault at `addr` just below a MAP_GROWSDOWN area: extend the area
        down to cover it (and 64 KiB more), within `limit` bytes in all, as
        Linux grows the stack. False when `addr` is not such a place."""
        i = bisect.bisect_right(self._starts, addr)
        if i >= len(self.vmas):
            return False
        vma = self.vmas[i]
        if not vma.flags & MAP_GROWSDOWN or addr >= vma.start:
            return False
        lowest = max(vma.end - limit, MMAP_MIN_ADDR)
        if addr < lowest:
            return False
        below = self.vmas[i - 1].end if i > 0 else 0
        new_start = max(page_down(addr) - (64 << 10), lowest, below)
        if new_start > page_down(addr):
            return False
        npages = (vma.start - new_start) // PAGE
        if npages > self.frames.frames_left:
            return False
        frames = self.frames.alloc_many(npages)
        self.pt.write_range(new_start, [pa | pte_flags(vma.prot) for pa in frames])
        vma.start = new_start
        self._reindex()
        return True

    # ---- shared file mappings ----------------------------------------------
    def write_back(self, vma: Vma, start: int | None = None, end: int | None = None) -> None:
        """Write a MAP_SHARED, writable file mapping's pages back to its file."""
        file = vma.shared_file
        if file is None or not vma.prot & PROT_WRITE:
            return
        start = vma.start if start is None else max(start, vma.start)
        end = vma.end if end is None else min(end, vma.end)
        try:
            size = file.stat(None).size
        except Exception:  # noqa: BLE001 - the file may be gone: nothing to write to
            return
        ptes = self.pt.read_range(start, (end - start) // PAGE)
        for i, pte in enumerate(ptes):
            offset = vma.file_offset + (start - vma.start) + i * PAGE
            if offset >= size:
                break
            if pte & (PTE_P | PTE_RETAINED):
                frame = pte & ADDR_MASK
                n = min(PAGE, size - offset)
                file.pwrite(None, bytes(self.memory.view[frame:frame + n]), offset)

    def sync(self, addr: int, length: int) -> None:
        """msync(2): write back every shared file mapping in the range."""
        end = page_up(addr + length)
        pos = addr
        for v in self.overlapping(addr, end):
            if v.start > pos:
                raise SyscallError(errno.ENOMEM)
            self.write_back(v, addr, end)
            pos = v.end
        if pos < end:
            raise SyscallError(errno.ENOMEM)

    # ---- teardown ----------------------------------------------------------
    def release(self) -> None:
        """Free the data frames (the process is gone; nothing runs on this table).

        The page-table frames are not reused: kvm_pvm's shadow MMU may still
        hold translations made from them, and host-side writes to a reused
        table would not reach it (DESIGN §3). They stay quarantined."""
        frames = []
        for v in self.vmas:
            self.write_back(v)
            v.drop()
            for pte in self.pt.read_range(v.start, v.length // PAGE):
                if pte & (PTE_P | PTE_RETAINED):
                    frames.append(pte & ADDR_MASK)
        self.frames.free(self._own_frames(frames) + self.deferred_free)
        self.vmas, self._starts, self.deferred_free, self.flush_queue = [], [], [], []
