"""The two ELF64 records the loader needs: the file header and program headers."""
from __future__ import annotations

import struct
from typing import NamedTuple

ET_EXEC = 2
ET_DYN = 3
PT_LOAD = 1
PT_INTERP = 3
PT_PHDR = 6
PT_GNU_STACK = 0x6474E551

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")


class ElfHeader(NamedTuple):
    e_ident: bytes
    e_type: int
    e_machine: int
    e_version: int
    e_entry: int
    e_phoff: int
    e_shoff: int
    e_flags: int
    e_ehsize: int
    e_phentsize: int
    e_phnum: int
    e_shentsize: int
    e_shnum: int
    e_shstrndx: int


class ProgramHeader(NamedTuple):
    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_paddr: int
    p_filesz: int
    p_memsz: int
    p_align: int


def parse_headers(data: bytes) -> tuple[ElfHeader, list[ProgramHeader]]:
    """Header and program headers of a little-endian ELF64 image (ValueError if cut short)."""
    if len(data) < _EHDR.size:
        raise ValueError("file shorter than an ELF header")
    header = ElfHeader(*_EHDR.unpack_from(data, 0))
    if header.e_phentsize != _PHDR.size:
        raise ValueError(f"program header size {header.e_phentsize}, expected {_PHDR.size}")
    if header.e_phnum > 1024:
        raise ValueError("too many program headers")
    end = header.e_phoff + header.e_phnum * _PHDR.size
    if end > len(data):
        raise ValueError("program headers past the end of the file")
    phdrs = [ProgramHeader(*_PHDR.unpack_from(data, header.e_phoff + i * _PHDR.size))
             for i in range(header.e_phnum)]
    return header, phdrs
