"""load_program, the page cache and the vDSO, on a real AddressSpace over
PhysicalMemory and a real Kernel whose rootfs holds the host's ld.so, libc
and a dynamic /bin/true (no VM: the acceptance tests run guests)."""
from __future__ import annotations

import ctypes
import errno
import io
import os
import shutil
import struct
import time
from pathlib import Path

import pytest

from qkernel.config import KernelConfig
from qkernel.errors import SyscallError
from qkernel.kernel import Kernel
from qkernel.loader import stack
from qkernel.loader.elfheaders import parse_headers
from qkernel.loader.program import load_program
from qkernel.loader.script import parse_shebang
from qkernel.mm.address_space import AddressSpace
from qkernel.mm.pagetable import ADDR_MASK, PTE_P, PTE_RW
from qkernel.mm.physmem import PAGE, FrameAllocator, PhysicalMemory
from qkernel.mm.vma import MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE
from qkernel.syscalls import mm as mm_calls
from qkernel.vfs import abi, ops

LD_SO = "/lib64/ld-linux-x86-64.so.2"
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
TRUE = "/bin/true"
HOST_FILES = [(LD_SO, "lib64/ld-linux-x86-64.so.2"), (LIBC, "lib/x86_64-linux-gnu/libc.so.6"),
              (TRUE, "bin/true")]
pytestmark = pytest.mark.skipif(not all(Path(p).exists() for p, _ in HOST_FILES),
                                reason="needs the host's dynamic glibc")


@pytest.fixture
def memory() -> PhysicalMemory:
    # Per test: frames handed out again by a new allocator must read as zero.
    return PhysicalMemory(256 << 20)


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    for src, dst in HOST_FILES:
        (root / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / dst)
    (root / "tmp").mkdir()

    def script(name: str, text: bytes, mode: int = 0o755) -> None:
        (root / "bin" / name).write_bytes(text)
        (root / "bin" / name).chmod(mode)
    script("one.sh", b"#!/bin/true -x -y \n echo\n")
    script("plain.sh", b"#! /bin/true\n")
    script("nested.sh", b"#!/bin/one.sh\n")
    for i in range(6):     # loop0 -> loop1 -> ... -> loop5 -> /bin/true
        target = f"/bin/loop{i + 1}" if i < 5 else "/bin/true"
        script(f"loop{i}", f"#!{target}\n".encode())
    script("empty.sh", b"#!   \n")
    script("long.sh", b"#!/" + b"a" * 300)
    script("noexec", b"#!/bin/true\n", 0o644)
    script("text", b"hello\n")
    script("short_elf", b"\x7fELF\x02\x01")
    (root / "bin" / "adir").mkdir()
    return root


@pytest.fixture
def kernel(rootfs: Path):
    k = Kernel(KernelConfig(rootfs=str(rootfs), args=[TRUE]), 256 << 20)
    yield k
    k.vfs.close()


@pytest.fixture
def frames(memory: PhysicalMemory) -> FrameAllocator:
    return FrameAllocator(memory, 0x100000)


def new_task(kernel: Kernel, memory: PhysicalMemory, frames: FrameAllocator):
    mm = AddressSpace(memory, frames)
    task = kernel.new_init_task(mm)
    return task, mm


def auxv_of(mm: AddressSpace, rsp: int) -> tuple[list[int], dict[int, int]]:
    argc = mm.read_u64(rsp)
    pos = rsp + 8
    argv = []
    for _ in range(argc):
        argv.append(mm.read_u64(pos))
        pos += 8
    pos += 8
    while mm.read_u64(pos):
        pos += 8
    pos += 8
    aux: dict[int, int] = {}
    while True:
        key, value = mm.read_u64(pos), mm.read_u64(pos + 8)
        pos += 16
        if key == 0:
            return argv, aux
        aux[key] = value


def frame_of(mm: AddressSpace, va: int) -> int:
    return mm.pt.get(va) & ADDR_MASK


