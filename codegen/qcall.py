"""Load spec/qcall/*.yaml: the QCall slot layout and protocol constants.

Top-level integers become constants (PAGE_VA, SLOT_SIZE, ...); a mapping of
integers such as `ports:` becomes PORT_<NAME> (the key without its plural
`s`); `fields:` is the slot layout, one 8-byte word each, exported as
SLOT_<NAME> offsets and as a ctypes structure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codegen import check
from codegen.errors import SpecError
from codegen.yamlload import load

WORD = 8


@dataclass
class QCallSpec:
    constants: list[tuple[str, int, str]] = field(default_factory=list)   # (NAME, value, source file)
    fields: list[tuple[str, int, str, str]] = field(default_factory=list)  # (name, offset, writer, doc)
    slot_size: int = 0


def load_qcall(spec_dir: Path) -> QCallSpec | None:
    files = sorted((spec_dir / "qcall").glob("*.yaml"))
    if not files:
        return None
    spec = QCallSpec()
    seen: dict[str, str] = {}

    def add(name: str, value: int, where: tuple[str, int]) -> None:
        if name in seen:
            raise SpecError(where[0], where[1], f"constant {name} defined twice")
        seen[name] = where[0]
        spec.constants.append((name, value, where[0]))

    for path in files:
        doc = check.need_map(load(path), "qcall file")
        for key, val in doc.items():
            where = (doc.path, doc.line_of(key))
            if key == "fields":
                _load_fields(check.need_list(val, "fields", parent=doc, key="fields"), spec, add)
            elif isinstance(val, bool):
                raise SpecError(*where, f"{key}: booleans are not constants")
            elif isinstance(val, int):
                add(str(key).upper(), val, where)
            elif isinstance(val, dict):
                prefix = str(key)[:-1] if str(key).endswith("s") else str(key)
                for sub, subval in val.items():
                    if isinstance(subval, bool) or not isinstance(subval, int):
                        raise SpecError(doc.path, val.line_of(sub), f"{key}.{sub} must be an integer")
                    add(f"{prefix}_{sub}".upper(), subval, (doc.path, val.line_of(sub)))
            else:
                raise SpecError(*where, f"{key}: expected an integer, a mapping of integers, or fields")
    size = dict((n, v) for n, v, _ in spec.constants).get("SLOT_SIZE")
    if spec.fields:
        end = spec.fields[-1][1] + WORD
        spec.slot_size = size if size is not None else end
        if end > spec.slot_size:
            raise SpecError(str(files[0]), 1, f"slot fields end at {end:#x}, past slot_size {spec.slot_size:#x}")
    return spec


def _load_fields(items: list, spec: QCallSpec, add) -> None:  # type: ignore[no-untyped-def]
    last = -WORD
    for f in items:
        f = check.need_map(f, "qcall field", parent=items)
        check.check_keys(f, "qcall field", ["name", "offset"], ["writer", "doc"])
        name = check.need_str(f, "name", "qcall field", check.IDENT)
        off = check.need_int(f, "offset", f"qcall field {name}", 0)
        if off % WORD or off < last + WORD:
            raise check.fail(f, f"qcall field {name}: offset {off:#x} must be 8-aligned and after the previous field", key="offset")
        last = off
        writer = str(f.get("writer", ""))
        if writer not in ("", "guest", "host"):
            raise check.fail(f, f"qcall field {name}: writer must be guest or host", key="writer")
        spec.fields.append((name, off, writer, str(f.get("doc", ""))))
        add(f"SLOT_{name}".upper(), off, (f.path, f.line))
