"""Mapping an ELF file's PT_LOAD segments through the page cache.

Read-only segments map the page cache's frames themselves (read-only PTEs),
so ld.so, a shared program's text and the like exist once in guest memory
however many processes run them. Writable segments, and a last file page
whose tail must read as zero (the start of .bss), get private copies made at
load time (QKernel maps eagerly, DESIGN §3). A segment whose file offset is
not congruent to its address modulo the page size cannot share pages: it is
copied byte by byte, as the first loader did.

As Linux's loader, a segment mapped over a page of the previous one replaces
that page; the page keeps the rights of both, so that a linker's odd layout
never makes code unexecutable.
"""
from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs.file import pread_full
from qkernel.loader.elf import EM_X86_64, ExecFormatError, _prot, check_header
from qkernel.loader.elfheaders import (ET_DYN, ET_EXEC, PT_INTERP, PT_LOAD, PT_PHDR, ElfHeader,
                                       ProgramHeader, parse_headers)
from qkernel.mm.address_space import TASK_SIZE, page_down, page_up
from qkernel.mm.pagecache import PageCache
from qkernel.mm.physmem import PAGE
from qkernel.mm.vma import MAP_FIXED, MAP_PRIVATE, PROT_WRITE

HEADER_READ = 4096          # program headers of real binaries sit in the first page
MAX_INTERP_PATH = 4096


@dataclass
class ElfFile:
    """An executable opened for loading: its headers and where they came from."""
    path: str
    file: Any                      # OpenFile (pread, stat)
    st: Any                        # StatInfo at open time
    header: ElfHeader
    segments: list[ProgramHeader]
    interp: str | None = None      # PT_INTERP path, if any

    @property
    def loads(self) -> list[ProgramHeader]:
        return [s for s in self.segments if s.p_type == PT_LOAD]


@dataclass
class MappedElf:
    entry: int
    phdr: int
    phnum: int
    phent: int
    load_bias: int
    end: int                       # page-aligned end of the highest segment
    ranges: list[tuple[int, int]] = field(default_factory=list)


def parse_elf(task: Any, path: str, file: Any, st: Any, head: bytes) -> ElfFile:
    """Headers of the ELF file whose first bytes are `head` (ENOEXEC if unfit)."""
    if len(head) < 64:
        raise ExecFormatError("file shorter than an ELF header")
    check_header(head)
    data = head
    if len(head) >= 64:
        # Program headers past the first read: fetch exactly what they need.
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        need = phoff + phentsize * phnum
        if len(head) < need <= st.size and phnum <= 1024:
            data = head + pread_full(task, file, need - len(head), len(head))
    try:
        header, segments = parse_headers(data)
    except ValueError as exc:
        raise ExecFormatError(f"malformed ELF: {exc}") from None
    if header.e_type not in (ET_EXEC, ET_DYN):
        raise ExecFormatError(f"ELF type {header.e_type} is not executable")
    if header.e_machine != EM_X86_64:
        raise ExecFormatError("not an x86-64 ELF")
    elf = ElfFile(path, file, st, header, segments)
    interps = [s for s in segments if s.p_type == PT_INTERP]
    if len(interps) > 1:
        raise ExecFormatError("more than one PT_INTERP")
    if interps:
        seg = interps[0]
        if not 2 <= seg.p_filesz <= MAX_INTERP_PATH or seg.p_offset + seg.p_filesz > st.size:
            raise ExecFormatError("bad PT_INTERP")
        raw = pread_full(task, file, seg.p_filesz, seg.p_offset)
        if len(raw) != seg.p_filesz or raw[-1] != 0 or b"\0" in raw[:-1]:
            raise ExecFormatError("PT_INTERP is not a NUL-terminated path")
        elf.interp = raw[:-1].decode("utf-8", "surrogateescape")
    if not elf.loads:
        raise ExecFormatError("ELF has no loadable segment")
    return elf


