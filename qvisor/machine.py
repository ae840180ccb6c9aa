"""One sandbox's virtual machine: guest memory, CPU tables, stubs, vCPUs.

The kernel half holds only what QKernel prepares (IDT, stubs, per-vCPU
GDT/TSS/kernel stack/PTE list) mapped at PHYSMAP_BASE. Every address space
shares one page table for the trampoline region, where vCPU i's trampoline
page (its syscall entry and QCall slot) lives at trampoline_va(i).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from generated import boot_stubs
from generated import qcall as qc
from qkernel.mm.address_space import AddressSpace
from qkernel.mm.pagetable import PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, PTE_US
from qkernel.mm.physmem import FrameAllocator, PhysicalMemory
from qvisor import cpu_tables, layout
from qvisor.kvm import Kvm, VcpuHandle, lib
from qvisor.platform import Platform, detect

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


@dataclass(frozen=True)
class VcpuResources:
    """What one vCPU owns in guest memory."""
    index: int
    area_pa: int
    trampoline_va: int

    @property
    def slot_pa(self) -> int:
        return self.area_pa + layout.TRAMPOLINE_OFF + qc.SLOT_OFFSET

    @property
    def kstack_pa(self) -> int:
        return self.area_pa + layout.KSTACK_OFF

    @property
    def pte_list_pa(self) -> int:
        return self.area_pa + layout.PTE_LIST_OFF


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
        self._cpuid = None
        handlers = [self.exceptions.labels[f"vec{v}"] for v in range(32)]
        handlers += [self.exceptions.labels["vec13"]] * (256 - 32)   # nothing else is wired
        self.memory.write(layout.IDT_PA, cpu_tables.build_idt(handlers))
        self.memory.write(layout.STUBS_PA, self.exceptions.code)
        self.trampoline_table = self._build_trampoline_table()

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

    def _build_trampoline_table(self) -> int:
        """The page table every address space shares for the trampoline region."""
        pt = self.frames.alloc()
        flags = PTE_P | PTE_US | PTE_RW | PTE_A | PTE_D        # the slot is written by the guest
        entries = [layout.vcpu_area(i) + layout.TRAMPOLINE_OFF | flags
                   for i in range(layout.MAX_VCPUS)]
        self.memory.write(pt, struct.pack(f"<{len(entries)}Q", *entries))
        return pt

    def new_address_space(self) -> AddressSpace:
        mm = AddressSpace(self.memory, self.frames, self.kernel_entries)
        mm.pt.install_leaf_table(layout.TRAMPOLINE_REGION, self.trampoline_table)
        return mm

    def vcpu_resources(self, index: int) -> VcpuResources:
        if not 0 <= index < layout.MAX_VCPUS:
            raise ValueError(f"vCPU index {index} out of range")
        return VcpuResources(index, layout.vcpu_area(index), layout.trampoline_va(index))

    def create_vcpu(self, index: int) -> tuple[VcpuHandle, VcpuResources]:
        """A new vCPU with its own tables, stack and trampoline page."""
        res = self.vcpu_resources(index)
        mem = self.memory
        tss_pa = res.area_pa + layout.TSS_OFF
        mem.write(res.area_pa + layout.GDT_OFF, cpu_tables.build_gdt(layout.kva(tss_pa)))
        kstack_top = layout.kva(res.kstack_pa + layout.KSTACK_SIZE)
        mem.write(tss_pa, cpu_tables.build_tss(kstack_top, qc.PORT_QCALL))
        mem.write_u64(res.kstack_pa, layout.kva(res.pte_list_pa))
        mem.write(res.area_pa + layout.TRAMPOLINE_OFF, self.trampoline.code)
        handle = self.vm.create_vcpu(index)
        self._setup_vcpu(handle, res)
        return handle, res

    def _setup_vcpu(self, vcpu: VcpuHandle, res: VcpuResources) -> None:
        if self._cpuid is None:
            self._cpuid = self.kvm.supported_cpuid()
        vcpu.set_cpuid(self._cpuid[0])
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
        sregs.tr.base = layout.kva(res.area_pa + layout.TSS_OFF)
        sregs.tr.limit = cpu_tables.TSS_LIMIT
        sregs.tr.selector = layout.TSS_SEL
        sregs.tr.type = 0xB
        sregs.tr.present = 1
        sregs.tr.s = 0
        sregs.ldt.unusable = 1
        sregs.gdt.base = layout.kva(res.area_pa + layout.GDT_OFF)
        sregs.gdt.limit = cpu_tables.GDT_LIMIT
        sregs.idt.base = layout.kva(layout.IDT_PA)
        sregs.idt.limit = cpu_tables.IDT_LIMIT
        sregs.cr0 = CR0_VALUE
        sregs.cr4 = CR4_VALUE
        sregs.efer = EFER_VALUE
        vcpu.set_sregs(sregs)
        try:
            vcpu.set_xcr0(lib.qv_host_xcr0())
        except Exception:   # noqa: BLE001 - hosts without XCRS keep the reset XCR0
            pass
        entry = res.trampoline_va + (self.trampoline.labels["entry"] - self.trampoline.va)
        vcpu.set_msrs({
            MSR_STAR: (0x20 << 48) | (layout.KERNEL_CS << 32),
            MSR_LSTAR: entry,
            MSR_CSTAR: entry,
            MSR_SFMASK: SFMASK_VALUE,
            MSR_FS_BASE: 0,
            MSR_GS_BASE: 0,
            MSR_KERNEL_GS_BASE: 0,
        })

    def trampoline_label(self, res: VcpuResources, name: str) -> int:
        return res.trampoline_va + (self.trampoline.labels[name] - self.trampoline.va)

    def slot_read(self, res: VcpuResources, field: str) -> int:
        return self.memory.read_u64(res.slot_pa + SLOT_FIELDS[field])

    def slot_write(self, res: VcpuResources, field: str, value: int) -> None:
        self.memory.write_u64(res.slot_pa + SLOT_FIELDS[field], value & 0xFFFFFFFFFFFFFFFF)

    def close(self) -> None:
        self.vm.close()
        self.kvm.close()
