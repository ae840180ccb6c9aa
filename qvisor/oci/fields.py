"""Typed accessors for a decoded config.json.

Every accessor takes the dotted path of the field ("process.user.uid") so an
error can say exactly which field is wrong and what it held instead.
A missing optional field returns the default; a present field of the wrong
type is always an error (silently ignoring it would run the container with
settings the user did not ask for).
"""
from __future__ import annotations

from typing import Any, TypeVar

from qvisor.oci.errors import BundleError

T = TypeVar("T")
_MISSING: Any = object()

UINT32_MAX = (1 << 32) - 1
UINT64_MAX = (1 << 64) - 1


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _wrong(where: str, expected: str, value: Any) -> BundleError:
    return BundleError(f"{where}: expected {expected}, got {json_type(value)}")


def get_object(doc: dict[str, Any], key: str, where: str,
               default: Any = _MISSING) -> dict[str, Any]:
    value = doc.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise BundleError(f"{where} is missing")
        return default
    if not isinstance(value, dict):
        raise _wrong(where, "an object", value)
    return value


def get_string(doc: dict[str, Any], key: str, where: str,
               default: Any = _MISSING) -> str:
    value = doc.get(key, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise BundleError(f"{where} is missing")
        return default
    if not isinstance(value, str):
        raise _wrong(where, "a string", value)
    return value


def get_bool(doc: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = doc.get(key, _MISSING)
    if value is _MISSING:
        return default
    if not isinstance(value, bool):
        raise _wrong(where, "a boolean", value)
    return value


def check_uint(value: Any, where: str, maximum: int) -> int:
    # bool is an int subclass in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(where, "a non-negative integer", value)
    if value < 0 or value > maximum:
        raise BundleError(f"{where}: {value} is out of range 0..{maximum}")
    return value


def get_uint(doc: dict[str, Any], key: str, where: str, maximum: int,
             default: Any = _MISSING) -> int:
    value = doc.get(key, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise BundleError(f"{where} is missing")
        return default
    return check_uint(value, where, maximum)


def get_list(doc: dict[str, Any], key: str, where: str,
             default: Any = _MISSING) -> list[Any]:
    value = doc.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise BundleError(f"{where} is missing")
        return default
    if not isinstance(value, list):
        raise _wrong(where, "an array", value)
    return value


def get_string_list(doc: dict[str, Any], key: str, where: str,
                    default: Any = _MISSING) -> list[str]:
    value = doc.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise BundleError(f"{where} is missing")
        return default
    if not isinstance(value, list):
        raise _wrong(where, "an array of strings", value)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _wrong(f"{where}[{i}]", "a string", item)
    return list(value)


def get_uint_list(doc: dict[str, Any], key: str, where: str, maximum: int) -> list[int]:
    items = get_list(doc, key, where, default=[])
    return [check_uint(item, f"{where}[{i}]", maximum) for i, item in enumerate(items)]
