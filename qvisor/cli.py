"""quark's command line, shaped like runc's: `quark [global options] <command> ...`.

The commands and flags are runc's, as containerd's go-runc and podman's
conmon call them; `quark run DIR` is also a short form for trying a bundle.

Error policy: a user's mistake (bad bundle, unknown container, a start of a
stopped container) is one line `quark: <msg>` on stderr and on the log
(JSON lines with --log-format json, where go-runc and conmon read the
reason), exit 1 or the status the error carries; a bug is one line `quark:
internal error: <msg>` with the traceback only in the log file. The terminal
never shows a traceback: it may be the container's own output stream.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Sequence

from qvisor import logconfig
from qvisor.oci import BundleError, write_spec
from qvisor.oci.config import CONFIG_NAME
from qvisor.oci.spec import OCI_VERSION
from qvisor.oci.state import ContainerError, check_id

VERSION = "0.2.0"
DEFAULT_ROOT = "/run/quark"     # container state, like runc's /run/runc


class UsageError(Exception):
    """A command line that cannot be run as given (printed as one line)."""


def _version() -> str:
    # VERSION, not importlib.metadata: that import alone costs ~13 ms of every start.
    return f"quark version {VERSION}\nspec: {OCI_VERSION}"


# ---- the parser -----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quark",
        formatter_class=argparse.RawDescriptionHelpFormatter,   # keeps --version's two lines
        description="A secure OCI container runtime: each container runs in its own KVM VM.")
    parser.add_argument("--version", "-v", action="version", version=_version())
    parser.add_argument("--strace", action="store_true",
                        help="log every guest syscall (see KernelConfig.strace)")
    parser.add_argument("--debug", action="store_true",
                        help="log at Debug level whatever /etc/quark/config.json says")
    parser.add_argument("--log", metavar="FILE",
                        help=f"log file (default {logconfig.LOG_PATH})")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="format of the log file's lines")
    parser.add_argument("--root", metavar="DIR", default=DEFAULT_ROOT,
                        help=f"directory for container state (default {DEFAULT_ROOT})")
    parser.add_argument("--systemd-cgroup", action="store_true",
                        help="cgroupsPath is slice:prefix:name (mapped to cgroupfs: no systemd call)")
    # runc's other global flags, accepted so that callers passing them still work.
    parser.add_argument("--criu", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--rootless", metavar="BOOL", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    _add_create(sub)
    _add_run(sub)
    for name, text in (("start", "run the created container's process"),
                       ("state", "print the container's state as JSON"),
                       ("pause", "freeze every process of the container"),
                       ("resume", "thaw a paused container")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("id", metavar="ID")
    kill = sub.add_parser("kill", help="send a signal to the container's init (or all processes)")
    kill.add_argument("--all", "-a", action="store_true", help="signal every process")
    kill.add_argument("id", metavar="ID")
    kill.add_argument("signal", nargs="?", default="TERM", help="name or number (default TERM)")
    delete = sub.add_parser("delete", help="remove a stopped container (any with --force)")
    delete.add_argument("--force", "-f", action="store_true", help="kill it first if it runs")
    delete.add_argument("id", metavar="ID")
    _add_exec(sub)
    ps = sub.add_parser("ps", help="list the container's processes")
    ps.add_argument("--format", "-f", choices=("table", "json"), default="table")
    ps.add_argument("id", metavar="ID")
    ps.add_argument("ps_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    lst = sub.add_parser("list", aliases=["ls"], help="list containers under --root")
    lst.add_argument("--format", "-f", choices=("table", "json"), default="table")
    lst.add_argument("--quiet", "-q", action="store_true", help="ids only")
    events = sub.add_parser("events", help="print the container's statistics as JSON")
    events.add_argument("--interval", default="5s", help="time between reports (default 5s)")
    events.add_argument("--stats", action="store_true", help="one report, then exit")
    events.add_argument("id", metavar="ID")
    _add_update(sub)
    sub.add_parser("features", help="print what this runtime supports (JSON)")
    spec = sub.add_parser("spec", help="write a template config.json (like `runc spec`)")
    spec.add_argument("-b", "--bundle", metavar="DIR", default=".",
                      help="bundle directory (default: the current directory)")
    spec.add_argument("--rootless", action="store_true", help="a template for an unprivileged user")
    conf = sub.add_parser("conformance", help="run the syscall conformance tests")
    conf.add_argument("--out", metavar="DIR", help="directory for the report")
    return parser


def _add_create_flags(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("-b", "--bundle", metavar="DIR",
                     help="bundle directory (default: the current directory)")
    cmd.add_argument("--pid-file", metavar="FILE", help="write the sandbox process's pid here")
    cmd.add_argument("--console-socket", metavar="PATH",
                     help="unix socket that receives the pty master (process.terminal)")
    cmd.add_argument("--preserve-fds", type=int, default=0, metavar="N",
                     help="pass fds 3..3+N-1 on to the container")
    # Mount and keyring tricks of runc: quark's guest has neither, so they change nothing.
    cmd.add_argument("--no-pivot", action="store_true", help=argparse.SUPPRESS)
    cmd.add_argument("--no-new-keyring", action="store_true", help=argparse.SUPPRESS)


def _add_create(sub: argparse._SubParsersAction) -> None:
    create = sub.add_parser("create", help="create a container (its process waits for `start`)")
    _add_create_flags(create)
    create.add_argument("id", metavar="ID")


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="create and run a container, wait for it to exit",
                         description="Run a container. `quark run DIR` is short for "
                                     "`quark run --bundle DIR <made-up id>`.")
    _add_create_flags(run)
    run.add_argument("--detach", "-d", action="store_true", help="return once it runs")
    run.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("id", nargs="?", metavar="ID",
                     help="container id, or a bundle directory when --bundle is not given")


def _add_exec(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser("exec", help="run a new process in a running container")
    ex.add_argument("--process", "-p", metavar="FILE", help="the process as OCI JSON")
    ex.add_argument("--detach", "-d", action="store_true")
    ex.add_argument("--tty", "-t", action="store_true")
    ex.add_argument("--console-socket", metavar="PATH")
    ex.add_argument("--pid-file", metavar="FILE")
    ex.add_argument("--env", "-e", action="append", default=[], metavar="VAR=VALUE")
    ex.add_argument("--cwd", metavar="DIR")
    ex.add_argument("--user", "-u", metavar="UID[:GID]")
    ex.add_argument("--additional-gids", "-g", action="append", type=int, default=[])
    ex.add_argument("--preserve-fds", type=int, default=0)
    for ignored in ("--cap", "-c", "--process-label", "--apparmor"):
        ex.add_argument(ignored, action="append", help=argparse.SUPPRESS)
    ex.add_argument("--no-new-privs", action="store_true", help="set no_new_privs for the process")
    ex.add_argument("--ignore-paused", action="store_true", help=argparse.SUPPRESS)
    ex.add_argument("id", metavar="ID")
    ex.add_argument("args", nargs=argparse.REMAINDER)


UPDATE_FLAGS = ("memory", "memory-reservation", "memory-swap", "pids-limit", "cpu-shares",
                "cpu-quota", "cpu-period", "cpuset-cpus", "cpuset-mems")


def _add_update(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("update", help="change the container's resource limits")
    up.add_argument("--resources", "-r", metavar="FILE", help="LinuxResources JSON ('-' for stdin)")
    for flag in UPDATE_FLAGS:
        up.add_argument(f"--{flag}", metavar="VALUE")
    for ignored in ("--kernel-memory", "--kernel-memory-tcp", "--blkio-weight", "--cpu-rt-period",
                    "--cpu-rt-runtime", "--l3-cache-schema", "--mem-bw-schema"):
        up.add_argument(ignored, help=argparse.SUPPRESS)
    up.add_argument("id", metavar="ID")


# ---- commands -------------------------------------------------------------------------
def _looks_like_bundle(arg: str) -> bool:
    # An id can never contain "/", so a path is a bundle even if it is missing
    # (then the user gets "no such directory", not "invalid id").
    if os.sep in arg or os.path.isfile(os.path.join(arg, CONFIG_NAME)):
        return True
    # `quark run somedir` outside any bundle: report somedir's missing config.json.
    return os.path.isdir(arg) and not os.path.isfile(CONFIG_NAME)


def resolve_run_target(bundle: str | None, cid: str | None) -> tuple[str, str]:
    """(bundle dir, container id) from `run`'s arguments, allowing `quark run DIR`."""
    if bundle is None and cid is not None and _looks_like_bundle(cid):
        bundle, cid = cid, None
    if cid is None:
        cid = f"quark-{os.getpid()}-{os.urandom(3).hex()}"
    else:
        try:
            check_id(cid)
        except ContainerError as err:
            raise UsageError(str(err)) from None
    return (bundle if bundle is not None else "."), cid


