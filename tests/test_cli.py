"""The quark command line and its log set-up."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from qvisor import cli, logconfig
from qvisor.oci import default_spec

REPO = Path(__file__).resolve().parent.parent


def quark(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # Through the interpreter, so the test works before `pip install -e .` too.
    return subprocess.run([sys.executable, "-m", "qvisor.cli", *args], cwd=cwd,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)


def assert_one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("quark: "), proc.stderr
    return lines[0]


@pytest.fixture(autouse=True)
def _restore_quark_logger():
    # cli.main() and setup_logging() point the shared "quark" logger at this
    # test's temporary file; leave it as we found it for the other tests.
    logger = logging.getLogger(logconfig.LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        if handler not in saved[0]:
            handler.close()
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "quark.log"


def test_spec_writes_config_and_refuses_overwrite(tmp_path: Path, log_file: Path) -> None:
    proc = quark("--log", str(log_file), "spec", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "config.json").read_text()) == default_spec()
    line = assert_one_line_error(quark("--log", str(log_file), "spec", cwd=tmp_path))
    assert line == "quark: File config.json exists. Remove it first"


def test_spec_bundle_and_rootless(tmp_path: Path, log_file: Path) -> None:
    proc = quark("--log", str(log_file), "spec", "--rootless", "--bundle", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "config.json").read_text()) == default_spec(rootless=True)


def test_run_missing_bundle(tmp_path: Path, log_file: Path) -> None:
    missing = str(tmp_path / "no-such-bundle")
    assert "no such directory" in assert_one_line_error(
        quark("--log", str(log_file), "run", missing))
    assert "no such directory" in assert_one_line_error(
        quark("--log", str(log_file), "run", "--bundle", missing, "c1"))


def test_run_bad_json(tmp_path: Path, log_file: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text("{ not json")
    line = assert_one_line_error(quark("--log", str(log_file), "run", str(tmp_path)))
    assert "invalid JSON at line 1 column 3" in line


def test_version() -> None:
    proc = quark("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("quark version ")


def test_run_short_form_resolves_bundle(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    bundle, cid = cli.resolve_run_target(None, str(tmp_path))
    assert bundle == str(tmp_path) and cid.startswith("quark-")
    assert cli.resolve_run_target(str(tmp_path), "web-1") == (str(tmp_path), "web-1")
    with pytest.raises(cli.UsageError):
        cli.resolve_run_target(str(tmp_path), "bad id!")


def _good_bundle(tmp_path: Path) -> Path:
    (tmp_path / "rootfs").mkdir()
    spec = default_spec()
    spec["process"]["args"] = ["/bin/true"]
    (tmp_path / "config.json").write_text(json.dumps(spec))
    return tmp_path


def test_internal_error_is_one_line(tmp_path: Path, log_file: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from qvisor.container import run

    def broken(*_args: object) -> int:
        raise RuntimeError("vCPU exploded\nsecond line")

    monkeypatch.setattr(run, "run", broken)
    with pytest.raises(SystemExit) as info:
        cli.main(["--log", str(log_file), "run", str(_good_bundle(tmp_path))])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err == "quark: internal error: vCPU exploded second line\n"
    assert "Traceback" in log_file.read_text()


# --- logconfig ----------------------------------------------------------------

def test_log_level_default_when_missing(tmp_path: Path) -> None:
    assert logconfig.read_debug_level(str(tmp_path / "none.json")) == logconfig.DEFAULT_LEVEL


@pytest.mark.parametrize("text", ["{oops", "[]", '{"DebugLevel": "Loud"}'])
def test_log_level_malformed_warns(tmp_path: Path, text: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    assert logconfig.read_debug_level(str(path)) == logconfig.DEFAULT_LEVEL
    err = capsys.readouterr().err
    assert err.startswith("quark: warning: ") and err.count("\n") == 1


def test_trace_level_and_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"DebugLevel": "Trace"}')
    log = logconfig.setup_logging(log_path=str(tmp_path / "logs" / "q.log"),
                                  config_path=str(path))
    assert log.level == logconfig.TRACE == 5
    log.log(logconfig.TRACE, "a syscall")
    assert "TRACE quark: a syscall" in (tmp_path / "logs" / "q.log").read_text()


def test_unwritable_log_falls_back(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = logconfig.setup_logging(level="Debug", log_path=str(blocker / "sub" / "q.log"))
    assert all(isinstance(h, logging.NullHandler) for h in log.handlers)
    log.error("goes nowhere, raises nothing")


def test_off_level(tmp_path: Path) -> None:
    log = logconfig.setup_logging(level="Off", log_path=str(tmp_path / "q.log"))
    log.critical("dropped")
    assert not (tmp_path / "q.log").exists()
