"""FPU/SSE/AVX state in a signal frame, converted from and to KVM's xsave area.

KVM_GET_XSAVE gives 4096 bytes in XSAVE's standard (non-compacted) format:
the 512-byte FXSAVE region, the 64-byte XSAVE header at 512, then each
enabled component at its architectural offset. Linux puts the same format
in the frame (it runs XSAVE straight into the user buffer) and marks it with
`struct _fpx_sw_bytes` in the FXSAVE region's software-reserved bytes 464..511
plus FP_XSTATE_MAGIC2 right after the area; glibc and programs that walk the
frame check those markers, so they are reproduced byte for byte.
"""
from __future__ import annotations

import struct
from pathlib import Path

KVM_XSAVE_SIZE = 4096
FXSAVE_SIZE = 512
XSAVE_HDR_OFF = 512
XSAVE_HDR_SIZE = 64
XSAVE_MIN = FXSAVE_SIZE + XSAVE_HDR_SIZE
SW_BYTES_OFF = 464
FP_XSTATE_MAGIC1 = 0x46505853
FP_XSTATE_MAGIC2 = 0x46505845
MAGIC2_SIZE = 4
MXCSR_OFF = 24
MXCSR_MASK = 0xFFFF          # every CPU quark targets supports DAZ
FPSSE = 0x3                  # x87 and SSE: always in a frame
_SW_BYTES = struct.Struct("<IIQI28x")   # magic1, extended_size, xfeatures, xstate_size, padding

# Standard-format (offset, size) of the user components that fit in KVM's
# 4096-byte area. These offsets are architectural (CPUID 0xD reports the
# same on every Intel and AMD part that has the component).
COMPONENTS: dict[int, tuple[int, int]] = {
    2: (576, 256),      # AVX (YMM upper halves)
    3: (960, 64),       # MPX bound registers
    4: (1024, 64),      # MPX bound config
    5: (1088, 64),      # AVX-512 opmask
    6: (1152, 512),     # AVX-512 ZMM_Hi256
    7: (1664, 1024),    # AVX-512 Hi16_ZMM
    9: (2688, 8),       # PKRU
}
# AMX tile data (bits 17/18) is a dynamic feature: Linux leaves it out of a
# frame unless the process asked for it, and it would not fit in 4096 bytes.
KNOWN_XFEATURES = FPSSE | sum(1 << b for b in COMPONENTS)

_CPUINFO_FLAGS = {"avx": 0x4, "mpx": 0x18, "avx512f": 0xE0, "ospke": 0x200}


