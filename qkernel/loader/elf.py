"""What makes a file an x86-64 ELF executable, and the error when it is not.

Loading is qkernel/loader/program.py's. The headers are read with `struct`
(qkernel/loader/elfheaders.py): importing pyelftools costs 25-40 ms, over
half of the start-up budget, for what is two fixed-size records.
pyelftools stays the reference: a test checks that parser against it.
"""
from __future__ import annotations

import errno

from qkernel.errors import SyscallError
from qkernel.mm.vma import PROT_EXEC, PROT_READ, PROT_WRITE

EM_X86_64 = 62
PIE_LOAD_BIAS = 0x5555_5555_4000       # where Linux puts an ET_DYN without interpreter


class ExecFormatError(SyscallError):
    def __init__(self, reason: str) -> None:
        super().__init__(errno.ENOEXEC, reason)
        self.reason = reason


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
