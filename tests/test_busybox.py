"""Foundation acceptance: busybox applets print under quark what they print natively.

Each applet runs as its own container (fork comes with the processes issue)
in the same rootfs; the native run is a chroot into that rootfs with the
same environment.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.guest import run_in_quark, run_native

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="native comparison uses chroot")


@pytest.fixture(scope="module")
def data(bundle: Path) -> Path:
    rootfs = bundle / "rootfs"
    (rootfs / "data" / "ten.bin").write_bytes(os.urandom(10 << 20))
    words = "\n".join(["pear", "apple", "fig", "apple", "kiwi", "fig", "fig", "banana"] * 50)
    (rootfs / "data" / "words.txt").write_text(words + "\n")
    (rootfs / "data" / "sorted.txt").write_text("\n".join(sorted(words.split("\n"))) + "\n")
    return bundle


def same_as_native(bundle: Path, args: list[str]) -> None:
    got = run_in_quark(bundle, args)
    want = run_native(bundle / "rootfs", args)
    assert got.stderr == want.stderr
    assert got.stdout == want.stdout
    assert got.status == want.status


@pytest.mark.parametrize("args", [
    ["echo", "hello", "from", "quark"],
    ["cat", "/etc/passwd"],
    ["wc", "/data/words.txt"],
    ["sort", "/data/words.txt"],
    ["uniq", "-c", "/data/sorted.txt"],
    ["sha256sum", "/data/ten.bin"],
    ["seq", "1", "100000"],
    ["pwd"],
    ["id"],
    ["uname", "-s", "-m"],
    ["ls", "-la", "/etc", "/data", "/bin/sh"],
], ids=lambda a: " ".join(a)[:40])
def test_applet(data: Path, args: list[str]) -> None:
    same_as_native(data, ["/bin/" + args[0]] + args[1:])


def test_ls_root(data: Path) -> None:
    # /proc, /dev and /sys are the guest's own mounts (metadata of their own), and
    # natively they are the rootfs's empty directories: compare the rest
    # (and the "total" line, which sums their blocks).
    def strip(out: str) -> list[str]:
        return [line for line in out.splitlines()
                if not line.endswith((" proc", " dev", " sys")) and not line.startswith("total ")]
    got = run_in_quark(data, ["/bin/ls", "-la", "/"])
    want = run_native(data / "rootfs", ["/bin/ls", "-la", "/"])
    assert got.status == want.status == 0
    assert strip(got.stdout) == strip(want.stdout)
    assert any(line.endswith(" proc") for line in got.stdout.splitlines())


def test_find_root(data: Path) -> None:
    def strip(out: str) -> list[str]:
        return [p for p in out.splitlines() if not p.startswith(("/proc/", "/dev/"))]
    got = run_in_quark(data, ["/bin/find", "/"])
    want = run_native(data / "rootfs", ["/bin/find", "/"])
    assert got.status == want.status == 0
    assert strip(got.stdout) == strip(want.stdout)
    assert "/proc/self" in got.stdout      # the guest's own /proc is there


def test_date(data: Path) -> None:
    for _ in range(3):          # a minute may turn between the two runs
        got = run_in_quark(data, ["/bin/date", "+%Y-%m-%d %H:%M %Z"])
        want = run_native(data / "rootfs", ["/bin/date", "+%Y-%m-%d %H:%M %Z"])
        if got.stdout == want.stdout:
            break
    assert got.status == 0 and got.stdout == want.stdout


def test_env(data: Path) -> None:
    env = ["PATH=/bin", "HOME=/root", "QUARK_TEST=1 2 3"]
    got = run_in_quark(data, ["/bin/env"], env=env)
    want = run_native(data / "rootfs", ["/bin/env"], env=env)
    assert got.status == 0
    assert sorted(got.stdout.splitlines()) == sorted(want.stdout.splitlines()) == sorted(env)


def test_hostname_is_the_guests_own(data: Path) -> None:
    got = run_in_quark(data, ["/bin/hostname"], hostname="guest-name-42")
    assert (got.status, got.stdout) == (0, "guest-name-42\n")
    got = run_in_quark(data, ["/bin/uname", "-a"], hostname="guest-name-42")
    assert got.stdout.startswith("Linux guest-name-42 ")


def test_uname_a(data: Path) -> None:
    got = run_in_quark(data, ["/bin/uname", "-a"])
    assert got.status == 0
    fields = got.stdout.split()
    assert fields[0] == "Linux" and fields[1] == "quark-test" and "x86_64" in fields


def test_dd_then_md5sum(data: Path) -> None:
    args = ["/bin/dd", "if=/dev/zero", "of=/tmp/x", "bs=1M", "count=64"]
    got = run_in_quark(data, args)
    assert got.status == 0, got.stderr
    assert got.stderr.splitlines()[:2] == ["64+0 records in", "64+0 records out"]
    assert (data / "rootfs" / "tmp" / "x").stat().st_size == 64 << 20
    got = run_in_quark(data, ["/bin/md5sum", "/tmp/x"])
    want = run_native(data / "rootfs", ["/bin/md5sum", "/tmp/x"])
    assert got.status == 0 and got.stdout == want.stdout
    assert got.stdout.startswith("7f614da9329cd3aebf59b91aadc30bf0")
