"""One sandbox's virtual machine: guest memory, CPU tables, stubs, vCPU state.

The guest kernel half holds only data QKernel prepares (tables, stubs, the
kernel stack) mapped at PHYSMAP_BASE; user address spaces share its PML4
entries. The trampoline page is the last page of the user half in every
address space.
"""
from __future__ import annotations

import struct

from generated import boot_stubs
from qkernel.mm.address_space import AddressSpace
from qkernel.mm.pagetable import ADDR_MASK, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, PTE_US
from qkernel.mm.physmem import PAGE, FrameAllocator, PhysicalMemory
from qvisor import cpu_tables, layout
from qvisor.kvm import Kvm, VcpuHandle, lib
from qvisor.platform import Platform, detect

from generated import qcall as qc

SLOT_FIELDS = {name: qc.QCallSlot.__dict__[name].offset for name, _ in qc.QCallSlot._fields_}

MSR_STAR = 0xC0000081
MSR_LSTAR = 0xC0000082
MSR_CSTAR = 0xC0000083
MSR_SFMASK = 0xC0000084
MSR_FS_BASE = 0xC0000100
MSR_GS_BASE = 0xC0000101
MSR_KERNEL_GS_BASE = 0xC0000102

CR0_VALUE = 0x80050033          # PG | AM | WP | NE | ET | MP | PE
CR4_VALUE = (1 << 5) | (1 << 9) | (1 << 10) | (1 << 18)   # PAE OSFXSR OSXMMEXCPT OSXSAVE
EFER_VALUE = 0xD01              # NXE | LMA | LME | SCE
# Flags `syscall` clears: TF DF NT AC (IF stays: it means nothing at ring 3 here).
SFMASK_VALUE = 0x100 | 0x400 | 0x4000 | 0x40000


class Machine:
    def __init__(self, memory_size: int, platform: Platform | None = None) -> None:
        self.platform = platform or detect()
        self.kvm = Kvm()
        self.vm = self.kvm.create_vm()
        self.memory = PhysicalMemory(memory_size)
        self.frames = FrameAllocator(self.memory, layout.FRAME_POOL_START)
        self.vm.set_memory(0, 0, memory_size, self.memory.host_addr)
        self.kernel_entries = self._build_physmap()
        self.trampoline = getattr(boot_stubs, self.platform.trampoline.upper())
        self.exceptions = boot_stubs.EXCEPTIONS
        self._install_tables_and_stubs()
        self.slot_pa = layout.TRAMPOLINE_PA + qc.SLOT_OFFSET

    def _build_physmap(self) -> dict[int, int]:
        """PML4 entries mapping all guest memory at PHYSMAP_BASE with 2 MiB pages."""
        size = self.memory.size
        pdpt = self.frames.alloc()
        huge = 2 << 20
        for gib in range((size + (1 << 30) - 1) >> 30):
            pd = self.frames.alloc()
            self.memory.write_u64(pdpt + 8 * gib, pd | PTE_P | PTE_RW | PTE_A)
            entries = []
            for i in range(512):
                pa = (gib << 30) + i * huge
                entries.append(pa | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D if pa < size else 0)
            self.memory.write(pd, struct.pack("<512Q", *entries))
        index = (layout.PHYSMAP_BASE >> 39) & 0x1FF
        return {index: pdpt | PTE_P | PTE_RW | PTE_A}

    def _install_tables_and_stubs(self) -> None:
        mem = self.memory
        mem.write(layout.GDT_PA, cpu_tables.build_gdt(layout.kva(layout.TSS_PA)))
        mem.write(layout.TSS_PA, cpu_tables.build_tss(layout.kva(layout.KSTACK_TOP_PA),
                                                      qc.PORT_QCALL))
        handlers = [self.exceptions.labels[f"vec{v}"] for v in range(32)]
        handlers += [self.exceptions.labels["vec13"]] * (256 - 32)   # nothing else is wired
        mem.write(layout.IDT_PA, cpu_tables.build_idt(handlers))
        mem.write(layout.STUBS_PA, self.exceptions.code)
        mem.write(layout.TRAMPOLINE_PA, self.trampoline.code)

    def new_address_space(self) -> AddressSpace:
        mm = AddressSpace(self.memory, self.frames, self.kernel_entries)
        # The trampoline page: user-visible, writable (the slot) and executable.
        mm.pt.write_range(qc.PAGE_VA, [layout.TRAMPOLINE_PA | PTE_P | PTE_US | PTE_RW | PTE_A | PTE_D])
        return mm

    def setup_vcpu(self, vcpu: VcpuHandle, cr3: int) -> None:
        cpuid, _buf = self.kvm.supported_cpuid()
        vcpu.set_cpuid(cpuid)
        sregs = vcpu.get_sregs()
        code = dict(base=0, limit=0xFFFFFFFF, selector=layout.USER_CS, type=0xB, present=1,
                    dpl=3, db=0, s=1, l=1, g=1)
        data = dict(base=0, limit=0xFFFFFFFF, selector=layout.USER_DS, type=0x3, present=1,
                    dpl=3, db=1, s=1, l=0, g=1)
        for name, value in code.items():
            setattr(sregs.cs, name, value)
        for seg in (sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss):
            for name, value in data.items():
                setattr(seg, name, value)
        sregs.tr.base = layout.kva(layout.TSS_PA)
        sregs.tr.limit = cpu_tables.TSS_LIMIT
        sregs.tr.selector = layout.TSS_SEL
        sregs.tr.type = 0xB
        sregs.tr.present = 1
        sregs.tr.s = 0
        sregs.ldt.unusable = 1
        sregs.gdt.base = layout.kva(layout.GDT_PA)
        sregs.gdt.limit = cpu_tables.GDT_LIMIT
        sregs.idt.base = layout.kva(layout.IDT_PA)
        sregs.idt.limit = cpu_tables.IDT_LIMIT
        sregs.cr0 = CR0_VALUE
        sregs.cr3 = cr3
        sregs.cr4 = CR4_VALUE
        sregs.efer = EFER_VALUE
        vcpu.set_sregs(sregs)
        try:
            vcpu.set_xcr0(lib.qv_host_xcr0())
        except Exception:   # noqa: BLE001 - hosts without XCRS keep the reset XCR0
            pass
        vcpu.set_msrs({
            MSR_STAR: (0x20 << 48) | (layout.KERNEL_CS << 32),
            MSR_LSTAR: self.trampoline.labels["entry"],
            MSR_CSTAR: self.trampoline.labels["entry"],
            MSR_SFMASK: SFMASK_VALUE,
            MSR_FS_BASE: 0,
            MSR_GS_BASE: 0,
            MSR_KERNEL_GS_BASE: 0,
        })

    def slot_read(self, field: str) -> int:
        return self.memory.read_u64(self.slot_pa + SLOT_FIELDS[field])

    def slot_write(self, field: str, value: int) -> None:
        self.memory.write_u64(self.slot_pa + SLOT_FIELDS[field], value & 0xFFFFFFFFFFFFFFFF)

    def close(self) -> None:
        self.vm.close()
        self.kvm.close()
