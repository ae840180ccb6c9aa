"""`quark --strace run` prints each guest syscall with decoded arguments and result."""
from __future__ import annotations

from pathlib import Path

from tests.guest import quark, write_config


def test_strace_decodes_paths_flags_and_results(bundle: Path) -> None:
    write_config(bundle, ["/bin/cat", "/etc/passwd", "/no/such/file"])
    result = quark("--strace", "run", str(bundle))
    assert result.status == 1
    assert result.stdout.startswith("root:x:0:0:")
    lines = result.stderr.splitlines()
    assert any('openat(AT_FDCWD, "/etc/passwd", O_RDONLY' in line and line.endswith("= 3")
               for line in lines), result.stderr
    assert any('"/no/such/file"' in line and "= -1 ENOENT (No such file or directory)" in line
               for line in lines)
    assert lines[-1].endswith("exit_group(1) = ?")
    assert "Traceback" not in result.stderr


def test_no_trace_without_the_flag(bundle: Path) -> None:
    write_config(bundle, ["/bin/true"])
    result = quark("run", str(bundle))
    assert (result.status, result.stderr) == (0, "")
