"""The rest of config.json (ContainerSpec), hooks, `features`, and the
maskedPaths/readonlyPaths QKernel applies (unit level and in a real guest)."""
from __future__ import annotations

import copy
import errno
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from qkernel.vfs import abi, ops
from qvisor.oci import BundleError, default_spec
from qvisor.oci.container import (
    CAPABILITIES, CAPABILITY_SETS, ContainerSpec, Hook, Hooks, Namespace, load_container_spec,
)
from qvisor.oci.features import features_document
from qvisor.oci.hooks import HookError, run_hooks
from qvisor.oci.spec import OCI_VERSION
from tests.guest import make_rootfs, quark
from tests.test_vfs import err, make_task, openf, read_all, write

RUNC = "/usr/sbin/runc"


def make_bundle(tmp_path: Path, spec: Any) -> Path:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    (tmp_path / "config.json").write_text(spec if isinstance(spec, str) else json.dumps(spec))
    return tmp_path


def one_line_error(tmp_path: Path, spec: Any) -> str:
    with pytest.raises(BundleError) as info:
        load_container_spec(make_bundle(tmp_path, spec))
    msg = str(info.value)
    assert "\n" not in msg and msg
    return msg


def full_spec() -> dict[str, Any]:
    """runc's `spec` template plus every field ContainerSpec reads."""
    spec = default_spec()
    spec["process"]["consoleSize"] = {"height": 40, "width": 120}
    spec["process"]["oomScoreAdj"] = -500
    spec["process"]["apparmorProfile"] = "docker-default"
    spec["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"
    spec["process"]["capabilities"]["inheritable"] = ["CAP_CHOWN"]
    spec["hooks"] = {
        "prestart": [{"path": "/usr/bin/netns-setup", "args": ["netns-setup", "-v"],
                      "env": ["A=1"], "timeout": 5}],
        "createRuntime": [{"path": "/bin/true"}],
        "createContainer": [{"path": "/bin/true", "args": ["true"]}],
        "startContainer": [{"path": "/bin/true"}, {"path": "/bin/false"}],
        "poststart": [{"path": "/bin/echo", "args": ["echo", "started"]}],
        "poststop": [{"path": "/bin/rm", "args": ["rm", "-f", "/run/x"], "timeout": 1}],
        "futureHook": [{"path": "/ignored"}],
    }
    spec["linux"]["namespaces"].append({"type": "cgroup", "path": "/proc/1/ns/cgroup"})
    spec["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 100},
                                  "devices": [{"allow": False, "access": "rwm"}]}
    spec["linux"]["cgroupsPath"] = "/quark/abc"
    spec["linux"]["sysctl"] = {"net.core.somaxconn": "256"}
    spec["linux"]["maskedPaths"].append("/etc//secret/")
    spec["annotations"] = {"org.example.owner": "me", "io.kubernetes.cri.container-type": "sandbox"}
    spec["somethingNew"] = {"ignored": True}      # unknown top-level fields are ignored
    return spec


# --- parsing ------------------------------------------------------------------------

def test_full_config(tmp_path: Path) -> None:
    cs = load_container_spec(make_bundle(tmp_path, full_spec()))
    assert isinstance(cs, ContainerSpec)
    assert cs.bundle == str(tmp_path) and os.path.isabs(cs.bundle)
    assert cs.oci_version == OCI_VERSION
    assert cs.kernel.args == ["sh"] and cs.kernel.rootfs == str(tmp_path / "rootfs")
    assert cs.kernel.memory_limit == 64 << 20
    assert cs.terminal is True and cs.console_size == (40, 120)
    assert cs.hooks.prestart == [Hook("/usr/bin/netns-setup", ["netns-setup", "-v"], ["A=1"], 5)]
    assert cs.hooks.create_runtime == [Hook("/bin/true")]
    assert cs.hooks.phase("createContainer") == [Hook("/bin/true", ["true"])]
    assert [h.path for h in cs.hooks.start_container] == ["/bin/true", "/bin/false"]
    assert cs.hooks.poststart[0].args == ["echo", "started"]
    assert cs.hooks.poststop[0].timeout == 1
    assert cs.namespaces[0] == Namespace("pid")
    assert cs.namespace("cgroup") == Namespace("cgroup", "/proc/1/ns/cgroup")
    assert cs.namespace("user") is None
    assert [ns.type for ns in cs.namespaces] == ["pid", "network", "ipc", "uts", "mount", "cgroup"]
    assert cs.resources["pids"] == {"limit": 100}
    assert cs.cgroups_path == "/quark/abc"
    assert cs.annotations == {"org.example.owner": "me",
                              "io.kubernetes.cri.container-type": "sandbox"}
    assert set(cs.capabilities) == set(CAPABILITY_SETS)
    assert cs.capabilities["bounding"] == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert cs.capabilities["inheritable"] == ["CAP_CHOWN"]
    assert cs.no_new_privileges is True
    assert cs.sysctl == {"net.core.somaxconn": "256"}
    assert cs.oom_score_adj == -500
    assert cs.apparmor_profile == "docker-default"
    assert cs.selinux_label.startswith("system_u:")
    assert cs.warnings == []
    assert cs.kernel.masked_paths[-1] == "/etc/secret"
    assert "/proc/kcore" in cs.kernel.masked_paths
    assert cs.kernel.readonly_paths == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                        "/proc/sysrq-trigger"]


