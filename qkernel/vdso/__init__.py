"""The vDSO: a tiny shared object QKernel maps into every process.

`vdso.c` (built by `python -m qkernel.vdso.build` into vdso.so) serves
clock_gettime, gettimeofday, time, clock_getres and getcpu; the time calls
read the data page `vvar.py` keeps, mapped read-only just below the image.

One `Vdso` per sandbox (`vdso_for(kernel, mm)`, kept as `kernel.vdso`): the
image's frames and the data page are allocated once and pinned in the page
cache, so every process maps the same frames and no munmap frees them.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from qkernel.mm.physmem import PAGE
from qkernel.mm.vma import MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ
from qkernel.vdso.vvar import Vvar

IMAGE_PATH = Path(__file__).resolve().parent / "vdso.so"


def _page_up(n: int) -> int:
    return (n + PAGE - 1) & ~(PAGE - 1)


def flatten(image: bytes) -> bytes:
    """The image as mapped: its one PT_LOAD laid out from address 0 (build.py checks)."""
    from qkernel.loader.elfheaders import PT_LOAD, parse_headers
    _, phdrs = parse_headers(image)
    (load,) = [p for p in phdrs if p.p_type == PT_LOAD]
    out = bytearray(_page_up(load.p_vaddr + load.p_memsz))
    out[load.p_vaddr:load.p_vaddr + load.p_filesz] = image[load.p_offset:load.p_offset + load.p_filesz]
    return bytes(out)


class Vdso:
    def __init__(self, cache: Any, image: bytes, boot_monotonic_ns: int,
                 use_tsc: bool | None = None) -> None:
        self.image = image
        flat = flatten(image)
        self.size = len(flat)
        frames = cache.frames
        self.vvar_frame = frames.alloc()
        self.text_frames = frames.alloc_many(self.size // PAGE)
        view = cache.memory.view
        for i, frame in enumerate(self.text_frames):
            view[frame:frame + PAGE] = flat[i * PAGE:(i + 1) * PAGE]
        cache.pin([self.vvar_frame, *self.text_frames])
        self.cache = cache
        self.vvar = Vvar(cache.memory, self.vvar_frame, boot_monotonic_ns, use_tsc)

    def map_into(self, mm: Any) -> int:
        """Map [vvar][vdso image] into `mm`; returns the image's base (AT_SYSINFO_EHDR)."""
        total = PAGE + self.size
        start = mm.find_free(total)
        for frame in (self.vvar_frame, *self.text_frames):
            self.cache.ref(frame)
        mm.map_anonymous(start, PAGE, PROT_READ, MAP_FIXED | MAP_PRIVATE, name="[vvar]",
                         frames=[self.vvar_frame])
        mm.map_anonymous(start + PAGE, self.size, PROT_READ | PROT_EXEC, MAP_FIXED | MAP_PRIVATE,
                         name="[vdso]", frames=list(self.text_frames))
        return start + PAGE


def load_image(path: Path = IMAGE_PATH) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def vdso_for(kernel: Any, mm: Any, log: logging.Logger | None = None) -> Vdso | None:
    """The sandbox's vDSO, made on first use; None when the image was not built
    (programs then run without one: libc falls back to syscalls)."""
    vdso = getattr(kernel, "vdso", None)
    if vdso is not None:
        return vdso
    if getattr(kernel, "vdso_missing", False):
        return None
    from qkernel.mm.pagecache import page_cache_for
    image = load_image()
    if image is None:
        (log or logging.getLogger("quark")).warning(
            "vDSO image %s not built (make gen): running without a vDSO", IMAGE_PATH)
        kernel.vdso_missing = True
        return None
    cache = page_cache_for(kernel, mm)
    vdso = Vdso(cache, image, int(getattr(kernel, "boot_monotonic_ns", 0) or 0))
    vdso.vvar.start()
    kernel.vdso = vdso
    return vdso
