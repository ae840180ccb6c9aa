"""Futexes: the kernel-owned wait table behind futex(2), and the exit-time
wakes (CLONE_CHILD_CLEARTID, robust lists).

Everything here runs with `kernel.lock` held. A waiter is a record in the
table (`kernel.futexes`, made on first use); a waker only sets its `woken`
flag and calls `kernel.notify()`, and the waiting task sleeps in
`kernel.wait_until(task, lambda: w.woken, ...)`. So there is no per-futex
lock or condition: the one kernel lock orders every wake against every
check of a futex word, which is what gives FUTEX_WAIT its "no lost wake"
guarantee.

Keys (which waiters a wake reaches):
- a private futex, or a futex in a private mapping, is (address space,
  address), as Linux keys anonymous-private pages by mm;
- a futex in a MAP_SHARED mapping is the guest-physical address of the word
  (its frame from the page table plus the offset), so processes that map
  the same memory at different addresses meet on one key.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Hashable

from qkernel.errors import SyscallError
from qkernel.mm.pagetable import ADDR_MASK, PTE_P
from qkernel.mm.vma import MAP_SHARED, MAP_TYPE

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.task import Task

BITSET_MATCH_ANY = 0xFFFF_FFFF

# Robust futex word bits (include/uapi/linux/futex.h).
FUTEX_WAITERS = 0x8000_0000
FUTEX_OWNER_DIED = 0x4000_0000
FUTEX_TID_MASK = 0x3FFF_FFFF
ROBUST_LIST_LIMIT = 2048            # Linux's bound on a (possibly cyclic) list walk

Key = Hashable


@dataclass(eq=False)
class Waiter:
    """One task blocked in FUTEX_WAIT(_BITSET); identity-compared."""
    task: Any
    key: Key
    bitset: int
    woken: bool = False


class FutexTable:
    """Waiters by key, each queue in arrival order (wakes are FIFO)."""

    def __init__(self) -> None:
        self.queues: dict[Key, list[Waiter]] = {}

    def enqueue(self, w: Waiter) -> None:
        self.queues.setdefault(w.key, []).append(w)

    def dequeue(self, w: Waiter) -> None:
        """Drop `w` wherever it is now (a requeue may have moved it)."""
        q = self.queues.get(w.key)
        if q is None:
            return
        try:
            q.remove(w)
        except ValueError:
            return
        if not q:
            del self.queues[w.key]

    def wake(self, key: Key, nr_wake: int, bitset: int = BITSET_MATCH_ANY) -> int:
        """Wake up to `nr_wake` waiters whose bitset meets `bitset`.

        As Linux, the count is checked after each wake, so nr_wake <= 0
        still wakes one waiter."""
        q = self.queues.get(key)
        woken = 0
        if not q:
            return 0
        for w in list(q):
            if not w.bitset & bitset:
                continue
            w.woken = True
            q.remove(w)
            woken += 1
            if woken >= nr_wake:
                break
        if not q:
            del self.queues[key]
        return woken

    def requeue(self, key: Key, key2: Key, nr_wake: int, nr_requeue: int) -> int:
        """Wake up to `nr_wake` on `key`, move up to `nr_requeue` of the rest
        to `key2`; returns woken + moved."""
        woken = self.wake(key, nr_wake) if nr_wake > 0 else 0
        q = self.queues.get(key)
        moved = 0
        if q and nr_requeue > 0 and key2 != key:
            movers = q[:nr_requeue]
            del q[:len(movers)]
            if not q:
                del self.queues[key]
            for w in movers:
                w.key = key2
                self.enqueue(w)
            moved = len(movers)
        elif q and nr_requeue > 0:
            moved = min(nr_requeue, len(q))   # requeue onto itself: nothing moves
        return woken + moved

    def waiters(self, key: Key) -> int:
        return len(self.queues.get(key, ()))


def table(kernel: Any) -> FutexTable:
    """The kernel's futex table, made on first use."""
    t = getattr(kernel, "futexes", None)
    if t is None:
        t = FutexTable()
        kernel.futexes = t
    return t


