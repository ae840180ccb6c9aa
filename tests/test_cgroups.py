"""qvisor.oci.cgroups: linux.resources parsing, cgroup paths, and a real cgroup.

The real-cgroup tests write to the host's cgroupfs (we are root): they create
/quark-test-<pid> in every hierarchy, move a child process there, and remove
it all again even when an assertion fails.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from qvisor.oci.cgroups import (
    Cgroup, CgroupError, Resources, cgroup_path, parse_memory_size, parse_resources,
    parse_update_flags, resources_from_update,
)
from qvisor.oci.cgroups.layout import (
    UNIFIED, Layout, Mount, detect_layout, parse_mountinfo, parse_proc_cgroup, resolve_dirs,
)
from qvisor.oci.cgroups.paths import expand_slice
from qvisor.oci.cgroups.resources import UINT64_MAX
from qvisor.oci.cgroups.v2 import memory_swap_v2, shares_to_weight
from qvisor.oci.errors import BundleError

MIB = 1 << 20


# --------------------------------------------------------------------------
# linux.resources
# --------------------------------------------------------------------------

def test_parse_resources_reads_every_field() -> None:
    linux = {"resources": {
        "memory": {"limit": 64 * MIB, "reservation": 32 * MIB, "swap": 128 * MIB},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 20},
        "devices": [{"allow": False, "access": "rwm"}],     # not quark's business: ignored
    }}
    assert parse_resources(linux) == Resources(
        memory_limit=64 * MIB, memory_reservation=32 * MIB, memory_swap=128 * MIB,
        pids_limit=20, cpu_shares=512, cpu_quota=50000, cpu_period=100000,
        cpuset_cpus="0-1", cpuset_mems="0")


def test_parse_resources_absent_zero_and_unlimited() -> None:
    assert parse_resources({}).is_empty()
    assert parse_resources(None).is_empty()
    # runc: 0 means "not set"; -1 (any negative quota or pids) means unlimited.
    res = parse_resources({"resources": {"memory": {"limit": -1, "swap": 0},
                                         "cpu": {"quota": -5, "shares": 0, "cpus": ""},
                                         "pids": {"limit": -3}}})
    assert res == Resources(memory_limit=-1, cpu_quota=-1, pids_limit=-1)


@pytest.mark.parametrize("linux, message", [
    ({"resources": {"memory": {"limit": "64m"}}},
     "linux.resources.memory.limit: expected an integer, got string"),
    ({"resources": {"memory": {"reservation": 1.5}}},
     "linux.resources.memory.reservation: expected an integer, got number"),
    ({"resources": {"memory": {"swap": True}}},
     "linux.resources.memory.swap: expected an integer, got boolean"),
    ({"resources": {"memory": {"limit": -2}}},
     "linux.resources.memory.limit: -2 is not a size (-1 means unlimited)"),
    ({"resources": {"pids": {"limit": "20"}}},
     "linux.resources.pids.limit: expected an integer, got string"),
    ({"resources": {"cpu": {"shares": -1}}},
     "linux.resources.cpu.shares: -1 is out of range 0..18446744073709551615"),
    ({"resources": {"cpu": {"quota": [1]}}},
     "linux.resources.cpu.quota: expected an integer, got array"),
    ({"resources": {"cpu": {"period": {}}}},
     "linux.resources.cpu.period: expected an integer, got object"),
    ({"resources": {"cpu": {"cpus": 3}}},
     "linux.resources.cpu.cpus: expected a string, got number"),
    ({"resources": {"cpu": {"mems": None, "cpus": False}}},
     "linux.resources.cpu.cpus: expected a string, got boolean"),
    ({"resources": {"memory": 5}}, "linux.resources.memory: expected an object, got number"),
    ({"resources": []}, "linux.resources: expected an object, got array"),
])
def test_parse_resources_errors_name_the_field(linux: dict, message: str) -> None:
    with pytest.raises(BundleError) as info:
        parse_resources(linux)
    assert str(info.value) == message


def test_parse_resources_rejects_a_non_object_linux() -> None:
    with pytest.raises(BundleError, match="^linux: expected an object, got string$"):
        parse_resources("x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# quark update
# --------------------------------------------------------------------------

@pytest.mark.parametrize("text, size", [
    ("512m", 512 * MIB), ("1g", 1 << 30), ("1G", 1 << 30), ("-1", -1), ("4096", 4096),
    ("64k", 64 << 10), ("64KB", 64 << 10), ("64 KiB", 64 << 10), ("1.5g", 3 << 29),
    ("100b", 100), ("2t", 2 << 40),
])
def test_parse_memory_size(text: str, size: int) -> None:
    assert parse_memory_size(text) == size


@pytest.mark.parametrize("text", ["", "m", "12x", "-2", "1gg", "ten", "1 g b", "1ib"])
def test_parse_memory_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_memory_size(text)


def test_parse_update_flags() -> None:
    res = parse_update_flags({"memory": "512m", "--memory-swap": "-1", "memory_reservation": "1g",
                              "pids-limit": "100", "cpu-shares": "1024", "cpu-quota": "-1",
                              "cpu-period": "50000", "cpuset-cpus": "0", "cpuset-mems": None,
                              })
    assert res == Resources(memory_limit=512 * MIB, memory_swap=-1, memory_reservation=1 << 30,
                            pids_limit=100, cpu_shares=1024, cpu_quota=-1, cpu_period=50000,
                            cpuset_cpus="0")
    assert parse_update_flags({"memory": None, "cpu-shares": ""}).is_empty()


@pytest.mark.parametrize("flags, message", [
    ({"memory": "12x"}, "--memory: invalid size '12x'"),
    ({"cpu-shares": "-3"}, "--cpu-shares: -3 is out of range"),
    ({"pids-limit": "many"}, "--pids-limit: invalid integer 'many'"),
])
def test_parse_update_flags_errors(flags: dict, message: str) -> None:
    with pytest.raises(BundleError) as info:
        parse_update_flags(flags)
    assert str(info.value).startswith(message)


def test_resources_from_update_merges_file_and_flags() -> None:
    doc = {"memory": {"limit": 64 * MIB, "swap": 128 * MIB}, "cpu": {"shares": 100}}
    res = resources_from_update(doc, {"memory": "32m", "pids-limit": "5"})
    assert res == Resources(memory_limit=32 * MIB, memory_swap=128 * MIB, cpu_shares=100,
                            pids_limit=5)
    with pytest.raises(BundleError, match="^memory.limit: expected an integer, got string$"):
        resources_from_update({"memory": {"limit": "1g"}}, {})
    assert resources_from_update(None, {"cpu-period": "1000"}) == Resources(cpu_period=1000)


# --------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------

@pytest.mark.parametrize("given, systemd, expected", [
    ("", False, "abc"),                                    # runc: the id, relative
    ("mine/abc", False, "mine/abc"),
    ("../../escape", False, "escape"),                     # cannot climb out
    ("/machine/abc", False, "/machine/abc"),
    ("/a/./b/../c/", False, "/a/c"),
    ("machine.slice:libpod:abc", True, "/machine.slice/libpod-abc.scope"),
    ("", True, "/system.slice/runc-abc.scope"),
    (":docker:abc", True, "/system.slice/docker-abc.scope"),
    ("kubepods-besteffort.slice:cri:x", True,
     "/kubepods.slice/kubepods-besteffort.slice/cri-x.scope"),
    ("user.slice:p:my.slice", True, "/user.slice/my.slice"),
])
def test_cgroup_path(given: str, systemd: bool, expected: str) -> None:
    assert cgroup_path(given, "abc", systemd) == expected


@pytest.mark.parametrize("given, systemd, message", [
    ("/", False, "names the root cgroup"),
    ("/machine/abc", True, 'expected "slice:prefix:name"'),
    ("a:b", True, 'expected "slice:prefix:name"'),
    ("machine:libpod:abc", True, "invalid systemd slice name 'machine'"),
    ("a--b.slice:p:n", True, "invalid systemd slice name"),
    ("machine.slice:p:a/b", True, "invalid systemd unit"),
])
def test_cgroup_path_errors(given: str, systemd: bool, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        cgroup_path(given, "abc", systemd)


def test_expand_slice() -> None:
    assert expand_slice("-.slice") == "/"
    assert expand_slice("machine.slice") == "/machine.slice"
    assert expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice"


HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
V2_MOUNTINFO = """\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""


