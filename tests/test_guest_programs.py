"""Foundation acceptance: a static glibc program, hostile pointers, a guest
that jumps to garbage, and bad bundles — all under real KVM."""
from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import pytest

from tests.guest import compile_program, quark, run_in_quark, run_native, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="native comparison uses chroot")


def test_static_glibc_program(bundle: Path) -> None:
    prog = compile_program("acceptance", bundle / "rootfs", ["-fstack-protector-all"])
    got = run_in_quark(bundle, [prog])
    want = run_native(bundle / "rootfs", [prog])
    assert want.status == 3
    assert (got.status, got.stdout, got.stderr) == (want.status, want.stdout, want.stderr)
    assert "touched 256 MiB" in got.stdout and "files: ok" in got.stdout


def test_hostile_pointers_get_efault(bundle: Path) -> None:
    prog = compile_program("efault", bundle / "rootfs")
    got = run_in_quark(bundle, [prog])
    assert got.status == 0, got.stderr
    lines = got.stdout.splitlines()
    assert len(lines) == 9 and all(line.endswith(": EFAULT") for line in lines), got.stdout


def test_jump_to_garbage_is_sigsegv(bundle: Path) -> None:
    prog = compile_program("garbage", bundle / "rootfs")
    got = run_in_quark(bundle, [prog])
    assert got.status == 139
    assert "Traceback" not in got.stderr


# ---- bad input: one clear line, non-zero status, no traceback ------------

def one_line_error(result, *needles: str) -> None:
    assert result.status != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("quark: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_no_config_json(tmp_path: Path) -> None:
    one_line_error(quark("run", "--bundle", str(tmp_path), "x"), "config.json")


def test_invalid_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"ociVersion": "1.0.2", "process": {')
    one_line_error(quark("run", "--bundle", str(tmp_path), "x"), "config.json")


def test_missing_rootfs(tmp_path: Path) -> None:
    write_config(tmp_path, ["/bin/true"])
    one_line_error(quark("run", "--bundle", str(tmp_path), "x"), "rootfs")


def test_program_missing(bundle: Path) -> None:
    result = run_in_quark(bundle, ["/bin/no-such-program"])
    one_line_error(result, "no-such-program")
    assert result.status == 127


def test_program_not_elf(bundle: Path) -> None:
    script = bundle / "rootfs" / "t" / "notelf"
    script.write_text("just text\n")
    script.chmod(0o755)
    result = run_in_quark(bundle, ["/t/notelf"])
    one_line_error(result, "exec format error")


def test_elf_for_another_architecture(bundle: Path) -> None:
    arm = bundle / "rootfs" / "t" / "arm"
    shutil.copy(bundle / "rootfs" / "bin" / "busybox", arm)
    with open(arm, "r+b") as f:
        f.seek(18)
        f.write(struct.pack("<H", 183))        # EM_AARCH64
    result = run_in_quark(bundle, ["/t/arm"])
    one_line_error(result, "exec format error", "architecture")


def test_args_missing(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    write_config(tmp_path, ["/bin/true"])
    config = json.loads((tmp_path / "config.json").read_text())
    del config["process"]["args"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    one_line_error(quark("run", "--bundle", str(tmp_path), "x"), "args")


def test_unix_recv_waitall_loses_nothing(bundle: Path) -> None:
    """MSG_WAITALL that must wait after taking part of the data (served by
    the QCall poller first) still returns every byte, in order."""
    prog = compile_program("unix_waitall", bundle / "rootfs")
    ours = run_in_quark(bundle, [prog])
    native = run_native(bundle / "rootfs", [prog])
    assert (ours.status, ours.stdout) == (native.status, native.stdout) == (0, "all 3000 bytes in order\n")
