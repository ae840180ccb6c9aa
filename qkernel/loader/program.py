"""load_program: what execve(2) and the container's init both run.

It resolves the path through the VFS as the task (exec permission), follows
`#!` interpreters, maps an ELF program (ET_EXEC, PIE, static-pie) and its ELF
interpreter (PT_INTERP, e.g. ld-linux-x86-64.so.2) through the page cache,
maps the vDSO, sets the heap start and builds the initial stack. It never
touches a vCPU: it fills the fresh AddressSpace `mm` the caller made and
returns where to start. On error `mm` is left half-filled: the caller drops
it (mm.release()) and the old image, if any, goes on untouched, which is why
nothing here changes the task itself.

Layout (as Linux without randomisation): a PIE main program at
0x555555554000, the interpreter and the vDSO top-down in the mmap area below
mm.mmap_base, the stack under STACK_TOP, the heap after the main program.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass

from qkernel.errors import SyscallError
from qkernel.loader.elf import PIE_LOAD_BIAS, ExecFormatError
from qkernel.loader.elfheaders import ET_DYN
from qkernel.loader.image import ElfFile, MappedElf, map_elf, parse_elf, span
from qkernel.vfs.file import pread_full
from qkernel.loader.script import BINPRM_BUF_SIZE, MAX_SCRIPT_DEPTH, is_script, parse_shebang, script_argv
from qkernel.loader.stack import build_stack
from qkernel.mm.address_space import AddressSpace
from qkernel.mm.pagecache import page_cache_for
from qkernel.vfs import abi, ops, perm

AT_FDCWD = -100
# AT_HWCAP as Linux reports it on x86-64 (CPUID.1:EDX of a modern CPU).
HWCAP_X86_64 = 0x178BFBFF
MAX_ARG_STRLEN = 32 * 4096            # one argv/envp string, as Linux
MAX_ARG_TOTAL = 2 << 20               # all of them: a quarter of the 8 MiB stack
HEAD_READ = 4096                      # first read: #! line, ELF and program headers


@dataclass
class LoadResult:
    entry: int                 # first instruction: the interpreter's entry, else the program's
    rsp: int                   # initial stack pointer (argc there)
    exe_path: str              # absolute guest path of the ELF run (/proc/self/exe)
    filename: str              # the path as given (AT_EXECFN; comm is its basename)
    argv: list[bytes]          # after #! rewriting
    comm: bytes                # task name (15 bytes max), from `filename` as Linux
    program_entry: int         # AT_ENTRY
    load_bias: int             # of the main program
    interp_base: int           # AT_BASE (0 without interpreter)
    interp_path: str | None
    vdso_base: int             # AT_SYSINFO_EHDR (0 without vDSO)
    brk_start: int
    phdr: int


def check_arg_size(argv: list[bytes], envp: list[bytes]) -> None:
    total = 0
    for s in (*argv, *envp):
        if len(s) + 1 > MAX_ARG_STRLEN:
            raise SyscallError(errno.E2BIG, "argument longer than MAX_ARG_STRLEN")
        total += len(s) + 1 + 8               # the string and its pointer
    if total > MAX_ARG_TOTAL:
        raise SyscallError(errno.E2BIG, "arguments and environment over 2 MiB")


def open_executable(task, path: str):  # type: ignore[no-untyped-def]
    """(open file, StatInfo, absolute path) of a regular file `task` may execute."""
    res = ops.lookup(task, AT_FDCWD, path)
    st = ops.stat(task, res)
    kind = st.mode & abi.S_IFMT
    if kind == abi.S_IFDIR:
        raise SyscallError(errno.EACCES, f"{path}: is a directory")
    if kind != abi.S_IFREG:
        raise SyscallError(errno.EACCES, f"{path}: not a regular file")
    if not perm.allowed(st, task.creds, abi.X_OK):
        raise SyscallError(errno.EACCES, f"{path}: permission denied")
    file = ops.open_at(task, AT_FDCWD, path, abi.O_RDONLY, 0)
    try:
        st = file.stat(task)
        if st.mode & abi.S_IFMT != abi.S_IFREG:     # replaced between lookup and open
            raise SyscallError(errno.EACCES, f"{path}: not a regular file")
    except BaseException:
        file.decref()
        raise
    return file, st, res.loc.path if res.loc.file is None else path


def load_program(task, path: str, argv: list[bytes], envp: list[bytes],  # type: ignore[no-untyped-def]
                 mm: AddressSpace, hwcap: int = HWCAP_X86_64) -> LoadResult:
    """Load the program at guest path `path` into `mm` (see the module doc)."""
    check_arg_size(argv, envp)
    filename = path
    argv = list(argv)
    opened = []
    try:
        for depth in range(MAX_SCRIPT_DEPTH + 2):
            file, st, abs_path = open_executable(task, path)
            opened.append(file)
            head = pread_full(task, file, min(HEAD_READ, st.size), 0)
            if not is_script(head):
                break
            if depth > MAX_SCRIPT_DEPTH:
                raise SyscallError(errno.ELOOP, "#! interpreters nested too deep")
            interp, arg = parse_shebang(head[:BINPRM_BUF_SIZE])
            argv = script_argv(interp, arg, path.encode("utf-8", "surrogateescape"), argv)
            check_arg_size(argv, envp)
            path = interp.decode("utf-8", "surrogateescape")
        elf = parse_elf(task, abs_path, file, st, head)
        cache = page_cache_for(task.kernel, mm)
        main = _map_main(task, mm, cache, elf)
        interp_base, entry, interp_path = 0, main.entry, None
        if elf.interp is not None:
            interp_elf = _open_interpreter(task, elf.interp, opened)
            low, high = span(interp_elf)
            base = mm.find_free(high - low)
            loaded = map_elf(task, mm, cache, interp_elf, base - low)
            interp_base, entry, interp_path = base, loaded.entry, interp_elf.path
        mm.brk_start = mm.brk = main.end
        vdso_base = _map_vdso(task, mm)
        ids = (task.creds.uid, task.creds.euid, task.creds.gid, task.creds.egid)
        rsp = build_stack(mm, main, argv, envp, filename.encode("utf-8", "surrogateescape"),
                          ids, hwcap, interp_base=interp_base, vdso_base=vdso_base)
    finally:
        for f in opened:
            f.decref()
    comm = filename.rstrip("/").rsplit("/", 1)[-1].encode("utf-8", "surrogateescape")[:15]
    return LoadResult(entry=entry, rsp=rsp, exe_path=abs_path, filename=filename, argv=argv,
                      comm=comm, program_entry=main.entry, load_bias=main.load_bias,
                      interp_base=interp_base, interp_path=interp_path, vdso_base=vdso_base,
                      brk_start=main.end, phdr=main.phdr)


def _map_main(task, mm: AddressSpace, cache, elf: ElfFile) -> MappedElf:  # type: ignore[no-untyped-def]
    bias = 0
    if elf.header.e_type == ET_DYN:
        low, _ = span(elf)
        bias = PIE_LOAD_BIAS - low
    return map_elf(task, mm, cache, elf, bias)


def _open_interpreter(task, path: str, opened: list) -> ElfFile:  # type: ignore[no-untyped-def]
    """The PT_INTERP program: an ELF (not a script, and without its own PT_INTERP)."""
    file, st, abs_path = open_executable(task, path)
    opened.append(file)
    head = pread_full(task, file, min(HEAD_READ, st.size), 0)
    try:
        elf = parse_elf(task, abs_path, file, st, head)
    except ExecFormatError as exc:
        raise SyscallError(errno.ELIBBAD, f"interpreter {path}: {exc}") from None
    if elf.interp is not None:
        raise SyscallError(errno.ELIBBAD, f"interpreter {path} wants an interpreter")
    return elf


def _map_vdso(task, mm: AddressSpace) -> int:  # type: ignore[no-untyped-def]
    from qkernel.vdso import vdso_for
    vdso = vdso_for(task.kernel, mm, getattr(task.kernel, "log", None))
    return vdso.map_into(mm) if vdso is not None else 0