# ---- dynamic programs ---------------------------------------------------------
def test_dynamic_program_maps_interpreter_and_auxv(kernel, memory, frames) -> None:
    task, mm = new_task(kernel, memory, frames)
    r = load_program(task, TRUE, [b"true", b"--x"], [b"A=1"], mm)
    true_hdr, true_ph = parse_headers(Path(TRUE).read_bytes())
    ld_hdr, _ = parse_headers(Path(LD_SO).read_bytes())
    assert r.load_bias == 0x5555_5555_4000
    assert r.program_entry == r.load_bias + true_hdr.e_entry
    assert r.interp_base and r.entry == r.interp_base + ld_hdr.e_entry
    assert r.interp_path == "/lib64/ld-linux-x86-64.so.2"
    assert r.exe_path == "/bin/true" and r.comm == b"true"
    argv, aux = auxv_of(mm, r.rsp)
    assert [mm.read_cstring(a) for a in argv] == [b"true", b"--x"]
    assert aux[stack.AT_BASE] == r.interp_base
    assert aux[stack.AT_ENTRY] == r.program_entry
    assert aux[stack.AT_PHNUM] == true_hdr.e_phnum
    phdr = aux[stack.AT_PHDR]
    assert mm.copy_in(phdr, 56) == Path(TRUE).read_bytes()[true_hdr.e_phoff:true_hdr.e_phoff + 56]
    assert mm.read_cstring(aux[stack.AT_EXECFN]) == b"/bin/true"
    # The interpreter's ELF header is mapped at its base, and code is executable.
    assert mm.copy_in(r.interp_base, 4) == b"\x7fELF"
    assert mm.find_vma(r.entry).prot & PROT_EXEC
    assert mm.brk_start == mm.brk == r.brk_start > r.load_bias
    # The vDSO: its ELF header at AT_SYSINFO_EHDR, vvar just below, both read-only.
    if r.vdso_base:
        assert aux[stack.AT_SYSINFO_EHDR] == r.vdso_base
        assert mm.copy_in(r.vdso_base, 4) == b"\x7fELF"
        assert mm.find_vma(r.vdso_base - PAGE).name == "[vvar]"
        assert not mm.pt.get(r.vdso_base) & PTE_RW


def test_two_processes_share_readonly_pages(kernel, memory, frames) -> None:
    t1, mm1 = new_task(kernel, memory, frames)
    t2, mm2 = new_task(kernel, memory, frames)
    r1 = load_program(t1, TRUE, [b"true"], [], mm1)
    r2 = load_program(t2, TRUE, [b"true"], [], mm2)
    # ld.so's code: one frame for both, mapped read-only.
    assert frame_of(mm1, r1.entry) == frame_of(mm2, r2.entry)
    assert not mm1.pt.get(r1.entry) & PTE_RW
    # Its data segment (writable): one copy each.
    data = [v for v in mm1.vmas if v.name.endswith("ld-linux-x86-64.so.2") and v.prot & PROT_WRITE]
    assert data
    va = data[0].start
    assert frame_of(mm1, va) != frame_of(mm2, va + (r2.interp_base - r1.interp_base))
    # The vDSO too, when built.
    if r1.vdso_base:
        assert frame_of(mm1, r1.vdso_base) == frame_of(mm2, r2.vdso_base)


def open_fd(task, path: str) -> int:
    from qkernel.vfs.fdtable import FdTable
    if task.fds is None:
        task.fds = FdTable()
    f = ops.open_at(task, abi.AT_FDCWD, path, abi.O_RDONLY, 0)
    return task.fds.install(f) if hasattr(task.fds, "install") else task.fds.add(f)


def map_file(task, path: str, prot: int, length: int = 0, offset: int = 0) -> int:
    fd = open_fd(task, path)
    size = length or os.path.getsize(LIBC)
    return mm_calls.sys_mmap(task, 0, size, prot, MAP_PRIVATE, fd, offset)