def test_minimal_config_defaults(tmp_path: Path) -> None:
    spec = {"ociVersion": "1.0.0", "process": {"args": ["/bin/true"], "cwd": "/"},
            "root": {"path": "rootfs"}}
    cs = load_container_spec(make_bundle(tmp_path, spec))
    assert cs.terminal is False and cs.console_size is None
    assert cs.hooks == Hooks() and cs.namespaces == [] and cs.resources == {}
    assert cs.cgroups_path == "" and cs.annotations == {} and cs.sysctl == {}
    assert cs.capabilities == {kind: [] for kind in CAPABILITY_SETS}
    assert cs.no_new_privileges is False and cs.oom_score_adj is None
    assert cs.kernel.masked_paths == [] and cs.kernel.readonly_paths == []


def test_rootless_template(tmp_path: Path) -> None:
    cs = load_container_spec(make_bundle(tmp_path, default_spec(rootless=True)))
    assert cs.namespace("user") == Namespace("user")
    assert cs.resources == {}


def test_nulls_are_absent(tmp_path: Path) -> None:
    spec = default_spec()
    spec["hooks"] = {"prestart": None, "poststop": [{"path": "/bin/true", "timeout": None}]}
    spec["annotations"] = None
    spec["linux"]["cgroupsPath"] = None
    spec["process"]["oomScoreAdj"] = None
    cs = load_container_spec(make_bundle(tmp_path, spec))
    assert cs.hooks.prestart == [] and cs.hooks.poststop == [Hook("/bin/true")]
    assert cs.annotations == {} and cs.cgroups_path == "" and cs.oom_score_adj is None


def test_unknown_capabilities_are_a_warning(tmp_path: Path) -> None:
    # runc 1.1 runs the container and warns; so does quark (the caller logs it).
    spec = default_spec()
    spec["process"]["capabilities"]["bounding"] += ["CAP_BOGUS", "KILL"]
    cs = load_container_spec(make_bundle(tmp_path, spec))
    assert cs.warnings == ["ignoring unknown or unavailable capabilities: [CAP_BOGUS KILL]"]
    assert "CAP_BOGUS" in cs.capabilities["bounding"]


def test_load_bundle_is_unchanged(tmp_path: Path) -> None:
    from qvisor.oci import load_bundle
    config = load_bundle(make_bundle(tmp_path, full_spec()))
    assert config.args == ["sh"] and "/etc/secret" in config.masked_paths


