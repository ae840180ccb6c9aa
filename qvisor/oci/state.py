"""A container's state directory under --root: what outlives the CLI process.

<root>/<id>/ (mode 0700, so only root reaches the control socket in it):
  state.json    the runtime state (runtime-spec "State" plus runc's extras and
                quark's own: the sandbox's pid start time, cgroup path)
  config.json   the bundle's config as it was at create (poststop hooks and
                `exec` defaults still work if the bundle is gone)
  sandbox.sock  the running sandbox's control socket
  lock          flock'd by every CLI command that changes the container
  state.lock    flock'd around each read-modify-write of state.json

The status on disk is what the sandbox last wrote; `current_status` checks it
against the host: a sandbox that died (crash, kill -9) is "stopped" whatever
the file says, so such a container can always be deleted.
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import pwd
import re
import shutil
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

STATE_FILE = "state.json"
CONFIG_COPY = "config.json"
SOCKET_NAME = "sandbox.sock"
LOCK_NAME = "lock"
UPDATE_LOCK_NAME = "state.lock"

# runc's rule for container ids: they become file names under --root.
_ID_RE = re.compile(r"^[\w+.-]+$")

CREATING, CREATED, RUNNING, PAUSED, STOPPED = "creating", "created", "running", "paused", "stopped"


class ContainerError(Exception):
    """A lifecycle request that cannot be done (runc's kind of error); one line."""


def check_id(cid: str) -> str:
    if not cid:
        raise ContainerError("container id cannot be empty")
    if not _ID_RE.match(cid) or cid in (".", ".."):
        raise ContainerError(f"invalid container id format: {cid}")
    return cid


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class ContainerState:
    id: str
    bundle: str
    rootfs: str
    status: str = CREATING
    pid: int = 0                    # the sandbox process (0 before it exists)
    pid_start: int = 0              # its start time in /proc/<pid>/stat: pids get reused
    created: str = field(default_factory=now_rfc3339)
    owner: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    oci_version: str = ""
    cgroup_path: str = ""
    exit_status: int | None = None  # set by the sandbox when PID 1 is gone
    tmpfs_dir: str = ""             # host dir of the container's tmpfs mounts (removed by delete)
    systemd_cgroup: bool = False
    cgroup_paths: dict[str, str] = field(default_factory=dict)   # hierarchy -> directory used

    def runtime_state(self, status: str) -> dict[str, Any]:
        """The JSON `quark state` prints: runtime-spec State plus runc's fields."""
        doc: dict[str, Any] = {
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": self.pid if status != STOPPED else 0,
            "status": status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc

    def hook_state(self, status: str) -> dict[str, Any]:
        """The state a hook reads on stdin (runtime-spec: ociVersion, id, status, pid, bundle)."""
        doc = {"ociVersion": self.oci_version, "id": self.id, "status": status,
               "pid": self.pid, "bundle": self.bundle}
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc


def process_start_time(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    # comm may hold spaces and parentheses: the fields start after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    return int(fields[19])


def process_alive(pid: int, start: int) -> bool:
    if pid <= 0:
        return False
    current = process_start_time(pid)
    if current == 0 or (start and current != start):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")   # a zombie has finished: the container stopped


class StateDir:
    """One container's directory under the runtime root."""

    def __init__(self, root: str, cid: str) -> None:
        self.root = root
        self.id = check_id(cid)
        self.path = os.path.join(root, cid)

    @property
    def socket_path(self) -> str:
        return os.path.join(self.path, SOCKET_NAME)

    @property
    def config_path(self) -> str:
        return os.path.join(self.path, CONFIG_COPY)

    def exists(self) -> bool:
        return os.path.isfile(os.path.join(self.path, STATE_FILE))

    def create(self) -> None:
        """Make the directory; ContainerError if the id is taken."""
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        try:
            os.mkdir(self.path, 0o700)
        except FileExistsError:
            raise ContainerError(f"container with id exists: {self.id}") from None
        os.chmod(self.path, 0o700)     # whatever the umask says

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise lifecycle commands on this container (flock, so a killed
        CLI never leaves it locked)."""
        try:
            fd = os.open(os.path.join(self.path, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise ContainerError(f"container does not exist: {self.id}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def load(self) -> ContainerState:
        try:
            with open(os.path.join(self.path, STATE_FILE), "rb") as f:
                doc = json.loads(f.read())
        except FileNotFoundError:
            raise ContainerError(f"container does not exist: {self.id}") from None
        except (OSError, ValueError) as err:
            raise ContainerError(f"container {self.id}: unreadable state: {err}") from None
        known = set(ContainerState.__dataclass_fields__)
        return ContainerState(**{k: v for k, v in doc.items() if k in known})

    def save(self, state: ContainerState) -> None:
        # Write then rename: a reader never sees half a file.
        tmp = os.path.join(self.path, f".{STATE_FILE}.{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(asdict(state), f)
        os.replace(tmp, os.path.join(self.path, STATE_FILE))

    def update(self, **changes: Any) -> ContainerState:
        """Read, change, write, under a lock of its own: the CLI and the
        sandbox both write the state while a container is being created."""
        fd = os.open(os.path.join(self.path, UPDATE_LOCK_NAME),
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = self.load()
            for key, value in changes.items():
                setattr(state, key, value)
            self.save(state)
            return state
        finally:
            os.close(fd)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def current_status(self, state: ContainerState) -> str:
        """The status as the host sees it now."""
        if state.status in (STOPPED,):
            return STOPPED
        if state.pid == 0:
            return state.status             # still being created
        if not process_alive(state.pid, state.pid_start):
            return STOPPED
        return state.status


def owner_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    except OSError as err:
        if err.errno == errno.ENOTDIR:
            raise ContainerError(f"{root} is not a directory") from None
        raise
    return [n for n in names if _ID_RE.match(n) and os.path.isfile(os.path.join(root, n, STATE_FILE))]
