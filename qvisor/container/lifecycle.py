"""create, start, state, kill, delete, run: runc's lifecycle on quark's sandbox.

Every command works from the state directory (qvisor/oci/state.py) and,
while the sandbox lives, its control socket. What the host says wins over
what the files say: a sandbox that died shows as stopped and deletes
cleanly; `delete` removes everything a container had on the host (sandbox
process, cgroup, tmpfs directory, state) whatever state it was left in.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
from typing import TYPE_CHECKING

from qvisor.container import control
from qvisor.oci import cgroups
from qvisor.oci.container import ContainerSpec, container_spec_from_doc, load_container_spec
from qvisor.oci.errors import BundleError   # HookError's base: hooks.py (subprocess) loads only when hooks run
from qvisor.oci.state import (
    CREATED, PAUSED, RUNNING, STOPPED, ContainerError, ContainerState, StateDir,
    owner_name, process_alive, process_start_time,
)

if TYPE_CHECKING:  # pragma: no cover - spawn loads KVM and QKernel: only create needs it
    from qvisor.container.spawn import CreateOptions

KILL_WAIT = 10.0        # seconds delete waits for a killed sandbox to go


# ---- create --------------------------------------------------------------------------
def create(opts: CreateOptions, log: logging.Logger) -> None:
    """The container "created": its sandbox running with PID 1 loaded."""
    from qvisor.container.spawn import fork_daemon
    spec = load_container_spec(opts.bundle)
    if spec.terminal and not opts.console_socket:
        raise ContainerError("cannot allocate tty if quark will detach without setting console socket")
    if not spec.terminal and opts.console_socket:
        raise ContainerError("cannot use console socket if quark will not detach or allocate tty")
    sd = StateDir(opts.root, opts.id)
    prepare_state(sd, spec, opts)
    try:
        pid = fork_daemon(sd, spec, opts, log)
        state = sd.load()
        run_hook_phases(spec, state, ("prestart", "createRuntime", "createContainer"), CREATED, log)
        if opts.pid_file:
            write_pid_file(opts.pid_file, pid)
    except BaseException:
        destroy(sd, log)
        raise


def prepare_state(sd: StateDir, spec: ContainerSpec, opts: CreateOptions) -> ContainerState:
    sd.create()
    try:
        shutil.copyfile(os.path.join(spec.bundle, "config.json"), sd.config_path)
        state = ContainerState(
            id=opts.id, bundle=spec.bundle, rootfs=spec.kernel.rootfs, owner=owner_name(),
            annotations=dict(spec.annotations), oci_version=spec.oci_version,
            cgroup_path=cgroups.cgroup_path(spec.cgroups_path, opts.id, opts.systemd_cgroup),
            tmpfs_dir=_make_tmpfs_dir(opts.id), systemd_cgroup=opts.systemd_cgroup)
        spec.kernel.tmpfs_base = state.tmpfs_dir
        spec.kernel.strace = opts.strace
        sd.save(state)
        return state
    except BaseException:
        sd.remove()
        raise


def _make_tmpfs_dir(cid: str) -> str:
    from qkernel.vfs.build import default_temp_base
    return tempfile.mkdtemp(prefix=f"quark-{cid}-", dir=default_temp_base())


def write_pid_file(path: str, pid: int) -> None:
    # Write then rename, as runc does: a reader never sees an empty file.
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


# ---- start ----------------------------------------------------------------------------
def start(root: str, cid: str, log: logging.Logger) -> None:
    sd = StateDir(root, cid)
    with sd.locked():
        state = sd.load()
        status = status_of(sd, state)
        if status == STOPPED:
            raise ContainerError("cannot start a container that has stopped")
        if status == RUNNING:
            raise ContainerError("cannot start an already running container")
        if status != CREATED:
            raise ContainerError(f"cannot start a container in the {status} state")
        spec = saved_spec(sd)
        try:
            run_hook_phases(spec, state, ("startContainer",), CREATED, log)
        except BundleError:               # a failed startContainer hook
            _kill_sandbox(state)
            raise
        try:
            control.request(sd.socket_path, {"op": "start"})
        except control.ControlError as err:
            raise ContainerError(f"cannot start container {cid}: {err}") from None
        run_hook_phases(spec, sd.load(), ("poststart",), RUNNING, log, warn_only=True)


# ---- state, list --------------------------------------------------------------------------
def status_of(sd: StateDir, state: ContainerState) -> str:
    status = sd.current_status(state)
    if status in (RUNNING, CREATED) and state.cgroup_path:
        try:
            if open_cgroup(state).frozen():
                return PAUSED
        except (cgroups.CgroupError, OSError):
            pass
    return status


def state_of(root: str, cid: str) -> dict[str, object]:
    sd = StateDir(root, cid)
    state = sd.load()
    return state.runtime_state(status_of(sd, state))


# ---- kill -----------------------------------------------------------------------------
def kill(root: str, cid: str, signo: int, everyone: bool, log: logging.Logger) -> None:
    sd = StateDir(root, cid)
    state = sd.load()
    status = status_of(sd, state)
    if status == STOPPED:
        raise ContainerError("container not running")
    if signo == signal.SIGKILL:
        # The sandbox holds every process of the container: killing it is
        # the one kill -9 nothing inside can delay.
        _kill_sandbox(state)
        return
    try:
        control.request(sd.socket_path, {"op": "kill", "signal": signo, "all": everyone})
    except control.ControlError as err:
        if not process_alive(state.pid, state.pid_start):
            raise ContainerError("container not running") from None
        raise ContainerError(f"cannot signal container {cid}: {err}") from None


def open_cgroup(state: ContainerState) -> cgroups.Cgroup:
    return cgroups.Cgroup.open(state.cgroup_path, state.cgroup_paths or None)


def _kill_sandbox(state: ContainerState) -> None:
    if not process_alive(state.pid, state.pid_start):
        return
    if state.cgroup_path:
        try:
            open_cgroup(state).thaw()    # a frozen task never dies
        except (cgroups.CgroupError, OSError):
            pass
    try:
        pidfd = os.pidfd_open(state.pid)
    except OSError:
        return
    try:
        # Checked again through the pidfd: the pid cannot be reused under us now.
        if process_start_time(state.pid) == state.pid_start:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(pidfd)


def _wait_gone(state: ContainerState, timeout: float = KILL_WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while process_alive(state.pid, state.pid_start):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# ---- delete ---------------------------------------------------------------------------
def delete(root: str, cid: str, force: bool, log: logging.Logger) -> None:
    sd = StateDir(root, cid)
    if not sd.exists():
        if force:
            # runc's rule: --force of a container that is not there is done
            # (containerd's shim deletes, then deletes --force); a create
            # that died half-way may have left a directory without state.
            sd.remove()
            return
        raise ContainerError(f"container does not exist: {cid}")
    with sd.locked():
        state = sd.load()
        status = status_of(sd, state)
        if status in (RUNNING, PAUSED) and not force:
            raise ContainerError(f"cannot delete container {cid} that is not stopped: {status}")
        destroy(sd, log, state)


def destroy(sd: StateDir, log: logging.Logger, state: ContainerState | None = None) -> None:
    """Remove every trace of the container on the host (idempotent)."""
    if state is None:
        try:
            state = sd.load()
        except ContainerError:
            sd.remove()
            return
    if state.pid:
        _kill_sandbox(state)
        if not _wait_gone(state):
            log.error("sandbox %d of %s does not die", state.pid, state.id)
    try:
        spec = saved_spec(sd)
        run_hook_phases(spec, state, ("poststop",), STOPPED, log, warn_only=True)
    except (ContainerError, BundleError) as err:
        log.warning("poststop hooks of %s: %s", state.id, err)
    if state.cgroup_path:
        try:
            open_cgroup(state).destroy()
        except (cgroups.CgroupError, OSError) as err:
            log.warning("cgroup %s of %s: %s", state.cgroup_path, state.id, err)
    if state.tmpfs_dir:
        shutil.rmtree(state.tmpfs_dir, ignore_errors=True)
    sd.remove()


def saved_spec(sd: StateDir) -> ContainerSpec | None:
    """The spec as it was at create (None when it no longer loads, e.g. the
    bundle's rootfs is gone: then no hooks can run)."""
    from qvisor.oci.config import read_config
    state = sd.load()
    try:
        return container_spec_from_doc(read_config(sd.config_path), state.bundle)
    except BundleError:
        return None


def run_hook_phases(spec: ContainerSpec | None, state: ContainerState, phases: tuple[str, ...],
                    status: str, log: logging.Logger, warn_only: bool = False) -> None:
    if spec is None:
        return
    for phase in phases:
        hooks = spec.hooks.phase(phase)
        if hooks:
            from qvisor.oci.hooks import run_hooks
            run_hooks(hooks, state.hook_state(status), phase, log, warn_only=warn_only)


