"""/proc/<pid>/ and /proc/<pid>/task/<tid>/: what the kernel knows of a
process, in Linux's formats. A zombie (no threads left) shows state Z and
the fields its thread group still carries; the rest read as empty or zero.
"""
from __future__ import annotations

import errno
import os
import time
from typing import TYPE_CHECKING, Any

from qkernel.errors import SyscallError
from qkernel.vfs import abi
from qkernel.vfs.memfs import DirNode, Node, SymlinkNode

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.procfs import ProcFileSystem

PAGE = 4096
CLK_TCK = 100
CAP_LAST_CAP = 40
CAP_FULL = (1 << (CAP_LAST_CAP + 1)) - 1
RLIM_INFINITY = 0xFFFF_FFFF_FFFF_FFFF
SIG_DFL, SIG_IGN = 0, 1
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4


# -- who ----------------------------------------------------------------------------
def _task_of(tg: Any, thread: Any) -> Any:
    """The thread a file describes: the named one, else the leader, else any."""
    if thread is not None:
        return thread if not thread.exited else None
    return tg.leader or next(iter(tg.tasks.values()), None)


def _need_task(tg: Any, thread: Any) -> Any:
    t = _task_of(tg, thread)
    if t is None:
        raise SyscallError(errno.ENOENT)
    return t


def _comm(tg: Any, t: Any) -> str:
    raw = t.comm if t is not None and t.comm else os.path.basename(tg.exe_path or "").encode()
    if not raw and getattr(tg, "argv", None):
        raw = os.path.basename(tg.argv[0]).encode() if isinstance(tg.argv[0], str) else \
            os.path.basename(tg.argv[0])
    return bytes(raw[:15]).decode("utf-8", "replace")


def _argv(kernel: Any, tg: Any) -> tuple[list[bytes], list[bytes]]:
    """argv/envp as recorded at exec; a child that has not exec'd shows its
    parent's; the first process, the config's."""
    g = tg
    while g is not None:
        if getattr(g, "argv", None) is not None:
            return g.argv, getattr(g, "envp", []) or []
        g = g.parent
    cfg = kernel.config
    return ([a.encode("utf-8", "surrogateescape") for a in cfg.args],
            [e.encode("utf-8", "surrogateescape") for e in getattr(cfg, "env", [])])


def _state(caller: Any, tg: Any, t: Any) -> tuple[str, str]:
    if tg.zombie or t is None:
        return "Z", "zombie"
    if tg.stopped:
        return "T", "stopped"
    if t is caller:
        return "R", "running"
    return "S", "sleeping"


# -- memory -------------------------------------------------------------------------
def _vmas(t: Any) -> list[Any]:
    mm = getattr(t, "mm", None) if t is not None else None
    return sorted(getattr(mm, "vmas", []) or [], key=lambda v: v.start)