def _create_options(args: argparse.Namespace, cid: str, bundle: str | None):  # type: ignore[no-untyped-def]
    from qvisor.container.spawn import CreateOptions
    return CreateOptions(root=args.root, id=check_id(cid), bundle=bundle or ".",
                         pid_file=args.pid_file, console_socket=args.console_socket,
                         preserve_fds=max(0, args.preserve_fds),
                         systemd_cgroup=args.systemd_cgroup, strace=bool(args.strace))


def cmd_create(args: argparse.Namespace) -> int:
    from qvisor.container import lifecycle
    lifecycle.create(_create_options(args, args.id, args.bundle), logconfig.get_logger())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from qvisor.container import run
    bundle, cid = resolve_run_target(args.bundle, args.id)
    opts = _create_options(args, cid, bundle)
    return run.run(opts, args.detach, logconfig.get_logger())


def cmd_start(args: argparse.Namespace) -> int:
    from qvisor.container import lifecycle
    lifecycle.start(args.root, args.id, logconfig.get_logger())
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    from qvisor.container import lifecycle
    print(json.dumps(lifecycle.state_of(args.root, args.id), indent=2))
    return 0


def parse_signal(text: str) -> int:
    """runc's signal syntax: a number, or a name with or without SIG."""
    if text.isdigit():
        signo = int(text)
    else:
        name = text.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        try:
            signo = int(signal.Signals[name])
        except KeyError:
            raise UsageError(f"unknown signal {text!r}") from None
    if not 1 <= signo <= 64:
        raise UsageError(f"invalid signal {text!r}")
    return signo