def futex_key(task: "Task", addr: int, private: bool) -> Key:
    """The key of the 32-bit futex word at `addr` (EINVAL if misaligned,
    EFAULT if unmapped)."""
    if addr & 3:
        raise SyscallError(errno.EINVAL)
    mm = task.mm
    if not private:
        vma = mm.find_vma(addr)
        if vma is None:
            raise SyscallError(errno.EFAULT)
        if vma.flags & MAP_TYPE in (MAP_SHARED, 0x03):   # MAP_SHARED(_VALIDATE)
            pte = mm.pt.get(addr)
            if not pte & PTE_P:
                raise SyscallError(errno.EFAULT)
            return ("shared", (pte & ADDR_MASK) | (addr & 0xFFF))
    # The address space object itself (identity-hashed): it lives at least
    # as long as any waiter, whose task holds it.
    return ("private", mm, addr)


def wake_address(task: "Task", addr: int, nr_wake: int, private: bool = False) -> int:
    """FUTEX_WAKE on `addr` from kernel code; 0 if the address is bad."""
    try:
        key = futex_key(task, addr, private)
    except SyscallError:
        return 0
    n = table(task.kernel).wake(key, nr_wake)
    if n:
        task.kernel.notify()
    return n


# ---------------------------------------------------------------- exit

def futex_wake_for_exit(kernel: Any, task: "Task") -> None:
    """What a dying thread owes its futexes (call with the lock held, while
    task.mm is still the thread's address space): the robust list first,
    then CLONE_CHILD_CLEARTID (write 0, wake one), as Linux's mm_release."""
    head, length = task.robust_list
    if head:
        try:
            exit_robust_list(task, head)
        except SyscallError:
            pass                      # a bad list is the guest's problem, not the exit's
        task.robust_list = (0, 0)
    tid_addr = task.clear_child_tid
    if tid_addr:
        task.clear_child_tid = 0
        try:
            task.mm.write_u32(tid_addr, 0)
        except SyscallError:
            return
        wake_address(task, tid_addr, 1)


def exit_robust_list(task: "Task", head: int) -> None:
    """Walk struct robust_list_head {next, futex_offset, list_op_pending}:
    every lock still owned by this thread gets FUTEX_OWNER_DIED and one
    waiter is woken. Bit 0 of each pointer marks a PI futex."""
    mm = task.mm
    entry, pi = _fetch_entry(mm.read_u64(head))
    offset = _s64(mm.read_u64(head + 8))
    pending, pending_pi = _fetch_entry(mm.read_u64(head + 16))
    for _ in range(ROBUST_LIST_LIMIT):
        if entry == head:
            break
        # Read the next pointer before the word may be released by a waiter.
        try:
            nxt, next_pi = _fetch_entry(mm.read_u64(entry))
        except SyscallError:
            nxt, next_pi = head, False   # a broken link ends the walk (after this entry)
        if entry != pending:
            _futex_death(task, (entry + offset) & 0xFFFF_FFFF_FFFF_FFFF, pi, False)
        entry, pi = nxt, next_pi
    if pending:
        _futex_death(task, (pending + offset) & 0xFFFF_FFFF_FFFF_FFFF, pending_pi, True)


def _futex_death(task: "Task", addr: int, pi: bool, pending_op: bool) -> None:
    if addr & 3:
        return
    try:
        uval = task.mm.read_u32(addr)
    except SyscallError:
        return
    if pending_op and not pi and uval == 0:
        # The thread died between taking the lock in user space and linking
        # it in (or while unlocking): a waiter may still need a wake.
        wake_address(task, addr, 1)
        return
    if uval & FUTEX_TID_MASK != task.tid:
        return
    try:
        task.mm.write_u32(addr, (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
    except SyscallError:
        return
    if not pi and uval & FUTEX_WAITERS:
        wake_address(task, addr, 1)


def _fetch_entry(value: int) -> tuple[int, bool]:
    return value & ~1, bool(value & 1)


def _s64(v: int) -> int:
    return v - (1 << 64) if v & (1 << 63) else v