def test_libc_mmap_shares_frames_and_writable_copies(kernel, memory, frames) -> None:
    t1, mm1 = new_task(kernel, memory, frames)
    t2, mm2 = new_task(kernel, memory, frames)
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    a1 = map_file(t1, libc, PROT_READ | PROT_EXEC)
    a2 = map_file(t2, libc, PROT_READ | PROT_EXEC)
    host = Path(LIBC).read_bytes()
    assert mm1.copy_in(a1, 4096) == host[:4096]
    assert frame_of(mm1, a1 + 0x10000) == frame_of(mm2, a2 + 0x10000)
    assert not mm1.pt.get(a1) & PTE_RW
    # A writable private mapping gets its own pages, with the file's bytes.
    w = map_file(t1, libc, PROT_READ | PROT_WRITE, 2 * PAGE, PAGE)
    assert frame_of(mm1, w) != frame_of(mm1, a1 + PAGE)
    assert mm1.copy_in(w, PAGE) == host[PAGE:2 * PAGE]
    mm1.copy_out(w, b"scribble")
    assert mm2.copy_in(a2 + PAGE, 8) == host[PAGE:PAGE + 8]
    # The tail of the last page past EOF reads as zero.
    size = len(host)
    last = a1 + (size & ~(PAGE - 1))
    if size % PAGE:
        assert mm1.copy_in(last + size % PAGE, PAGE - size % PAGE) == bytes(PAGE - size % PAGE)


def test_mprotect_writable_copies_and_munmap_keeps_cache(kernel, memory, frames) -> None:
    t1, mm1 = new_task(kernel, memory, frames)
    t2, mm2 = new_task(kernel, memory, frames)
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    a1 = map_file(t1, libc, PROT_READ)
    a2 = map_file(t2, libc, PROT_READ)
    shared = frame_of(mm1, a1)
    assert frame_of(mm2, a2) == shared
    mm1.protect(a1, PAGE, PROT_READ | PROT_WRITE)
    assert frame_of(mm1, a1) != shared and mm1.pt.get(a1) & PTE_RW
    assert mm1.flush_queue               # the frame swap is stored by the guest stub
    mm1.copy_out(a1, b"XXXX")
    assert mm2.copy_in(a2, 4) == b"\x7fELF"
    # munmap in one process: the other's pages stay; the cache frame is not freed.
    size = os.path.getsize(LIBC)
    mm2.unmap(a2, size)
    _, freed = mm2.take_flush()
    assert shared not in freed
    frames.free(freed)
    assert mm1.copy_in(a1 + PAGE, 4) == Path(LIBC).read_bytes()[PAGE:PAGE + 4]
    # A third mapping finds the page still cached.
    t3, mm3 = new_task(kernel, memory, frames)
    a3 = map_file(t3, libc, PROT_READ)
    assert frame_of(mm3, a3 + PAGE) == frame_of(mm1, a1 + PAGE)
    # Process exit: release() frees its own frames only.
    mm1.release()
    assert mm3.copy_in(a3 + PAGE, 4) == Path(LIBC).read_bytes()[PAGE:PAGE + 4]


def test_changed_file_is_read_again(kernel, memory, frames, rootfs) -> None:
    t1, mm1 = new_task(kernel, memory, frames)
    path = rootfs / "tmp" / "data"
    path.write_bytes(b"A" * 5000)
    a = map_file(t1, "/tmp/data", PROT_READ, 5000)
    assert mm1.copy_in(a, 2) == b"AA"
    assert mm1.copy_in(a + 5000, PAGE * 2 - 5000) == bytes(PAGE * 2 - 5000)
    path.write_bytes(b"B" * 6000)
    os.utime(path, ns=(1, 1))
    b = map_file(t1, "/tmp/data", PROT_READ, 6000)
    assert mm1.copy_in(b, 2) == b"BB"
    assert mm1.copy_in(a, 2) == b"AA"           # the old mapping keeps its pages


