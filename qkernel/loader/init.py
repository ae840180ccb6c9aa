"""Loading PID 1's program, and execve's, through the one program loader."""
from __future__ import annotations

from typing import Any

from qkernel.config import KernelConfig
from qkernel.exec import find_program
from qkernel.loader.program import load_program


def load_image(task: Any, mm: Any, path: str, argv: list[bytes],
               envp: list[bytes]) -> tuple[int, int, str, bytes]:
    """Load the program at guest `path` into `mm`: (entry, rsp, exe path, comm)."""
    r = load_program(task, path, argv, envp, mm)
    return r.entry, r.rsp, r.exe_path, r.comm


def load_init_program(task: Any, config: KernelConfig) -> tuple[int, int]:
    path = find_program(task, config.args[0], config.env)
    entry, rsp, exe_path, comm = load_image(task, task.mm, path,
                                            [a.encode() for a in config.args],
                                            [e.encode() for e in config.env])
    task.exe_path, task.comm = exe_path, comm
    from qkernel.vfs.procfs import record_exec
    record_exec(task, config.args, config.env)
    return entry, rsp
