"""The code generator: freshness, error reporting, and the generated dispatch."""
from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codegen.__main__ import main, stale_outputs
from codegen.render import render_all
from qkernel.errors import MustExit, SyscallError

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"


# ---- freshness and determinism ----------------------------------------------

def test_generated_is_not_stale() -> None:
    files, _ = render_all(SPEC)
    assert stale_outputs(files, ROOT / "generated") == [], "run `make gen` (python -m codegen)"


def test_output_is_deterministic() -> None:
    a, _ = render_all(SPEC)
    b, _ = render_all(SPEC)
    assert a == b


def test_check_flag(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    assert main(["--out", str(out), "-q"]) == 0
    assert main(["--out", str(out), "--check", "-q"]) == 0
    (out / "structs.py").write_text("# edited\n")
    assert main(["--out", str(out), "--check", "-q"]) == 1


# ---- bad specs give `file:line: reason` ------------------------------------

GOOD_FAMILY = """\
family: fs
module: qkernel.syscalls.fs
syscalls:
  - nr: 0
    name: read
    args:
      - {name: fd, type: fd}
      - {name: buf, type: ptr_out}
      - {name: count, type: size_t}
    returns: ssize_t
    status: implemented
    context: any
  - nr: 1
    name: write
    args: []
    returns: ssize_t
    status: unsupported
    context: any
"""

GOOD_STRUCTS = """\
- name: timespec
  size: 16
  fields:
    - {name: tv_sec, type: i64}
    - {name: tv_nsec, type: i64}
"""


def _spec_dir(tmp_path: Path, family: str = GOOD_FAMILY, structs: str = GOOD_STRUCTS) -> Path:
    spec = tmp_path / "spec"
    (spec / "syscalls").mkdir(parents=True)
    (spec / "structs").mkdir()
    (spec / "vfs").mkdir()
    shutil.copy(SPEC / "syscalls" / "flagsets.yaml", spec / "syscalls" / "flagsets.yaml")
    shutil.copy(SPEC / "vfs" / "nodes.yaml", spec / "vfs" / "nodes.yaml")
    (spec / "syscalls" / "fs.yaml").write_text(family)
    (spec / "structs" / "a.yaml").write_text(structs)
    return spec


def _run(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["--spec", str(spec), "--out", str(tmp_path / "out"), "-q"])
    return rc, capsys.readouterr().err.strip()


def test_good_minimal_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _run(_spec_dir(tmp_path), tmp_path, capsys)
    assert (rc, err) == (0, "")
    assert (tmp_path / "out" / "syscall_table.py").exists()


@pytest.mark.parametrize("old,new,line,reason", [
    ("    status: implemented\n", "    status: done\n", 11, "unknown status 'done'"),
    ("{name: buf, type: ptr_out}", "{name: buf, type: pointer}", 8, "unknown arg type 'pointer'"),
    ("    context: any\n  - nr: 1", "    context: any\n    colour: red\n  - nr: 1", 13, "unknown key 'colour'"),
    ("  - nr: 1\n", "  - nr: 0\n", 13, "duplicate syscall number 0"),
    ("    name: write\n", "    name: read\n", 14, "duplicate syscall name read"),
    ("    returns: ssize_t\n    status: implemented\n", "    status: implemented\n", 4,
     "missing required key 'returns'"),
    ("    context: any\n  - nr: 1", "    context: any\n    context: vcpu\n  - nr: 1", 13, "duplicate key 'context'"),
    ("    status: unsupported\n", "    status: unsupported\n    errno: EWHATEVER\n", 18, "unknown errno 'EWHATEVER'"),
    ("{name: fd, type: fd}", "{name: fd, type: flags}", 7, "needs a set"),
])
def test_bad_syscall_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          old: str, new: str, line: int, reason: str) -> None:
    assert old in GOOD_FAMILY
    spec = _spec_dir(tmp_path, family=GOOD_FAMILY.replace(old, new, 1))
    rc, err = _run(spec, tmp_path, capsys)
    assert rc == 1
    assert len(err.splitlines()) == 1
    assert err.startswith(f"{spec / 'syscalls' / 'fs.yaml'}:{line}: "), err
    assert reason in err


def test_bad_struct_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec_dir(tmp_path, structs=GOOD_STRUCTS.replace("size: 16", "size: 12"))
    rc, err = _run(spec, tmp_path, capsys)
    assert rc == 1
    assert err == f"{spec / 'structs' / 'a.yaml'}:2: struct timespec: size is 16, spec says 12"


def test_bad_struct_field_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec_dir(tmp_path, structs=GOOD_STRUCTS.replace("type: i64}\n", "type: timeval}\n", 1))
    rc, err = _run(spec, tmp_path, capsys)
    assert rc == 1
    assert err.startswith(f"{spec / 'structs' / 'a.yaml'}:1: ") and "unknown field type 'timeval'" in err


