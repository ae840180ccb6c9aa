"""Real guest memory for unit tests: an AddressSpace over PhysicalMemory with
one flat read-write mapping, no VM needed (the acceptance tests run guests)."""
from __future__ import annotations

from qkernel.mm.address_space import AddressSpace
from qkernel.mm.physmem import FrameAllocator, PhysicalMemory
from qkernel.mm.vma import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE

BASE = 0x10000


class FlatMemory(AddressSpace):
    """[BASE, BASE+size) mapped read-write, plus a bump allocator for test buffers."""

    def __init__(self, size: int = 1 << 20) -> None:
        memory = PhysicalMemory(max(16 << 20, (size + (4 << 20)) & ~((2 << 20) - 1)))
        super().__init__(memory, FrameAllocator(memory, 0x100000))
        self.map_anonymous(BASE, size, PROT_READ | PROT_WRITE,
                           MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS)
        self.next_free = BASE + 0x1000

    def alloc(self, data: bytes | int) -> int:
        n = data if isinstance(data, int) else len(data)
        addr = self.next_free
        self.next_free += (n + 15) & ~15
        if not isinstance(data, int):
            self.copy_out(addr, data)
        return addr

    def s(self, text: str) -> int:
        return self.alloc(text.encode() + b"\0")
