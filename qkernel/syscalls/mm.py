"""Memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise.

Reductions of existing mappings must be stored by the guest itself (DESIGN
§3), which only the vCPU thread can arrange: when the poller would reduce a
mapping it hands the request over (MustExit) before changing anything.
"""
from __future__ import annotations

import errno

from qkernel.errors import MustExit, SyscallError
from qkernel.mm.address_space import TASK_SIZE, page_up
from qkernel.mm.pagecache import page_cache_for
from qkernel.mm.physmem import PAGE
from qkernel.mm.vma import (MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE,
                            MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE, PROT_EXEC, PROT_READ,
                            PROT_WRITE)
from qkernel.task import Task

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4

MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED = 0, 1, 2, 3, 4
MADV_FREE = 8
MADV_REMOVE = 9
# Advice that only tunes paging: nothing to do for eagerly mapped memory.
HINT_ADVICE = {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, 10, 11, 12, 13, 14, 15,
               16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 100, 101}
PROT_GROWSDOWN = 0x01000000
PROT_GROWSUP = 0x02000000
MAX_FILE_MAP = 1 << 30


def _needs_vcpu_if_reducing(task: Task, start: int, end: int) -> None:
    if task.kernel.in_poller() and task.mm.overlapping(start, end):
        raise MustExit()


def sys_brk(task: Task, brk: int) -> int:
    mm = task.mm
    if brk and page_up(brk) < page_up(mm.brk):
        _needs_vcpu_if_reducing(task, page_up(brk), page_up(mm.brk))
    if brk == 0:
        return mm.brk
    return mm.set_brk(brk)


def sys_mmap(task: Task, addr: int, length: int, prot: int, flags: int, fd: int,
             offset: int) -> int:
    if length == 0 or length > TASK_SIZE:
        raise SyscallError(errno.EINVAL if length == 0 else errno.ENOMEM)
    if offset & 0xFFF:
        raise SyscallError(errno.EINVAL)
    map_type = flags & MAP_TYPE
    if map_type not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
        raise SyscallError(errno.EINVAL)
    prot &= PROT_READ | PROT_WRITE | PROT_EXEC
    if flags & MAP_FIXED:
        _needs_vcpu_if_reducing(task, addr & ~0xFFF, page_up(addr + length))
    mm = task.mm
    if flags & MAP_ANONYMOUS:
        # MAP_SHARED anonymous memory stays shared with children across fork
        # (AddressSpace.copy_into shares the frames of shared mappings).
        return mm.map_anonymous(addr, length, prot, flags)
    file = task.fds.get(fd)
    if not file.readable:
        raise SyscallError(errno.EACCES)
    shared = map_type != MAP_PRIVATE
    if shared and prot & PROT_WRITE and not file.writable:
        raise SyscallError(errno.EACCES)
    st = file.stat(task)
    if st.mode & 0o170000 in (0o040000, 0o010000, 0o140000):   # directories, pipes, sockets
        raise SyscallError(errno.ENODEV)
    if length > MAX_FILE_MAP:
        raise SyscallError(errno.ENOMEM)
    name = getattr(file, "path", "") or "file"
    if st.mode & 0o170000 == 0o100000:
        start = _map_cached(task, file, st, addr, length, prot, flags, offset, name, shared)
        if shared:
            vma = mm.find_vma(start)
            assert vma is not None
            file.incref()
            vma.shared_file = file       # written back by msync, munmap and exit
        return start
    if shared and prot & PROT_WRITE and not name.startswith("/dev/zero"):
        raise SyscallError(errno.ENODEV, "shared writable mappings of this file type")
    # Devices and in-kernel files: a private copy of what reading them gives.
    data = file.pread(task, min(length, max(st.size - offset, 0)), offset) if st.size > offset else b""
    start = mm.map_anonymous(addr, length, prot, flags, name=name, file_offset=offset)
    if data:
        mm.write_initial(start, data)
    return start


