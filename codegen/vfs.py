"""Load and validate spec/vfs/*.yaml (node types and their operations)."""
from __future__ import annotations

import errno as _errno
from dataclasses import dataclass
from pathlib import Path

from codegen import check
from codegen.errors import SpecError
from codegen.types import STATUSES
from codegen.yamlload import load


@dataclass
class NodeType:
    type: str
    doc: str
    status: str
    notes: str
    ops: dict[str, tuple[str, str]]   # op -> (status, notes)
    errors: dict[str, str]            # op -> errno name


def _status_notes(val: object, node: check.LDict, key: str, what: str) -> tuple[str, str]:
    if isinstance(val, str):
        status, notes = val, ""
    else:
        m = check.need_map(val, what, parent=node)
        check.check_keys(m, what, ["status"], ["notes"])
        status = check.need_str(m, "status", what)
        notes = check.need_str(m, "notes", what) if "notes" in m else ""
    if status not in STATUSES:
        raise check.fail(node, f"{what}: unknown status {status!r}", key=key)
    if status != "implemented" and not notes and isinstance(val, dict):
        raise check.fail(node, f"{what}: {status} needs notes", key=key)
    return status, notes


def load_vfs(spec_dir: Path) -> list[NodeType]:
    nodes: list[NodeType] = []
    for path in sorted((spec_dir / "vfs").glob("*.yaml")):
        doc = check.need_map(load(path), "vfs file")
        check.check_keys(doc, "vfs file", ["operations", "nodes"])
        ops = check.need_list(doc["operations"], "operations", parent=doc, key="operations")
        known = {str(o) for o in ops}
        for item in check.need_list(doc["nodes"], "nodes", parent=doc, key="nodes"):
            n = check.need_map(item, "node", parent=doc)
            check.check_keys(n, "node", ["type", "ops"], ["doc", "status", "notes", "errors"])
            ntype = check.need_str(n, "type", "node", check.IDENT)
            what = f"node {ntype}"
            if any(x.type == ntype for x in nodes):
                raise check.fail(n, f"duplicate {what}", key="type")
            status = check.need_str(n, "status", what) if "status" in n else "implemented"
            notes = check.need_str(n, "notes", what) if "notes" in n else ""
            if status not in STATUSES:
                raise check.fail(n, f"{what}: unknown status {status!r}", key="status")
            if status != "implemented" and not notes:
                raise check.fail(n, f"{what}: {status} needs notes", key="status")
            opmap = check.need_map(n["ops"], f"{what}: ops", parent=n)
            node_ops: dict[str, tuple[str, str]] = {}
            for op, val in opmap.items():
                if op not in known:
                    raise check.fail(opmap, f"{what}: unknown operation {op!r}", key=str(op))
                node_ops[op] = _status_notes(val, opmap, op, f"{what} op {op}")
            errors: dict[str, str] = {}
            if "errors" in n:
                emap = check.need_map(n["errors"], f"{what}: errors", parent=n)
                for op, err in emap.items():
                    if op not in known:
                        raise check.fail(emap, f"{what}: unknown operation {op!r}", key=str(op))
                    if op in node_ops:
                        raise check.fail(emap, f"{what}: {op} is both supported and an error", key=str(op))
                    if not isinstance(err, str) or not hasattr(_errno, err):
                        raise check.fail(emap, f"{what}: unknown errno {err!r}", key=str(op))
                    errors[op] = err
            nodes.append(NodeType(ntype, str(n.get("doc", "")), status, notes, node_ops, errors))
    if not nodes:
        raise SpecError(str(spec_dir / "vfs"), 1, "no node types")
    return nodes
