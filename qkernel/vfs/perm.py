"""Permission checks against the guest's credentials.

The sandbox runs as host root, so the host would allow everything; the
guest's own uid/gid decide instead, from the file's mode bits.
"""
from __future__ import annotations

import errno

from qkernel.creds import Credentials
from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.statinfo import StatInfo


def allowed(st: StatInfo, creds: Credentials, want: int, use_real: bool = False) -> bool:
    """want: bits of R_OK|W_OK|X_OK. use_real: access(2) checks the real ids."""
    uid = creds.uid if use_real else creds.fsuid
    gid = creds.gid if use_real else creds.fsgid
    mode = st.mode
    if uid == 0:
        # root may do anything, except execute a file with no x bit at all.
        if want & abi.X_OK and (mode & abi.S_IFMT) != abi.S_IFDIR and not mode & 0o111:
            return False
        return True
    if st.uid == uid:
        bits = (mode >> 6) & 7
    elif st.gid == gid or st.gid in creds.groups:
        bits = (mode >> 3) & 7
    else:
        bits = mode & 7
    return want & ~bits == 0


def check(st: StatInfo, creds: Credentials, want: int) -> None:
    if not allowed(st, creds, want):
        raise SyscallError(errno.EACCES)


def want_for_open(flags: int) -> int:
    acc = flags & abi.O_ACCMODE
    want = 0
    if acc in (abi.O_RDONLY, abi.O_RDWR):
        want |= abi.R_OK
    if acc in (abi.O_WRONLY, abi.O_RDWR) or flags & abi.O_TRUNC:
        want |= abi.W_OK
    return want
