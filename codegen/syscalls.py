"""Load and validate spec/syscalls/*.yaml (and flagsets.yaml) into a model."""
from __future__ import annotations

import errno as _errno
import re
from dataclasses import dataclass, field
from pathlib import Path

from codegen import check
from codegen.errors import SpecError
from codegen.types import ARG_TYPES, CONTEXTS, FLAGSET_KINDS, RETURN_TYPES, STATUSES
from codegen.yamlload import LDict, display_path, load

FLAGSETS_FILE = "flagsets.yaml"
MAX_ARGS = 6
ARG_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Arg:
    name: str
    type: str
    set: str | None


@dataclass
class Syscall:
    nr: int
    name: str
    family: str
    args: list[Arg]
    returns: str
    status: str
    context: str
    errno: str           # name, e.g. "ENOSYS"
    handler_module: str
    handler_func: str
    tests: list[str]
    notes: str
    path: str
    line: int            # of the `nr:` key
    name_line: int       # of the `name:` key

    @property
    def served(self) -> bool:
        """True when a handler is called (implemented or partial)."""
        return self.status != "unsupported"


@dataclass(frozen=True)
class FlagSet:
    name: str
    kind: str
    zero: str | None
    values: tuple[tuple[str, int, int], ...]   # (name, value, mask)


@dataclass
class SyscallSpec:
    syscalls: list[Syscall] = field(default_factory=list)   # sorted by nr
    flagsets: dict[str, FlagSet] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _load_flagsets(path: Path) -> dict[str, FlagSet]:
    doc = check.need_map(load(path), "flagsets file")
    check.check_keys(doc, "flagsets file", ["flagsets"])
    sets = check.need_map(doc["flagsets"], "flagsets", parent=doc)
    out: dict[str, FlagSet] = {}
    for name, body in sets.items():
        if not isinstance(name, str) or not check.IDENT.match(name):
            raise check.fail(sets, f"bad flag set name {name!r}", key=str(name))
        body = check.need_map(body, f"flag set {name}", parent=sets)
        check.check_keys(body, f"flag set {name}", ["kind", "values"], ["zero"])
        kind = check.need_str(body, "kind", f"flag set {name}")
        if kind not in FLAGSET_KINDS:
            raise check.fail(body, f"flag set {name}: unknown kind {kind!r} (one of {', '.join(FLAGSET_KINDS)})", key="kind")
        zero = check.need_str(body, "zero", f"flag set {name}") if "zero" in body else None
        values = []
        seen: set[str] = set()
        for item in check.need_list(body["values"], f"flag set {name} values", parent=body, key="values"):
            item = check.need_map(item, f"flag set {name} entry", parent=body)
            check.check_keys(item, f"flag set {name} entry", ["name", "value"], ["mask"])
            vname = check.need_str(item, "name", f"flag set {name}", check.IDENT)
            value = check.need_int(item, "value", f"flag set {name}")
            mask = check.need_int(item, "mask", f"flag set {name}", 0) if "mask" in item else value
            if vname in seen:
                raise check.fail(item, f"flag set {name}: duplicate name {vname}", key="name")
            if kind == "bits" and (value < 0 or value & ~mask):
                raise check.fail(item, f"flag set {name}: {vname} value has bits outside its mask", key="value")
            seen.add(vname)
            values.append((vname, value, mask))
        out[name] = FlagSet(name, kind, zero, tuple(values))
    return out


def _load_args(sc: LDict, what: str, flagsets: dict[str, FlagSet]) -> list[Arg]:
    raw = check.need_list(sc["args"], f"{what}: args", parent=sc, key="args")
    if len(raw) > MAX_ARGS:
        raise check.fail(sc, f"{what}: at most {MAX_ARGS} args", key="args")
    args: list[Arg] = []
    for a in raw:
        a = check.need_map(a, f"{what}: arg", parent=raw)
        check.check_keys(a, f"{what} arg", ["name", "type"], ["set"])
        aname = check.need_str(a, "name", what, ARG_NAME)
        atype = check.need_str(a, "type", what)
        if atype not in ARG_TYPES:
            raise check.fail(a, f"{what}: unknown arg type {atype!r}", key="type")
        tinfo = ARG_TYPES[atype]
        aset = check.need_str(a, "set", what) if "set" in a else tinfo.implicit_set
        if tinfo.needs_set and aset is None:
            raise check.fail(a, f"{what}: arg {aname} of type {atype} needs a set", key="type")
        if aset is not None and aset not in flagsets:
            raise check.fail(a, f"{what}: unknown flag set {aset!r}", key="set")
        if any(x.name == aname for x in args):
            raise check.fail(a, f"{what}: duplicate arg name {aname}", key="name")
        args.append(Arg(aname, atype, aset))
    return args


