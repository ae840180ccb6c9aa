"""The loader's header parser agrees with pyelftools on real binaries."""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from qkernel.loader.elfheaders import parse_headers

BINARIES = [p for p in ("/bin/busybox", "/bin/ls", os.path.realpath(sys.executable))
            if Path(p).exists() and Path(p).read_bytes()[:4] == b"\x7fELF"]


@pytest.mark.parametrize("path", sorted(set(BINARIES)))
def test_headers_match_pyelftools(path: str) -> None:
    data = Path(path).read_bytes()
    header, phdrs = parse_headers(data)
    ref = ELFFile(io.BytesIO(data))
    assert header.e_entry == ref.header["e_entry"]
    assert header.e_phoff == ref.header["e_phoff"]
    assert header.e_phnum == ref.num_segments()
    for mine, seg in zip(phdrs, ref.iter_segments()):
        for field in ("p_offset", "p_vaddr", "p_filesz", "p_memsz", "p_flags", "p_align"):
            assert getattr(mine, field) == seg[field], field


def test_truncated_headers_are_refused() -> None:
    data = Path("/bin/busybox").read_bytes()[:100] if Path("/bin/busybox").exists() else b"\x7fELF"
    with pytest.raises(ValueError):
        parse_headers(data)
