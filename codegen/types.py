"""Argument and return types of the syscall specs, and how each is decoded.

A type names (a) how the raw 64-bit register is turned into the Python int
the handler receives, and (b) how strace-style tracing prints it. See
codegen/README.md for the table.
"""
from __future__ import annotations

from dataclasses import dataclass

# decode kinds: the register is a u64; these say how to narrow it.
S32, U32, S64, U64 = "s32", "u32", "s64", "u64"

# Python expressions for each decode kind; `{a}` is the register variable.
# They are inlined into the generated per-syscall call functions, so a
# dispatch costs no helper calls and no loops.
DECODE_EXPR: dict[str, str] = {
    S32: "((({a} & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000)",
    U32: "({a} & 0xFFFFFFFF)",
    S64: "((({a} & 0xFFFFFFFFFFFFFFFF) ^ 0x8000000000000000) - 0x8000000000000000)",
    U64: "({a} & 0xFFFFFFFFFFFFFFFF)",
}


@dataclass(frozen=True)
class ArgType:
    decode: str            # one of S32 U32 S64 U64
    show: str              # dec oct hex fd dirfd str set
    needs_set: bool = False
    implicit_set: str | None = None   # flag set used without a `set:` key


ARG_TYPES: dict[str, ArgType] = {
    "int": ArgType(S32, "dec"),
    "uint": ArgType(U32, "dec"),
    "long": ArgType(S64, "dec"),
    "ulong": ArgType(U64, "dec"),
    "size_t": ArgType(U64, "dec"),
    "ssize_t": ArgType(S64, "dec"),
    "off_t": ArgType(S64, "dec"),
    "loff_t": ArgType(S64, "dec"),
    "pid_t": ArgType(S32, "dec"),
    "uid_t": ArgType(U32, "dec"),     # -1 ("unchanged") arrives as 0xFFFFFFFF, as in Linux
    "gid_t": ArgType(U32, "dec"),
    "mode_t": ArgType(U32, "oct"),
    "dev_t": ArgType(U32, "dec"),     # syscall-level dev is the old 32-bit encoding
    "fd": ArgType(S32, "fd"),
    "dirfd": ArgType(S32, "dirfd"),   # prints AT_FDCWD for -100
    "ptr": ArgType(U64, "hex"),
    "ptr_in": ArgType(U64, "hex"),
    "ptr_out": ArgType(U64, "hex"),
    "ptr_inout": ArgType(U64, "hex"),
    "iovec_ptr": ArgType(U64, "hex"),
    "path": ArgType(U64, "str"),
    "string": ArgType(U64, "str"),
    "flags": ArgType(U32, "set", needs_set=True),
    "flags64": ArgType(U64, "set", needs_set=True),
    "enum": ArgType(U32, "set", needs_set=True),
    "signal": ArgType(S32, "set", implicit_set="signal"),
    "clockid": ArgType(S32, "set", implicit_set="clockid"),
}

# How the result is printed; the value itself is never altered.
RETURN_TYPES: dict[str, str] = {
    "long": "dec", "int": "dec", "uint": "dec", "ssize_t": "dec", "off_t": "dec",
    "pid_t": "dec", "uid_t": "dec", "gid_t": "dec", "mode_t": "oct",
    "ptr": "hex", "void": "void",
}

STATUSES = ("implemented", "partial", "unsupported")
CONTEXTS = ("any", "vcpu")
FLAGSET_KINDS = ("bits", "enum")
