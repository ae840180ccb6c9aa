"""`quark list` and `quark ps`: what runc prints, in table or JSON form."""
from __future__ import annotations

import json
import time
from typing import Any, Sequence

from qvisor.container import control
from qvisor.container.lifecycle import status_of
from qvisor.oci.state import STOPPED, ContainerError, StateDir, list_ids


def list_states(root: str) -> list[dict[str, Any]]:
    out = []
    for cid in list_ids(root):
        sd = StateDir(root, cid)
        try:
            state = sd.load()
        except ContainerError:
            continue                    # deleted while we looked
        out.append(state.runtime_state(status_of(sd, state)))
    return out


def format_list(states: list[dict[str, Any]], fmt: str, quiet: bool) -> str:
    if quiet:
        return "".join(f"{s['id']}\n" for s in states)
    if fmt == "json":
        return json.dumps(states) + "\n"
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"])
             for s in states]
    return _table(rows)


def processes(root: str, cid: str) -> list[dict[str, Any]]:
    sd = StateDir(root, cid)
    state = sd.load()
    if status_of(sd, state) == STOPPED:
        raise ContainerError("container is not running")
    try:
        reply = control.request(sd.socket_path, {"op": "ps"})
    except control.ControlError as err:
        raise ContainerError(f"cannot list processes of {cid}: {err}") from None
    procs = reply.get("processes")
    return procs if isinstance(procs, list) else []


def format_ps(procs: list[dict[str, Any]], fmt: str) -> str:
    """JSON: the pids (guest pids: the container's processes live in the
    sandbox's kernel, as with gVisor); table: ps -ef's columns."""
    if fmt == "json":
        return json.dumps([p["pid"] for p in procs]) + "\n"
    now = time.monotonic_ns()
    rows = [("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")]
    for p in procs:
        age = max(0, now - int(p.get("start_ns", now))) // 1_000_000_000
        rows.append((str(p["uid"]), str(p["pid"]), str(p["ppid"]), "0", _age(age), "?",
                     "00:00:00", str(p.get("comm", ""))))
    return _table(rows)


def _age(seconds: int) -> str:
    return time.strftime("%H:%M", time.localtime(time.time() - seconds))


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"
