"""siginfo_t: what a queued signal carries, and its 128-byte x86-64 layout.

Layout (include/uapi/asm-generic/siginfo.h on x86-64): si_signo, si_errno,
si_code (i32 each), 4 bytes of padding, then a union at offset 16 whose
member is chosen by the signal and si_code.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from qkernel.signals.consts import (
    FAULT_SIGNALS, SI_TIMER, SIGCHLD, SIGIO, SIGSYS,
)

SIGINFO_SIZE = 128
_HEAD = struct.Struct("<iiii")


@dataclass
class SigInfo:
    signo: int
    code: int = 0
    errno: int = 0
    pid: int = 0           # sender (kill, queue, chld)
    uid: int = 0
    value: int = 0         # sigval (queue, timer)
    addr: int = 0          # faulting address (fault signals)
    status: int = 0        # SIGCHLD: exit code or signal
    utime: int = 0         # SIGCHLD: clock ticks
    stime: int = 0
    tid: int = 0           # timer id (SI_TIMER)
    overrun: int = 0
    band: int = 0          # SIGIO
    fd: int = 0
    call_addr: int = 0     # SIGSYS (seccomp)
    syscall: int = 0
    arch: int = 0
    # Kernel-internal, never packed:
    trapno: int = 0        # sigcontext.trapno / err for a fault
    err: int = 0
    forced: bool = False   # sent by the kernel for a fault (bypasses init's protection)
    kernel_sent: bool = False  # from the kernel or the host, not a guest process
    raw: bytes | None = None   # a user-supplied siginfo (rt_sigqueueinfo): passed through

    def pack(self) -> bytes:
        """The siginfo_t the guest sees."""
        if self.raw is not None:
            # Linux copies a queued user siginfo whole; only si_signo is the kernel's.
            return struct.pack("<i", self.signo) + self.raw[4:SIGINFO_SIZE]
        head = _HEAD.pack(self.signo, self.errno, self.code, 0)
        if self.code > 0 and self.signo in FAULT_SIGNALS:
            body = struct.pack("<Q", self.addr & (1 << 64) - 1)
        elif self.code > 0 and self.signo == SIGCHLD:
            body = struct.pack("<iIiiqq", self.pid, self.uid & 0xFFFFFFFF, self.status, 0,
                               self.utime, self.stime)
        elif self.code > 0 and self.signo == SIGIO:
            body = struct.pack("<qi", self.band, self.fd)
        elif self.code > 0 and self.signo == SIGSYS:
            body = struct.pack("<QiI", self.call_addr, self.syscall, self.arch)
        elif self.code == SI_TIMER:
            body = struct.pack("<iiQ", self.tid, self.overrun, self.value & (1 << 64) - 1)
        else:   # kill, tkill, sigqueue, SI_KERNEL: pid, uid, value
            body = struct.pack("<iIQ", self.pid, self.uid & 0xFFFFFFFF, self.value & (1 << 64) - 1)
        return (head + body).ljust(SIGINFO_SIZE, b"\0")

    @classmethod
    def from_user(cls, signo: int, data: bytes) -> "SigInfo":
        """A siginfo given by rt_sigqueueinfo: keep its bytes, read what the
        kernel itself looks at (si_code, and pid/uid for printing)."""
        _, errno_, code, _ = _HEAD.unpack_from(data)
        pid, uid, value = struct.unpack_from("<iIQ", data, 16)
        return cls(signo=signo, code=code, errno=errno_, pid=pid, uid=uid, value=value,
                   raw=bytes(data[:SIGINFO_SIZE]))
