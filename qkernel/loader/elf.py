"""Loads a static ELF executable (ET_EXEC or static-pie) into an AddressSpace.

The headers are read with `struct` (qkernel/loader/elfheaders.py): importing
pyelftools costs 25-40 ms, over half of the start-up budget, for what is two
fixed-size records. pyelftools stays the reference: a test checks this
parser against it on real binaries.

Dynamic executables (PT_INTERP) come with the processes issue; until then
they are refused with a clear ENOEXEC.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass

from qkernel.errors import SyscallError
from qkernel.loader.elfheaders import ET_DYN, ET_EXEC, PT_INTERP, PT_LOAD, PT_PHDR, parse_headers
from qkernel.mm.address_space import AddressSpace, page_down, page_up
from qkernel.mm.vma import MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE

EM_X86_64 = 62
PIE_LOAD_BIAS = 0x5555_5555_4000       # where Linux puts an ET_DYN without interpreter


class ExecFormatError(SyscallError):
    def __init__(self, reason: str) -> None:
        super().__init__(errno.ENOEXEC, reason)
        self.reason = reason


@dataclass
class LoadedImage:
    entry: int
    phdr: int
    phnum: int
    phent: int
    load_bias: int
    brk_start: int


def _prot(p_flags: int) -> int:
    return ((PROT_READ if p_flags & 4 else 0) | (PROT_WRITE if p_flags & 2 else 0)
            | (PROT_EXEC if p_flags & 1 else 0))


def check_header(data: bytes) -> None:
    """Refuse what is not an x86-64 ELF executable, with the reason."""
    if data[:4] != b"\x7fELF":
        raise ExecFormatError("not an ELF executable")
    if data[4] != 2:
        raise ExecFormatError("not a 64-bit ELF executable")
    if data[5] != 1:
        raise ExecFormatError("not a little-endian ELF executable")
    machine = int.from_bytes(data[18:20], "little")
    if machine != EM_X86_64:
        raise ExecFormatError(f"ELF for another architecture (e_machine {machine}), not x86-64")


def load_elf(mm: AddressSpace, data: bytes) -> LoadedImage:
    check_header(data)
    try:
        header, segments = parse_headers(data)
    except ValueError as exc:
        raise ExecFormatError(f"malformed ELF: {exc}") from None
    etype = header.e_type
    if etype not in (ET_EXEC, ET_DYN):
        raise ExecFormatError(f"ELF type {etype} is not executable")
    if any(s.p_type == PT_INTERP for s in segments):
        raise ExecFormatError("dynamically linked executables are not supported yet")
    loads = [s for s in segments if s.p_type == PT_LOAD]
    if not loads:
        raise ExecFormatError("ELF has no loadable segment")
    bias = PIE_LOAD_BIAS if etype == ET_DYN else 0
    mapped_end = 0
    for seg in sorted(loads, key=lambda s: s.p_vaddr):
        vaddr, memsz, filesz, offset = (seg.p_vaddr + bias, seg.p_memsz,
                                        seg.p_filesz, seg.p_offset)
        if filesz > memsz or offset + filesz > len(data):
            raise ExecFormatError("ELF segment larger than the file")
        prot = _prot(seg.p_flags)
        start, end = page_down(vaddr), page_up(vaddr + memsz)
        if start < mapped_end:
            # A page shared with the previous segment keeps both rights.
            shared = mapped_end - PAGE_SIZE
            vma = mm.find_vma(shared)
            if vma is not None and vma.prot | prot != vma.prot:
                mm.protect(shared, PAGE_SIZE, vma.prot | prot)
            start = mapped_end
        if end > start:
            mm.map_anonymous(start, end - start, prot, MAP_FIXED | MAP_PRIVATE)
        if filesz:
            mm.write_initial(vaddr, data[offset:offset + filesz])
        mapped_end = max(mapped_end, end)
    phdr = 0
    for seg in segments:
        if seg.p_type == PT_PHDR:
            phdr = seg.p_vaddr + bias
    if not phdr:
        phoff = header.e_phoff
        for seg in loads:
            if seg.p_offset <= phoff < seg.p_offset + seg.p_filesz:
                phdr = seg.p_vaddr + bias + (phoff - seg.p_offset)
    return LoadedImage(entry=header.e_entry + bias, phdr=phdr, phnum=header.e_phnum,
                       phent=header.e_phentsize, load_bias=bias, brk_start=mapped_end)


PAGE_SIZE = 4096
