"""Where things live in guest physical and virtual memory.

Physical: the low MiB holds the per-VM CPU tables, ring-0 stubs, the
kernel stack and the trampoline page; frames for page tables and guest
memory come from FRAME_POOL_START up. Virtual: the user half is the
guest's (Linux's TASK_SIZE); the kernel half maps all guest physical memory
at PHYSMAP_BASE, without the user bit, so ring-0 stubs can reach page
tables and their own data.
"""
from __future__ import annotations

PAGE_SIZE = 4096
TASK_SIZE = 0x7FFF_FFFF_F000            # first address above the user's space (as Linux)

# Guest physical layout.
GDT_PA = 0x1000
IDT_PA = 0x2000
TSS_PA = 0x3000                         # TSS (104 bytes) then the I/O bitmap: 0x3000-0x5fff
TSS_IOMAP_OFFSET = 0x68
STUBS_PA = 0x6000                       # ring-0 stubs (exceptions, PTE flush)
KSTACK_PA = 0x8000                      # kernel stack pages 0x8000-0xffff
KSTACK_TOP_PA = 0x10000
TRAMPOLINE_PA = 0x10000                 # trampoline code + QCall slots (user-visible)
PTE_LIST_PA = 0x20000                   # PTE update list the flush stub reads
PTE_LIST_SIZE = 0x80000
FRAME_POOL_START = 0x100000

# Guest virtual layout.
PHYSMAP_BASE = 0xFFFF_8880_0000_0000    # all guest physical memory, supervisor only


def kva(pa: int) -> int:
    """Kernel virtual address of a guest physical address."""
    return PHYSMAP_BASE + pa


# x86 GDT selectors (Linux's layout; DESIGN §3).
KERNEL_CS = 0x10
KERNEL_DS = 0x18
USER32_CS = 0x23
USER_DS = 0x2B
USER_CS = 0x33
TSS_SEL = 0x40
