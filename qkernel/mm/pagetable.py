"""x86-64 4-level page tables kept in guest physical memory.

QKernel writes entries directly. Additions are seen by the guest at once;
reductions are not (the shadow MMU of kvm_pvm keeps the old translation), so
`AddressSpace` also queues every reduced entry for the guest's flush stub
(DESIGN §3).
"""
from __future__ import annotations

import struct

from qkernel.mm.physmem import PAGE, FrameAllocator, PhysicalMemory

PTE_P = 1 << 0
PTE_RW = 1 << 1
PTE_US = 1 << 2
PTE_A = 1 << 5
PTE_D = 1 << 6
PTE_PS = 1 << 7
PTE_G = 1 << 8
PTE_RETAINED = 1 << 9          # software bit: not present, but still owns its frame
PTE_NX = 1 << 63
ADDR_MASK = 0x000F_FFFF_FFFF_F000
TABLE_FLAGS = PTE_P | PTE_RW | PTE_US | PTE_A


def index(va: int, level: int) -> int:
    """Index of `va` in its table at `level` (4 = PML4 ... 1 = PT)."""
    return (va >> (12 + 9 * (level - 1))) & 0x1FF


class PageTable:
    def __init__(self, memory: PhysicalMemory, frames: FrameAllocator,
                 kernel_entries: dict[int, int]) -> None:
        self.memory = memory
        self.frames = frames
        self.root = frames.alloc()
        self.table_frames: list[int] = [self.root]
        # Leaf tables by va >> 21: spares three reads per page on every walk.
        self._leaf: dict[int, int] = {}
        for i, value in kernel_entries.items():
            memory.write_u64(self.root + 8 * i, value)

    def leaf_table(self, va: int, create: bool) -> int | None:
        """Physical address of the page table (level 1) covering `va`."""
        key = va >> 21
        pt = self._leaf.get(key)
        if pt is not None:
            return pt
        table = self.root
        for level in (4, 3, 2):
            slot = table + 8 * index(va, level)
            entry = self.memory.read_u64(slot)
            if not entry & PTE_P:
                if not create:
                    return None
                new = self.frames.alloc()
                self.table_frames.append(new)
                entry = new | TABLE_FLAGS
                self.memory.write_u64(slot, entry)
            table = entry & ADDR_MASK
        self._leaf[key] = table
        return table

    def install_leaf_table(self, va: int, table_pa: int) -> None:
        """Make the page table at `table_pa` (owned elsewhere, e.g. shared by
        every address space) cover the 2 MiB around `va`."""
        table = self.root
        for level in (4, 3):
            slot = table + 8 * index(va, level)
            entry = self.memory.read_u64(slot)
            if not entry & PTE_P:
                new = self.frames.alloc()
                self.table_frames.append(new)
                entry = new | TABLE_FLAGS
                self.memory.write_u64(slot, entry)
            table = entry & ADDR_MASK
        self.memory.write_u64(table + 8 * index(va, 2), table_pa | TABLE_FLAGS)
        self._leaf[va >> 21] = table_pa

    def get(self, va: int) -> int:
        """The leaf entry for `va` (0 if no table)."""
        pt = self.leaf_table(va, create=False)
        if pt is None:
            return 0
        return self.memory.read_u64(pt + 8 * index(va, 1))

    def read_range(self, va: int, count: int) -> list[int]:
        """Leaf entries of `count` pages from `va` (0 where no table)."""
        out: list[int] = []
        while count:
            n = min(count, 512 - index(va, 1))
            pt = self.leaf_table(va, create=False)
            if pt is None:
                out.extend([0] * n)
            else:
                off = pt + 8 * index(va, 1)
                out.extend(struct.unpack_from(f"<{n}Q", self.memory.view, off))
            va += n * PAGE
            count -= n
        return out

    def write_range(self, va: int, values: list[int]) -> None:
        """Set the leaf entries of len(values) pages from `va`."""
        pos = 0
        while pos < len(values):
            n = min(len(values) - pos, 512 - index(va, 1))
            pt = self.leaf_table(va, create=True)
            assert pt is not None
            struct.pack_into(f"<{n}Q", self.memory.view, pt + 8 * index(va, 1),
                             *values[pos:pos + n])
            va += n * PAGE
            pos += n

    def entry_address(self, va: int) -> int | None:
        pt = self.leaf_table(va, create=False)
        return None if pt is None else pt + 8 * index(va, 1)

    def release(self) -> None:
        """Free every frame this table owns (the tables themselves)."""
        self.frames.free(self.table_frames)
        self.table_frames = []
        self._leaf.clear()