def test_cli_prints_one_line(tmp_path: Path) -> None:
    spec = _spec_dir(tmp_path, family=GOOD_FAMILY.replace("type: fd}", "type: fdx}"))
    proc = subprocess.run([sys.executable, "-m", "codegen", "--spec", str(spec), "--out", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"{spec / 'syscalls' / 'fs.yaml'}:7: syscall read: unknown arg type 'fdx'"]


# ---- the generated dispatch -------------------------------------------------

class _Log:
    def __init__(self) -> None:
        self.logged: list[str] = []

    def exception(self, msg: str, *args: Any) -> None:
        self.logged.append(msg % args)


class _Kernel:
    def __init__(self) -> None:
        self.log = _Log()


class _MM:
    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        if addr == 0x1000:
            return b"/etc/passwd"
        raise SyscallError(errno.EFAULT)


class _Task:
    def __init__(self) -> None:
        self.kernel = _Kernel()
        self.mm = _MM()


@pytest.fixture()
def table():  # type: ignore[no-untyped-def]
    import generated.syscall_table as t
    return t


def test_unsupported_and_unknown_numbers(table) -> None:  # type: ignore[no-untyped-def]
    task = _Task()
    assert table.dispatch(task, table.NUMBERS["io_uring_setup"], 2, 1, 0) == -errno.ENOSYS
    assert table.dispatch(task, table.NUMBERS["kexec_load"]) == -errno.EPERM
    assert table.dispatch(task, 10000) == -errno.ENOSYS
    assert table.dispatch(task, 400) == -errno.ENOSYS          # hole in the table
    assert table.dispatch(task, -1) == -errno.ENOSYS
    assert table.dispatch(task, 0x40000000 | 39) == -errno.ENOSYS  # x32 ABI bit
    assert table.ENTRIES[400] is None and table.ENTRIES[424].name == "pidfd_send_signal"


def test_decoding_sign_extends_and_masks(table, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, ...]] = []

    def fake_lseek(task: Any, fd: int, offset: int, whence: int) -> int:
        seen.append((fd, offset, whence))
        return 7

    monkeypatch.setattr(table, "_h_lseek", fake_lseek)
    r = table.dispatch(_Task(), 8, 0xDEAD_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFE, 0x1_0000_0002)
    assert r == 7
    assert seen == [(-1, -2, 2)]  # int sign-extended from 32 bits, off_t from 64, enum masked


def test_decoding_unsigned_32(table, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, ...]] = []
    monkeypatch.setattr(table, "_h_setresuid", lambda task, r, e, s: seen.append((r, e, s)) or 0)
    table.dispatch(_Task(), table.NUMBERS["setresuid"], 0xFFFF_FFFF_FFFF_FFFF, 5, 0x1_0000_0003)
    assert seen == [(0xFFFF_FFFF, 5, 3)]


def test_errors_become_negative_errno(table, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def enoent(task: Any, *args: int) -> int:
        raise SyscallError(errno.ENOENT)

    monkeypatch.setattr(table, "_h_openat", enoent)
    assert table.dispatch(_Task(), 257, 0, 0x1000, 0, 0) == -errno.ENOENT


def test_must_exit_propagates(table, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def wants_vcpu(task: Any, *args: int) -> int:
        raise MustExit()

    monkeypatch.setattr(table, "_h_nanosleep", wants_vcpu)
    with pytest.raises(MustExit):
        table.dispatch(_Task(), table.NUMBERS["nanosleep"], 0, 0)


def test_handler_crash_is_eio_and_logged(table, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def buggy(task: Any, *args: int) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(table, "_h_getcwd", buggy)
    task = _Task()
    assert table.dispatch(task, table.NUMBERS["getcwd"], 0, 0) == -errno.EIO
    assert task.kernel.log.logged and "getcwd" in task.kernel.log.logged[0]


def test_tables_agree(table) -> None:  # type: ignore[no-untyped-def]
    assert table.NAMES[0] == "read" and table.NUMBERS["exit_group"] == 231
    assert 231 in table.NEEDS_VCPU and 39 not in table.NEEDS_VCPU
    assert all(table.ENTRIES[nr].context == "vcpu" for nr in table.NEEDS_VCPU)


def test_no_missing_handlers(table) -> None:  # type: ignore[no-untyped-def]
    table.resolve_all()
    assert table.IMPORT_ERRORS == {}
    assert table.MISSING_HANDLERS == []


# ---- strace-style formatting ------------------------------------------------

def test_format_call(table) -> None:  # type: ignore[no-untyped-def]
    t = _Task()
    at_fdcwd = (-100) & 0xFFFF_FFFF_FFFF_FFFF
    assert (table.format_call(t, 257, (at_fdcwd, 0x1000, 0x80000, 0), 3)
            == 'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC, 0) = 3')
    assert (table.format_call(t, 257, (at_fdcwd, 0x2000, 0x241, 0o644), -errno.ENOENT)
            == "openat(AT_FDCWD, 0x2000, O_WRONLY|O_CREAT|O_TRUNC, 0644) = -1 ENOENT (No such file or directory)")
    assert (table.format_call(t, 9, (0, 4096, 3, 0x22, 0xFFFF_FFFF, 0), 0x7F00_0000_0000)
            == "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000")
    assert table.format_call(t, 231, (0,), 0) == "exit_group(0) = ?"
    assert table.format_call(t, 62, (1, 9), 0) == "kill(1, SIGKILL) = 0"
    assert table.format_call(t, 228, (1, 0x5000), 0) == "clock_gettime(CLOCK_MONOTONIC, 0x5000) = 0"
    assert table.format_call(t, 999, (1, 2), -errno.ENOSYS).startswith("syscall_999(0x1, 0x2) = -1 ENOSYS")
