"""StatInfo: the fields of stat/statx, independent of where a node lives."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class StatInfo:
    dev: int
    ino: int
    mode: int
    nlink: int = 1
    uid: int = 0
    gid: int = 0
    rdev: int = 0
    size: int = 0
    blksize: int = 4096
    blocks: int = 0
    atime_ns: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    btime_ns: int = 0

    @classmethod
    def from_host(cls, st: os.stat_result) -> "StatInfo":
        return cls(dev=st.st_dev, ino=st.st_ino, mode=st.st_mode, nlink=st.st_nlink,
                   uid=st.st_uid, gid=st.st_gid, rdev=st.st_rdev, size=st.st_size,
                   blksize=st.st_blksize, blocks=st.st_blocks, atime_ns=st.st_atime_ns,
                   mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns,
                   btime_ns=int(getattr(st, "st_birthtime", 0) * 1e9))
