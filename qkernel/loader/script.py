"""`#!` scripts: the interpreter line, and the argv a script's exec runs with.

Rules (as Linux's binfmt_script): only the first BINPRM_BUF_SIZE bytes are
read; the interpreter path ends at a space, tab or NUL; everything after it
on the line, trimmed, is one optional argument (spaces included). A line
with no interpreter, or one cut off by the buffer before the interpreter's
path ends, is ENOEXEC. The new argv is [interpreter, (argument), the path
the script was executed by, argv[1:]...]: the caller's argv[0] is dropped.
"""
from __future__ import annotations

from qkernel.loader.elf import ExecFormatError

BINPRM_BUF_SIZE = 256
MAX_SCRIPT_DEPTH = 4          # scripts whose interpreter is a script, and so on
_BLANK = b" \t"


def is_script(head: bytes) -> bool:
    return head[:2] == b"#!"


def parse_shebang(head: bytes) -> tuple[bytes, bytes | None]:
    """(interpreter, argument or None) from a file's first bytes."""
    # As Linux's zeroed buffer: a file shorter than it ends in NULs.
    buf = head[:BINPRM_BUF_SIZE].ljust(BINPRM_BUF_SIZE, b"\0")
    newline = buf.find(b"\n")
    if newline >= 0:
        line = buf[2:newline]
    else:
        line = buf[2:BINPRM_BUF_SIZE - 1]      # the last byte is the terminating NUL
        # With no newline in the buffer, the interpreter path must end (at a
        # blank or NUL) inside it, or it may have been cut.
        body = line.lstrip(_BLANK)
        if not body or not any(c in body for c in b" \t\0"):
            raise ExecFormatError("#! line too long: interpreter path cut off")
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    line = line.strip(_BLANK)
    if not line:
        raise ExecFormatError("#! line names no interpreter")
    end = len(line)
    for i, c in enumerate(line):
        if c in _BLANK:
            end = i
            break
    interp = line[:end]
    arg = line[end:].lstrip(_BLANK)
    return interp, (arg or None)


def script_argv(interp: bytes, arg: bytes | None, filename: bytes, argv: list[bytes]) -> list[bytes]:
    return [interp] + ([arg] if arg is not None else []) + [filename] + argv[1:]