def _set(path: str, value: Any) -> Any:
    """A mutation of the template: set the dotted `path` to `value`."""
    def mutate(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        obj = spec
        for key in parents:
            obj = obj.setdefault(key, {})
        obj[last] = value
    return mutate


def _drop(key: str) -> Any:
    return lambda spec: spec.pop(key)


BAD = [
    (_set("process.terminal", "yes"), "process.terminal: expected a boolean, got string"),
    (_set("hooks.prestart", [{"path": 5}]), "hooks.prestart[0].path: expected a string, got number"),
    (_set("hooks.prestart", {"path": "/x"}), "hooks.prestart: expected an array, got object"),
    (_set("hooks.poststop", ["/bin/true"]), "hooks.poststop[0]: expected an object, got string"),
    (_set("hooks.createRuntime", [{"args": []}]), "hooks.createRuntime[0].path is missing"),
    (_set("hooks.createRuntime", [{"path": "true"}]),
     "hooks.createRuntime[0].path must be an absolute path"),
    (_set("hooks.poststart", [{"path": "/x", "timeout": 0}]),
     "hooks.poststart[0].timeout must be greater than zero"),
    (_set("hooks.poststart", [{"path": "/x", "timeout": 1.5}]),
     "hooks.poststart[0].timeout: expected an integer, got number"),
    (_set("hooks.startContainer", [{"path": "/x", "args": "x"}]),
     "hooks.startContainer[0].args: expected an array of strings, got string"),
    (_set("hooks.startContainer", [{"path": "/x", "env": [1]}]),
     "hooks.startContainer[0].env[0]: expected a string, got number"),
    (_set("hooks", []), "hooks: expected an object, got array"),
    (_set("annotations", {"a": 1}), "annotations.a: expected a string, got number"),
    (_set("annotations", {"": "x"}), "annotations: a key is an empty string"),
    (_set("annotations", ["a"]), "annotations: expected an object, got array"),
    (_set("linux.namespaces", [{"type": "bogus"}]),
     "linux.namespaces[0].type: unknown namespace type 'bogus'"),
    (_set("linux.namespaces", [{"type": "pid"}, {"type": "pid", "path": "/proc/1/ns/pid"}]),
     "linux.namespaces[1].type: namespace pid is given twice"),
    (_set("linux.namespaces", [{"type": "net"}]), "unknown namespace type 'net'"),
    (_set("linux.namespaces", [{"type": "uts", "path": "ns/uts"}]),
     "linux.namespaces[0].path must be an absolute path"),
    (_set("linux.namespaces", [{"path": "/x"}]), "linux.namespaces[0].type is missing"),
    (_set("linux.namespaces", {"type": "pid"}), "linux.namespaces: expected an array, got object"),
    (_set("linux.maskedPaths", "x"), "linux.maskedPaths: expected an array of strings, got string"),
    (_set("linux.maskedPaths", ["proc/kcore"]), "linux.maskedPaths[0] must be an absolute path"),
    (_set("linux.readonlyPaths", [None]), "linux.readonlyPaths[0]: expected a string, got null"),
    (_set("linux.resources", []), "linux.resources: expected an object, got array"),
    (_set("linux.cgroupsPath", 7), "linux.cgroupsPath: expected a string, got number"),
    (_set("linux.sysctl", {"kernel.shmmax": 5}), "linux.sysctl.kernel.shmmax: expected a string"),
    (_set("linux.seccomp", "default"), "linux.seccomp: expected an object, got string"),
    (_set("linux.uidMappings", {}), "linux.uidMappings: expected an array, got object"),
    (_set("linux", []), "linux: expected an object, got array"),
    (_set("process.capabilities", ["CAP_KILL"]),
     "process.capabilities: expected an object, got array"),
    (_set("process.capabilities.bounding", "CAP_KILL"),
     "process.capabilities.bounding: expected an array of strings, got string"),
    (_set("process.capabilities.ambient", [1]),
     "process.capabilities.ambient[0]: expected a string, got number"),
    (_set("process.noNewPrivileges", 1), "process.noNewPrivileges: expected a boolean, got number"),
    (_set("process.consoleSize", {"height": -1, "width": 80}),
     "process.consoleSize.height: -1 is out of range"),
    (_set("process.consoleSize", {"height": 24}), "process.consoleSize.width is missing"),
    (_set("process.consoleSize", [24, 80]), "process.consoleSize: expected an object, got array"),
    (_set("process.oomScoreAdj", 5000), "process.oomScoreAdj: 5000 is out of range -1000..1000"),
    (_set("process.oomScoreAdj", "high"), "process.oomScoreAdj: expected an integer, got string"),
    (_set("process.apparmorProfile", False), "process.apparmorProfile: expected a string"),
    (_set("process.selinuxLabel", 1), "process.selinuxLabel: expected a string"),
    (_set("ociVersion", 1), "ociVersion: expected a string, got number"),
    (_set("ociVersion", ""), "ociVersion is empty"),
    (_drop("ociVersion"), "ociVersion is missing"),
]


@pytest.mark.parametrize("mutate,expected", BAD, ids=[e for _, e in BAD])
def test_wrong_field_is_one_line_naming_it(tmp_path: Path, mutate: Any, expected: str) -> None:
    spec = default_spec()
    mutate(spec)
    msg = one_line_error(tmp_path, spec)
    assert expected in msg
    assert msg.startswith(str(tmp_path / "config.json") + ": ")


@pytest.mark.skipif(not os.access(RUNC, os.X_OK), reason="runc is not installed")
@pytest.mark.parametrize("mutate", [
    _set("process.terminal", "yes"), _set("annotations", {"a": 1}),
    _set("linux.namespaces", [{"type": "bogus"}]),
    _set("linux.namespaces", [{"type": "pid"}, {"type": "pid"}]),
    _set("hooks.prestart", [{"path": 5}]), _set("linux.maskedPaths", "x"),
    _set("linux.sysctl", {"a": 1}),
], ids=["terminal", "annotations", "bogus-ns", "dup-ns", "hook-path", "maskedPaths", "sysctl"])
def test_runc_refuses_the_same(tmp_path: Path, mutate: Any) -> None:
    """What quark refuses at load, runc 1.1 refuses too (before running anything)."""
    spec = default_spec()
    spec["process"]["terminal"] = False
    mutate(spec)
    (tmp_path / "b").mkdir()
    bundle = make_bundle(tmp_path / "b", spec)
    state = tmp_path / "runc-root"
    proc = subprocess.run([RUNC, "--root", str(state), "create", "--bundle", str(bundle),
                           "quark-spec-test"], capture_output=True, text=True, timeout=60)
    subprocess.run([RUNC, "--root", str(state), "delete", "-f", "quark-spec-test"],
                   capture_output=True, timeout=60)
    assert proc.returncode != 0
    assert "unable to start container process" not in proc.stderr   # refused at load
    with pytest.raises(BundleError):
        load_container_spec(bundle)


# --- hooks --------------------------------------------------------------------------

RECORDER = """#!/bin/sh
out="$1"
cat > "$out.stdin"
printf '%s\\n' "$0" "$@" > "$out.args"
env > "$out.env"
pwd > "$out.cwd"
echo ran >> "{log}"
"""


def recorder(tmp_path: Path, name: str = "hook.sh") -> Path:
    script = tmp_path / name
    script.write_text(RECORDER.replace("{log}", str(tmp_path / "order.log")))
    script.chmod(0o755)
    return script


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


STATE = {"ociVersion": OCI_VERSION, "id": "c1", "status": "creating", "pid": 42,
         "bundle": "/nonexistent-bundle", "annotations": {"a": "b"}}


def test_hook_gets_state_args_env(tmp_path: Path) -> None:
    hook_sh = recorder(tmp_path)
    out = tmp_path / "rec"
    hook = Hook(str(hook_sh), args=["custom-argv0", str(out), "second arg"], env=["FOO=bar", "X="])
    run_hooks([hook], STATE, "createRuntime", logging.getLogger("t"))
    assert json.loads((tmp_path / "rec.stdin").read_text()) == STATE
    # argv[0] is args[0] ($0 of a script is the path the kernel ran, so use /proc).
    assert (tmp_path / "rec.args").read_text().splitlines()[1:] == [str(out), "second arg"]
    # Exactly the given environment (sh adds its own PWD).
    env = set((tmp_path / "rec.env").read_text().splitlines())
    assert {line for line in env if not line.startswith("PWD=")} == {"FOO=bar", "X="}


PYTHON = "/usr/bin/python3"
# A binary (not a #! script, whose argv[0] the kernel replaces) that records
# its argv and environment.
# (/proc/self/environ: what execve gave, before Python's own locale coercion.)
ARGV_PROBE = ("import sys, json; r = lambda n: open('/proc/self/' + n).read().split('\\0')[:-1]; "
              "json.dump([r('cmdline'), r('environ')], open(sys.argv[-1], 'w'))")


def test_hook_argv0_and_empty_env(tmp_path: Path) -> None:
    out = tmp_path / "probe.json"
    hook = Hook(PYTHON, args=["my-argv0", "-c", ARGV_PROBE, str(out)])
    run_hooks([hook], STATE, "prestart", logging.getLogger("t"))
    argv, env = json.loads(out.read_text())
    assert argv == ["my-argv0", "-c", ARGV_PROBE, str(out)]
    assert env == []                   # no env given: an empty one, not quark's own


def test_hook_without_args_gets_its_path_as_argv(tmp_path: Path) -> None:
    out = tmp_path / "argv"
    prog = script(tmp_path, "noargs.sh", f'echo "$#" > {out}')
    run_hooks([Hook(prog)], STATE, "prestart", logging.getLogger("t"))
    assert out.read_text() == "0\n"


def test_hooks_run_in_order_in_the_bundle(tmp_path: Path) -> None:
    order = tmp_path / "order"
    hooks = [Hook(script(tmp_path, f"h{i}.sh", f"echo {i} >> {order}; pwd > {tmp_path}/cwd{i}"))
             for i in range(3)]
    state = dict(STATE, bundle=str(tmp_path))
    run_hooks(hooks, state, "startContainer", logging.getLogger("t"))
    assert order.read_text().split() == ["0", "1", "2"]
    assert (tmp_path / "cwd0").read_text().strip() == str(tmp_path)


def test_failing_hook_message(tmp_path: Path) -> None:
    bad = script(tmp_path, "bad.sh", "echo 'cannot set up the network' >&2\necho more >&2\nexit 3")
    after = tmp_path / "after"
    hooks = [Hook(bad), Hook(script(tmp_path, "after.sh", f"touch {after}"))]
    with pytest.raises(HookError) as info:
        run_hooks(hooks, STATE, "createRuntime", logging.getLogger("t"))
    msg = str(info.value)
    assert msg == (f"createRuntime hook #0 ({bad}) failed: exit status 3: "
                   "cannot set up the network more")
    assert isinstance(info.value, BundleError)
    assert not after.exists()          # the first failure stops the phase


def test_hook_killed_by_signal(tmp_path: Path) -> None:
    prog = script(tmp_path, "kill.sh", "kill -9 $$")
    with pytest.raises(HookError, match=r"prestart hook #0 .* failed: killed by SIGKILL"):
        run_hooks([Hook(prog)], STATE, "prestart", logging.getLogger("t"))


def test_hook_cannot_exec(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(HookError) as info:
        run_hooks([Hook(missing)], STATE, "createContainer", logging.getLogger("t"))
    assert str(info.value) == (f"createContainer hook #0 ({missing}) failed: "
                               "cannot run it: No such file or directory")
    noexec = tmp_path / "plain.txt"
    noexec.write_text("not a program")
    with pytest.raises(HookError, match="cannot run it: Permission denied"):
        run_hooks([Hook(str(noexec))], STATE, "createContainer", logging.getLogger("t"))


def test_hook_timeout_kills_it_and_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    prog = script(tmp_path, "slow.sh", f"echo waiting >&2\nsleep 60 &\necho $! > {pidfile}\nwait")
    start = time.monotonic()
    with pytest.raises(HookError) as info:
        run_hooks([Hook(prog, timeout=1)], STATE, "createRuntime", logging.getLogger("t"))
    assert time.monotonic() - start < 10
    assert "createRuntime hook #0" in str(info.value)
    assert "timed out after 1s (killed): waiting" in str(info.value)
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert _dead(child)                # the hook's child went with it


def _dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (it was reparented to PID 1)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_poststop_failures_are_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    after = tmp_path / "after"
    hooks = [Hook(script(tmp_path, "bad.sh", "echo gone >&2; exit 1")),
             Hook(script(tmp_path, "after.sh", f"touch {after}"))]
    with caplog.at_level(logging.WARNING):
        run_hooks(hooks, STATE, "poststop", logging.getLogger("t"))
    assert after.exists()              # the remaining hooks still run
    assert "poststop hook #0" in caplog.text and "exit status 1: gone" in caplog.text
    with pytest.raises(HookError):     # the flag overrides the phase's default
        run_hooks(hooks, STATE, "poststop", logging.getLogger("t"), warn_only=False)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        run_hooks(hooks[:1], STATE, "createRuntime", logging.getLogger("t"), warn_only=True)
    assert "createRuntime hook #0" in caplog.text


def test_hooks_from_config_run(tmp_path: Path) -> None:
    hook_sh = recorder(tmp_path)
    spec = default_spec()
    spec["hooks"] = {"createRuntime": [{"path": str(hook_sh),
                                        "args": ["hook", str(tmp_path / "cfg")],
                                        "env": ["PHASE=createRuntime"], "timeout": 10}]}
    cs = load_container_spec(make_bundle(tmp_path, spec))
    state = {"ociVersion": cs.oci_version, "id": "x", "status": "creating", "pid": 1,
             "bundle": cs.bundle}
    run_hooks(cs.hooks.create_runtime, state, "createRuntime", logging.getLogger("t"))
    assert "PHASE=createRuntime" in (tmp_path / "cfg.env").read_text()
    assert (tmp_path / "cfg.cwd").read_text().strip() == str(tmp_path)


# --- features -----------------------------------------------------------------------

def test_features_document_shape() -> None:
    doc = features_document()
    assert doc["ociVersionMin"] == "1.0.0" and doc["ociVersionMax"] == OCI_VERSION
    assert doc["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer",
                            "poststart", "poststop"]
    assert {"ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec"} <= set(doc["mountOptions"])
    linux = doc["linux"]
    assert set(linux) == {"namespaces", "capabilities", "cgroup", "seccomp", "apparmor", "selinux"}
    assert set(linux["namespaces"]) == {"pid", "network", "mount", "ipc", "uts", "user",
                                        "cgroup", "time"}
    assert linux["capabilities"] == list(CAPABILITIES) and len(CAPABILITIES) == 41
    assert linux["cgroup"] == {"v1": True, "v2": True, "systemd": False, "systemdUser": False}
    assert linux["seccomp"] == {"enabled": False}
    assert linux["apparmor"] == {"enabled": False} and linux["selinux"] == {"enabled": False}
    assert all(isinstance(v, str) for v in doc["annotations"].values())
    assert doc["annotations"]["run.quark.version"]
    json.dumps(doc)                    # plain JSON


@pytest.mark.skipif(not os.access(RUNC, os.X_OK), reason="runc is not installed")
def test_features_match_runc_shape() -> None:
    ours = features_document()
    theirs = json.loads(subprocess.run([RUNC, "features"], capture_output=True, text=True,
                                       check=True, timeout=30).stdout)
    assert set(ours) == set(theirs)
    assert set(ours["linux"]) <= set(theirs["linux"])
    assert set(ours["linux"]["cgroup"]) <= set(theirs["linux"]["cgroup"])
    for key in ("ociVersionMin", "hooks", "mountOptions"):
        assert ours[key] == theirs[key]
    assert ours["linux"]["capabilities"] == theirs["linux"]["capabilities"]
    assert set(theirs["linux"]["namespaces"]) <= set(ours["linux"]["namespaces"])


# --- maskedPaths / readonlyPaths in the VFS ---------------------------------------------

@pytest.fixture
def masked_task(tmp_path: Path) -> Any:
    root = tmp_path / "rootfs"
    for d in ("etc/secret", "data/sub", "proc", "dev", "sys", "tmp", "mnt"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc" / "hostname").write_text("guest\n")
    (root / "etc" / "secret" / "key").write_text("KEY")
    (root / "data" / "file").write_text("data")
    (root / "etc" / "link").symlink_to("/etc/hostname")
    host_dir = tmp_path / "vol"
    host_dir.mkdir()
    (host_dir / "inside").write_text("vol")
    from qkernel.config import MountSpec
    t = make_task(
        root,
        mounts=[MountSpec("/etc/secret/vol", "bind", str(host_dir), ["rbind"])],
        masked_paths=["/etc/link", "/etc/secret", "/proc/kcore", "/proc/sys/vm", "/missing/x",
                      "/proc/self/fd/0"],
        readonly_paths=["/data", "/proc/sys", "/nothing", "/mnt"],
    )
    yield t
    t.fds.close_all()
    t.kernel.vfs.close()


def test_masked_file_reads_empty_like_dev_null(masked_task: Any) -> None:
    t = masked_task
    fd = openf(t, "/etc/hostname")              # masked through the symlink /etc/link
    assert read_all(t, fd) == b""
    st = ops.stat(t, ops.lookup(t, abi.AT_FDCWD, "/etc/hostname"))
    assert st.mode & abi.S_IFMT == abi.S_IFCHR and st.rdev == abi.makedev(1, 3)
    fd = openf(t, "/etc/hostname", abi.O_WRONLY)
    assert write(t, fd, b"lost") == 4           # writes vanish, as into /dev/null
    assert err(ops.unlink, t, abi.AT_FDCWD, "/etc/hostname") == errno.EBUSY
    assert err(ops.stat, t, ops.lookup(t, abi.AT_FDCWD, "/etc/hostname/x")) == errno.ENOTDIR


def test_masked_dir_is_empty_and_read_only(masked_task: Any) -> None:
    t = masked_task
    f = ops.open_at(t, abi.AT_FDCWD, "/etc/secret", abi.O_RDONLY | abi.O_DIRECTORY, 0)
    assert [e.name for e in f.readdir(t)] == [b".", b".."]
    st = ops.stat(t, ops.lookup(t, abi.AT_FDCWD, "/etc/secret"))
    assert st.mode == abi.S_IFDIR | 0o1777
    assert err(openf, t, "/etc/secret/key") == errno.ENOENT
    assert err(openf, t, "/etc/secret/new", abi.O_WRONLY | abi.O_CREAT) == errno.EROFS
    assert err(ops.mkdir, t, abi.AT_FDCWD, "/etc/secret/d", 0o755) == errno.EROFS
    # The bind mount below the masked directory is hidden with it.
    assert err(openf, t, "/etc/secret/vol/inside") == errno.ENOENT


def test_masked_paths_missing_are_skipped(masked_task: Any) -> None:
    vfs = masked_task.kernel.vfs
    points = {"/" + "/".join(m.point) for m in vfs.mounts_in_order()}
    assert "/missing/x" not in points and "/proc/kcore" not in points   # QKernel has no kcore
    assert "/nothing" not in points
    assert {"/etc/hostname", "/etc/secret", "/proc/sys", "/proc/sys/vm", "/data"} <= points


def test_readonly_paths(masked_task: Any) -> None:
    t = masked_task
    assert read_all(t, openf(t, "/data/file")) == b"data"
    assert err(openf, t, "/data/file", abi.O_WRONLY) == errno.EROFS
    assert err(openf, t, "/data/new", abi.O_WRONLY | abi.O_CREAT) == errno.EROFS
    assert err(ops.mkdir, t, abi.AT_FDCWD, "/data/sub/d", 0o755) == errno.EROFS
    assert err(ops.unlink, t, abi.AT_FDCWD, "/data/file") == errno.EROFS
    # Outside it, the root stays writable.
    fd = openf(t, "/tmp/ok", abi.O_WRONLY | abi.O_CREAT)
    assert fd >= 0


def test_readonly_proc_sys(masked_task: Any) -> None:
    t = masked_task
    assert read_all(t, openf(t, "/proc/sys/kernel/ostype")) == b"Linux\n"
    assert err(openf, t, "/proc/sys/kernel/hostname", abi.O_WRONLY) == errno.EROFS
    # The masked /proc/sys/vm sits on the read-only view and is empty.
    f = ops.open_at(t, abi.AT_FDCWD, "/proc/sys/vm", abi.O_RDONLY | abi.O_DIRECTORY, 0)
    assert [e.name for e in f.readdir(t)] == [b".", b".."]
    # The rest of /proc is untouched.
    assert b"MemTotal" in read_all(t, openf(t, "/proc/meminfo"))


def test_mounts_file_lists_the_masks(masked_task: Any) -> None:
    t = masked_task
    text = read_all(t, openf(t, "/proc/self/mounts"), 1 << 16).decode()
    assert "tmpfs /etc/secret tmpfs ro," in text
    assert "proc /proc/sys proc ro," in text
    assert " /etc/hostname devtmpfs rw," in text
    assert " /data " in text and " /etc/secret/vol " not in text


# --- a real guest -------------------------------------------------------------------

GUEST_SCRIPT = """
echo "hostname=[$(cat /etc/hostname)]"
echo "secret=[$(ls -A /secret)]"
echo x > /secret/new || echo secret-write-failed
echo x > /ro/new || echo ro-write-failed
cat /ro/keep
echo 1 > /proc/sys/kernel/hostname || echo proc-sys-write-failed
echo x > /tmp/fine && echo tmp-ok
"""


@pytest.mark.skipif(not os.path.exists("/dev/kvm"), reason="needs /dev/kvm")
def test_masked_and_readonly_paths_in_a_guest(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    make_rootfs(rootfs)
    (rootfs / "secret").mkdir()
    (rootfs / "secret" / "key").write_text("KEY")
    (rootfs / "ro").mkdir()
    (rootfs / "ro" / "keep").write_text("kept\n")
    spec = default_spec()
    spec["process"].update(terminal=False, args=["/bin/sh", "-c", GUEST_SCRIPT],
                           env=["PATH=/bin"])
    spec["root"]["readonly"] = False
    spec["linux"]["maskedPaths"] += ["/etc/hostname", "/secret", "/no/such/path"]
    spec["linux"]["readonlyPaths"] += ["/ro"]
    (tmp_path / "config.json").write_text(json.dumps(spec))
    result = quark("run", str(tmp_path))
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "hostname=[]", "secret=[]", "secret-write-failed", "ro-write-failed", "kept",
        "proc-sys-write-failed", "tmp-ok"]
    assert "/secret/new: Read-only file system" in result.stderr
    assert "/ro/new: Read-only file system" in result.stderr
    assert "/proc/sys/kernel/hostname: Read-only file system" in result.stderr
    assert not (rootfs / "ro" / "new").exists() and not (rootfs / "secret" / "new").exists()
    assert (rootfs / "etc" / "hostname").read_text() == "quark-test\n"
