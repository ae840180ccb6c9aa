"""YAML loading that remembers where every mapping and sequence came from.

PyYAML drops source positions once it builds Python objects, and silently
keeps the last of two duplicate keys; both would make spec errors hard to
find, so mappings become `LDict` (with the line of each key) and duplicate
keys are an error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codegen.errors import SpecError


class LDict(dict):  # type: ignore[type-arg]
    """A dict that knows its own line and the line of each key (1-based)."""

    path: str
    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LList(list):  # type: ignore[type-arg]
    """A list that knows its own line (1-based)."""

    path: str
    line: int


def _make_loader(path: str) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LDict:
        loader.flatten_mapping(node)
        out = LDict()
        out.path, out.line, out.key_lines = path, node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            kline = key_node.start_mark.line + 1
            if key in out:
                raise SpecError(path, kline, f"duplicate key {key!r}")
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_lines[str(key)] = kline
        return out

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LList:
        out = LList(loader.construct_object(child, deep=True) for child in node.value)
        out.path, out.line = path, node.start_mark.line + 1
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def display_path(path: Path) -> str:
    """Repo-relative when possible, so errors read `spec/syscalls/fs.yaml:42`."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load(path: Path) -> Any:
    """Parse one YAML file; syntax errors become a SpecError with the line."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.load(text, Loader=_make_loader(shown))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SpecError(shown, line, f"YAML syntax: {exc.problem or exc}") from None
    except OSError as exc:
        raise SpecError(shown, 1, f"cannot read: {exc.strerror}") from None
