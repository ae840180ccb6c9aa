"""A thread group: what Linux calls a process (pid = tgid).

Shared by its threads: the address space, and (unless clone said
otherwise) the fd table, fs context and signal handlers. Parent/child links
and the exit status live here; zombies stay in the kernel's table until a
wait reaps them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.task import Task


@dataclass(eq=False)
class ThreadGroup:
    pid: int
    parent: "ThreadGroup | None"
    pgid: int
    sid: int
    tasks: dict[int, "Task"] = field(default_factory=dict)      # live threads, by tid
    children: list["ThreadGroup"] = field(default_factory=list)
    exit_signal: int = 17                 # SIGCHLD: what the parent gets at our exit
    exiting: bool = False                 # exit_group or a fatal signal is under way
    group_exit_status: int | None = None  # wait status, once decided
    zombie: bool = False                  # all threads gone, not yet reaped
    reaped: bool = False
    stopped: bool = False                 # SIGSTOP'd (job control)
    wait_events: list[tuple[str, int]] = field(default_factory=list)  # ("stopped"|"continued", sig)
    shared_pending: dict[int, list[Any]] = field(default_factory=dict)  # signo -> siginfos
    start_time_ns: int = 0
    children_cpu_ns: int = 0
    exe_path: str = ""
    # Handlers are shared by threads (and by processes made with CLONE_SIGHAND).
    sigactions: dict[int, Any] = field(default_factory=dict)
    # The controlling terminal (Linux's signal->tty; qkernel.vfs.terminal):
    # inherited by fork, dropped by setsid and when the session loses it.
    ctty: Any = None

    @property
    def ppid(self) -> int:
        return self.parent.pid if self.parent is not None else 0

    @property
    def leader(self) -> "Task | None":
        return self.tasks.get(self.pid)