def test_parse_mountinfo_hybrid_and_v2() -> None:
    hybrid = parse_mountinfo(HYBRID_MOUNTINFO)
    assert hybrid.mode == "hybrid"
    assert hybrid.v1["cpu"] is hybrid.v1["cpuacct"]       # co-mounted
    assert hybrid.v1["cpu"].mountpoint == "/sys/fs/cgroup/cpu,cpuacct"
    assert set(hybrid.v1) == {"cpu", "cpuacct", "memory", "name=systemd"}
    assert hybrid.unified is not None and hybrid.unified.mountpoint == "/sys/fs/cgroup/unified"
    v2 = parse_mountinfo(V2_MOUNTINFO)
    assert v2.mode == "v2" and v2.v1 == {}
    assert v2.unified == Mount("/sys/fs/cgroup", "/", 2)
    assert parse_mountinfo("").mode == "none"


def test_relative_paths_follow_runc() -> None:
    own = parse_proc_cgroup("4:memory:/process_api/h\n1:cpu,cpuacct:/\n"
                            "9:name=systemd:/user.slice\n0::/user.slice/session-1.scope\n")
    assert own == {"memory": "/process_api/h", "cpu": "/", "cpuacct": "/",
                   "name=systemd": "/user.slice", UNIFIED: "/user.slice/session-1.scope"}
    hybrid = parse_mountinfo(HYBRID_MOUNTINFO)
    # v1: under the runtime's own cgroup of each hierarchy.
    dirs = resolve_dirs("abc", hybrid, own)
    assert dirs["memory"] == "/sys/fs/cgroup/memory/process_api/h/abc"
    assert dirs["cpu"] == dirs["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/abc"
    assert dirs["name=systemd"] == "/sys/fs/cgroup/systemd/user.slice/abc"
    assert dirs[UNIFIED] == "/sys/fs/cgroup/unified/user.slice/session-1.scope/abc"
    # absolute: from each hierarchy's root, whatever our own cgroup.
    assert resolve_dirs("/m/abc", hybrid, own)["memory"] == "/sys/fs/cgroup/memory/m/abc"
    # v2: under the *parent* of the runtime's own cgroup.
    v2 = parse_mountinfo(V2_MOUNTINFO)
    assert resolve_dirs("abc", v2, own) == {UNIFIED: "/sys/fs/cgroup/user.slice/abc"}
    assert resolve_dirs("/m/abc", v2, own) == {UNIFIED: "/sys/fs/cgroup/m/abc"}
    # A mount showing only a sub-tree (an old-style container's /sys/fs/cgroup).
    nested = Layout("v2", {}, Mount("/sys/fs/cgroup", "/docker/c1", 2))
    assert resolve_dirs("x", nested, {UNIFIED: "/docker/c1/init"}) == {
        UNIFIED: "/sys/fs/cgroup/x"}


def test_v2_conversions() -> None:
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000
    assert shares_to_weight(0) == 1                      # clamped like the kernel does
    assert memory_swap_v2(None, None) is None
    assert memory_swap_v2(None, -1) == -1                # unlimited memory lifts swap too
    assert memory_swap_v2(-1, 64 * MIB) == -1
    assert memory_swap_v2(128 * MIB, 64 * MIB) == 64 * MIB
    assert memory_swap_v2(64 * MIB, 64 * MIB) == 0       # no swap at all
    with pytest.raises(CgroupError, match="below the memory limit"):
        memory_swap_v2(32 * MIB, 64 * MIB)
    with pytest.raises(CgroupError, match="without a memory limit"):
        memory_swap_v2(32 * MIB, None)


# --------------------------------------------------------------------------
# The cgroup2 files, on a stand-in directory (no pure-v2 host here: this
# machine's controllers are all bound to v1 hierarchies)
# --------------------------------------------------------------------------

def _fake_v2(tmp_path: Path, files: dict[str, str]) -> Cgroup:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return Cgroup("/fake", "v2", {UNIFIED: str(tmp_path)})


V2_FILES = ("memory.max", "memory.low", "memory.swap.max", "pids.max", "cpu.weight",
            "cpu.max", "cpuset.cpus", "cpuset.mems")


def test_v2_apply_writes_v2_values(tmp_path: Path) -> None:
    cg = _fake_v2(tmp_path, {name: "" for name in V2_FILES})
    cg.apply(Resources(memory_limit=64 * MIB, memory_reservation=32 * MIB,
                       memory_swap=96 * MIB, pids_limit=-1, cpu_shares=1024,
                       cpu_quota=50000, cpu_period=100000, cpuset_cpus="0-1", cpuset_mems="0"))
    got = {name: (tmp_path / name).read_text() for name in V2_FILES}
    assert got == {"memory.max": str(64 * MIB), "memory.low": str(32 * MIB),
                   "memory.swap.max": str(32 * MIB), "pids.max": "max", "cpu.weight": "39",
                   "cpu.max": "50000 100000", "cpuset.cpus": "0-1", "cpuset.mems": "0"}


def test_v2_partial_updates_keep_the_rest(tmp_path: Path) -> None:
    cg = _fake_v2(tmp_path, {"cpu.max": "20000 100000", "memory.max": str(64 * MIB),
                             "memory.swap.max": ""})
    # (a regular file is not truncated by the write: keep the length)
    cg.apply(Resources(cpu_period=200000))             # the quota in force stays
    assert (tmp_path / "cpu.max").read_text() == "20000 200000"
    cg.apply(Resources(memory_swap=80 * MIB))          # relative to the current memory.max
    assert (tmp_path / "memory.swap.max").read_text() == str(16 * MIB)
    with pytest.raises(CgroupError, match="pids.max: no such file .*pids controller"):
        cg.apply(Resources(pids_limit=3))


def test_v2_stats(tmp_path: Path) -> None:
    cg = _fake_v2(tmp_path, {
        "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\n"
                    "nr_throttled 1\nthrottled_usec 7\n",
        "memory.current": "4096", "memory.max": "max", "memory.peak": "8192",
        "memory.stat": "anon 1024\nfile 2048\n", "memory.events": "low 0\nmax 3\noom 0\n",
        "memory.swap.current": "100", "memory.swap.max": "max",
        "pids.current": "2", "pids.max": "max", "cpuset.cpus.effective": "0-1",
    })
    stats = cg.stats()
    assert stats["cpu"] == {
        "usage": {"total": 1500000, "kernel": 500000, "user": 1000000},
        "throttling": {"periods": 4, "throttledPeriods": 1, "throttledTime": 7000}}
    assert stats["memory"]["usage"] == {"limit": UINT64_MAX, "usage": 4096, "max": 8192,
                                        "failcnt": 3}
    assert stats["memory"]["swap"] == {"limit": UINT64_MAX, "usage": 4196, "failcnt": 0}
    assert stats["memory"]["cache"] == 2048
    assert stats["memory"]["raw"] == {"anon": 1024, "file": 2048}
    assert stats["pids"] == {"current": 2}               # unlimited: left out, as runc does
    assert stats["cpuset"] == {"cpus": [0, 1]}


# --------------------------------------------------------------------------
# A real cgroup
# --------------------------------------------------------------------------

# Waits to be placed in the cgroup, then allocates (so the memory is charged
# to the new memory cgroup: v1 does not move old charges) and counts.
CHILD = r"""
import os, sys, time
sys.stdin.readline()
blob = b"x" * (8 << 20)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
print("ready", flush=True)
n = 0
while True:
    n += 1
    os.pwrite(fd, b"%20d" % n, 0)
    time.sleep(0.005)
"""


def _cgroupfs_unwritable() -> str | None:
    layout = detect_layout()
    if layout.mode == "none":
        return "no cgroup file system mounted"
    mount = layout.unified if layout.mode == "v2" else next(iter(layout.v1.values()))
    assert mount is not None
    probe = os.path.join(mount.mountpoint, f"quark-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as err:
        return f"/sys/fs/cgroup is not writable here ({err.strerror})"
    return None


def _remove_everywhere(path: str) -> None:
    """Cleanup after a failed test: kill what is left in the cgroup, rmdir it
    in every mounted hierarchy (deepest first). Independent of the code tested."""
    layout = detect_layout()
    mounts = list(layout.v1.values()) + ([layout.unified] if layout.unified else [])
    tops = [os.path.join(m.mountpoint, path.lstrip("/")) for m in mounts]
    for top in tops:
        for name in ("freezer.state", "cgroup.freeze"):
            try:
                Path(top, name).write_text("THAWED" if name == "freezer.state" else "0")
            except OSError:
                pass
        for root, _, _ in os.walk(top):
            try:
                pids = Path(root, "cgroup.procs").read_text().split()
            except OSError:
                pids = []
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
    for top in tops:
        deadline = time.monotonic() + 2
        for root, _, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            while True:
                try:
                    os.rmdir(root)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)


@pytest.fixture
def child(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    counter = tmp_path / "counter"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(counter)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        yield proc, counter
    finally:
        proc.kill()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            # A test failed with the child frozen: v1-frozen tasks die only once thawed.
            _thaw_cgroups_of(proc.pid)
            proc.wait(timeout=5)


def _thaw_cgroups_of(pid: int) -> None:
    layout = detect_layout()
    own = parse_proc_cgroup(Path(f"/proc/{pid}/cgroup").read_text())
    targets = [("freezer", "freezer.state", "THAWED"), (UNIFIED, "cgroup.freeze", "0")]
    for key, name, value in targets:
        mount = layout.unified if key == UNIFIED else layout.v1.get(key)
        if mount is None or key not in own:
            continue
        try:
            Path(mount.mountpoint, own[key].lstrip("/"), name).write_text(value)
        except OSError:
            pass


@pytest.fixture
def test_path() -> Iterator[str]:
    reason = _cgroupfs_unwritable()
    if reason:
        pytest.skip(reason)
    path = f"/quark-test-{os.getpid()}"
    try:
        yield path
    finally:
        for leftover in (path, path + "-v2"):
            _remove_everywhere(leftover)


def _start(proc: subprocess.Popen) -> None:
    """Let the child go on (it is in the cgroup now) and wait until it allocated."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == b"ready\n"


def _count(counter: Path) -> int:
    text = counter.read_bytes().strip()
    return int(text) if text else 0


def _read(directory: str, name: str) -> str:
    return Path(directory, name).read_text().strip()


def test_real_cgroup_lifecycle(test_path: str, child: tuple[subprocess.Popen, Path]) -> None:
    proc, counter = child
    cg = Cgroup.create(test_path)
    assert cg.mode in ("v1", "hybrid", "v2")
    for directory in cg.paths.values():
        assert os.path.isdir(directory)

    cg.add_pid(proc.pid)
    res = Resources(memory_limit=64 * MIB, pids_limit=20, cpu_shares=512,
                    cpu_quota=50000, cpu_period=100000)
    cg.apply(res)
    if cg.v2:
        d = cg.paths[UNIFIED]
        assert _read(d, "memory.max") == str(64 * MIB)
        assert _read(d, "pids.max") == "20"
        assert _read(d, "cpu.weight") == str(shares_to_weight(512))
        assert _read(d, "cpu.max") == "50000 100000"
    else:
        assert _read(cg.paths["memory"], "memory.limit_in_bytes") == str(64 * MIB)
        assert _read(cg.paths["pids"], "pids.max") == "20"
        assert _read(cg.paths["cpu"], "cpu.shares") == "512"
        assert _read(cg.paths["cpu"], "cpu.cfs_quota_us") == "50000"
        assert _read(cg.paths["cpu"], "cpu.cfs_period_us") == "100000"
        for key, directory in cg.paths.items():
            assert str(proc.pid) in _read(directory, "cgroup.procs").split(), key
    _start(proc)
    assert cg.pids() == [proc.pid]

    # A later command (update, pause, delete) opens the same cgroup.
    again = Cgroup.open(test_path, cg.paths)
    assert again.pids() == [proc.pid]
    assert Cgroup.open(test_path).paths == cg.paths

    stats = cg.stats()
    assert stats["memory"]["usage"]["usage"] > 0
    assert stats["memory"]["usage"]["limit"] == 64 * MIB
    assert stats["pids"] == {"current": 1, "limit": 20}
    assert stats["cpu"]["usage"]["total"] > 0
    assert set(stats["cpu"]["usage"]) >= {"kernel", "user"}

    # Frozen: the counter stops; thawed: it moves again.
    cg.freeze()
    assert cg.frozen()
    before = _count(counter)
    time.sleep(0.15)
    assert _count(counter) == before
    again.thaw()
    assert not cg.frozen()
    deadline = time.monotonic() + 3
    while _count(counter) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _count(counter) > before

    # An update changes only what it names.
    cg.apply(parse_update_flags({"memory": "96m", "pids-limit": "-1"}))
    mem_dir = cg.paths[UNIFIED] if cg.v2 else cg.paths["memory"]
    pids_dir = cg.paths[UNIFIED] if cg.v2 else cg.paths["pids"]
    assert _read(mem_dir, "memory.max" if cg.v2 else "memory.limit_in_bytes") == str(96 * MIB)
    assert _read(pids_dir, "pids.max") == "max"

    cg.kill_all(signal.SIGKILL)
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert cg.pids() == []
    assert not cg.frozen()

    cg.destroy()
    layout = detect_layout()
    mounts = list(layout.v1.values()) + ([layout.unified] if layout.unified else [])
    for mount in mounts:
        assert not os.path.exists(os.path.join(mount.mountpoint, test_path.lstrip("/")))
    cg.destroy()                                # idempotent
    Cgroup.open(test_path + "-never").destroy()  # never made: fine


def test_kill_all_while_paused_keeps_it_paused(
        test_path: str, child: tuple[subprocess.Popen, Path]) -> None:
    proc, _ = child
    cg = Cgroup.create(test_path)
    cg.add_pid(proc.pid)
    _start(proc)
    cg.freeze()
    cg.kill_all(signal.SIGTERM)            # queued: delivered once resumed
    assert cg.frozen()
    assert proc.poll() is None
    cg.thaw()
    assert proc.wait(timeout=5) == -signal.SIGTERM
    cg.destroy()


def test_apply_errors_name_file_and_value(test_path: str) -> None:
    cg = Cgroup.create(test_path)
    try:
        with pytest.raises(CgroupError) as info:
            cg.apply(Resources(cpuset_cpus="4096"))        # no such CPU
        assert "cpuset.cpus" in str(info.value) and "'4096'" in str(info.value)
        if not cg.v2:
            with pytest.raises(CgroupError, match="cpu.shares: asked for 1, the kernel set 2"):
                cg.apply(Resources(cpu_shares=1))
        # A hierarchy this cgroup does not have fails with a clear message.
        partial = Cgroup(test_path, cg.mode, {})
        with pytest.raises(CgroupError, match="cannot apply linux.resources.pids"):
            partial.apply(Resources(pids_limit=5))
        partial.apply(Resources())                          # nothing asked: nothing needed
    finally:
        cg.destroy()


def test_memory_and_swap_are_written_in_an_order_the_kernel_accepts(test_path: str) -> None:
    cg = Cgroup.create(test_path)
    try:
        if cg.v2:
            d = cg.paths[UNIFIED]
            if not os.path.exists(os.path.join(d, "memory.swap.max")):
                pytest.skip("no swap accounting in this kernel")
            cg.apply(Resources(memory_limit=64 * MIB, memory_swap=128 * MIB))
            assert _read(d, "memory.swap.max") == str(64 * MIB)     # v2: swap alone
            return
        d = cg.paths["memory"]
        if not os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes")):
            pytest.skip("no swap accounting in this kernel")
        steps = [(64 * MIB, 128 * MIB), (256 * MIB, 512 * MIB),   # raise: memsw first
                 (32 * MIB, 64 * MIB)]                            # lower: limit first
        for limit, swap in steps:
            cg.apply(Resources(memory_limit=limit, memory_swap=swap))
            assert _read(d, "memory.limit_in_bytes") == str(limit)
            assert _read(d, "memory.memsw.limit_in_bytes") == str(swap)
        # A limit above memory+swap cannot be set; the error says why.
        with pytest.raises(CgroupError, match="above the memory\\+swap limit"):
            cg.apply(Resources(memory_limit=128 * MIB))
        # Unlimited memory lifts memory+swap too.
        cg.apply(Resources(memory_limit=-1))
        unlimited = _read(d, "memory.limit_in_bytes")
        assert _read(d, "memory.memsw.limit_in_bytes") == unlimited
    finally:
        cg.destroy()


def test_destroy_reports_a_busy_cgroup(test_path: str,
                                       child: tuple[subprocess.Popen, Path]) -> None:
    proc, _ = child
    cg = Cgroup.create(test_path)
    cg.add_pid(proc.pid)
    with pytest.raises(CgroupError, match=f"processes still in it: \\[{proc.pid}\\]"):
        cg.destroy(timeout=0.05)
    cg.kill_all(signal.SIGKILL)
    proc.wait(timeout=5)
    cg.destroy()
    assert not cg.exists()


def _unified_mount() -> Mount | None:
    layout = detect_layout()
    return layout.unified


def test_v2_files_on_the_unified_hierarchy(test_path: str,
                                           child: tuple[subprocess.Popen, Path]) -> None:
    """The cgroup2 code on whatever cgroup2 this host mounts.

    On a hybrid host that hierarchy has (nearly) no controllers, but its core
    files work: membership, cgroup.freeze, cgroup.kill, cpu.stat, rmdir.
    """
    unified = _unified_mount()
    if unified is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    layout = Layout("v2", {}, unified)
    proc, counter = child
    cg = Cgroup.create(test_path + "-v2", layout=layout)
    assert cg.v2 and set(cg.paths) == {UNIFIED}
    cg.add_pid(proc.pid)
    _start(proc)
    assert cg.pids() == [proc.pid]
    cg.freeze()
    assert cg.frozen()
    before = _count(counter)
    time.sleep(0.1)
    assert _count(counter) == before
    cg.thaw()
    assert not cg.frozen()
    stats = cg.stats()
    assert stats["cpu"]["usage"]["total"] > 0
    available = Path(unified.mountpoint, "cgroup.controllers").read_text().split()
    if "memory" not in available:
        with pytest.raises(CgroupError, match="memory.max: no such file"):
            cg.apply(Resources(memory_limit=64 * MIB))
    cg.kill_all(signal.SIGKILL)                     # cgroup.kill
    assert proc.wait(timeout=5) == -signal.SIGKILL
    cg.destroy()
    assert not os.path.exists(cg.paths[UNIFIED])


def test_open_missing_cgroup_is_harmless(test_path: str) -> None:
    cg = Cgroup.open(test_path + "-absent")
    assert not cg.exists()
    assert cg.pids() == []
    assert not cg.frozen()
    with pytest.raises(CgroupError, match="cannot pause or resume"):
        cg.freeze()
    cg.destroy()
