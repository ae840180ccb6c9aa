"""Render every generated file from the loaded specs (pure: returns texts)."""
from __future__ import annotations

import errno as _errno
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from codegen.qcall import WORD, QCallSpec, load_qcall
from codegen.structs import Struct, load_structs
from codegen.syscalls import Arg, Syscall, SyscallSpec, load_syscalls
from codegen.types import ARG_TYPES, DECODE_EXPR, RETURN_TYPES
from codegen.vfs import NodeType, load_vfs

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Specs:
    syscalls: SyscallSpec
    structs: list[Struct]
    vfs: list[NodeType]
    qcall: QCallSpec | None


def load_all(spec_dir: Path) -> Specs:
    return Specs(load_syscalls(spec_dir), load_structs(spec_dir), load_vfs(spec_dir), load_qcall(spec_dir))


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
    )
    env.filters["pyrepr"] = repr
    return env


def _tup(args: list[Arg], attr: str) -> str:
    vals = [getattr(a, attr) for a in args]
    return repr(tuple(vals))


def _decode_exprs(sc: Syscall) -> list[str]:
    return [DECODE_EXPR[ARG_TYPES[a.type].decode].format(a=f"a{i}") for i, a in enumerate(sc.args)]


def _errno_value(name: str) -> int:
    return int(getattr(_errno, name))


def _render_table(env: jinja2.Environment, spec: SyscallSpec) -> str:
    scs = spec.syscalls
    top = scs[-1].nr if scs else -1
    by_nr = {sc.nr: sc for sc in scs}
    # every errno name, for printing results, not only the ones the specs use
    errnames = dict(sorted(_errno.errorcode.items()))
    return env.get_template("syscall_table.py.j2").render(
        syscalls=scs,
        served=[sc for sc in scs if sc.served],
        slots=[by_nr.get(n) for n in range(top + 1)],
        decode={sc.nr: _decode_exprs(sc) for sc in scs},
        errnos={sc.nr: _errno_value(sc.errno) for sc in scs},
        vcpu=[str(sc.nr) for sc in scs if sc.context == "vcpu"],
        tup=_tup,
        enosys=_errno.ENOSYS, eio=_errno.EIO,
        decode_kinds=repr({k: t.decode for k, t in sorted(ARG_TYPES.items())}),
        show_kinds=repr({k: t.show for k, t in sorted(ARG_TYPES.items())}),
        return_kinds=repr(dict(sorted(RETURN_TYPES.items()))),
        flagsets=[spec.flagsets[k] for k in sorted(spec.flagsets)],
        errnames=repr(errnames),
    )


def _manifest(spec: SyscallSpec) -> str:
    rows: list[dict[str, Any]] = []
    for sc in spec.syscalls:
        row: dict[str, Any] = {"nr": sc.nr, "name": sc.name, "family": sc.family, "status": sc.status,
                               "context": sc.context, "tests": sc.tests, "notes": sc.notes}
        if not sc.served:
            row["errno"] = sc.errno
        rows.append(row)
    counts = {st: sum(1 for sc in spec.syscalls if sc.status == st) for st in ("implemented", "partial", "unsupported")}
    return json.dumps({"counts": counts, "syscalls": rows}, indent=1, sort_keys=True) + "\n"


def _qcall_layout(q: QCallSpec) -> list[tuple[str, str]]:
    """ctypes fields for the slot, with explicit padding for any gaps."""
    layout: list[tuple[str, str]] = []
    pos = 0
    for i, (name, off, _writer, _doc) in enumerate(q.fields):
        if off > pos:
            layout.append((f"_pad{i}", f"ctypes.c_uint8 * {off - pos}"))
        layout.append((name, "ctypes.c_uint64"))
        pos = off + WORD
    if q.slot_size > pos:
        layout.append(("_tail", f"ctypes.c_uint8 * {q.slot_size - pos}"))
    return layout


def render_all(spec_dir: Path) -> tuple[dict[str, str], list[str]]:
    """Every generated file (name relative to generated/ -> text) and the warnings."""
    specs = load_all(spec_dir)
    env = _env()
    hexv = lambda v: hex(v) if v >= 0 else str(v)  # noqa: E731
    out = {
        "syscall_table.py": _render_table(env, specs.syscalls),
        "structs.py": env.get_template("structs.py.j2").render(structs=specs.structs),
        "conformance_manifest.json": _manifest(specs.syscalls),
        "vfs_nodes.py": env.get_template("vfs_nodes.py.j2").render(nodes=specs.vfs),
    }
    if specs.qcall is not None:
        q = specs.qcall
        view = {"constants": q.constants, "layout": _qcall_layout(q), "slot_size": q.slot_size}
        out["qcall.py"] = env.get_template("qcall.py.j2").render(q=view, hexv=hexv)
        out["qcall.inc"] = env.get_template("qcall.inc.j2").render(q=view, hexv=hexv)
    # Guest stubs: boot/ templates assembled with keystone against the same specs.
    from codegen import boot
    if specs.qcall is not None and (spec_dir.parent / "boot").is_dir():
        for rel, text in boot.generate(spec_dir, spec_dir.parent / "boot").items():
            out[rel.removeprefix("generated/")] = text
    return out, specs.syscalls.warnings
