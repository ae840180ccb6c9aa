"""Guest ABI constants and byte layouts of the file structs (x86-64 Linux).

Bytes are built with struct.pack so the layout is visible in one place and
does not depend on the generated ctypes classes being present.
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.statinfo import StatInfo

# open(2) flags (x86-64 values; same as the host's, spelled out so the guest
# ABI never depends on the host Python build).
O_ACCMODE = 0o3
O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DSYNC = 0o10000
O_ASYNC = 0o20000
O_DIRECT = 0o40000
O_LARGEFILE = 0o100000
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
O_NOATIME = 0o1000000
O_CLOEXEC = 0o2000000
O_SYNC = 0o4010000
O_PATH = 0o10000000
O_TMPFILE = 0o20200000

# Flags F_SETFL may change.
SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_EACCESS = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_STATX_SYNC_TYPE = 0x6000

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4

F_OK, X_OK, W_OK, R_OK = 0, 1, 2, 4

SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE = 0, 1, 2, 3, 4

F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_SETOWN, F_GETOWN = 8, 9
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
F_DUPFD_CLOEXEC = 1030
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
F_ADD_SEALS, F_GET_SEALS = 1033, 1034
FD_CLOEXEC = 1
F_UNLCK = 2

UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2

# ioctls
TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TCGETA, TCSETA, TCSETAW, TCSETAF = 0x5405, 0x5406, 0x5407, 0x5408
TCSBRK, TCXONC, TCFLSH = 0x5409, 0x540A, 0x540B
TIOCEXCL, TIOCNXCL, TIOCSCTTY = 0x540C, 0x540D, 0x540E
TIOCGPGRP, TIOCSPGRP, TIOCOUTQ, TIOCSTI = 0x540F, 0x5410, 0x5411, 0x5412
TIOCGWINSZ, TIOCSWINSZ = 0x5413, 0x5414
FIONREAD = TIOCINQ = 0x541B
FIONBIO = 0x5421
TIOCNOTTY, TIOCSETD, TIOCGETD, TCSBRKP = 0x5422, 0x5423, 0x5424, 0x5425
TIOCSBRK, TIOCCBRK, TIOCGSID = 0x5427, 0x5428, 0x5429
TCGETS2, TCSETS2, TCSETSW2, TCSETSF2 = 0x802C542A, 0x402C542B, 0x402C542C, 0x402C542D
TIOCGDEV, TIOCGEXCL = 0x80045432, 0x80045440
FIONCLEX, FIOCLEX = 0x5450, 0x5451
TERMIOS_SIZE = 36      # struct termios (kernel ABI, not glibc's)
WINSIZE_SIZE = 8

S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFLNK = 0o120000
S_IFREG = 0o100000
S_IFBLK = 0o060000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFIFO = 0o010000

DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12


def dtype_of_mode(mode: int) -> int:
    return (mode & S_IFMT) >> 12


STATX_BASIC_STATS = 0x7FF
STATX_BTIME = 0x800

_STAT = struct.Struct("<QQQIIIIQqqqqqqqqqqqq")
assert _STAT.size == 144
_STATX_HEAD = struct.Struct("<IIQIIIHHQQQQ")
_STATX_TS = struct.Struct("<qIi")
_STATX_TAIL = struct.Struct("<IIIIQ")
STATX_SIZE = 256
_DIRENT64_HEAD = struct.Struct("<QqHB")
_DIRENT_HEAD = struct.Struct("<QqH")


def _split_ns(ns: int) -> tuple[int, int]:
    return ns // 1_000_000_000, ns % 1_000_000_000


def _major(dev: int) -> int:
    return ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF)


def _minor(dev: int) -> int:
    return (dev & 0xFF) | ((dev >> 12) & ~0xFF)


def makedev(major: int, minor: int) -> int:
    return ((major & 0xFFF) << 8) | ((major & ~0xFFF) << 32) | (minor & 0xFF) | ((minor & ~0xFF) << 12)


def pack_stat(st: "StatInfo") -> bytes:
    a, m, c = _split_ns(st.atime_ns), _split_ns(st.mtime_ns), _split_ns(st.ctime_ns)
    return _STAT.pack(st.dev, st.ino, st.nlink, st.mode, st.uid, st.gid, 0, st.rdev,
                      st.size, st.blksize, st.blocks, a[0], a[1], m[0], m[1], c[0], c[1], 0, 0, 0)


def pack_statx(st: "StatInfo", mask: int) -> bytes:
    del mask  # we always have the basic stats and btime; report them all
    have = STATX_BASIC_STATS | (STATX_BTIME if st.btime_ns else 0)
    out = bytearray(_STATX_HEAD.pack(have, st.blksize, 0, st.nlink, st.uid, st.gid,
                                     st.mode & 0xFFFF, 0, st.ino, st.size, st.blocks, 0))
    for ns in (st.atime_ns, st.btime_ns, st.ctime_ns, st.mtime_ns):
        sec, nsec = _split_ns(ns)
        out += _STATX_TS.pack(sec, nsec, 0)
    out += _STATX_TAIL.pack(_major(st.rdev), _minor(st.rdev), _major(st.dev), _minor(st.dev), 0)
    out += bytes(STATX_SIZE - len(out))
    return bytes(out)


def _align8(n: int) -> int:
    return (n + 7) & ~7


def pack_dirent64(ino: int, off: int, dtype: int, name: bytes) -> bytes:
    reclen = _align8(_DIRENT64_HEAD.size + len(name) + 1)
    rec = _DIRENT64_HEAD.pack(ino, off, reclen, dtype) + name
    return rec + bytes(reclen - len(rec))


def pack_dirent(ino: int, off: int, dtype: int, name: bytes) -> bytes:
    """Old linux_dirent: the type lives in the record's last byte."""
    reclen = _align8(_DIRENT_HEAD.size + len(name) + 2)
    rec = _DIRENT_HEAD.pack(ino, off, reclen) + name
    rec += bytes(reclen - len(rec) - 1)
    return rec + bytes([dtype])