def test_cache_eviction_frees_idle_pages(memory) -> None:
    from qkernel.mm.pagecache import PageCache
    from qkernel.vfs.statinfo import StatInfo

    class Blob:
        def pread(self, task, n, off):
            return (b"x" * 40000)[off:off + n]
    fa = FrameAllocator(memory, 64 << 20)
    cache = PageCache(memory, fa, limit=2)
    st = StatInfo(dev=1, ino=2, mode=0o100644, size=40000, mtime_ns=5)
    got = cache.get_pages(None, Blob(), st, 0, 5)
    assert cache.release(got + [123 * PAGE]) == [123 * PAGE]
    assert cache.stats()["idle"] == 2 and len(fa.free_frames) == 3


# ---- scripts ----------------------------------------------------------------------
@pytest.mark.parametrize("head,want", [
    (b"#!/bin/sh\n", (b"/bin/sh", None)),
    (b"#!  /bin/sh  -e  \n", (b"/bin/sh", b"-e")),
    (b"#!/usr/bin/env python3 -u\nprint()", (b"/usr/bin/env", b"python3 -u")),
    (b"#!/bin/sh\t-x\r\n", (b"/bin/sh", b"-x\r")),
    (b"#!/bin/sh", (b"/bin/sh", None)),
    (b"#!/bin/sh -" + b"a" * 300, (b"/bin/sh", b"-" + b"a" * 244)),
])
def test_parse_shebang(head: bytes, want) -> None:
    assert parse_shebang(head) == want


@pytest.mark.parametrize("head", [b"#!\n", b"#!   \t\n", b"#!/" + b"a" * 300])
def test_parse_shebang_enoexec(head: bytes) -> None:
    with pytest.raises(SyscallError) as ei:
        parse_shebang(head)
    assert ei.value.errno == errno.ENOEXEC


def test_script_argv_rewriting(kernel, memory, frames) -> None:
    task, mm = new_task(kernel, memory, frames)
    r = load_program(task, "/bin/one.sh", [b"ignored", b"a1", b"a2"], [], mm)
    assert r.argv == [b"/bin/true", b"-x -y", b"/bin/one.sh", b"a1", b"a2"]
    assert r.exe_path == "/bin/true" and r.comm == b"one.sh" and r.filename == "/bin/one.sh"
    argv, aux = auxv_of(mm, r.rsp)
    assert [mm.read_cstring(a) for a in argv] == r.argv
    assert mm.read_cstring(aux[stack.AT_EXECFN]) == b"/bin/one.sh"


def test_nested_scripts(kernel, memory, frames) -> None:
    task, mm = new_task(kernel, memory, frames)
    r = load_program(task, "/bin/nested.sh", [b"n"], [], mm)
    assert r.argv == [b"/bin/true", b"-x -y", b"/bin/one.sh", b"/bin/nested.sh"]
    task, mm = new_task(kernel, memory, frames)
    r = load_program(task, "/bin/loop2", [b"x"], [], mm)     # 4 levels of scripts
    assert r.argv[0] == b"/bin/true" and r.argv[-1] == b"/bin/loop2"
    task, mm = new_task(kernel, memory, frames)
    with pytest.raises(SyscallError) as ei:
        load_program(task, "/bin/loop0", [b"x"], [], mm)      # 6 levels
    assert ei.value.errno == errno.ELOOP


