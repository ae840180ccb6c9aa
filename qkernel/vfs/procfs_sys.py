"""/proc's system-wide files: meminfo, cpuinfo, uptime, loadavg, stat,
version, filesystems, and the /proc/sys values programs read."""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from qkernel.vfs import abi
from qkernel.vfs.memfs import DirNode

if TYPE_CHECKING:  # pragma: no cover
    from qkernel.vfs.procfs import ProcFileSystem

PAGE = 4096
PID_MAX = 4194304
OSTYPE = "Linux"



def random_uuid() -> str:
    """A version-4 UUID as text (what uuid.uuid4() gives; the uuid module
    costs ~7 ms of every sandbox's start-up to import)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

def _release() -> str:
    try:
        from qkernel.syscalls.identity import RELEASE, VERSION
        return RELEASE.decode(), VERSION.decode()
    except Exception:  # noqa: BLE001 - identity is another module's; never fail /proc for it
        return "6.1.0-quark", "#1 SMP quark"


def _ncpus(task: Any) -> int:
    return max(1, min(64, int(getattr(task.kernel, "vcpu_count", 1) or 1)))


def _uptime(task: Any) -> float:
    return max(0.0, (time.monotonic_ns() - task.kernel.boot_monotonic_ns) / 1e9)


def meminfo(task: Any) -> str:
    total = int(getattr(task.kernel, "memory_size", 0) or (1 << 30))
    frames = getattr(getattr(task, "mm", None), "frames", None)
    free = total // 2
    if frames is not None:
        try:
            free = min(total, frames.frames_left * PAGE)
        except Exception:  # noqa: BLE001
            pass
    kb = 1024
    rows = [
        ("MemTotal", total // kb), ("MemFree", free // kb), ("MemAvailable", free // kb),
        ("Buffers", 0), ("Cached", 0), ("SwapCached", 0),
        ("Active", (total - free) // kb), ("Inactive", 0),
        ("Active(anon)", (total - free) // kb), ("Inactive(anon)", 0),
        ("Active(file)", 0), ("Inactive(file)", 0), ("Unevictable", 0), ("Mlocked", 0),
        ("SwapTotal", 0), ("SwapFree", 0), ("Dirty", 0), ("Writeback", 0),
        ("AnonPages", (total - free) // kb), ("Mapped", 0), ("Shmem", 0), ("KReclaimable", 0),
        ("Slab", 0), ("SReclaimable", 0), ("SUnreclaim", 0), ("KernelStack", 0),
        ("PageTables", 0), ("NFS_Unstable", 0), ("Bounce", 0), ("WritebackTmp", 0),
        ("CommitLimit", total // kb), ("Committed_AS", (total - free) // kb),
        ("VmallocTotal", 34359738367), ("VmallocUsed", 0), ("VmallocChunk", 0),
        ("Percpu", 0), ("HardwareCorrupted", 0), ("AnonHugePages", 0), ("ShmemHugePages", 0),
        ("ShmemPmdMapped", 0), ("FileHugePages", 0), ("FilePmdMapped", 0),
    ]
    out = "".join(f"{(name + ':'):<16}{v:>8} kB\n" for name, v in rows)
    out += ("HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\n"
            "HugePages_Surp:        0\nHugepagesize:       2048 kB\nHugetlb:               0 kB\n")
    return out


def cpuinfo(task: Any) -> str:
    """The host's, cut to the guest's CPU count (processors renumbered)."""
    n = _ncpus(task)
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        text = ""
    blocks = [b for b in text.split("\n\n") if b.strip()]
    if not blocks:
        blocks = ["processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: quark vCPU\n"
                  "flags\t\t: fpu sse sse2\nbogomips\t: 4000.00"]
    out = []
    for i in range(n):
        b = blocks[i % len(blocks)]
        lines = []
        for line in b.splitlines():
            key = line.split(":", 1)[0].strip()
            if key == "processor":
                line = f"processor\t: {i}"
            elif key in ("core id", "apicid", "initial apicid"):
                line = f"{line.split(':', 1)[0]}: {i}"
            elif key in ("siblings", "cpu cores"):
                line = f"{line.split(':', 1)[0]}: {n}"
            elif key == "physical id":
                line = f"{line.split(':', 1)[0]}: 0"
            lines.append(line)
        out.append("\n".join(lines) + "\n")
    return "\n".join(out) + "\n"


def uptime(task: Any) -> str:
    up = _uptime(task)
    return f"{up:.2f} {up * _ncpus(task):.2f}\n"


def loadavg(task: Any) -> str:
    k = task.kernel
    last = max(k.thread_groups) if k.thread_groups else 1
    return f"0.00 0.00 0.00 1/{max(1, len(k.tasks))} {last}\n"


def stat(task: Any) -> str:
    k = task.kernel
    n = _ncpus(task)
    up = _uptime(task)
    busy = sum(t.cpu_time_ns for t in k.tasks.values()) * 100 // 1_000_000_000
    idle = max(0, int(up * 100) * n - busy)
    lines = [f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0"]
    for i in range(n):
        lines.append(f"cpu{i} {busy // n} 0 0 {idle // n} 0 0 0 0 0 0")
    btime = int(time.time() - up)
    last = max(k.thread_groups) if k.thread_groups else 1
    lines += ["intr 0", "ctxt 0", f"btime {btime}", f"processes {last}",
              "procs_running 1", "procs_blocked 0", "softirq 0 0 0 0 0 0 0 0 0 0 0"]
    return "\n".join(lines) + "\n"


def version(task: Any) -> str:
    rel, ver = _release()
    return f"Linux version {rel} (quark@quark) (gcc, GNU ld) {ver}\n"


FILESYSTEMS = ("nodev\tsysfs\nnodev\ttmpfs\nnodev\tbdev\nnodev\tproc\nnodev\tcgroup\nnodev\tcgroup2\n"
               "nodev\tdevtmpfs\nnodev\tbinfmt_misc\nnodev\tdebugfs\nnodev\tsecurityfs\n"
               "nodev\tsockfs\nnodev\tpipefs\nnodev\tdevpts\nnodev\tmqueue\nnodev\toverlay\n\text4\n")


def populate(fs: "ProcFileSystem", root: DirNode) -> None:
    c = root.children
    c["meminfo"] = fs.text(meminfo)
    c["cpuinfo"] = fs.text(cpuinfo)
    c["uptime"] = fs.text(uptime)
    c["loadavg"] = fs.text(loadavg)
    c["stat"] = fs.text(stat)
    c["version"] = fs.text(version)
    c["filesystems"] = fs.text(FILESYSTEMS)
    c["swaps"] = fs.text("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
    c["cmdline"] = fs.text("quark\n")

    def d(parent: DirNode, name: str) -> DirNode:
        node = DirNode(fs.new_ino(), abi.S_IFDIR | 0o555)
        parent.children[name] = node
        return node

    sys_ = d(root, "sys")
    kernel = d(sys_, "kernel")
    kc = kernel.children
    kc["hostname"] = fs.text(lambda t: f"{t.kernel.hostname}\n")
    kc["domainname"] = fs.text(lambda t: f"{t.kernel.domainname or '(none)'}\n")
    kc["ostype"] = fs.text(f"{OSTYPE}\n")
    kc["osrelease"] = fs.text(lambda t: f"{_release()[0]}\n")
    kc["version"] = fs.text(lambda t: f"{_release()[1]}\n")
    kc["pid_max"] = fs.text(f"{PID_MAX}\n")
    kc["threads-max"] = fs.text("126000\n")
    kc["ngroups_max"] = fs.text("65536\n")
    kc["cap_last_cap"] = fs.text("40\n")
    kc["overflowuid"] = fs.text("65534\n")
    kc["overflowgid"] = fs.text("65534\n")
    kc["randomize_va_space"] = fs.text("2\n")
    rnd = d(kernel, "random")
    boot_id = random_uuid()
    rnd.children["boot_id"] = fs.text(f"{boot_id}\n")
    rnd.children["uuid"] = fs.text(lambda t: f"{random_uuid()}\n")
    rnd.children["entropy_avail"] = fs.text("256\n")
    rnd.children["poolsize"] = fs.text("256\n")
    vm = d(sys_, "vm")
    vm.children["overcommit_memory"] = fs.text("0\n")
    vm.children["overcommit_ratio"] = fs.text("50\n")
    vm.children["max_map_count"] = fs.text("65530\n")
    fsd = d(sys_, "fs")
    fsd.children["file-max"] = fs.text("9223372036854775807\n")
    fsd.children["nr_open"] = fs.text("1048576\n")
    fsd.children["pipe-max-size"] = fs.text("1048576\n")