def _map_cached(task: Task, file: object, st: object, addr: int, length: int, prot: int,
                flags: int, offset: int, name: str, shared: bool = False) -> int:
    """A regular file's pages from the page cache shared by all processes:
    mapped as they are (read-only PTEs) unless writable, then copied now
    (mprotect to writable later copies too: AddressSpace.protect). Pages
    wholly past EOF read as zero (Linux would raise SIGBUS).
    Not kept: coherence of MAP_PRIVATE pages with later write(2)s to the file."""
    mm = task.mm
    cache = page_cache_for(task.kernel, mm)
    npages = page_up(length) // PAGE
    first = offset // PAGE
    n_cached = max(0, min(npages, (st.size + PAGE - 1) // PAGE - first))   # type: ignore[attr-defined]
    frames = cache.get_pages(task, file, st, first, n_cached)
    try:
        if prot & PROT_WRITE and not shared:      # MAP_SHARED writes into the cache pages
            for i, frame in enumerate(frames):
                frames[i] = cache.copy_frame(frame)
                cache.unref(frame)
        frames += mm.frames.alloc_many(npages - n_cached)
        return mm.map_anonymous(addr, length, prot, flags, name=name, file_offset=offset,
                                frames=frames)
    except BaseException:
        mm.frames.free(cache.release(frames))
        raise


def sys_munmap(task: Task, addr: int, length: int) -> int:
    if addr & 0xFFF or length == 0:
        raise SyscallError(errno.EINVAL)
    task.mm.unmap(addr, length)
    return 0


def sys_mprotect(task: Task, start: int, length: int, prot: int) -> int:
    if start & 0xFFF:
        raise SyscallError(errno.EINVAL)
    if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP):
        raise SyscallError(errno.EINVAL)
    task.mm.protect(start, length, prot & (PROT_READ | PROT_WRITE | PROT_EXEC))
    return 0


def sys_mremap(task: Task, addr: int, old_len: int, new_len: int, flags: int,
               new_addr: int) -> int:
    if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
        raise SyscallError(errno.EINVAL)
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        raise SyscallError(errno.EINVAL)
    if flags & MREMAP_DONTUNMAP:
        raise SyscallError(errno.EINVAL, "MREMAP_DONTUNMAP is not supported yet")
    if old_len == 0:
        raise SyscallError(errno.EINVAL, "duplicating shared mappings is not supported")
    fixed = new_addr if flags & MREMAP_FIXED else None
    return task.mm.remap(addr, old_len, new_len, bool(flags & MREMAP_MAYMOVE), fixed)


def sys_madvise(task: Task, start: int, length: int, behavior: int) -> int:
    if start & 0xFFF:
        raise SyscallError(errno.EINVAL)
    if length == 0:
        return 0
    end = page_up(start + length)
    covered = sum(min(v.end, end) - max(v.start, start) for v in task.mm.overlapping(start, end))
    if behavior in (MADV_DONTNEED, MADV_FREE, MADV_REMOVE):
        task.mm.discard(start, length)
    elif behavior not in HINT_ADVICE:
        raise SyscallError(errno.EINVAL)
    if covered < end - start:
        raise SyscallError(errno.ENOMEM)
    return 0


MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4


def sys_msync(task: Task, start: int, length: int, flags: int) -> int:
    if start & 0xFFF or flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC):
        raise SyscallError(errno.EINVAL)
    if flags & MS_ASYNC and flags & MS_SYNC:
        raise SyscallError(errno.EINVAL)
    if length:
        task.mm.sync(start, length)
    return 0


def sys_mincore(task: Task, start: int, length: int, vec: int) -> int:
    """Every mapped page is resident: QKernel maps eagerly (PROT_NONE pages too)."""
    if start & 0xFFF:
        raise SyscallError(errno.EINVAL)
    end = page_up(start + length)
    if end > TASK_SIZE or end < start:
        raise SyscallError(errno.ENOMEM)
    pos = start
    for v in task.mm.overlapping(start, end):
        if v.start > pos:
            raise SyscallError(errno.ENOMEM)
        pos = v.end
    if pos < end:
        raise SyscallError(errno.ENOMEM)
    task.mm.copy_out(vec, b"\x01" * ((end - start) // PAGE))
    return 0
