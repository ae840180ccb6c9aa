"""Builds the vDSO image (vdso.so next to this file) from vdso.c with gcc.

Run by `make gen`: `python -m qkernel.vdso.build`. The product is not checked
in (*.so is ignored); QKernel runs without a vDSO when it is missing, and the
guest's libc then makes the real system calls.

Checks the result: one PT_LOAD, no dynamic relocations, the symbols glibc
looks up present.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "vdso.c"
OUTPUT = HERE / "vdso.so"
SYMBOLS = ("__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu",
           "__vdso_clock_getres", "clock_gettime", "gettimeofday", "time", "getcpu")

CFLAGS = [
    "-shared", "-nostdlib", "-fPIC", "-O2",
    "-fno-stack-protector", "-fno-builtin", "-ffreestanding",   # no libc to call into
    "-fcf-protection=none", "-mno-red-zone", "-Wall", "-Werror",
    "-Wl,--hash-style=both", "-Wl,-soname=linux-vdso.so.1", "-Wl,--eh-frame-hdr",
    "-Wl,-z,max-page-size=4096", "-Wl,-z,noexecstack", "-Wl,--no-undefined",
    "-Wl,--build-id=none",
]


def build(output: Path = OUTPUT, cc: str = "gcc") -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vdso.so"
        cmd = [cc, *CFLAGS, f"-Wl,-T,{HERE / 'vdso.lds'}",
               f"-Wl,--version-script={HERE / 'vdso.ver'}", "-o", str(out), str(SOURCE)]
        subprocess.run(cmd, check=True)
        check(out.read_bytes())
        # Atomic replace: a sandbox starting meanwhile reads the old or the new.
        tmp_out = output.with_suffix(".so.tmp")
        tmp_out.write_bytes(out.read_bytes())
        os.replace(tmp_out, output)
    return output


def check(image: bytes) -> None:
    """Refuse an image the loader could not map as is."""
    from qkernel.loader.elfheaders import PT_LOAD, parse_headers
    header, phdrs = parse_headers(image)
    loads = [p for p in phdrs if p.p_type == PT_LOAD]
    if len(loads) != 1 or loads[0].p_vaddr != 0 or loads[0].p_flags & 2:
        raise RuntimeError("vDSO must be one read-only PT_LOAD at address 0")
    from io import BytesIO

    from elftools.elf.elffile import ELFFile
    elf = ELFFile(BytesIO(image))
    for section in elf.iter_sections():
        if section.name.startswith(".rela") or section.name.startswith(".rel."):
            if section.data_size:
                raise RuntimeError(f"vDSO has relocations ({section.name})")
    dynsym = elf.get_section_by_name(".dynsym")
    names = {s.name for s in dynsym.iter_symbols()}
    missing = [s for s in SYMBOLS if s not in names]
    if missing:
        raise RuntimeError(f"vDSO lacks {missing}")


if __name__ == "__main__":
    path = build()
    print(f"vdso: {path} ({path.stat().st_size} bytes)", file=sys.stderr)
