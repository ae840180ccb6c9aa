"""runc's lifecycle on quark, driven through the CLI like a shim drives it:
create -> state -> start -> exec -> kill -> state -> delete, every bad
transition, kill -9 of the sandbox, and a loop of containers that must leave
nothing behind. Real sandboxes under real KVM."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.guest import ENV, ROOT, make_rootfs
from qvisor.oci.spec import default_spec

PR_SET_CHILD_SUBREAPER = 36
WAIT_LOOP = 'trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.05; done'


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lifecycle") / "rootfs"
    make_rootfs(path)
    return path


@pytest.fixture(autouse=True)
def subreaper() -> None:
    # A shim is a subreaper: the sandbox, orphaned when `create` exits,
    # becomes our child and we can read its exit status.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class Runtime:
    def __init__(self, tmp: Path, rootfs: Path) -> None:
        self.root = tmp / "state"
        self.log = tmp / "quark.log"
        self.tmp = tmp
        self.rootfs = rootfs

    def bundle(self, name: str, args: list[str], **process: object) -> Path:
        path = self.tmp / name
        path.mkdir()
        spec = default_spec()
        spec["process"].update({"args": args, "terminal": False, "env": ENV, **process})
        spec["root"] = {"path": str(self.rootfs), "readonly": False}
        (path / "config.json").write_text(json.dumps(spec))
        return path

    def __call__(self, *argv: str, stdout: object = subprocess.PIPE,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(ROOT / ".venv" / "bin" / "quark"), "--root", str(self.root), "--log",
               str(self.log), "--log-format", "json", *argv]
        # stderr goes to a file, not a pipe: a sandbox keeps the stdio of
        # `create` (it is the container's), so a pipe would stay open.
        with open(self.tmp / "stderr", "w+") as stderr:
            proc = subprocess.run(cmd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                  text=True, timeout=timeout)
            stderr.seek(0)
            proc.stderr = stderr.read()
        return proc

    def state(self, cid: str) -> dict[str, object]:
        proc = self("state", cid)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def wait_status(self, cid: str, status: str, timeout: float = 20) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(cid)
            if state["status"] == status or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def error_lines(self) -> list[str]:
        lines = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [doc["msg"] for doc in lines if doc["level"] == "error"]


@pytest.fixture
def runtime(tmp_path: Path, rootfs: Path) -> Runtime:
    rt = Runtime(tmp_path, rootfs)
    yield rt
    # Whatever a failed test left: delete --force every container.
    if rt.root.exists():
        for cid in os.listdir(rt.root):
            rt("delete", "--force", cid)


def failed(proc: subprocess.CompletedProcess[str], text: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("quark: "), proc.stderr
    assert text in proc.stderr, proc.stderr


def wait_for_text(path: Path, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}: {content!r}")


def reap(pid: int, timeout: float = 20) -> int:
    """The sandbox's wait status, as a shim waiting on --pid-file's pid sees it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            return status
        time.sleep(0.02)
    raise AssertionError(f"sandbox {pid} did not exit")


def test_lifecycle(runtime: Runtime) -> None:
    bundle = runtime.bundle("b1", ["sh", "-c", WAIT_LOOP])
    out = runtime.tmp / "out.txt"
    pid_file = runtime.tmp / "pid"
    with open(out, "w") as stdout:
        proc = runtime("create", "--bundle", str(bundle), "--pid-file", str(pid_file), "c1",
                       stdout=stdout)
    assert proc.returncode == 0, proc.stderr
    state = runtime.state("c1")
    pid = int(pid_file.read_text())
    assert state["status"] == "created" and state["pid"] == pid and state["id"] == "c1"
    assert state["bundle"] == str(bundle) and state["ociVersion"]
    assert out.read_text() == ""                 # PID 1 is loaded, not running

    failed(runtime("create", "--bundle", str(bundle), "c1"), "container with id exists: c1")
    assert runtime("start", "c1").returncode == 0
    assert runtime.state("c1")["status"] == "running"
    wait_for_text(out, "ready")
    failed(runtime("start", "c1"), "cannot start an already running container")
    failed(runtime("delete", "c1"), "cannot delete container c1 that is not stopped: running")

    proc = runtime("exec", "c1", "echo", "inside")
    assert (proc.returncode, proc.stdout) == (0, "inside\n"), proc.stderr
    assert runtime("exec", "c1", "sh", "-c", "exit 5").returncode == 5
    ps = runtime("ps", "--format", "json", "c1")
    assert ps.returncode == 0 and 1 in json.loads(ps.stdout)

    assert runtime("kill", "c1", "TERM").returncode == 0
    assert os.WEXITSTATUS(reap(pid)) == 7        # the container's own exit code
    assert runtime.state("c1")["status"] == "stopped"
    assert "got TERM" in out.read_text()
    failed(runtime("kill", "c1", "KILL"), "container not running")
    failed(runtime("start", "c1"), "cannot start a container that has stopped")
    assert runtime("delete", "c1").returncode == 0
    failed(runtime("state", "c1"), "container does not exist: c1")
    failed(runtime("delete", "c1"), "container does not exist: c1")
    assert runtime("delete", "--force", "c1").returncode == 0      # as runc: nothing to do
    assert not (runtime.root / "c1").exists()
    # The caller can read every reason from the JSON log.
    errors = runtime.error_lines()
    assert any("container with id exists: c1" in e for e in errors)
    assert any("cannot start an already running container" in e for e in errors)


