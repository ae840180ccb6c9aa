"""The control socket of a running sandbox: framed JSON messages, with fds.

A frame is a 4-byte little-endian length and that many bytes of a JSON
object; file descriptors ride on a frame as SCM_RIGHTS. One connection is
one request (start, kill, ps, ...) and its reply, except `exec`, whose
connection stays open: the client may send {"op": "signal"} frames, the
sandbox sends {"exit": status} when the process ends, and a client that
goes away takes its process with it (SIGKILL), as a shim's kill -9 of the
exec pid would.

The socket lives in the 0700 state directory: only root reaches it.
"""
from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

MAX_FRAME = 1 << 20        # a process spec with a big env fits; a hostile peer can't make us allocate more
MAX_FDS = 256
_LEN = struct.Struct("<I")


class ControlError(Exception):
    """The sandbox cannot be reached or answered with an error; one line."""


def send_message(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    frame = _LEN.pack(len(data)) + data
    if fds:
        # The fds ride on the first byte; the rest is plain data.
        socket.send_fds(sock, [frame[:1]], fds)
        sock.sendall(frame[1:])
    else:
        sock.sendall(frame)


def recv_message(sock: socket.socket, want_fds: bool = False) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message and the fds that came with it; (None, []) at EOF."""
    fds: list[int] = []
    head = b""
    while len(head) < _LEN.size:
        if want_fds and not head:
            chunk, got, _flags, _addr = socket.recv_fds(sock, _LEN.size, MAX_FDS)
            fds.extend(got)
        else:
            chunk = sock.recv(_LEN.size - len(head))
        if not chunk:
            close_fds(fds)
            return None, []
        head += chunk
    (length,) = _LEN.unpack(head)
    if length > MAX_FRAME:
        close_fds(fds)
        raise ControlError(f"control message of {length} bytes is too big")
    body = b""
    while len(body) < length:
        chunk = sock.recv(min(length - len(body), 65536))
        if not chunk:
            close_fds(fds)
            return None, []
        body += chunk
    try:
        message = json.loads(body)
    except ValueError:
        close_fds(fds)
        raise ControlError("control message is not JSON") from None
    if not isinstance(message, dict):
        close_fds(fds)
        raise ControlError("control message is not a JSON object")
    return message, fds


def close_fds(fds: list[int]) -> None:
    """Close fds that came with a message (ignoring ones already gone)."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def connect(path: str, timeout: float | None = 10.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        raise ControlError(f"cannot reach the sandbox: {err.strerror or err}") from None
    return sock


def request(path: str, message: dict[str, Any], fds: list[int] | None = None,
            timeout: float | None = 30.0) -> dict[str, Any]:
    """One request, one reply; ControlError carries the sandbox's error text."""
    with connect(path, timeout) as sock:
        try:
            send_message(sock, message, fds)
            reply, _ = recv_message(sock)
        except socket.timeout:
            raise ControlError("the sandbox did not answer in time") from None
        except OSError as err:
            raise ControlError(f"lost the sandbox: {err.strerror or err}") from None
    if reply is None:
        raise ControlError("the sandbox closed the connection")
    if "error" in reply:
        raise ControlError(str(reply["error"]))
    return reply