@pytest.mark.parametrize("path,err", [
    ("/bin/missing", errno.ENOENT),
    ("/bin/noexec", errno.EACCES),
    ("/bin/adir", errno.EACCES),
    ("/bin/text", errno.ENOEXEC),
    ("/bin/short_elf", errno.ENOEXEC),
    ("/bin/empty.sh", errno.ENOEXEC),
    ("/bin/long.sh", errno.ENOEXEC),
    ("/lib/x86_64-linux-gnu/libc.so.6", errno.EACCES),   # not executable in the copy
])
def test_load_errors(kernel, memory, frames, rootfs, path: str, err: int) -> None:
    (rootfs / "lib/x86_64-linux-gnu/libc.so.6").chmod(0o644)
    task, mm = new_task(kernel, memory, frames)
    with pytest.raises(SyscallError) as ei:
        load_program(task, path, [b"x"], [], mm)
    assert ei.value.errno == err


def test_non_root_needs_exec_permission(rootfs, memory, frames) -> None:
    (rootfs / "bin" / "true").chmod(0o744)
    k = Kernel(KernelConfig(rootfs=str(rootfs), args=[TRUE], uid=1000, gid=1000), 256 << 20)
    try:
        task, mm = new_task(k, memory, frames)
        with pytest.raises(SyscallError) as ei:
            load_program(task, TRUE, [b"true"], [], mm)
        assert ei.value.errno == errno.EACCES
    finally:
        k.vfs.close()


def test_e2big(kernel, memory, frames) -> None:
    task, mm = new_task(kernel, memory, frames)
    with pytest.raises(SyscallError) as ei:
        load_program(task, TRUE, [b"x" * 100_000] * 25, [], mm)
    assert ei.value.errno == errno.E2BIG
    with pytest.raises(SyscallError) as ei:
        load_program(task, TRUE, [b"x" * (200 << 10)], [], mm)
    assert ei.value.errno == errno.E2BIG


def test_static_program_still_loads(kernel, memory, frames, rootfs) -> None:
    busybox = Path("/bin/busybox")
    if not busybox.exists() or b"ld-linux" in busybox.read_bytes()[:4096]:
        pytest.skip("no static busybox")
    shutil.copy(busybox, rootfs / "bin" / "busybox")
    task, mm = new_task(kernel, memory, frames)
    r = load_program(task, "/bin/busybox", [b"busybox"], [], mm)
    assert r.interp_base == 0 and r.entry == r.program_entry
    _, aux = auxv_of(mm, r.rsp)
    assert aux[stack.AT_BASE] == 0


# ---- the vDSO -----------------------------------------------------------------------
VDSO_SO = Path(__file__).resolve().parent.parent / "qkernel" / "vdso" / "vdso.so"


@pytest.fixture(scope="module")
def vdso_image() -> bytes:
    from qkernel.vdso import build
    if not VDSO_SO.exists():
        if shutil.which("gcc") is None:
            pytest.skip("no gcc to build the vDSO")
        build.build()
    return VDSO_SO.read_bytes()


def test_vdso_symbols_resolve(vdso_image: bytes) -> None:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerDefSection
    elf = ELFFile(io.BytesIO(vdso_image))
    dynsym = elf.get_section_by_name(".dynsym")
    by_name = {s.name: s for s in dynsym.iter_symbols()}
    for name in ("__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu",
                 "clock_gettime", "gettimeofday", "time", "getcpu"):
        assert by_name[name]["st_value"] and by_name[name]["st_info"]["type"] == "STT_FUNC"
    assert by_name["clock_gettime"]["st_value"] == by_name["__vdso_clock_gettime"]["st_value"]
    verdef = next(s for s in elf.iter_sections() if isinstance(s, GNUVerDefSection))
    names = [next(aux).name for _, aux in verdef.iter_versions()]
    assert "LINUX_2.6" in names
    soname = [t.soname for t in elf.get_section_by_name(".dynamic").iter_tags()
              if t.entry.d_tag == "DT_SONAME"]
    assert soname == ["linux-vdso.so.1"]
    from qkernel.vdso.build import check
    check(vdso_image)                     # one read-only PT_LOAD, no relocations