def test_bad_ids_and_unknown(runtime: Runtime) -> None:
    failed(runtime("start", "nope"), "container does not exist: nope")
    failed(runtime("kill", "nope"), "container does not exist: nope")
    failed(runtime("state", "../etc"), "invalid container id format")
    bundle = runtime.bundle("b", ["true"])
    failed(runtime("create", "--bundle", str(bundle), "bad/id"), "invalid container id format")


def test_kill_9_sandbox_then_delete_leaves_nothing(runtime: Runtime) -> None:
    bundle = runtime.bundle("b", ["sh", "-c", WAIT_LOOP])
    mounts_before = our_mounts(runtime)
    pid_file = runtime.tmp / "pid"
    proc = runtime("run", "--detach", "--bundle", str(bundle), "--pid-file", str(pid_file), "k9",
                   stdout=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    pid = int(pid_file.read_text())
    state = json.loads((runtime.root / "k9" / "state.json").read_text())
    cgroup, tmpfs_dir = state["cgroup_path"], state["tmpfs_dir"]
    assert cgroup_dirs(cgroup) and os.path.isdir(tmpfs_dir)
    os.kill(pid, signal.SIGKILL)
    assert os.WTERMSIG(reap(pid)) == signal.SIGKILL
    assert runtime.state("k9")["status"] == "stopped"
    assert runtime("delete", "k9").returncode == 0
    assert not os.path.exists(f"/proc/{pid}")
    assert cgroup_dirs(cgroup) == []
    assert not os.path.exists(tmpfs_dir)
    assert not (runtime.root / "k9").exists()
    assert our_mounts(runtime) == mounts_before


def our_mounts(rt: Runtime) -> list[str]:
    """Mounts of anything of this test's (other work on the machine may mount its own)."""
    marks = (str(rt.tmp), str(rt.rootfs), "/dev/shm/quark-", "/run/quark")
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if any(m in line for m in marks)]


def cgroup_dirs(path: str) -> list[str]:
    found = []
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        candidate = hierarchy / path.lstrip("/")
        if candidate.is_dir():
            found.append(str(candidate))
    root = Path("/sys/fs/cgroup") / path.lstrip("/")
    if (Path("/sys/fs/cgroup") / "cgroup.controllers").exists() and root.is_dir():
        found.append(str(root))
    return found


