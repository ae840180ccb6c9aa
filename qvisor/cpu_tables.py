"""The guest's GDT, IDT and TSS (with its I/O bitmap), as bytes.

Linux's selector layout (DESIGN §3). The I/O bitmap opens exactly one port
to ring 3: the QCall fallback port the PVM trampoline exits through.
"""
from __future__ import annotations

import struct

from qvisor import layout

GDT_ENTRIES = {
    layout.KERNEL_CS: 0x00AF9B000000FFFF,   # 64-bit code, DPL 0
    layout.KERNEL_DS: 0x00CF93000000FFFF,   # data, DPL 0
    layout.USER32_CS & ~3: 0x00CFFB000000FFFF,
    layout.USER_DS & ~3: 0x00CFF3000000FFFF,
    layout.USER_CS & ~3: 0x00AFFB000000FFFF,
}
TSS_SIZE = 0x68
IOMAP_BYTES = 8192
TSS_LIMIT = TSS_SIZE + IOMAP_BYTES          # includes the trailing 0xff byte
GDT_LIMIT = layout.TSS_SEL + 16 - 1
IDT_LIMIT = 256 * 16 - 1


def build_gdt(tss_base: int) -> bytes:
    gdt = bytearray(layout.TSS_SEL + 16)
    for sel, desc in GDT_ENTRIES.items():
        struct.pack_into("<Q", gdt, sel, desc)
    low = ((TSS_LIMIT & 0xFFFF) | (tss_base & 0xFFFFFF) << 16 | 0x89 << 40
           | ((TSS_LIMIT >> 16) & 0xF) << 48 | ((tss_base >> 24) & 0xFF) << 56)
    struct.pack_into("<QQ", gdt, layout.TSS_SEL, low, tss_base >> 32)
    return bytes(gdt)


def build_tss(rsp0: int, open_port: int) -> bytes:
    tss = bytearray(TSS_SIZE + IOMAP_BYTES + 1)
    struct.pack_into("<Q", tss, 4, rsp0)
    struct.pack_into("<H", tss, 0x66, TSS_SIZE)   # I/O map base
    iomap = bytearray(b"\xff" * (IOMAP_BYTES + 1))
    iomap[open_port // 8] &= ~(1 << (open_port % 8)) & 0xFF
    tss[TSS_SIZE:] = iomap
    return bytes(tss)


def build_idt(handlers: list[int]) -> bytes:
    idt = bytearray(256 * 16)
    for vector, addr in enumerate(handlers):
        low = ((addr & 0xFFFF) | layout.KERNEL_CS << 16 | 0x8E << 40
               | ((addr >> 16) & 0xFFFF) << 48)
        struct.pack_into("<QQ", idt, vector * 16, low, addr >> 32)
    return bytes(idt)
