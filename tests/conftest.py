from __future__ import annotations

from pathlib import Path

import pytest

from tests.guest import make_rootfs


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox bundle shared by the guest tests (its rootfs is writable)."""
    path = tmp_path_factory.mktemp("bundle")
    make_rootfs(path / "rootfs")
    return path
