"""Loading PID 1's program (and, through the same code, execve's)."""
from __future__ import annotations

import os
from typing import Any

from qkernel.config import KernelConfig
from qkernel.exec import find_program, read_executable
from qkernel.loader.elf import load_elf
from qkernel.loader.stack import build_stack

# AT_HWCAP as Linux reports it on x86-64 (CPUID.1:EDX of a modern CPU).
HWCAP_X86_64 = 0x178BFBFF


def load_image(task: Any, mm: Any, path: str, argv: list[bytes],
               envp: list[bytes]) -> tuple[int, int, str]:
    """Load the program at guest `path` into `mm`; returns (entry, rsp, path)."""
    data = read_executable(task, path)
    image = load_elf(mm, data)
    mm.brk_start = mm.brk = image.brk_start
    ids = (task.creds.uid, task.creds.euid, task.creds.gid, task.creds.egid)
    rsp = build_stack(mm, image, argv, envp, path.encode(), ids, HWCAP_X86_64)
    return image.entry, rsp, path


def load_init_program(task: Any, config: KernelConfig) -> tuple[int, int]:
    path = find_program(task, config.args[0], config.env)
    entry, rsp, _ = load_image(task, task.mm, path, [a.encode() for a in config.args],
                               [e.encode() for e in config.env])
    task.exe_path = path
    task.comm = os.path.basename(path).encode()[:15]
    return entry, rsp
