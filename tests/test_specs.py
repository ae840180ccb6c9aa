"""The specs themselves: complete syscall table, honest statuses, sound structs."""
from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from codegen.structs import load_structs
from codegen.syscalls import load_syscalls

SPEC = Path(__file__).resolve().parent.parent / "spec"

# Linux x86-64 (64-bit ABI) syscall numbers: 0..334 are all assigned,
# 335..423 are unassigned (kept free to line up with the other ABIs),
# 424..469 are assigned (pidfd_send_signal .. file_setattr).
ASSIGNED = set(range(0, 335)) | set(range(424, 470))

SPOT_CHECKS = {
    0: "read", 1: "write", 9: "mmap", 39: "getpid", 56: "clone", 59: "execve", 60: "exit",
    158: "arch_prctl", 202: "futex", 217: "getdents64", 231: "exit_group", 257: "openat",
    262: "newfstatat", 273: "set_robust_list", 302: "prlimit64", 318: "getrandom", 332: "statx",
    334: "rseq", 424: "pidfd_send_signal", 435: "clone3", 437: "openat2", 439: "faccessat2",
    449: "futex_waitv", 453: "map_shadow_stack", 462: "mseal", 463: "setxattrat", 467: "open_tree_attr",
}

# Calls that need the vCPU's registers or reduce mappings: never served by
# the poller. (Calls that merely may block are `any`: they raise MustExit
# in the poller when they would wait.)
MUST_BE_VCPU = set(
    "exit exit_group arch_prctl execve execveat clone clone3 fork vfork rt_sigreturn "
    "munmap mprotect mremap madvise wait4 waitid sigaltstack".split())


@pytest.fixture(scope="module")
def spec():  # type: ignore[no-untyped-def]
    return load_syscalls(SPEC)


def test_every_assigned_number_present(spec) -> None:  # type: ignore[no-untyped-def]
    numbers = {sc.nr for sc in spec.syscalls}
    assert ASSIGNED - numbers == set(), "missing syscall numbers"
    assert numbers - ASSIGNED == set(), "numbers Linux does not assign"


def test_spot_check_names(spec) -> None:  # type: ignore[no-untyped-def]
    names = {sc.nr: sc.name for sc in spec.syscalls}
    for nr, name in SPOT_CHECKS.items():
        assert names[nr] == name


def test_status_policy(spec) -> None:  # type: ignore[no-untyped-def]
    """Honest statuses: what is not served says why; partial says what is missing."""
    for sc in spec.syscalls:
        if sc.served:
            assert sc.handler_func == f"sys_{sc.name}", sc.name
            assert sc.handler_module.startswith("qkernel.syscalls."), sc.name
            if sc.status == "partial":
                assert sc.notes, f"{sc.name}: partial needs to say what is missing"
        else:
            assert sc.status == "unsupported", sc.name
            assert sc.notes, f"{sc.name}: unsupported needs a reason"


def test_vcpu_context(spec) -> None:  # type: ignore[no-untyped-def]
    vcpu = {sc.name for sc in spec.syscalls if sc.context == "vcpu"}
    assert MUST_BE_VCPU <= vcpu
    assert "getpid" not in vcpu


def test_honest_errnos(spec) -> None:  # type: ignore[no-untyped-def]
    errnos = {sc.name: sc.errno for sc in spec.syscalls if not sc.served}
    assert errnos["kexec_load"] == "EPERM"
    assert errnos["init_module"] == "EPERM"
    assert errnos["io_uring_setup"] == "ENOSYS"


def test_struct_sizes_match_ctypes() -> None:
    import generated.structs as gs

    for s in load_structs(SPEC):
        assert ctypes.sizeof(getattr(gs, s.name)) == s.size, s.name
        assert gs.SIZES[s.name] == s.size


@pytest.mark.parametrize("name,size", [
    ("stat", 144), ("statx", 256), ("timespec", 16), ("utsname", 390), ("termios", 36),
    ("epoll_event", 12), ("siginfo", 128), ("sigaction", 32), ("linux_dirent64", 19),
    ("kvm_regs", 144), ("kvm_sregs", 312), ("kvm_segment", 24), ("kvm_fpu", 416),
    ("kvm_cpuid_entry2", 40), ("kvm_userspace_memory_region", 32), ("kvm_xcrs", 392),
    ("ucontext", 304), ("sockaddr_un", 110),
])
def test_known_abi_sizes(name: str, size: int) -> None:
    import generated.structs as gs

    assert ctypes.sizeof(getattr(gs, name)) == size


def test_known_offsets() -> None:
    import generated.structs as gs

    assert gs.stat.st_size.offset == 48
    assert gs.stat.st_mtime.offset == 88
    assert gs.epoll_event.data.offset == 4
    assert gs.siginfo.fields.offset == 16
    assert gs.statx.stx_mtime.offset == 112
    assert gs.kvm_sregs.cr0.offset == 224
    assert gs.kvm_sregs.apic_base.offset == 272


def test_named_conformance_tests_exist(spec) -> None:  # type: ignore[no-untyped-def]
    conf = SPEC.parent / "tests" / "conformance"
    for sc in spec.syscalls:
        for t in sc.tests:
            assert (conf / f"{t}.c").exists(), f"{sc.name}: no tests/conformance/{t}.c"


def test_vfs_spec_loads() -> None:
    import generated.vfs_nodes as vn

    assert {"regular", "directory", "symlink", "chardev", "pipe", "socket", "eventfd", "epoll",
            "procfs", "tmpfs"} <= set(vn.NODE_TYPES)
    assert vn.NODE_TYPES["pipe"]["errors"]["seek"] == "ESPIPE"