def test_twenty_containers_leave_nothing(runtime: Runtime) -> None:
    bundle = runtime.bundle("b", ["sh", "-c", "echo hi"])
    fds_before = len(os.listdir("/proc/self/fd"))
    mounts_before = our_mounts(runtime)
    shm_before = {n for n in os.listdir("/dev/shm") if n.startswith("quark-loop")}
    pids, cgroups = [], []
    for i in range(20):
        cid = f"loop{i}"
        pid_file = runtime.tmp / f"{cid}.pid"
        proc = runtime("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid,
                       stdout=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
        pids.append(int(pid_file.read_text()))
        cgroups.append(json.loads((runtime.root / cid / "state.json").read_text())["cgroup_path"])
        # Half are deleted while created, half after they ran.
        if i % 2:
            assert runtime("start", cid).returncode == 0
            reap(pids[-1])
        proc = runtime("delete", cid)
        assert proc.returncode == 0, proc.stderr
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        assert not os.path.exists(f"/proc/{pid}"), f"sandbox {pid} still there"
    assert all(cgroup_dirs(c) == [] for c in cgroups)
    assert os.listdir(runtime.root) == []
    assert {n for n in os.listdir("/dev/shm") if n.startswith("quark-loop")} <= shm_before
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert our_mounts(runtime) == mounts_before


@pytest.mark.parametrize("config, text", [
    ("{ not json", "invalid JSON at line 1 column 3"),
    ('{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": "sh"}}',
     "process.args: expected an array of strings, got string"),
    ('{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "terminal": "yes"}}',
     "process.terminal"),
])
def test_malformed_config_errors_reach_the_log(runtime: Runtime, config: str, text: str) -> None:
    bundle = runtime.tmp / "bad"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(config)
    failed(runtime("create", "--bundle", str(bundle), "bad"), text)
    assert any(text in e for e in runtime.error_lines())
    assert not (runtime.root / "bad").exists()


def test_missing_bundle(runtime: Runtime) -> None:
    failed(runtime("create", "--bundle", str(runtime.tmp / "nowhere"), "x"), "no such directory")
    assert any("no such directory" in e for e in runtime.error_lines())


def test_list_ps_pause_resume_update_events(runtime: Runtime) -> None:
    bundle = runtime.bundle("b", ["sh", "-c", "while true; do sleep 0.05; done"])
    assert runtime("run", "-d", "--bundle", str(bundle), "r1", stdout=subprocess.DEVNULL).returncode == 0
    listed = json.loads(runtime("list", "--format", "json").stdout)
    assert [(s["id"], s["status"]) for s in listed] == [("r1", "running")]
    assert "r1" in runtime("list").stdout
    table = runtime("ps", "r1").stdout.splitlines()
    assert table[0].split()[:3] == ["UID", "PID", "PPID"] and any(" 1 " in f" {l} " for l in table[1:])
    assert runtime("pause", "r1").returncode == 0
    assert runtime.state("r1")["status"] == "paused"
    failed(runtime("pause", "r1"), "container not running")
    assert runtime("resume", "r1").returncode == 0
    assert runtime.state("r1")["status"] == "running"
    assert runtime("update", "--memory", "256m", "--pids-limit", "50", "r1").returncode == 0
    state = json.loads((runtime.root / "r1" / "state.json").read_text())
    cpuset = state["cgroup_paths"].get("cpuset")
    if cpuset:      # v1: the sandbox joins cpuset only when it gets cpuset limits
        assert str(state["pid"]) not in Path(cpuset, "cgroup.procs").read_text().split()
        assert runtime("update", "--cpuset-cpus", "0", "r1").returncode == 0
        assert Path(cpuset, "cpuset.cpus").read_text().strip() == "0"
        assert str(state["pid"]) in Path(cpuset, "cgroup.procs").read_text().split()
    events = runtime("events", "--stats", "r1")
    assert events.returncode == 0, events.stderr
    event = json.loads(events.stdout)
    assert event["type"] == "stats" and event["id"] == "r1"
    assert event["data"]["pids"]["limit"] == 50
    assert event["data"]["memory"]["usage"]["limit"] == 256 << 20
    assert runtime("kill", "r1", "9").returncode == 0
    assert runtime.wait_status("r1", "stopped")["status"] == "stopped"
    assert runtime("delete", "r1").returncode == 0


def test_exec_detach_pid_file_is_the_exit_status(runtime: Runtime) -> None:
    bundle = runtime.bundle("b", ["sleep", "100000"])     # no children of its own
    assert runtime("run", "-d", "--bundle", str(bundle), "e1", stdout=subprocess.DEVNULL).returncode == 0
    proc = runtime("exec", "--user", "65534:65534", "--cwd", "/tmp", "--env", "FOO=bar", "e1",
                   "sh", "-c", 'echo $(id -u):$(id -g) $(pwd) $FOO $PATH')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["65534:65534", "/tmp", "bar", ENV[0].split("=", 1)[1]]
    # noNewPrivileges (true in the default spec) holds for exec'd processes and their children.
    proc = runtime("exec", "e1", "sh", "-c", "grep NoNewPrivs /proc/self/status")
    assert proc.stdout.split() == ["NoNewPrivs:", "1"], proc.stderr
    failed(runtime("exec", "e1", "/no/such/program"), "No such file or directory")
    assert runtime("exec", "e1", "/no/such/program").returncode == 127
    process = runtime.tmp / "process.json"
    process.write_text(json.dumps({"args": "sh", "cwd": "/"}))
    failed(runtime("exec", "-p", str(process), "e1"), "process.args: expected an array of strings")
    process.write_text(json.dumps({"args": ["sh", "-c", "sleep 0.2; exit 9"], "cwd": "/",
                                   "env": ENV, "user": {"uid": 0, "gid": 0}}))
    pid_file = runtime.tmp / "exec.pid"
    proc = runtime("exec", "--detach", "--process", str(process), "--pid-file", str(pid_file), "e1")
    assert proc.returncode == 0, proc.stderr
    assert os.WEXITSTATUS(reap(int(pid_file.read_text()))) == 9
    # A stand-in killed with -9 takes its guest process with it.
    process.write_text(json.dumps({"args": ["sleep", "1000"], "cwd": "/", "env": ENV}))
    proc = runtime("exec", "-d", "-p", str(process), "--pid-file", str(pid_file), "e1",
                   stdout=subprocess.DEVNULL)     # the guest process keeps the stdio it got
    assert proc.returncode == 0, proc.stderr
    standin = int(pid_file.read_text())
    assert len(json.loads(runtime("ps", "-f", "json", "e1").stdout)) == 2
    os.kill(standin, signal.SIGKILL)
    reap(standin)
    deadline = time.monotonic() + 10
    while len(json.loads(runtime("ps", "-f", "json", "e1").stdout)) != 1:
        assert time.monotonic() < deadline, "the exec'd process outlived its stand-in"
        time.sleep(0.05)
    assert runtime("delete", "--force", "e1").returncode == 0


def test_terminal_through_console_socket(runtime: Runtime) -> None:
    bundle = runtime.bundle("t", ["sh"], terminal=True)
    sock_path = str(runtime.tmp / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    proc = runtime("run", "-d", "--bundle", str(bundle), "--console-socket", sock_path, "tty1")
    assert proc.returncode == 0, proc.stderr
    conn, _ = server.accept()
    _, fds, _, _ = socket.recv_fds(conn, 64, 1)
    master = fds[0]
    os.write(master, b"echo $((6*7)); tty\n")
    text = read_until(master, b"42")
    os.write(master, b"exit 3\n")
    assert b"42" in text
    assert runtime.wait_status("tty1", "stopped")["status"] == "stopped"
    os.close(master)
    assert runtime("delete", "tty1").returncode == 0


def read_until(fd: int, want: bytes, timeout: float = 20) -> bytes:
    import select
    data = b""
    deadline = time.monotonic() + timeout
    while want not in data and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                data += os.read(fd, 4096)
            except OSError:
                break
    return data


def test_hooks_namespaces_and_private_state(runtime: Runtime) -> None:
    record = runtime.tmp / "hooks.log"
    hook = runtime.tmp / "hook.sh"
    hook.write_text(f'#!/bin/sh\necho "$1 $(cat)" >> {record}\n')
    hook.chmod(0o755)
    hooks = {phase: [{"path": str(hook), "args": ["hook.sh", phase]}]
             for phase in ("prestart", "createRuntime", "createContainer", "startContainer",
                           "poststart", "poststop")}
    bundle = runtime.bundle("h", ["sleep", "100000"])
    spec = json.loads((bundle / "config.json").read_text())
    spec["hooks"] = hooks
    spec["process"]["oomScoreAdj"] = 123
    spec["linux"]["namespaces"] = [{"type": "network"}, {"type": "pid"}, {"type": "mount"}]
    (bundle / "config.json").write_text(json.dumps(spec))
    pid_file = runtime.tmp / "pid"
    assert runtime("create", "-b", str(bundle), "--pid-file", str(pid_file), "h1",
                   stdout=subprocess.DEVNULL).returncode == 0
    pid = int(pid_file.read_text())
    # Only root reaches the state and the control socket; the sandbox has a network namespace of its own.
    assert os.stat(runtime.root / "h1").st_mode & 0o777 == 0o700
    assert os.stat(runtime.root / "h1" / "sandbox.sock").st_mode & 0o777 == 0o600
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "123"
    assert runtime("start", "h1").returncode == 0
    assert runtime("delete", "--force", "h1").returncode == 0
    lines = record.read_text().splitlines()
    phases = [line.split(" ", 1)[0] for line in lines]
    assert phases == ["prestart", "createRuntime", "createContainer", "startContainer",
                      "poststart", "poststop"]
    states = [json.loads(line.split(" ", 1)[1]) for line in lines]
    assert all(s["id"] == "h1" and s["pid"] == pid and s["bundle"] == str(bundle) for s in states)
    assert [s["status"] for s in states] == ["created"] * 4 + ["running", "stopped"]


def test_failing_hook_fails_create_and_cleans_up(runtime: Runtime) -> None:
    bundle = runtime.bundle("f", ["true"])
    spec = json.loads((bundle / "config.json").read_text())
    spec["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no network >&2; exit 3"]}]}
    (bundle / "config.json").write_text(json.dumps(spec))
    failed(runtime("create", "-b", str(bundle), "f1", stdout=subprocess.DEVNULL), "no network")
    assert not (runtime.root / "f1").exists()