class _Native:
    """The vDSO laid out as a guest sees it ([vvar][image]) in executable host
    memory, so its functions run natively through ctypes."""

    def __init__(self, image: bytes) -> None:
        import mmap
        from qkernel.vdso import flatten
        flat = flatten(image)
        self.buf = mmap.mmap(-1, PAGE + len(flat),
                             prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self.buf[PAGE:PAGE + len(flat)] = flat
        self.view = memoryview(self.buf)
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.buf)) + PAGE
        from elftools.elf.elffile import ELFFile
        self.syms = {s.name: s["st_value"] for s in
                     ELFFile(io.BytesIO(image)).get_section_by_name(".dynsym").iter_symbols()}

    def fn(self, name: str, restype, *argtypes):  # type: ignore[no-untyped-def]
        return ctypes.CFUNCTYPE(restype, *argtypes)(self.base + self.syms[name])


def test_vdso_clock_math_matches_host(vdso_image: bytes) -> None:
    from qkernel.vdso.tsc import tsc_usable
    from qkernel.vdso.vvar import Vvar
    if not tsc_usable():
        pytest.skip("no invariant TSC")
    native = _Native(vdso_image)
    boot = time.monotonic_ns() - 5_000_000_000          # "booted" 5 s ago
    vvar = Vvar(native, 0, boot, use_tsc=True)
    ts = (ctypes.c_int64 * 2)()
    gettime = native.fn("__vdso_clock_gettime", ctypes.c_int, ctypes.c_long, ctypes.c_void_p)
    assert gettime(1, ts) == 0              # mode 0 until calibrated: the real syscall
    assert abs(ts[0] * 10**9 + ts[1] - time.monotonic_ns()) < 1_000_000
    vvar.calibrate()
    assert struct.unpack_from("<I", native.view, 4)[0] == 1
    for clock, host in ((1, lambda: time.monotonic_ns() - boot), (0, time.time_ns),
                        (7, lambda: time.monotonic_ns() - boot)):
        assert gettime(clock, ts) == 0
        assert abs(ts[0] * 10**9 + ts[1] - host()) < 1_000_000, clock
    time.sleep(0.05)
    vvar.refresh()
    assert gettime(1, ts) == 0
    assert abs(ts[0] * 10**9 + ts[1] - (time.monotonic_ns() - boot)) < 1_000_000
    tv = (ctypes.c_int64 * 2)()
    assert native.fn("__vdso_gettimeofday", ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(tv, None) == 0
    assert abs(tv[0] * 10**6 + tv[1] - time.time_ns() // 1000) < 1000
    now = native.fn("__vdso_time", ctypes.c_long, ctypes.c_void_p)(None)
    assert abs(now - time.time()) <= 1
    # A clock the vDSO does not serve goes to the kernel.
    assert gettime(2, ts) == 0              # CLOCK_PROCESS_CPUTIME_ID
    # Monotonic never goes back, even across refreshes.
    prev = 0
    for _ in range(200):
        gettime(1, ts)
        cur = ts[0] * 10**9 + ts[1]
        assert cur >= prev
        prev = cur
        if _ % 50 == 0:
            vvar.refresh()


def test_vdso_foreign_tsc_falls_back_to_syscall(vdso_image: bytes) -> None:
    """A guest TSC far behind the kernel's base (hardware KVM without the offset
    set) must not freeze time: the vDSO asks the kernel."""
    from qkernel.vdso.vvar import Vvar
    native = _Native(vdso_image)
    vvar = Vvar(native, 0, 0, use_tsc=True)
    vvar.calibrate(0.005)
    vvar.set_guest_tsc_offset(1 << 62)        # the base is far ahead of the real TSC
    ts = (ctypes.c_int64 * 2)()
    gettime = native.fn("__vdso_clock_gettime", ctypes.c_int, ctypes.c_long, ctypes.c_void_p)
    assert gettime(1, ts) == 0
    assert abs(ts[0] * 10**9 + ts[1] - time.monotonic_ns()) < 1_000_000