def cmd_kill(args: argparse.Namespace) -> int:
    from qvisor.container import lifecycle
    lifecycle.kill(args.root, args.id, parse_signal(args.signal), args.all, logconfig.get_logger())
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from qvisor.container import lifecycle
    lifecycle.delete(args.root, args.id, args.force, logconfig.get_logger())
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from qvisor.container.execproc import ExecOptions, exec_process
    command = list(args.args)
    if command and command[0] == "--":
        command = command[1:]
    opts = ExecOptions(root=args.root, id=args.id, args=command, process_file=args.process,
                       detach=args.detach, tty=args.tty, console_socket=args.console_socket,
                       pid_file=args.pid_file, env=args.env, cwd=args.cwd, user=args.user,
                       additional_gids=args.additional_gids, preserve_fds=max(0, args.preserve_fds),
                       no_new_privs=args.no_new_privs)
    return exec_process(opts, logconfig.get_logger())


def cmd_ps(args: argparse.Namespace) -> int:
    from qvisor.container import listing
    sys.stdout.write(listing.format_ps(listing.processes(args.root, args.id), args.format))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from qvisor.container import listing
    sys.stdout.write(listing.format_list(listing.list_states(args.root), args.format, args.quiet))
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    from qvisor.container import resources
    resources.pause(args.root, args.id)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from qvisor.container import resources
    resources.resume(args.root, args.id)
    return 0


