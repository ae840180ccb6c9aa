"""The initial user stack: argc, argv, envp and the auxiliary vector."""
from __future__ import annotations

import os
import struct
from typing import Protocol

from qkernel.mm.address_space import STACK_TOP, AddressSpace
from qkernel.mm.vma import MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, PROT_READ, PROT_WRITE

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_SYSINFO_EHDR, AT_MINSIGSTKSZ = 23, 25, 26, 31, 33, 51

STACK_SIZE = 8 << 20            # the most it grows to (RLIMIT_STACK's default)
# Mapped at exec: enough for the arguments plus this much; the rest grows on
# demand (AddressSpace.grow_stack), so fork and exit do not carry 8 MiB of
# page-table entries for a stack that mostly stays small.
STACK_INITIAL = 256 << 10


class Image(Protocol):
    """What the stack needs of the main program (LoadedImage, MappedElf)."""
    entry: int
    phdr: int
    phnum: int
    phent: int


def build_stack(mm: AddressSpace, image: Image, argv: list[bytes], envp: list[bytes],
                execfn: bytes, ids: tuple[int, int, int, int], hwcap: int, *,
                interp_base: int = 0, vdso_base: int = 0) -> int:
    """Map the stack and lay out the System V initial process stack; returns rsp.

    `interp_base`: where the ELF interpreter was loaded (AT_BASE, 0 without one);
    `vdso_base`: the vDSO's ELF header (AT_SYSINFO_EHDR, left out when 0)."""
    args_bytes = sum(len(a) + 9 for a in argv) + sum(len(e) + 9 for e in envp) + len(execfn)
    size = min(STACK_SIZE, max(STACK_INITIAL, (args_bytes + STACK_INITIAL + 4095) & ~4095))
    mm.map_anonymous(STACK_TOP - size, size, PROT_READ | PROT_WRITE,
                     MAP_FIXED | MAP_PRIVATE | MAP_GROWSDOWN, name="[stack]")
    strings = bytearray()
    top = STACK_TOP - 16

    def put(blob: bytes) -> int:
        nonlocal strings
        strings = bytearray(blob) + strings
        return len(strings)

    # Strings are placed downward from `top`; remember their distance from it.
    random_off = put(os.urandom(16))
    platform_off = put(b"x86_64\0")
    execfn_off = put(execfn + b"\0")
    env_offs = [put(e + b"\0") for e in reversed(envp)][::-1]
    arg_offs = [put(a + b"\0") for a in reversed(argv)][::-1]
    strings_start = top - len(strings)

    def addr(off: int) -> int:
        return top - off

    uid, euid, gid, egid = ids
    auxv = [
        (AT_PHDR, image.phdr), (AT_PHENT, image.phent), (AT_PHNUM, image.phnum),
        (AT_PAGESZ, 4096), (AT_BASE, interp_base), (AT_FLAGS, 0), (AT_ENTRY, image.entry),
        (AT_UID, uid), (AT_EUID, euid), (AT_GID, gid), (AT_EGID, egid),
        (AT_SECURE, 0), (AT_RANDOM, addr(random_off)), (AT_HWCAP, hwcap), (AT_HWCAP2, 0),
        (AT_CLKTCK, 100), (AT_PLATFORM, addr(platform_off)), (AT_EXECFN, addr(execfn_off)),
        (AT_MINSIGSTKSZ, 2048),
    ]
    if vdso_base:
        auxv.insert(0, (AT_SYSINFO_EHDR, vdso_base))    # first, as Linux orders it
    auxv.append((AT_NULL, 0))
    words = [len(argv)] + [addr(o) for o in arg_offs] + [0] + [addr(o) for o in env_offs] + [0]
    for key, value in auxv:
        words += [key, value]
    table = struct.pack(f"<{len(words)}Q", *words)
    rsp = (strings_start - len(table)) & ~0xF
    mm.write_initial(strings_start, bytes(strings))
    mm.write_initial(rsp, table)
    return rsp