def _mem(t: Any) -> dict[str, int]:
    """Sizes in kB from the VMAs (resident = every accessible page: quark
    does not track residency per page)."""
    vmas = _vmas(t)
    size = sum(v.length for v in vmas)
    rss = sum(v.length for v in vmas if v.prot)
    stack = sum(v.length for v in vmas if v.name == "[stack]")
    exe_path = t.exe_path if t is not None else ""
    exe = sum(v.length for v in vmas if v.name and v.name == exe_path and v.prot & PROT_EXEC)
    lib = sum(v.length for v in vmas if v.name.startswith("/") and v.name != exe_path and v.prot & PROT_EXEC)
    data = sum(v.length for v in vmas if v.prot & PROT_WRITE and not v.is_shared and v.name != "[stack]")
    shared = sum(v.length for v in vmas if v.is_shared)
    files = sum(v.length for v in vmas if v.name.startswith("/") and v.prot)
    mm = t.mm if t is not None else None
    peak = max(size, getattr(mm, "proc_vm_peak", 0)) if mm is not None else 0
    if mm is not None:
        try:
            mm.proc_vm_peak = peak
        except AttributeError:
            pass
    k = 1024
    return {"size": size // k, "peak": peak // k, "rss": rss // k, "stack": stack // k,
            "exe": exe // k, "lib": lib // k, "data": data // k, "shared": shared // k,
            "file": files // k, "anon": max(0, rss - files - shared) // k}


# -- signals ------------------------------------------------------------------------
def _mask(signos: Any) -> int:
    m = 0
    for s in signos:
        if 1 <= s <= 64:
            m |= 1 << (s - 1)
    return m


def _sig_sets(tg: Any) -> tuple[int, int]:
    ign = cgt = 0
    for signo, act in tg.sigactions.items():
        h = getattr(act, "handler", SIG_DFL)
        if h == SIG_IGN:
            ign |= 1 << (signo - 1)
        elif h != SIG_DFL:
            cgt |= 1 << (signo - 1)
    return ign, cgt


def _caps(t: Any) -> int:
    return CAP_FULL if t is not None and t.creds.euid == 0 else 0


# -- files ----------------------------------------------------------------------------
def status(caller: Any, tg: Any, thread: Any) -> str:
    t = _task_of(tg, thread)
    st, word = _state(caller, tg, t)
    tid = thread.tid if thread is not None else tg.pid
    lines = [f"Name:\t{_comm(tg, t)}"]
    if t is not None:
        lines.append(f"Umask:\t{t.fs.umask:04o}")
    lines += [f"State:\t{st} ({word})", f"Tgid:\t{tg.pid}", "Ngid:\t0", f"Pid:\t{tid}",
              f"PPid:\t{tg.ppid}", "TracerPid:\t0"]
    if t is not None:
        c = t.creds
        nfds = t.fds.fds()
        fdsize = 64
        while nfds and fdsize <= nfds[-1]:
            fdsize *= 2
        lines += [f"Uid:\t{c.uid}\t{c.euid}\t{c.suid}\t{c.fsuid}",
                  f"Gid:\t{c.gid}\t{c.egid}\t{c.sgid}\t{c.fsgid}",
                  f"FDSize:\t{fdsize}",
                  "Groups:\t" + "".join(f"{g} " for g in c.groups)]
    else:
        lines += ["Uid:\t0\t0\t0\t0", "Gid:\t0\t0\t0\t0", "FDSize:\t0", "Groups:\t"]
    lines += [f"NStgid:\t{tg.pid}", f"NSpid:\t{tid}", f"NSpgid:\t{tg.pgid}", f"NSsid:\t{tg.sid}"]
    if t is not None:
        m = _mem(t)
        lines += [f"VmPeak:\t{m['peak']:8d} kB", f"VmSize:\t{m['size']:8d} kB", "VmLck:\t       0 kB",
                  "VmPin:\t       0 kB", f"VmHWM:\t{m['rss']:8d} kB", f"VmRSS:\t{m['rss']:8d} kB",
                  f"RssAnon:\t{m['anon']:8d} kB", f"RssFile:\t{m['file']:8d} kB",
                  f"RssShmem:\t{m['shared']:8d} kB", f"VmData:\t{m['data']:8d} kB",
                  f"VmStk:\t{m['stack']:8d} kB", f"VmExe:\t{m['exe']:8d} kB", f"VmLib:\t{m['lib']:8d} kB",
                  "VmPTE:\t       0 kB", "VmSwap:\t       0 kB"]
    lines.append(f"Threads:\t{len(tg.tasks)}")
    pending = sum(len(v) for v in tg.shared_pending.values())
    if t is not None:
        pending += sum(len(v) for v in t.pending.values())
    sigq_max = t.limits.get(11)[0] if t is not None else 0
    if sigq_max >= (1 << 63):
        sigq_max = 63542
    ign, cgt = _sig_sets(tg)
    lines += [f"SigQ:\t{pending}/{sigq_max}",
              f"SigPnd:\t{_mask(t.pending.keys()) if t is not None else 0:016x}",
              f"ShdPnd:\t{_mask(tg.shared_pending.keys()):016x}",
              f"SigBlk:\t{t.sigmask if t is not None else 0:016x}",
              f"SigIgn:\t{ign:016x}", f"SigCgt:\t{cgt:016x}"]
    caps = _caps(t)
    lines += ["CapInh:\t0000000000000000", f"CapPrm:\t{caps:016x}", f"CapEff:\t{caps:016x}",
              f"CapBnd:\t{CAP_FULL:016x}", "CapAmb:\t0000000000000000",
              f"NoNewPrivs:\t{int(bool(t.extra.get('no_new_privs'))) if t is not None else 0}",
              "Seccomp:\t0", "Seccomp_filters:\t0", "Speculation_Store_Bypass:\tthread vulnerable"]
    ncpu = _ncpus(caller)
    lines += [f"Cpus_allowed:\t{(1 << ncpu) - 1:x}", f"Cpus_allowed_list:\t{_cpu_list(ncpu)}",
              "Mems_allowed:\t1", "Mems_allowed_list:\t0",
              "voluntary_ctxt_switches:\t0", "nonvoluntary_ctxt_switches:\t0"]
    return "\n".join(lines) + "\n"


def _ncpus(caller: Any) -> int:
    return max(1, min(64, int(getattr(caller.kernel, "vcpu_count", 1) or 1)))


def _cpu_list(n: int) -> str:
    return "0" if n == 1 else f"0-{n - 1}"


def _ticks(ns: int) -> int:
    return max(0, ns) * CLK_TCK // 1_000_000_000


def stat(caller: Any, tg: Any, thread: Any) -> str:
    t = _task_of(tg, thread)
    st, _ = _state(caller, tg, t)
    tid = thread.tid if thread is not None else tg.pid
    kernel = caller.kernel
    m = _mem(t) if t is not None else None
    vmas = _vmas(t)
    if thread is not None:
        cpu_ns = t.cpu_time_ns if t is not None else 0
    else:
        cpu_ns = sum(x.cpu_time_ns for x in tg.tasks.values())
    start = _ticks(tg.start_time_ns - kernel.boot_monotonic_ns) if tg.start_time_ns else 0
    exe_vmas = [v for v in vmas if t is not None and v.name == t.exe_path]
    start_code = min((v.start for v in exe_vmas if v.prot & PROT_EXEC), default=0)
    end_code = max((v.end for v in exe_vmas if v.prot & PROT_EXEC), default=0)
    stack = next((v for v in vmas if v.name == "[stack]"), None)
    mm = t.mm if t is not None else None
    ign, cgt = _sig_sets(tg)
    pending = _mask(tg.shared_pending.keys()) | (_mask(t.pending.keys()) if t is not None else 0)
    rsslim = t.limits.get(5)[0] if t is not None else RLIM_INFINITY
    exit_code = (tg.group_exit_status or 0) if tg.zombie else 0
    fields = [
        tid, f"({_comm(tg, t)})", st, tg.ppid, tg.pgid, tg.sid, *_tty_fields(tg),
        0x400000,                                   # flags (PF_RANDOMIZE-ish; nothing tracked)
        0, 0, 0, 0,                                 # minflt cminflt majflt cmajflt
        _ticks(cpu_ns), 0, _ticks(tg.children_cpu_ns), 0,
        20, 0, len(tg.tasks), 0, start,
        (m["size"] * 1024) if m else 0, (m["rss"] * 1024 // PAGE) if m else 0,
        min(rsslim, RLIM_INFINITY),
        start_code, end_code, stack.end - 8 if stack else 0, 0, 0,
        pending & 0x7FFFFFFF, (t.sigmask if t is not None else 0) & 0x7FFFFFFF,
        ign & 0x7FFFFFFF, cgt & 0x7FFFFFFF,
        0, 0, 0, tg.exit_signal, 0, 0, 0, 0, 0, 0,
        0, 0,                                       # start_data end_data
        getattr(mm, "brk_start", 0) if mm is not None else 0,
        0, 0, 0, 0,                                 # arg_start arg_end env_start env_end
        exit_code,
    ]
    assert len(fields) == 52
    return " ".join(str(f) for f in fields) + "\n"


def _tty_fields(tg: Any) -> tuple[int, int]:
    """tty_nr and tpgid: the controlling terminal's device and foreground group."""
    term = getattr(tg, "ctty", None)
    if term is None:
        return 0, -1
    return term.tty_nr, term.pgrp if term.pgrp is not None else -1


def statm(caller: Any, tg: Any, thread: Any) -> str:
    t = _task_of(tg, thread)
    if t is None:
        return "0 0 0 0 0 0 0\n"
    m = _mem(t)
    pages = {k: v * 1024 // PAGE for k, v in m.items()}
    return f"{pages['size']} {pages['rss']} {pages['shared'] + pages['file']} {pages['exe']} 0 " \
           f"{pages['data'] + pages['stack']} 0\n"


def maps(caller: Any, tg: Any, thread: Any) -> str:
    out = []
    for v in _vmas(_task_of(tg, thread)):
        perms = ("r" if v.prot & PROT_READ else "-") + ("w" if v.prot & PROT_WRITE else "-") + \
                ("x" if v.prot & PROT_EXEC else "-") + ("s" if v.is_shared else "p")
        off = v.file_offset if v.name.startswith("/") else 0
        line = f"{v.start:08x}-{v.end:08x} {perms} {off:08x} 00:00 0"
        if v.name:
            line = line.ljust(73) + v.name
        out.append(line)
    return "".join(line + "\n" for line in out)


def cmdline(caller: Any, tg: Any) -> bytes:
    if tg.zombie:
        return b""
    argv, _ = _argv(caller.kernel, tg)
    return b"".join(a + b"\0" for a in argv)


def environ(caller: Any, tg: Any) -> bytes:
    if tg.zombie:
        return b""
    _, envp = _argv(caller.kernel, tg)
    return b"".join(e + b"\0" for e in envp)


def limits(caller: Any, tg: Any, thread: Any) -> str:
    t = _need_task(tg, thread)
    rows = [("Max cpu time", "seconds"), ("Max file size", "bytes"), ("Max data size", "bytes"),
            ("Max stack size", "bytes"), ("Max core file size", "bytes"),
            ("Max resident set", "bytes"), ("Max processes", "processes"),
            ("Max open files", "files"), ("Max locked memory", "bytes"),
            ("Max address space", "bytes"), ("Max file locks", "locks"),
            ("Max pending signals", "signals"), ("Max msgqueue size", "bytes"),
            ("Max nice priority", ""), ("Max realtime priority", ""),
            ("Max realtime timeout", "us")]
    out = [f"{'Limit':<25} {'Soft Limit':<20} {'Hard Limit':<20} {'Units':<10}"]

    def fmt(v: int) -> str:
        return "unlimited" if v >= (1 << 63) else str(v)
    for i, (name, unit) in enumerate(rows):
        soft, hard = t.limits.get(i)
        out.append(f"{name:<25} {fmt(soft):<20} {fmt(hard):<20} {unit:<10}")
    return "\n".join(out) + "\n"


def fdinfo(caller: Any, t: Any, fd: int) -> str:
    f = t.fds.lookup(fd)
    if f is None:
        raise SyscallError(errno.ENOENT)
    try:
        pos = f.lseek(caller, 0, abi.SEEK_CUR) if f.seekable and not f.is_dir else f.offset
    except SyscallError:
        pos = 0
    flags = f.flags | (abi.O_CLOEXEC if t.fds.get_cloexec(fd) else 0)
    mnt = 0
    if f.location is not None:
        mnt = mount_id(caller.kernel.vfs, f.location.mount)
    try:
        ino = f.stat(caller).ino
    except Exception:  # noqa: BLE001 - a file that cannot stat still has fdinfo
        ino = 0
    return f"pos:\t{pos}\nflags:\t{flags:07o}\nmnt_id:\t{mnt}\nino:\t{ino}\n"


# -- mounts -----------------------------------------------------------------------------
_HOST_TYPE_NAMES = {0xEF53: "ext4", 0x794C7630: "overlay", 0x01021994: "tmpfs", 0x9123683E: "btrfs",
                    0x58465342: "xfs", 0x2FC12FC1: "zfs", 0x65735546: "fuse", 0x6969: "nfs"}
MOUNT_ID_BASE = 20


def mount_id(vfs: Any, mount: Any) -> int:
    for i, m in enumerate(vfs.mounts_in_order()):
        if m is mount:
            return MOUNT_ID_BASE + i
    return 0


def _escape(path: str) -> str:
    return "".join({" ": "\\040", "\t": "\\011", "\n": "\\012", "\\": "\\134"}.get(c, c) for c in path)


def _fstype(m: Any) -> str:
    if m.type in ("rootfs", "bind"):
        fd = getattr(m.fs, "dirfd", -1)
        if isinstance(fd, int) and fd >= 0:
            from qkernel.vfs.statfs import host_fstatfs
            try:
                return _HOST_TYPE_NAMES.get(host_fstatfs(fd).type, "ext4")
            except SyscallError:
                return "ext4"
        return "ext4"
    return m.type


def _source(m: Any) -> str:
    if m.type == "rootfs":
        return "overlay" if _fstype(m) == "overlay" else "/dev/root"   # "rootfs" is skipped by df
    if m.type == "bind":
        return "/dev/root"             # the host path is not the guest's business
    return m.source or m.type


def _options(m: Any) -> tuple[str, str]:
    """(per-mount options, super options)."""
    opts = ["ro" if getattr(m.fs, "readonly", False) else "rw"]
    for o in ("nosuid", "nodev", "noexec"):
        if o in m.options:
            opts.append(o)
    if m.type == "proc" or m.type == "devtmpfs":
        opts = [opts[0], "nosuid"] + (["nodev", "noexec"] if m.type == "proc" else [])
    opts.append("relatime")
    sup = [opts[0]]
    if m.type in ("tmpfs", "devtmpfs"):
        sup += [o for o in m.options if o.startswith(("size=", "mode=", "uid=", "gid=", "nr_inodes="))]
        if not any(o.startswith("mode=") for o in m.options):
            sup.append("mode=755" if m.type == "devtmpfs" else "mode=1777")
    return ",".join(opts), ",".join(sup)


def _visible_mounts(vfs: Any) -> list[Any]:
    return vfs.mounts_in_order()


def mounts(caller: Any) -> str:
    out = []
    for m in _visible_mounts(caller.kernel.vfs):
        opts, _ = _options(m)
        out.append(f"{_escape(_source(m))} {_escape('/' + '/'.join(m.point))} {_fstype(m)} {opts} 0 0\n")
    return "".join(out)


def mountinfo(caller: Any) -> str:
    vfs = caller.kernel.vfs
    out = []
    for m in _visible_mounts(vfs):
        mid = mount_id(vfs, m)
        parent = vfs.parent_mount(m)
        pid = mount_id(vfs, parent) if parent is not None else MOUNT_ID_BASE - 1
        dev = getattr(m.fs, "dev", 0) if not hasattr(m.fs, "dirfd") else 0
        if hasattr(m.fs, "dirfd") and isinstance(m.fs.dirfd, int) and m.fs.dirfd >= 0:
            try:
                dev = os.fstat(m.fs.dirfd).st_dev
            except OSError:
                dev = 0
        major, minor = os.major(dev), os.minor(dev)
        opts, sup = _options(m)
        out.append(f"{mid} {pid} {major}:{minor} / {_escape('/' + '/'.join(m.point))} {opts} - "
                   f"{_fstype(m)} {_escape(_source(m))} {sup}\n")
    return "".join(out)


# -- the directory ------------------------------------------------------------------------
def make_dir(fs: "ProcFileSystem", tg: Any, thread: Any) -> Node:
    from qkernel.vfs.procfs import FnDirNode

    def task_or_enoent() -> Any:
        return _need_task(tg, thread)

    def fd_names(caller: Any) -> list[str]:
        t = _task_of(tg, thread)
        return [str(fd) for fd in t.fds.fds()] if t is not None else []

    fd_links: dict[int, Node] = {}
    fdinfo_nodes: dict[int, Node] = {}

    def fd_node(caller: Any, name: str) -> Node | None:
        t = _task_of(tg, thread)
        if t is None or not name.isdigit() or t.fds.lookup(int(name)) is None:
            return None
        fd = int(name)
        node = fd_links.get(fd)
        if node is None:
            node = _FdLink(fs.new_ino(), lambda c, fd=fd: task_or_enoent().fds.get(fd))
            fd_links[fd] = node
        return node

    def fdinfo_node(caller: Any, name: str) -> Node | None:
        t = _task_of(tg, thread)
        if t is None or not name.isdigit() or t.fds.lookup(int(name)) is None:
            return None
        fd = int(name)
        node = fdinfo_nodes.get(fd)
        if node is None:
            node = fs.text(lambda c, fd=fd: fdinfo(c, task_or_enoent(), fd))
            node.mode = abi.S_IFREG | 0o400
            fdinfo_nodes[fd] = node
        return node

    def task_names(caller: Any) -> list[str]:
        return [str(tid) for tid in sorted(tg.tasks)]

    def task_node(caller: Any, name: str) -> Node | None:
        if not name.isdigit():
            return None
        t = tg.tasks.get(int(name))
        return fs.pid_dir(tg, t) if t is not None else None

    def comm_write(caller: Any, data: bytes) -> None:
        t = task_or_enoent()
        t.comm = data.split(b"\n", 1)[0][:15]

    d = DirNode(fs.new_ino(), abi.S_IFDIR | 0o555)
    c = d.children
    c["status"] = fs.text(lambda caller: status(caller, tg, thread))
    c["stat"] = fs.text(lambda caller: stat(caller, tg, thread))
    c["statm"] = fs.text(lambda caller: statm(caller, tg, thread))
    c["maps"] = fs.text(lambda caller: maps(caller, tg, thread))
    c["cmdline"] = fs.file(lambda caller: cmdline(caller, tg))
    c["environ"] = fs.file(lambda caller: environ(caller, tg), abi.S_IFREG | 0o400)
    c["comm"] = fs.file(lambda caller: (_comm(tg, _task_of(tg, thread)) + "\n").encode(),
                        abi.S_IFREG | 0o644, comm_write)
    c["limits"] = fs.text(lambda caller: limits(caller, tg, thread))
    c["mounts"] = fs.text(mounts)
    c["mountinfo"] = fs.text(mountinfo)
    c["cgroup"] = fs.text("0::/\n")
    c["oom_score_adj"] = fs.text("0\n")
    c["oom_score"] = fs.text("0\n")
    c["loginuid"] = fs.text("4294967295")
    c["sessionid"] = fs.text("4294967295")
    c["wchan"] = fs.text("0")
    c["exe"] = SymlinkNode(fs.new_ino(), lambda caller: _exe(tg, thread))
    c["cwd"] = SymlinkNode(fs.new_ino(), lambda caller: task_or_enoent().fs.cwd.path)
    c["root"] = SymlinkNode(fs.new_ino(), lambda caller: task_or_enoent().fs.root.path)
    c["fd"] = FnDirNode(fs.new_ino(), fd_names, fd_node, abi.S_IFDIR | 0o500)
    c["fdinfo"] = FnDirNode(fs.new_ino(), fd_names, fdinfo_node, abi.S_IFDIR | 0o500)
    if thread is None:
        c["task"] = FnDirNode(fs.new_ino(), task_names, task_node)
    return d


class _FdLink(SymlinkNode):
    """/proc/<pid>/fd/N: its permission bits show the open mode (lr-x,
    l-wx, lrwx) and its size is 64, as Linux's."""

    def stat(self, task: Any, dev: int) -> Any:
        st = super().stat(task, dev)
        mode = 0o700
        try:
            f = self.target(task)
            if not isinstance(f, str):
                mode = 0o100 | (0o400 if f.readable or f.flags & abi.O_PATH else 0) | \
                    (0o200 if f.writable else 0)
        except SyscallError:
            pass
        st.mode = abi.S_IFLNK | mode
        st.size = 64
        return st


def _exe(tg: Any, thread: Any) -> str:
    if tg.zombie or _task_of(tg, thread) is None:
        raise SyscallError(errno.ENOENT)
    return tg.exe_path or "/"


def uptime_s(kernel: Any) -> float:
    return (time.monotonic_ns() - kernel.boot_monotonic_ns) / 1e9