def span(elf: ElfFile) -> tuple[int, int]:
    """Page-aligned [lowest, highest) addresses of the PT_LOAD segments (before bias)."""
    loads = elf.loads
    low = page_down(min(s.p_vaddr for s in loads))
    high = page_up(max(s.p_vaddr + s.p_memsz for s in loads))
    return low, high


def map_elf(task: Any, mm: Any, cache: PageCache, elf: ElfFile, bias: int) -> MappedElf:
    """Map every PT_LOAD of `elf` at its address + `bias` (MAP_FIXED)."""
    low, high = span(elf)
    if low + bias < 0 or high + bias > TASK_SIZE or high < low:
        raise SyscallError(errno.ENOMEM, "ELF does not fit the address space")
    mapped: list[tuple[int, int, int]] = []           # (start, end, prot)
    for seg in sorted(elf.loads, key=lambda s: s.p_vaddr):
        if seg.p_filesz > seg.p_memsz or seg.p_offset + seg.p_filesz > elf.st.size:
            raise ExecFormatError("ELF segment larger than the file")
        if seg.p_memsz == 0:
            continue
        vaddr = seg.p_vaddr + bias
        start, end = page_down(vaddr), page_up(vaddr + seg.p_memsz)
        prot = _prot(seg.p_flags)
        if mapped and start < mapped[-1][1]:
            prot |= mapped[-1][2]                      # the shared page keeps both rights
        _map_segment(task, mm, cache, elf, seg, vaddr, prot)
        mapped.append((start, end, prot))
    return MappedElf(entry=elf.header.e_entry + bias, phdr=_phdr_address(elf, bias),
                     phnum=elf.header.e_phnum, phent=elf.header.e_phentsize, load_bias=bias,
                     end=high + bias, ranges=[(s, e) for s, e, _ in mapped])


def _phdr_address(elf: ElfFile, bias: int) -> int:
    for seg in elf.segments:
        if seg.p_type == PT_PHDR:
            return seg.p_vaddr + bias
    phoff = elf.header.e_phoff
    for seg in elf.loads:
        if seg.p_offset <= phoff < seg.p_offset + seg.p_filesz:
            return seg.p_vaddr + bias + (phoff - seg.p_offset)
    return 0


def _map_segment(task: Any, mm: Any, cache: PageCache, elf: ElfFile, seg: ProgramHeader,
                 vaddr: int, prot: int) -> None:
    start, end = page_down(vaddr), page_up(vaddr + seg.p_memsz)
    filesz, memsz = seg.p_filesz, seg.p_memsz
    if (vaddr - seg.p_offset) % PAGE:
        # Not page-congruent: nothing can be shared; copy the bytes in.
        mm.map_anonymous(start, end - start, prot, MAP_FIXED | MAP_PRIVATE, name=elf.path)
        if filesz:
            mm.write_initial(vaddr, pread_full(task, elf.file, filesz, seg.p_offset))
        return
    file_start = seg.p_offset - (vaddr - start)
    n_file = (page_up(vaddr + filesz) - start) // PAGE if filesz else 0
    first = file_start // PAGE
    n_cached = max(0, min(n_file, (elf.st.size + PAGE - 1) // PAGE - first))
    frames = cache.get_pages(task, elf.file, elf.st, first, n_cached)
    tail = (vaddr + filesz) % PAGE if memsz > filesz else 0    # bytes of file data in the bss page
    try:
        for i in range(n_cached):
            last = i == n_file - 1
            if prot & PROT_WRITE or (last and tail):
                private = cache.copy_frame(frames[i])
                cache.unref(frames[i])
                frames[i] = private
                if last and tail:
                    mm.memory.view[private + tail:private + PAGE] = bytes(PAGE - tail)
        npages = (end - start) // PAGE
        frames += mm.frames.alloc_many(npages - n_cached)   # past EOF and .bss: zero
        mm.map_anonymous(start, end - start, prot, MAP_FIXED | MAP_PRIVATE, name=elf.path,
                         file_offset=file_start, frames=frames)
    except BaseException:
        mm.frames.free(cache.release(frames))
        raise