def parse_interval(text: str) -> float:
    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0))
    for suffix, scale in units:
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            break
    else:
        number, scale = text, 1.0
    try:
        value = float(number) * scale
    except ValueError:
        raise UsageError(f"invalid interval {text!r} (like 5s, 500ms, 1m)") from None
    if value <= 0:
        raise UsageError(f"invalid interval {text!r}: must be positive")
    return value


def cmd_events(args: argparse.Namespace) -> int:
    from qvisor.container import resources
    resources.events(args.root, args.id, parse_interval(args.interval), args.stats)
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from qvisor.container import resources
    from qvisor.oci import cgroups
    doc = None
    if args.resources:
        try:
            text = sys.stdin.read() if args.resources == "-" else open(args.resources).read()
            doc = json.loads(text)
        except OSError as err:
            raise UsageError(f"--resources {args.resources}: {err.strerror}") from None
        except ValueError as err:
            raise UsageError(f"--resources {args.resources}: invalid JSON: {err}") from None
    flags = {flag: getattr(args, flag.replace("-", "_")) for flag in UPDATE_FLAGS}
    if doc is not None and not isinstance(doc, dict):
        raise UsageError(f"--resources {args.resources}: expected a JSON object")
    res = cgroups.parse_resources_object(doc, "") if doc is not None else cgroups.Resources()
    res = res.merged(cgroups.parse_update_flags(flags))
    resources.update(args.root, args.id, res)
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from qvisor.oci.features import features_document
    print(json.dumps(features_document(), indent=2))
    return 0


def cmd_spec(args: argparse.Namespace) -> int:
    write_spec(args.bundle, rootless=args.rootless)
    return 0


def cmd_conformance(args: argparse.Namespace) -> int:
    from qvisor import conformance   # lazily: it needs the built test programs
    status = conformance.main(args)
    return int(status or 0)


COMMANDS = {
    "create": cmd_create, "run": cmd_run, "start": cmd_start, "state": cmd_state,
    "kill": cmd_kill, "delete": cmd_delete, "exec": cmd_exec, "ps": cmd_ps,
    "list": cmd_list, "ls": cmd_list, "pause": cmd_pause, "resume": cmd_resume,
    "events": cmd_events, "update": cmd_update, "features": cmd_features,
    "spec": cmd_spec, "conformance": cmd_conformance,
}


def _user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that are a caller's mistake or the container's own
    failure, reported as one line (imported lazily: KVM stays unloaded for
    `spec` and `--help`)."""
    errors: list[type[BaseException]] = [BundleError, UsageError, ContainerError]
    for module, names in (("qvisor.errors", ("SandboxError",)),
                          ("qvisor.container.control", ("ControlError",)),
                          ("qvisor.oci.hooks", ("HookError",)),
                          ("qvisor.oci.cgroups", ("CgroupError",)),
                          ("qvisor.container.hostproc", ("NamespaceError",))):
        mod = sys.modules.get(module)
        if mod is not None:
            errors.extend(getattr(mod, n) for n in names if hasattr(mod, n))
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        log = logconfig.setup_logging(level="Debug" if args.debug else None, log_path=args.log,
                                      fmt=args.log_format)
    except Exception as err:   # logging must never stop a container
        print(f"quark: warning: logging disabled: {err}", file=sys.stderr)
        log = logconfig.get_logger()
    try:
        status = COMMANDS[args.command](args)
    except KeyboardInterrupt:
        status = 130
    except SystemExit:
        raise
    except BaseException as err:
        if isinstance(err, _user_errors()):
            message = " ".join(str(err).split())
            log.error("%s", message)
            print(f"quark: {message}", file=sys.stderr)
            status = int(getattr(err, "status", 1) or 1)
        else:
            log.critical("internal error in %r", sys.argv, exc_info=True)
            message = " ".join(str(err).split()) or type(err).__name__
            print(f"quark: internal error: {message}", file=sys.stderr)
            status = 1
    sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