def host_xfeatures() -> int:
    """XCR0 as far as /proc/cpuinfo shows it (the guest runs with the host's
    XCR0). Used when the machine layer has not told the kernel (`kernel.xcr0`)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return FPSSE
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            value = FPSSE
            for name, bits in _CPUINFO_FLAGS.items():
                if name in flags:
                    value |= bits
            return value
    return FPSSE


_cached_xfeatures: int | None = None


def user_xfeatures(kernel: object = None) -> int:
    global _cached_xfeatures
    xcr0 = getattr(kernel, "xcr0", None)
    if xcr0 is None:
        if _cached_xfeatures is None:
            _cached_xfeatures = host_xfeatures()
        xcr0 = _cached_xfeatures
    return (xcr0 | FPSSE) & KNOWN_XFEATURES


def xstate_size(xfeatures: int) -> int:
    """Bytes of the standard-format area holding `xfeatures` (CPUID 0xD.0 EBX)."""
    end = XSAVE_MIN
    for bit, (off, size) in COMPONENTS.items():
        if xfeatures & (1 << bit):
            end = max(end, off + size)
    return end


def frame_size(xfeatures: int) -> int:
    """What the frame reserves for the fpstate (Linux's xstate_sigframe_size)."""
    return xstate_size(xfeatures) + MAGIC2_SIZE


def init_area() -> bytearray:
    """A KVM xsave area in the FPU's reset state (FNINIT, default MXCSR)."""
    area = bytearray(KVM_XSAVE_SIZE)
    struct.pack_into("<H", area, 0, 0x037F)                  # FCW
    struct.pack_into("<II", area, MXCSR_OFF, 0x1F80, MXCSR_MASK)
    return area


PKRU_BIT = 9


def handler_area(current: bytes | None) -> bytes:
    """The FPU a handler starts with: reset, except PKRU, which keeps the
    protection keys in force (Linux's fpu__clear_user_states)."""
    area = init_area()
    if current:
        bv = struct.unpack_from("<Q", current, XSAVE_HDR_OFF)[0] & (1 << PKRU_BIT)
        off, size = COMPONENTS[PKRU_BIT]
        area[off:off + size] = current[off:off + size]
        struct.pack_into("<Q", area, XSAVE_HDR_OFF, bv)
    return bytes(area)


def to_frame(kvm_area: bytes | None, xfeatures: int) -> bytes:
    """The fpstate bytes to write at the (64-byte aligned) frame address."""
    area = bytearray(kvm_area[:KVM_XSAVE_SIZE]) if kvm_area else init_area()
    area = area.ljust(KVM_XSAVE_SIZE, b"\0")
    size = xstate_size(xfeatures)
    buf = bytearray(area[:size])
    _SW_BYTES.pack_into(buf, SW_BYTES_OFF, FP_XSTATE_MAGIC1, size + MAGIC2_SIZE,
                        xfeatures, size)
    bv = struct.unpack_from("<Q", buf, XSAVE_HDR_OFF)[0]
    # Linux marks x87/SSE present so a plain XRSTOR of the frame restores them.
    struct.pack_into("<QQ", buf, XSAVE_HDR_OFF, (bv | FPSSE) & xfeatures, 0)
    buf[XSAVE_HDR_OFF + 16:XSAVE_MIN] = bytes(XSAVE_MIN - XSAVE_HDR_OFF - 16)
    return bytes(buf) + struct.pack("<I", FP_XSTATE_MAGIC2)


def read_sw_bytes(fx: bytes) -> tuple[int, int, int, int]:
    """(magic1, extended_size, xfeatures, xstate_size) of a frame's FXSAVE region."""
    return _SW_BYTES.unpack_from(fx, SW_BYTES_OFF)


def from_frame(mm: object, addr: int, current: bytes | None, xfeatures: int) -> bytes:
    """Rebuild the 4096-byte KVM area from the fpstate at guest `addr`, as
    Linux's sigreturn does: a valid XSAVE image (both magics) restores the
    features it names; anything else restores x87/SSE only and resets the
    rest. Values the guest controls are sanitized so KVM_SET_XSAVE cannot
    refuse them (MXCSR reserved bits, header bits outside XCR0).
    Raises SyscallError(EFAULT) when the memory is unreadable."""
    area = bytearray(current[:KVM_XSAVE_SIZE]) if current else init_area()
    area = area.ljust(KVM_XSAVE_SIZE, b"\0")
    fx = mm.copy_in(addr, FXSAVE_SIZE)                       # type: ignore[attr-defined]
    magic1, ext_size, sw_features, size = read_sw_bytes(fx)
    valid = (magic1 == FP_XSTATE_MAGIC1 and XSAVE_MIN <= size <= xstate_size(xfeatures)
             and size <= ext_size)
    if valid:
        valid = mm.read_u32(addr + size) == FP_XSTATE_MAGIC2   # type: ignore[attr-defined]
    old_bv = struct.unpack_from("<Q", area, XSAVE_HDR_OFF)[0]
    if valid:
        image = mm.copy_in(addr, size)                       # type: ignore[attr-defined]
        rfbm = sw_features & xfeatures
        frame_bv = struct.unpack_from("<Q", image, XSAVE_HDR_OFF)[0]
        if rfbm & FPSSE:
            area[:SW_BYTES_OFF] = image[:SW_BYTES_OFF]
        for bit, (off, csize) in COMPONENTS.items():
            if rfbm & (1 << bit) and off + csize <= size:
                area[off:off + csize] = image[off:off + csize]
        # XRSTOR: requested features come from the frame (init where its
        # XSTATE_BV is clear); unrequested ones keep their current value.
        new_bv = (old_bv & ~rfbm) | (frame_bv & rfbm)
    else:
        area[:SW_BYTES_OFF] = fx[:SW_BYTES_OFF]
        new_bv = FPSSE                                       # the rest to init state
    mxcsr = struct.unpack_from("<I", area, MXCSR_OFF)[0]
    struct.pack_into("<I", area, MXCSR_OFF, mxcsr & MXCSR_MASK)
    area[SW_BYTES_OFF:FXSAVE_SIZE] = bytes(FXSAVE_SIZE - SW_BYTES_OFF)
    struct.pack_into("<QQ", area, XSAVE_HDR_OFF, new_bv & xfeatures, 0)
    area[XSAVE_HDR_OFF + 16:XSAVE_MIN] = bytes(XSAVE_MIN - XSAVE_HDR_OFF - 16)
    return bytes(area)
