"""quark's command line, shaped like runc's: `quark [global options] <command> ...`.

Error policy: a user's mistake (bad bundle, existing config.json) is one line
`quark: <msg>` on stderr and exit 1; a bug is one line `quark: internal
error: <msg>` with the traceback only in the log file. The terminal never
shows a traceback: it may be the container's own output stream.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Sequence

from qvisor import logconfig
from qvisor.oci import BundleError, load_bundle, write_spec
from qvisor.oci.config import CONFIG_NAME
from qvisor.oci.spec import OCI_VERSION

VERSION = "0.1.0"
DEFAULT_ROOT = "/run/quark"     # container state, like runc's /run/runc
# runc's rule for container ids: they become file names under --root.
_ID_RE = re.compile(r"^[\w+.-]+$")


class UsageError(Exception):
    """A command line that cannot be run as given (printed as one line)."""


def _version() -> str:
    # VERSION, not importlib.metadata: that import alone costs ~13 ms of every start.
    return f"quark version {VERSION}\nspec: {OCI_VERSION}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quark",
        formatter_class=argparse.RawDescriptionHelpFormatter,   # keeps --version's two lines
        description="A secure OCI container runtime: each container runs in its own KVM VM.")
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--strace", action="store_true",
                        help="log every guest syscall (see KernelConfig.strace)")
    parser.add_argument("--debug", action="store_true",
                        help="log at Debug level whatever /etc/quark/config.json says")
    parser.add_argument("--log", metavar="FILE",
                        help=f"log file (default {logconfig.LOG_PATH})")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="accepted for runc compatibility; quark writes text")
    parser.add_argument("--root", metavar="DIR", default=DEFAULT_ROOT,
                        help=f"directory for container state (default {DEFAULT_ROOT})")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True

    run = sub.add_parser("run", help="create and run a container, wait for it to exit",
                         description="Run a container. `quark run DIR` is short for "
                                     "`quark run --bundle DIR <made-up id>`.")
    run.add_argument("-b", "--bundle", metavar="DIR",
                     help="bundle directory (default: the current directory)")
    run.add_argument("id", nargs="?", metavar="ID",
                     help="container id, or a bundle directory when --bundle is not given")
    run.set_defaults(func=cmd_run)

    spec = sub.add_parser("spec", help="write a template config.json (like `runc spec`)")
    spec.add_argument("-b", "--bundle", metavar="DIR", default=".",
                      help="bundle directory (default: the current directory)")
    spec.add_argument("--rootless", action="store_true",
                      help="a template for an unprivileged user")
    spec.set_defaults(func=cmd_spec)

    conf = sub.add_parser("conformance", help="run the syscall conformance tests")
    conf.add_argument("--out", metavar="DIR", help="directory for the report")
    conf.set_defaults(func=cmd_conformance)
    return parser


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
    elif not _ID_RE.match(cid):
        raise UsageError(f"invalid container id {cid!r}: use letters, digits, '_', '+', '-', '.'")
    return (bundle if bundle is not None else "."), cid


def cmd_run(args: argparse.Namespace) -> int:
    log = logconfig.get_logger()
    bundle, cid = resolve_run_target(args.bundle, args.id)
    config = load_bundle(bundle)
    config.strace = bool(args.strace)
    log.info("run %s: bundle %s, args %s", cid, os.path.abspath(bundle), config.args)
    # Imported here: the sandbox pulls in KVM and the native loop, which
    # `quark spec` and `quark --help` must not need.
    from qvisor.sandbox import SandboxError, run_sandbox
    try:
        status = run_sandbox(config, log)
    except SandboxError as err:
        log.error("run %s: %s", cid, err)
        print(f"quark: {err}", file=sys.stderr)
        return err.status
    log.info("run %s: exit status %s", cid, status)
    return int(status)


def cmd_spec(args: argparse.Namespace) -> int:
    write_spec(args.bundle, rootless=args.rootless)
    return 0


def cmd_conformance(args: argparse.Namespace) -> int:
    from qvisor import conformance   # lazily: it needs the built test programs
    status = conformance.main(args)
    return int(status or 0)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        log = logconfig.setup_logging(level="Debug" if args.debug else None, log_path=args.log)
    except Exception as err:   # logging must never stop a container
        print(f"quark: warning: logging disabled: {err}", file=sys.stderr)
        log = logconfig.get_logger()
    try:
        status = args.func(args)
    except (BundleError, UsageError) as err:
        log.error("%s", err)
        print(f"quark: {err}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        status = 130
    except SystemExit:
        raise
    except BaseException as err:
        log.critical("internal error in %r", sys.argv, exc_info=True)
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"quark: internal error: {message}", file=sys.stderr)
        status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()