def test_exec_tty_job_control(runtime: Runtime) -> None:
    bundle = runtime.bundle("x", ["sleep", "100000"])
    assert runtime("run", "-d", "-b", str(bundle), "x1", stdout=subprocess.DEVNULL).returncode == 0
    sandbox = runtime.state("x1")["pid"]
    fds_before = fd_targets(sandbox)
    sock_path = str(runtime.tmp / "exec-console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    pid_file = runtime.tmp / "exec.pid"
    proc = runtime("exec", "-d", "-t", "--console-socket", sock_path, "--pid-file", str(pid_file),
                   "x1", "sh")
    assert proc.returncode == 0, proc.stderr
    conn, _ = server.accept()
    _, fds, _, _ = socket.recv_fds(conn, 64, 1)
    master = fds[0]
    os.write(master, b"tty; sleep 100\n")
    assert b"/dev/" in read_until(master, b"/dev/")
    time.sleep(0.5)
    os.write(master, b"\x03")                   # ^C ends sleep, not the shell
    os.write(master, b"echo after-$((1+1))\n")
    assert b"after-2" in read_until(master, b"after-2")
    os.write(master, b"exit 4\n")
    assert os.WEXITSTATUS(reap(int(pid_file.read_text()))) == 4
    os.close(master)
    # The exec's pty is gone from the sandbox with its process (no fd kept, no /dev/pts/1).
    assert fd_targets(sandbox) == fds_before
    assert runtime("exec", "x1", "ls", "/dev/pts").stdout.split() == ["0"] or \
        runtime("exec", "x1", "ls", "/dev/pts").stdout.split() == []
    assert runtime("delete", "--force", "x1").returncode == 0


def test_kill_created_container(runtime: Runtime) -> None:
    bundle = runtime.bundle("k", ["sleep", "100000"])
    pid_file = runtime.tmp / "pid"
    assert runtime("create", "-b", str(bundle), "--pid-file", str(pid_file), "kc",
                   stdout=subprocess.DEVNULL).returncode == 0
    # PID 1 never ran, so it has no handler: TERM ends it at once, as with runc.
    assert runtime("kill", "kc", "SIGTERM").returncode == 0
    assert os.WEXITSTATUS(reap(int(pid_file.read_text()))) == 128 + signal.SIGTERM
    assert runtime.state("kc")["status"] == "stopped"
    failed(runtime("kill", "kc", "TERM"), "container not running")
    assert runtime("delete", "kc").returncode == 0


@pytest.mark.parametrize("flag", [True, False])
def test_no_new_privileges(runtime: Runtime, flag: bool) -> None:
    bundle = runtime.bundle("n", ["sh", "-c", "grep NoNewPrivs /proc/self/status"],
                            noNewPrivileges=flag)
    proc = runtime("run", "-b", str(bundle), "nnp")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["NoNewPrivs:", str(int(flag))]


def test_exec_tty_relays_our_terminal(runtime: Runtime) -> None:
    """`quark exec -t` typed at a terminal (no console socket): ^C reaches the process."""
    bundle = runtime.bundle("y", ["sleep", "100000"])
    assert runtime("run", "-d", "-b", str(bundle), "y1", stdout=subprocess.DEVNULL).returncode == 0
    master, slave = os.openpty()
    cmd = [str(ROOT / ".venv" / "bin" / "quark"), "--root", str(runtime.root), "--log",
           str(runtime.log), "exec", "-t", "y1", "sh"]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        assert b"# " in read_until(master, b"# ")       # the prompt: our terminal is relayed
        os.write(master, b"echo $((6*7))\r")
        assert b"42" in read_until(master, b"42")
        os.write(master, b"sleep 100\r")
        time.sleep(0.5)
        os.write(master, b"\x03")
        os.write(master, b"echo after-$((1+1))\r")
        assert b"after-2" in read_until(master, b"after-2")
        os.write(master, b"exit 3\r")
        assert proc.wait(timeout=20) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert runtime("delete", "--force", "y1").returncode == 0


def fd_targets(pid: int) -> dict[str, str]:
    """A sandbox's open fds, but its vCPUs (KVM cannot destroy one: they are pooled)."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if not target.startswith("anon_inode:kvm-vcpu"):
            out[fd] = target
    return out
