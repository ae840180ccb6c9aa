"""Reading the TSC from Python, and the TSC -> nanoseconds scale of this host.

The helper is ten bytes of machine code (rdtsc; combine edx:eax; ret) in an
executable anonymous mapping, called through ctypes: no compiler at run time.
Under kvm_pvm the guest's ring-3 rdtsc runs natively on the same TSC, so the
host's reading is the guest's; on hardware KVM the guest TSC may carry an
offset, which Vvar.set_guest_tsc_offset accounts for.
"""
from __future__ import annotations

import ctypes
import mmap
import time

# rdtsc ; shl rdx, 32 ; or rax, rdx ; ret
_CODE = bytes.fromhex("0f31" "48c1e220" "4809d0" "c3")
_buf: mmap.mmap | None = None
_fn: "ctypes._CFuncPtr | None" = None   # type: ignore[name-defined]


def rdtsc() -> int:
    global _buf, _fn
    if _fn is None:
        _buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        _buf.write(_CODE)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(_buf))
        _fn = ctypes.CFUNCTYPE(ctypes.c_uint64)(addr)
    return int(_fn())


def tsc_usable() -> bool:
    """An invariant TSC (constant rate, runs in every C-state): else no vDSO time."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return "constant_tsc" in flags and "nonstop_tsc" in flags
    except OSError:
        pass
    return False


def sample() -> tuple[int, int, int]:
    """(tsc, CLOCK_MONOTONIC ns, CLOCK_REALTIME ns) taken as close together as
    possible: the tightest of a few tries, with the TSC at the middle."""
    best: tuple[int, int, int, int] | None = None
    for _ in range(8):
        t0 = rdtsc()
        mono = time.monotonic_ns()
        real = time.time_ns()
        t1 = rdtsc()
        if best is None or t1 - t0 < best[0]:
            best = (t1 - t0, (t0 + t1) // 2, mono, real)
    assert best is not None
    return best[1], best[2], best[3]


def scale(tsc_delta: int, ns_delta: int, shift: int = 32) -> tuple[int, int]:
    """(mult, shift) with ns = (ticks * mult) >> shift."""
    return (ns_delta << shift) // max(tsc_delta, 1), shift
