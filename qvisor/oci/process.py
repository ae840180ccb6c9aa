"""An OCI "process" object (what `quark exec --process FILE` reads and what
the exec request carries to the sandbox) -> ProcessSpec.

One parser for both ends: the CLI checks the object before it asks (so the
user sees the field that is wrong), and the sandbox parses what arrives on
its control socket instead of trusting it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qvisor.oci.errors import BundleError
from qvisor.oci.fields import (
    UINT32_MAX, get_bool, get_object, get_string, get_string_list, get_uint, get_uint_list,
    json_type,
)


@dataclass
class ProcessSpec:
    """A process to run in a sandbox (`quark exec`): OCI "process" fields."""
    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    terminal: bool = False
    no_new_privileges: bool = False


def parse_process(doc: Any, where: str = "process") -> ProcessSpec:
    """BundleError naming the field when `doc` is not a usable process."""
    if not isinstance(doc, dict):
        raise BundleError(f"{where}: expected an object, got {json_type(doc)}")
    args = get_string_list(doc, "args", f"{where}.args")
    if not args or not args[0]:
        raise BundleError(f"{where}.args is empty: nothing to run")
    user = get_object(doc, "user", f"{where}.user", default={})
    cwd = get_string(doc, "cwd", f"{where}.cwd", default="/")
    if not cwd.startswith("/"):
        raise BundleError(f"{where}.cwd must be an absolute path, got {cwd!r}")
    return ProcessSpec(
        args=args,
        env=get_string_list(doc, "env", f"{where}.env", default=[]),
        cwd=cwd,
        uid=get_uint(user, "uid", f"{where}.user.uid", UINT32_MAX, default=0),
        gid=get_uint(user, "gid", f"{where}.user.gid", UINT32_MAX, default=0),
        additional_gids=get_uint_list(user, "additionalGids", f"{where}.user.additionalGids",
                                      UINT32_MAX),
        terminal=get_bool(doc, "terminal", f"{where}.terminal", default=False),
        no_new_privileges=get_bool(doc, "noNewPrivileges", f"{where}.noNewPrivileges",
                                   default=False),
    )
