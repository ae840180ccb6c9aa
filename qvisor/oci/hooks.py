"""Running config.json hooks, as the runtime-spec says.

Each hook is a host program run in the runtime's namespaces: `path` is
executed with `args` as its argv (args[0] is argv[0] and may differ from
path; no args means argv is [path]) and `env` as its whole environment
(none given: an empty one), the container's state JSON on its stdin, and
the bundle as its working directory (runc runs hooks from there). A hook
fails when it cannot be executed, exits non-zero, is killed by a signal, or
outlives its timeout (it is then killed, with whatever it started).

Hooks of a phase run in order. In phases where a failure must stop the
container (prestart, createRuntime, createContainer, startContainer) the
first failure raises HookError; in poststart and poststop a failure is a
logged warning and the remaining hooks still run (runtime-spec, Lifecycle).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from typing import Any

from qvisor.oci.container import Hook
from qvisor.oci.errors import BundleError

# Phases whose failures are warnings only (runtime-spec: poststart, poststop).
WARN_ONLY_PHASES = frozenset({"poststart", "poststop"})

_STDERR_SHOWN = 500       # characters of a failing hook's output kept in the message
_REAP_TIMEOUT = 5.0       # seconds to collect a killed hook's pipes


class HookError(BundleError):
    """A hook failed; str() is one line naming the phase, the hook, the
    status and the hook's own (trimmed) stderr. A BundleError, so the CLI
    prints it like any other problem with the bundle."""

    def __init__(self, phase: str, index: int, path: str, reason: str, stderr: str = "") -> None:
        self.phase, self.index, self.path, self.reason = phase, index, path, reason
        self.stderr = _trim(stderr)
        msg = f"{phase} hook #{index} ({path}) failed: {reason}"
        super().__init__(f"{msg}: {self.stderr}" if self.stderr else msg)


def run_hooks(hooks: list[Hook], state: dict[str, Any], phase: str,
              log: logging.Logger | logging.LoggerAdapter[Any],
              warn_only: bool | None = None, cwd: str | None = None) -> None:
    """Run `hooks` in order with `state` on their stdin.

    phase: the config.json name ("createRuntime", "poststop", ...), for
    messages and for the default of warn_only (True for poststart/poststop).
    cwd: where hooks run; by default the state's bundle when it exists.
    """
    if warn_only is None:
        warn_only = phase in WARN_ONLY_PHASES
    if cwd is None:
        bundle = state.get("bundle")
        cwd = bundle if isinstance(bundle, str) and os.path.isdir(bundle) else None
    stdin = json.dumps(state).encode()
    for index, hook in enumerate(hooks):
        try:
            run_hook(hook, stdin, phase, index, cwd)
        except HookError as err:
            if not warn_only:
                raise
            log.warning("%s", err)


def run_hook(hook: Hook, stdin: bytes, phase: str, index: int, cwd: str | None = None) -> None:
    """Run one hook to completion; HookError if it fails."""
    argv = list(hook.args) or [hook.path]
    env = _environ(hook.env)
    try:
        proc = subprocess.Popen(
            argv, executable=hook.path, env=env, cwd=cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            # Its own process group, so a timeout kills what it started too
            # (else a grandchild holding the pipes would keep us waiting).
            start_new_session=True, close_fds=True,
        )
    except OSError as err:
        raise HookError(phase, index, hook.path,
                        f"cannot run it: {err.strerror or err}") from None
    try:
        out, errout = proc.communicate(stdin, timeout=hook.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, errout = _collect(proc)
        raise HookError(phase, index, hook.path,
                        f"timed out after {hook.timeout}s (killed)", _text(errout)) from None
    finally:
        _close_pipes(proc)
    if proc.returncode != 0:
        raise HookError(phase, index, hook.path, _status(proc.returncode),
                        _text(errout) or _text(out))


def _environ(env: list[str]) -> dict[str, str]:
    """The hook's environment exactly as config.json gives it (KEY=value;
    an entry without '=' is a name with an empty value, as execve would
    pass it unchanged but Popen needs a mapping)."""
    out: dict[str, str] = {}
    for entry in env:
        key, _, value = entry.partition("=")
        if key:
            out[key] = value
    return out


def _status(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit status {returncode}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:            # pragma: no cover - the group is ours; be safe anyway
        proc.kill()


def _collect(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    try:
        return proc.communicate(timeout=_REAP_TIMEOUT)
    except subprocess.TimeoutExpired:  # pragma: no cover - something outside the group holds a pipe
        proc.kill()
        proc.wait()
        return b"", b""


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None and not pipe.closed:
            pipe.close()


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "replace")


def _trim(text: str) -> str:
    """One line, at most _STDERR_SHOWN characters."""
    line = " ".join(text.split())
    return line if len(line) <= _STDERR_SHOWN else line[:_STDERR_SHOWN - 3] + "..."


__all__ = ["HookError", "WARN_ONLY_PHASES", "run_hook", "run_hooks"]
