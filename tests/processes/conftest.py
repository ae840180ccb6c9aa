"""Process tests: fork, exec, threads, signals, scheduling (the processes issue).

They run by default (QUARK_PROCESS_TESTS=0 turns them off). Every test
compares the container's output with a native run of the same thing (see
helpers.py for the two native references), and needs root (chroot, mounts).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.guest import make_rootfs, write_config
from tests.processes.helpers import build_host_bundle, compile_into

HERE = Path(__file__).resolve().parent
ENABLED = os.environ.get("QUARK_PROCESS_TESTS", "1") != "0"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items: mark only this directory's.
    if ENABLED and os.geteuid() == 0:
        return
    reason = ("process tests are off: QUARK_PROCESS_TESTS=0" if not ENABLED
              else "process tests need root (chroot, mount namespaces)")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def bb_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox bundle (writable rootfs) with the static test programs in /t."""
    bundle = tmp_path_factory.mktemp("procs-busybox")
    rootfs = bundle / "rootfs"
    make_rootfs(rootfs)
    # For the native chroot only (the container mounts its own /dev over it):
    # background jobs of a non-interactive shell read /dev/null.
    for name, minor in (("null", 3), ("zero", 5), ("urandom", 9)):
        node = rootfs / "dev" / name
        if not node.exists():
            os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
            os.chmod(node, 0o666)
    for name in ("proc_pthread", "proc_spawn", "proc_orphan", "proc_spin"):
        compile_into(rootfs, name)
    write_config(bundle, ["/bin/true"])
    return bundle


@pytest.fixture(scope="session")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scripts/build_host_bundle.sh in a temp dir: the host's /usr and /etc bound
    read-only, tmpfs /tmp; dynamic test programs in the (read-only) rootfs's /t."""
    bundle = build_host_bundle(tmp_path_factory.mktemp("procs-host"))
    rootfs = bundle / "rootfs"
    compile_into(rootfs, "proc_pthread", static=False, out="proc_pthread_dyn")
    compile_into(rootfs, "proc_spawn", static=False, out="proc_spawn_dyn")
    return bundle
