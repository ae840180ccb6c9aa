"""Resource limits (getrlimit/setrlimit/prlimit64)."""
from __future__ import annotations

from dataclasses import dataclass, field

RLIM_INFINITY = 0xFFFF_FFFF_FFFF_FFFF

# Linux RLIMIT_* numbers, in order.
RLIMIT_NAMES = [
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
    "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
    "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
]


def _defaults() -> list[tuple[int, int]]:
    inf = (RLIM_INFINITY, RLIM_INFINITY)
    lim = [inf] * len(RLIMIT_NAMES)
    lim[3] = (8 << 20, RLIM_INFINITY)        # stack
    lim[4] = (0, RLIM_INFINITY)              # core
    lim[6] = (63542, 63542)                  # nproc
    lim[7] = (1024, 1024 * 1024)             # nofile
    lim[8] = (8 << 20, 8 << 20)              # memlock
    lim[11] = (63542, 63542)                 # sigpending
    lim[12] = (819200, 819200)               # msgqueue
    lim[13] = (0, 0)
    lim[14] = (0, 0)
    return lim


@dataclass
class ResourceLimits:
    values: list[tuple[int, int]] = field(default_factory=_defaults)

    def get(self, resource: int) -> tuple[int, int]:
        return self.values[resource]

    def set(self, resource: int, soft: int, hard: int) -> None:
        self.values[resource] = (soft, hard)
