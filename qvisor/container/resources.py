"""pause, resume, update, events: what goes through the container's host cgroup.

Pausing freezes the sandbox process's cgroup, as runc freezes the
container's: every vCPU and kernel thread stops at once, and the guest
cannot tell. `update` changes the cgroup's limits (a new memory limit
bounds the host memory the sandbox may use; the guest's RAM size stays what
it was at create). `events` reports the cgroup's statistics.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from qvisor.container.lifecycle import open_cgroup, status_of
from qvisor.oci import cgroups
from qvisor.oci.state import CREATED, PAUSED, RUNNING, STOPPED, ContainerError, StateDir


def _cgroup(sd: StateDir) -> cgroups.Cgroup:
    state = sd.load()
    if not state.cgroup_path:
        raise ContainerError(f"container {sd.id} has no cgroup")
    try:
        return open_cgroup(state)
    except cgroups.CgroupError as err:
        raise ContainerError(str(err)) from None


def pause(root: str, cid: str) -> None:
    sd = StateDir(root, cid)
    with sd.locked():
        status = status_of(sd, sd.load())
        if status not in (RUNNING, CREATED):
            raise ContainerError(f"container not running or created: {status}")
        _cgroup(sd).freeze()


def resume(root: str, cid: str) -> None:
    sd = StateDir(root, cid)
    with sd.locked():
        status = status_of(sd, sd.load())
        if status != PAUSED:
            raise ContainerError("container not paused")
        _cgroup(sd).thaw()


def update(root: str, cid: str, resources: cgroups.Resources) -> None:
    sd = StateDir(root, cid)
    with sd.locked():
        state = sd.load()
        if status_of(sd, state) == STOPPED:
            raise ContainerError("container not running")
        cgroup = _cgroup(sd)
        cgroup.apply(resources)
        if resources.wants_cpuset():
            cgroup.join_cpuset(state.pid)     # left out at create when it had no cpuset limits


def events(root: str, cid: str, interval: float, stats_once: bool,
           out: TextIO = sys.stdout) -> None:
    """JSON lines {"type": "stats", "id", "data"} until the container stops
    (just one with --stats), as runc events prints them."""
    sd = StateDir(root, cid)
    while True:
        status = status_of(sd, sd.load())
        if status == STOPPED:
            if stats_once:
                raise ContainerError("container not running")
            return
        event: dict[str, Any] = {"type": "stats", "id": cid, "data": _cgroup(sd).stats()}
        out.write(json.dumps(event) + "\n")
        out.flush()
        if stats_once:
            return
        time.sleep(interval)
