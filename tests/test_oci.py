"""Bundles and config.json -> KernelConfig, and the `quark spec` template."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qkernel.config import KernelConfig
from qvisor.oci import BundleError, default_spec, load_bundle, write_spec

RUNC = "/usr/sbin/runc"


def make_bundle(tmp_path: Path, spec: Any, rootfs: bool = True) -> Path:
    if rootfs:
        (tmp_path / "rootfs").mkdir(exist_ok=True)
    text = spec if isinstance(spec, str) else json.dumps(spec)
    (tmp_path / "config.json").write_text(text)
    return tmp_path


def spec_with(**process: Any) -> dict[str, Any]:
    spec = default_spec()
    spec["process"].update(process)
    return spec


def one_line_error(tmp_path: Path, spec: Any, rootfs: bool = True) -> str:
    with pytest.raises(BundleError) as info:
        load_bundle(make_bundle(tmp_path, spec, rootfs))
    msg = str(info.value)
    assert "\n" not in msg and msg
    return msg


# --- bad bundles --------------------------------------------------------------

def test_missing_bundle_dir(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such directory"):
        load_bundle(tmp_path / "nope")


def test_no_config_json(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    with pytest.raises(BundleError, match="config.json does not exist"):
        load_bundle(tmp_path)


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    msg = one_line_error(tmp_path, '{\n  "process": {\n    "args": ["sh",]\n  }\n}')
    assert "invalid JSON at line 3 column" in msg


def test_json_not_an_object(tmp_path: Path) -> None:
    assert "expected a JSON object" in one_line_error(tmp_path, "[1, 2]")


def test_missing_rootfs(tmp_path: Path) -> None:
    msg = one_line_error(tmp_path, default_spec(), rootfs=False)
    assert "root file system" in msg and "does not exist" in msg


def test_missing_root_path(tmp_path: Path) -> None:
    spec = default_spec()
    del spec["root"]["path"]
    assert "root.path is missing" in one_line_error(tmp_path, spec)


@pytest.mark.parametrize("process", [{}, {"args": None}])
def test_args_missing(tmp_path: Path, process: dict[str, Any]) -> None:
    spec = default_spec()
    spec["process"] = {"cwd": "/", **process}
    assert "process.args is missing" in one_line_error(tmp_path, spec)


def test_args_empty(tmp_path: Path) -> None:
    assert "process.args is empty" in one_line_error(tmp_path, spec_with(args=[]))


@pytest.mark.parametrize("args, where, got", [
    ("sh -c true", "process.args", "string"),
    (["sh", 1], "process.args[1]", "number"),
    (["sh", None], "process.args[1]", "null"),
])
def test_args_wrong_type(tmp_path: Path, args: Any, where: str, got: str) -> None:
    msg = one_line_error(tmp_path, spec_with(args=args))
    assert f"{where}: expected" in msg and f"got {got}" in msg


@pytest.mark.parametrize("field, value, fragment", [
    ("env", "PATH=/bin", "process.env"),
    ("cwd", 7, "process.cwd"),
    ("cwd", "relative/dir", "absolute"),
    ("user", {"uid": "0"}, "process.user.uid"),
    ("user", {"uid": -1}, "process.user.uid"),
    ("user", {"uid": True}, "process.user.uid"),
    ("user", {"additionalGids": [1, "2"]}, "process.user.additionalGids[1]"),
    ("rlimits", [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}], "unknown resource"),
    ("rlimits", [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 2}], "above hard"),
    ("rlimits", [{"type": "RLIMIT_NOFILE", "soft": 2}], "process.rlimits[0].hard is missing"),
])
def test_wrong_field_types(tmp_path: Path, field: str, value: Any, fragment: str) -> None:
    assert fragment in one_line_error(tmp_path, spec_with(**{field: value}))


def test_error_names_config_path(tmp_path: Path) -> None:
    msg = one_line_error(tmp_path, spec_with(args=5))
    assert msg.startswith(str(tmp_path / "config.json"))


def test_bad_mount(tmp_path: Path) -> None:
    spec = default_spec()
    spec["mounts"].append({"destination": "/data", "type": "bind", "source": "missing",
                           "options": ["rbind"]})
    assert "mounts[7].source" in one_line_error(tmp_path, spec)
    spec["mounts"][7] = {"destination": 3}
    assert "mounts[7].destination: expected a string" in one_line_error(tmp_path, spec)


# --- good bundles -------------------------------------------------------------

def test_default_spec_parses(tmp_path: Path) -> None:
    config = load_bundle(make_bundle(tmp_path, default_spec()))
    assert isinstance(config, KernelConfig)
    assert config.rootfs == str(tmp_path / "rootfs")
    assert config.args == ["sh"]
    assert config.readonly_root is True
    assert config.hostname == "runc"
    assert config.rlimits == {"RLIMIT_NOFILE": (1024, 1024)}
    assert [m.destination for m in config.mounts] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    assert config.mounts[5].readonly


def test_rootless_spec_parses(tmp_path: Path) -> None:
    config = load_bundle(make_bundle(tmp_path, default_spec(rootless=True)))
    sysfs = config.mounts[5]
    assert (sysfs.type, sysfs.source) == ("bind", "/sys")


def test_all_fields(tmp_path: Path) -> None:
    rootfs = tmp_path / "elsewhere"
    rootfs.mkdir()
    (tmp_path / "data").mkdir()
    spec = default_spec()
    spec["root"] = {"path": str(rootfs)}     # absolute root.path
    spec["process"].update(
        args=["/bin/echo", "hi"], env=["A=1"], cwd="/tmp/",
        user={"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 0o027},
        rlimits=[{"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 512},
                 {"type": "RLIMIT_CORE", "hard": 2**64 - 1, "soft": 0}])
    spec["hostname"] = "box"
    spec["domainname"] = "example.org"
    spec["mounts"] = [{"destination": "/data", "source": "data", "options": ["bind", "ro"]}]
    spec["linux"]["resources"]["memory"] = {"limit": 256 << 20}
    spec["somethingNew"] = {"ignored": True}
    config = load_bundle(make_bundle(tmp_path, spec, rootfs=False))
    assert config.rootfs == str(rootfs)
    assert (config.args, config.env, config.cwd) == (["/bin/echo", "hi"], ["A=1"], "/tmp")
    assert (config.uid, config.gid, config.additional_gids) == (1000, 100, [5, 6])
    assert config.umask == 0o027
    assert config.readonly_root is False
    assert config.rlimits == {"RLIMIT_NOFILE": (512, 2048), "RLIMIT_CORE": (0, 2**64 - 1)}
    assert (config.hostname, config.domainname) == ("box", "example.org")
    assert config.memory_limit == 256 << 20
    [mount] = config.mounts
    assert (mount.type, mount.source, mount.readonly) == ("bind", str(tmp_path / "data"), True)


# --- the spec template --------------------------------------------------------

def test_write_spec_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write_spec(str(tmp_path))
    assert json.loads(Path(path).read_text()) == default_spec()
    with pytest.raises(BundleError, match="File config.json exists. Remove it first"):
        write_spec(str(tmp_path))


@pytest.mark.skipif(not os.path.exists(RUNC), reason="runc is not installed")
@pytest.mark.parametrize("rootless", [False, True])
def test_matches_runc_spec(tmp_path: Path, rootless: bool) -> None:
    cmd = [RUNC, "spec"] + (["--rootless"] if rootless else [])
    subprocess.run(cmd, cwd=tmp_path, check=True)
    runc_spec = json.loads((tmp_path / "config.json").read_text())
    assert runc_spec == default_spec(rootless)
    # And what runc writes is a bundle quark accepts.
    (tmp_path / "rootfs").mkdir()
    assert load_bundle(tmp_path).args == ["sh"]


def test_example_bundle_if_built() -> None:
    bundle = Path(__file__).resolve().parent.parent / "bundles" / "busybox"
    if not (bundle / "config.json").exists() or shutil.which("busybox") is None:
        pytest.skip("bundles/busybox not built (run make)")
    config = load_bundle(bundle)
    assert config.args == ["/bin/sh", "-c", "echo hello from quark; uname -a"]
    assert os.path.islink(os.path.join(config.rootfs, "bin", "sh"))
