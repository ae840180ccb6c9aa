"""epoll: an interest list of (fd, open file) -> events, data.

Readiness is not pushed by the files: a scan asks each registered file's
`poll_events(task)` (level-triggered), and epoll_wait waits with
`kernel.wait_until` on that scan, woken by the `kernel.notify()` every
in-kernel file already does on a change.

Edge-triggered items are reported when their ready mask differs from what
was last reported, or when the file's `event_seq` (kept by the anon-inode
files and sockets: bumped on every change; for other files the count of
queued bytes stands in) has moved since. Good enough, not exact: a host
file's edges are only its mask changes. EPOLLONESHOT disables an item after one report until
EPOLL_CTL_MOD. EPOLLEXCLUSIVE and EPOLLWAKEUP are kept and otherwise
ignored.

An item lives while its open file description does (as Linux: closing one
fd of a dup'ed file keeps it); a released file is dropped at the next scan.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from qkernel.errors import SyscallError
from qkernel.vfs.eventfd import AnonFile
from qkernel.vfs.file import OpenFile

EPOLLIN = 0x001
EPOLLPRI = 0x002
EPOLLOUT = 0x004
EPOLLERR = 0x008
EPOLLHUP = 0x010
EPOLLRDNORM = 0x040
EPOLLRDBAND = 0x080
EPOLLWRNORM = 0x100
EPOLLWRBAND = 0x200
EPOLLMSG = 0x400
EPOLLRDHUP = 0x2000
EPOLLEXCLUSIVE = 1 << 28
EPOLLWAKEUP = 1 << 29
EPOLLONESHOT = 1 << 30
EPOLLET = 1 << 31
EP_PRIVATE = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET
MAX_NESTS = 4


@dataclass(eq=False)
class Item:
    fd: int
    file: OpenFile
    events: int
    data: int
    disabled: bool = False          # EPOLLONESHOT fired
    last_mask: int = 0              # what was last reported (EPOLLET)
    last_seq: int = -1
    order: int | None = None        # place in the ready list (None: not on it)


class EpollFile(AnonFile):
    kind = "eventpoll"

    def __init__(self, flags: int, kernel: Any = None) -> None:
        super().__init__(flags, kernel)
        self.items: dict[tuple[int, int], Item] = {}     # (fd, id(file)) -> Item
        self._order = 0

    def _queue(self, item: Item) -> None:
        """Put an item at the tail of the ready list (Linux reports in the
        order items became ready; a reported level-triggered item goes back
        to the tail)."""
        self._order += 1
        item.order = self._order

    # -- interest list --------------------------------------------------------
    def add(self, task: Any, fd: int, f: OpenFile, events: int, data: int) -> None:
        key = (fd, id(f))
        if key in self.items and self.items[key].file.refs > 0:
            raise SyscallError(errno.EEXIST)
        if isinstance(f, EpollFile):
            if events & EPOLLEXCLUSIVE:
                raise SyscallError(errno.EINVAL)
            if f is self or f.reaches(self, 0):
                raise SyscallError(errno.ELOOP)
        item = self.items[key] = Item(fd, f, events, data)
        if self._mask(task, item, 0):
            self._queue(item)
        self.changed()

    def modify(self, task: Any, fd: int, f: OpenFile, events: int, data: int) -> None:
        item = self._find(fd, f)
        if item.events & EPOLLEXCLUSIVE:
            raise SyscallError(errno.EINVAL)
        item.events, item.data = events, data
        item.disabled = False
        item.last_mask, item.last_seq = 0, -1
        item.order = None
        if self._mask(task, item, 0):
            self._queue(item)
        self.changed()

    def delete(self, fd: int, f: OpenFile) -> None:
        item = self._find(fd, f)
        del self.items[(item.fd, id(item.file))]
        self.changed()

    def _find(self, fd: int, f: OpenFile) -> Item:
        item = self.items.get((fd, id(f)))
        if item is None or item.file is not f:
            raise SyscallError(errno.ENOENT)
        return item

    def reaches(self, target: "EpollFile", depth: int) -> bool:
        """`target` is watched by us, directly or through nested epolls."""
        if depth > MAX_NESTS:
            return True
        for item in self.items.values():
            f = item.file
            if f is target or (isinstance(f, EpollFile) and f.reaches(target, depth + 1)):
                return True
        return False

    def release(self) -> None:
        self.items.clear()

    def watched_files(self) -> list[OpenFile]:
        return [i.file for i in self.items.values()]

    # -- readiness --------------------------------------------------------------
    def _mask(self, task: Any, item: Item, depth: int) -> int:
        f = item.file
        if isinstance(f, EpollFile):
            if depth >= MAX_NESTS:
                return 0
            mask = EPOLLIN | EPOLLRDNORM if f.any_ready(task, depth + 1) else 0
        else:
            mask = f.poll_events(task)
        return mask & ((item.events & ~EP_PRIVATE) | EPOLLERR | EPOLLHUP)

    def _prune(self) -> None:
        for key in [k for k, i in self.items.items() if i.file.refs <= 0]:
            del self.items[key]

    @staticmethod
    def _seq(item: Item) -> int:
        """A change counter: the file's event_seq, else its queued byte
        count (a pipe drained and refilled is a new edge)."""
        f = item.file
        seq = getattr(f, "event_seq", None)
        if seq is not None:
            return int(seq)
        try:
            return f.bytes_available()
        except (SyscallError, OSError):
            return 0

    def any_ready(self, task: Any, depth: int = 0) -> bool:
        """Would epoll_wait report something now (without consuming ET/ONESHOT state)?"""
        self._prune()
        for item in self.items.values():
            if item.disabled:
                continue
            mask = self._mask(task, item, depth)
            if not mask:
                item.last_mask = 0           # the next rise is an edge
                item.order = None
                continue
            if item.order is None:
                self._queue(item)
            if item.events & EPOLLET and mask == item.last_mask and self._seq(item) == item.last_seq:
                continue
            return True
        return False

    def collect(self, task: Any, maxevents: int) -> list[tuple[int, int]]:
        """Take up to maxevents (events, data) pairs in ready-list order,
        updating ET/ONESHOT state; reported level-triggered items go back
        to the tail of the ready list."""
        self._prune()
        ready: list[tuple[Item, int, int]] = []
        for item in self.items.values():
            if item.disabled:
                continue
            mask = self._mask(task, item, 0)
            seq = self._seq(item)
            if not mask:
                item.last_mask = 0
                item.order = None
                continue
            if item.events & EPOLLET and mask == item.last_mask and seq == item.last_seq:
                continue
            if item.order is None:
                self._queue(item)
            ready.append((item, mask, seq))
        ready.sort(key=lambda r: r[0].order or 0)
        out: list[tuple[int, int]] = []
        for item, mask, seq in ready[:maxevents]:
            item.last_mask, item.last_seq = mask, seq
            out.append((mask, item.data))
            if item.events & EPOLLONESHOT:
                item.disabled = True
                item.order = None
            elif item.events & EPOLLET:
                item.order = None
            else:
                self._queue(item)
        return out

    def poll_events(self, task: Any) -> int:
        return EPOLLIN | EPOLLRDNORM if self.any_ready(task) else 0