def _load_syscall(sc: LDict, family: str, module: str, flagsets: dict[str, FlagSet]) -> Syscall:
    check.check_keys(sc, "syscall", ["nr", "name", "args", "returns", "status", "context"],
                     ["errno", "handler", "tests", "notes"])
    nr = check.need_int(sc, "nr", "syscall", 0)
    name = check.need_str(sc, "name", f"syscall {nr}", ARG_NAME)
    what = f"syscall {name}"
    args = _load_args(sc, what, flagsets)
    returns = check.need_str(sc, "returns", what)
    if returns not in RETURN_TYPES:
        raise check.fail(sc, f"{what}: unknown return type {returns!r}", key="returns")
    status = check.need_str(sc, "status", what)
    if status not in STATUSES:
        raise check.fail(sc, f"{what}: unknown status {status!r} (one of {', '.join(STATUSES)})", key="status")
    context = check.need_str(sc, "context", what)
    if context not in CONTEXTS:
        raise check.fail(sc, f"{what}: unknown context {context!r} (one of {', '.join(CONTEXTS)})", key="context")
    err = "ENOSYS"
    if "errno" in sc:
        err = check.need_str(sc, "errno", what)
        if not hasattr(_errno, err) or not err.startswith("E"):
            raise check.fail(sc, f"{what}: unknown errno {err!r}", key="errno")
        if status != "unsupported":
            raise check.fail(sc, f"{what}: errno applies only to unsupported syscalls", key="errno")
    hmod, hfunc = module, f"sys_{name}"
    if "handler" in sc:
        handler = check.need_str(sc, "handler", what, check.DOTTED)
        hmod, hfunc = handler.rsplit(".", 1)
    tests: list[str] = []
    if "tests" in sc and sc["tests"] is not None:
        for t in check.need_list(sc["tests"], f"{what}: tests", parent=sc, key="tests"):
            if not isinstance(t, str) or not check.IDENT.match(t):
                raise check.fail(sc, f"{what}: bad test name {t!r}", key="tests")
            tests.append(t)
    notes = ""
    if "notes" in sc and sc["notes"] is not None:
        notes = check.need_str(sc, "notes", what)
    if status == "partial" and not notes:
        raise check.fail(sc, f"{what}: partial needs notes saying what is missing", key="status")
    return Syscall(nr, name, family, args, returns, status, context, err, hmod, hfunc,
                   tests, notes, sc.path, sc.line_of("nr"), sc.line_of("name"))


def _load_family(path: Path, flagsets: dict[str, FlagSet]) -> list[Syscall]:
    doc = check.need_map(load(path), "syscall family file")
    check.check_keys(doc, "syscall family file", ["family", "module", "syscalls"])
    family = check.need_str(doc, "family", "family file", check.IDENT)
    if family != path.stem:
        raise check.fail(doc, f"family {family!r} must match the file name {path.stem!r}", key="family")
    module = check.need_str(doc, "module", "family file", check.DOTTED)
    entries = check.need_list(doc["syscalls"], "syscalls", parent=doc, key="syscalls")
    return [_load_syscall(check.need_map(sc, "syscall", parent=entries), family, module, flagsets)
            for sc in entries]


def load_syscalls(spec_dir: Path) -> SyscallSpec:
    """Load spec_dir/syscalls: every family file plus the flag sets."""
    sdir = spec_dir / "syscalls"
    fpath = sdir / FLAGSETS_FILE
    if not fpath.exists():
        raise SpecError(display_path(fpath), 1, "missing flag sets file")
    spec = SyscallSpec(flagsets=_load_flagsets(fpath))
    by_nr: dict[int, Syscall] = {}
    by_name: dict[str, Syscall] = {}
    for path in sorted(sdir.glob("*.yaml")):
        if path.name == FLAGSETS_FILE:
            continue
        for sc in _load_family(path, spec.flagsets):
            for index, key, kind, line in ((by_nr, sc.nr, "number", sc.line), (by_name, sc.name, "name", sc.name_line)):
                if key in index:
                    other = index[key]
                    raise SpecError(sc.path, line, f"duplicate syscall {kind} {key} (also {other.path}:{other.line})")
                index[key] = sc  # type: ignore[index]
    spec.syscalls = [by_nr[n] for n in sorted(by_nr)]
    untested = [sc.name for sc in spec.syscalls if sc.served and not sc.tests]
    if untested:
        spec.warnings.append(f"{len(untested)} implemented/partial syscalls have no conformance tests "
                             f"(e.g. {', '.join(untested[:5])})")
    return spec
