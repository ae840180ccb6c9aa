"""Where things live in guest physical and virtual memory.

Physical:
- 0x1000 the IDT, 0x2000 the ring-0 stubs (shared by every vCPU);
- from VCPU_AREAS_PA, one 128 KiB area per vCPU: its GDT, TSS (with the I/O
  bitmap), kernel stack, PTE-update list and its trampoline page (entry code
  + QCall slot);
- frames for page tables and guest memory from FRAME_POOL_START up.
Virtual:
- the user half up to USER_TOP is the guest's; above it, the last 2 MiB of
  the user half hold the trampoline pages, page i for vCPU i, mapped the
  same in every address space (one shared page table);
- the kernel half maps all guest physical memory at PHYSMAP_BASE, without
  the user bit, for the ring-0 stubs.
"""
from __future__ import annotations

PAGE_SIZE = 4096

# Guest physical layout.
IDT_PA = 0x1000
STUBS_PA = 0x2000                       # ring-0 stubs (exceptions, PTE flush)
VCPU_AREAS_PA = 0x200000
VCPU_AREA_SIZE = 0x20000                # 128 KiB, 128 KiB aligned
MAX_VCPUS = 128
# Offsets inside a vCPU area.
GDT_OFF = 0x0000
TSS_OFF = 0x1000                        # TSS (104 bytes) then the I/O bitmap: 3 pages
KSTACK_OFF = 0x8000                     # 32 KiB kernel stack, 32 KiB aligned; its first
KSTACK_SIZE = 0x8000                    # word holds the PTE list's address
PTE_LIST_OFF = 0x10000
PTE_LIST_SIZE = 0xF000
TRAMPOLINE_OFF = 0x1F000                # trampoline code + this vCPU's QCall slot
FRAME_POOL_START = VCPU_AREAS_PA + MAX_VCPUS * VCPU_AREA_SIZE

# Guest virtual layout.
TRAMPOLINE_REGION = 0x7FFF_FFE0_0000    # 2 MiB: trampoline page i at + i * 4096
USER_TOP = TRAMPOLINE_REGION            # the guest maps below this
PHYSMAP_BASE = 0xFFFF_8880_0000_0000    # all guest physical memory, supervisor only


def kva(pa: int) -> int:
    """Kernel virtual address of a guest physical address."""
    return PHYSMAP_BASE + pa


def vcpu_area(index: int) -> int:
    return VCPU_AREAS_PA + index * VCPU_AREA_SIZE


def trampoline_va(index: int) -> int:
    return TRAMPOLINE_REGION + index * PAGE_SIZE


# x86 GDT selectors (Linux's layout; DESIGN §3).
KERNEL_CS = 0x10
KERNEL_DS = 0x18
USER32_CS = 0x23
USER_DS = 0x2B
USER_CS = 0x33
TSS_SEL = 0x40
