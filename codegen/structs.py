"""Load spec/structs/*.yaml, build the ctypes classes and check their sizes."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from pathlib import Path

from codegen import check
from codegen.errors import SpecError
from codegen.yamlload import LDict, load

# spec scalar type -> ctypes type name (as written into generated/structs.py)
SCALARS: dict[str, str] = {
    "u8": "c_uint8", "u16": "c_uint16", "u32": "c_uint32", "u64": "c_uint64",
    "i8": "c_int8", "i16": "c_int16", "i32": "c_int32", "i64": "c_int64",
    "char": "c_char",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    count: int | None


@dataclass
class Struct:
    name: str
    size: int
    packed: bool
    union: bool
    fields: list[Field]
    doc: str
    path: str
    line: int
    size_line: int
    deps: list[str] = field(default_factory=list)

    def ctypes_type(self, f: Field) -> str:
        """The Python expression for a field's ctypes type in the generated module."""
        base = f"ctypes.{SCALARS[f.type]}" if f.type in SCALARS else f.type
        return f"{base} * {f.count}" if f.count is not None else base


def _load_struct(m: LDict) -> Struct:
    check.check_keys(m, "struct", ["name", "size", "fields"], ["packed", "union", "doc"])
    name = check.need_str(m, "name", "struct", check.IDENT)
    what = f"struct {name}"
    size = check.need_int(m, "size", what, 1)
    packed = bool(m.get("packed", False))
    union = bool(m.get("union", False))
    doc = check.need_str(m, "doc", what) if "doc" in m else ""
    fields: list[Field] = []
    for f in check.need_list(m["fields"], f"{what}: fields", parent=m, key="fields"):
        f = check.need_map(f, f"{what}: field", parent=m)
        check.check_keys(f, f"{what} field", ["name", "type"], ["count"])
        fname = check.need_str(f, "name", what, check.IDENT)
        ftype = check.need_str(f, "type", what, check.IDENT)
        count = check.need_int(f, "count", what, 1) if "count" in f else None
        if ftype == "char" and count is None:
            raise check.fail(f, f"{what}: char field {fname} needs a count", key="type")
        if any(x.name == fname for x in fields):
            raise check.fail(f, f"{what}: duplicate field {fname}", key="name")
        fields.append(Field(fname, ftype, count))
    if not fields:
        raise check.fail(m, f"{what}: no fields", key="fields")
    deps = sorted({x.type for x in fields if x.type not in SCALARS})
    return Struct(name, size, packed, union, fields, doc, m.path, m.line, m.line_of("size"), deps)


def _order(structs: dict[str, Struct]) -> list[Struct]:
    """Dependencies first; otherwise file order (deterministic)."""
    done: dict[str, bool] = {}
    out: list[Struct] = []

    def visit(s: Struct, stack: tuple[str, ...]) -> None:
        if done.get(s.name):
            return
        if s.name in stack:
            raise SpecError(s.path, s.line, f"struct {s.name} contains itself")
        for dep in s.deps:
            if dep not in structs:
                raise SpecError(s.path, s.line, f"struct {s.name}: unknown field type {dep!r}")
            visit(structs[dep], stack + (s.name,))
        done[s.name] = True
        out.append(s)

    for s in structs.values():
        visit(s, ())
    return out


def build_ctypes(ordered: list[Struct]) -> dict[str, type]:
    """Make the ctypes classes in-process (same recipe as the template) to measure them."""
    made: dict[str, type] = {}
    for s in ordered:
        fields = []
        for f in s.fields:
            base = getattr(ctypes, SCALARS[f.type]) if f.type in SCALARS else made[f.type]
            fields.append((f.name, base * f.count if f.count is not None else base))
        bases = (ctypes.Union,) if s.union else (ctypes.LittleEndianStructure,)
        ns: dict[str, object] = {"_fields_": fields}
        if s.packed:
            ns["_pack_"] = 1
        made[s.name] = type(s.name, bases, ns)
    return made


def load_structs(spec_dir: Path) -> list[Struct]:
    structs: dict[str, Struct] = {}
    for path in sorted((spec_dir / "structs").glob("*.yaml")):
        doc = check.need_list(load(path), "struct file (a list of structs)")
        for item in doc:
            s = _load_struct(check.need_map(item, "struct", parent=doc))
            if s.name in structs:
                o = structs[s.name]
                raise SpecError(s.path, s.line, f"duplicate struct {s.name} (also {o.path}:{o.line})")
            structs[s.name] = s
    ordered = _order(structs)
    made = build_ctypes(ordered)
    for s in ordered:
        real = ctypes.sizeof(made[s.name])
        if real != s.size:
            raise SpecError(s.path, s.size_line, f"struct {s.name}: size is {real}, spec says {s.size}")
    return ordered
