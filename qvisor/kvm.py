"""Thin bindings to /dev/kvm on top of the cffi core (qvisor/native).

Struct layouts come from <linux/kvm.h> through cffi (checked at build
time); only ioctls quark uses are wrapped.
"""
from __future__ import annotations

import mmap
import os
from typing import Any

from qvisor.native import _qvnative  # type: ignore[attr-defined]

ffi = _qvnative.ffi
lib = _qvnative.lib

KVM_API_VERSION = 12


class KvmError(Exception):
    """A KVM ioctl failed; the message names the call and the errno."""


def _check(result: int, what: str) -> int:
    if result < 0:
        raise KvmError(f"{what}: {os.strerror(-result)}")
    return result


class Kvm:
    """An open /dev/kvm."""

    def __init__(self, path: str = "/dev/kvm") -> None:
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise KvmError(f"cannot open {path}: {exc.strerror}") from None
        version = lib.qv_ioctl_int(self.fd, lib.KVM_GET_API_VERSION, 0)
        if version != KVM_API_VERSION:
            raise KvmError(f"unsupported KVM API version {version}")
        self.run_size = _check(lib.qv_ioctl_int(self.fd, lib.KVM_GET_VCPU_MMAP_SIZE, 0),
                               "KVM_GET_VCPU_MMAP_SIZE")

    def check_extension(self, cap: int) -> int:
        return lib.qv_ioctl_int(self.fd, lib.KVM_CHECK_EXTENSION, cap)

    def supported_cpuid(self) -> Any:
        nent = 128
        while True:
            buf = ffi.new("char[]", 8 + nent * ffi.sizeof("struct kvm_cpuid_entry2"))
            cpuid = ffi.cast("struct kvm_cpuid2 *", buf)
            cpuid.nent = nent
            r = lib.qv_ioctl(self.fd, lib.KVM_GET_SUPPORTED_CPUID, cpuid)
            if r == -7 and nent < 4096:     # E2BIG
                nent *= 2
                continue
            _check(r, "KVM_GET_SUPPORTED_CPUID")
            return cpuid, buf

    def create_vm(self) -> "VmHandle":
        fd = _check(lib.qv_ioctl_int(self.fd, lib.KVM_CREATE_VM, 0), "KVM_CREATE_VM")
        return VmHandle(self, fd)

    def close(self) -> None:
        os.close(self.fd)


class VmHandle:
    def __init__(self, kvm: Kvm, fd: int) -> None:
        self.kvm = kvm
        self.fd = fd

    def set_memory(self, slot: int, guest_phys: int, size: int, host_addr: int) -> None:
        region = ffi.new("struct kvm_userspace_memory_region *")
        region.slot = slot
        region.flags = 0
        region.guest_phys_addr = guest_phys
        region.memory_size = size
        region.userspace_addr = host_addr
        _check(lib.qv_ioctl(self.fd, lib.KVM_SET_USER_MEMORY_REGION, region),
               "KVM_SET_USER_MEMORY_REGION")

    def create_vcpu(self, index: int) -> "VcpuHandle":
        fd = _check(lib.qv_ioctl_int(self.fd, lib.KVM_CREATE_VCPU, index), "KVM_CREATE_VCPU")
        return VcpuHandle(self, fd)

    def close(self) -> None:
        os.close(self.fd)


class VcpuHandle:
    def __init__(self, vm: VmHandle, fd: int) -> None:
        self.vm = vm
        self.fd = fd
        self._run_map = mmap.mmap(fd, vm.kvm.run_size, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE)
        self.run = ffi.cast("struct kvm_run *", ffi.from_buffer(self._run_map))
        self.sync = lib.qv_run_sync(self.run)
        self.io = lib.qv_run_io(self.run)

    def get_sregs(self) -> Any:
        sregs = ffi.new("struct kvm_sregs *")
        _check(lib.qv_ioctl(self.fd, lib.KVM_GET_SREGS, sregs), "KVM_GET_SREGS")
        return sregs

    def set_sregs(self, sregs: Any) -> None:
        _check(lib.qv_ioctl(self.fd, lib.KVM_SET_SREGS, sregs), "KVM_SET_SREGS")

    def get_regs(self) -> Any:
        regs = ffi.new("struct kvm_regs *")
        _check(lib.qv_ioctl(self.fd, lib.KVM_GET_REGS, regs), "KVM_GET_REGS")
        return regs

    def set_regs(self, regs: Any) -> None:
        _check(lib.qv_ioctl(self.fd, lib.KVM_SET_REGS, regs), "KVM_SET_REGS")

    def set_msrs(self, values: dict[int, int]) -> None:
        buf = ffi.new("char[]", 8 + 16 * len(values))
        msrs = ffi.cast("struct kvm_msrs *", buf)
        msrs.nmsrs = len(values)
        for i, (index, data) in enumerate(sorted(values.items())):
            msrs.entries[i].index = index
            msrs.entries[i].data = data
        done = _check(lib.qv_ioctl(self.fd, lib.KVM_SET_MSRS, msrs), "KVM_SET_MSRS")
        if done != len(values):
            bad = sorted(values)[done]
            raise KvmError(f"KVM_SET_MSRS: MSR {bad:#x} refused")

    def set_cpuid(self, cpuid: Any) -> None:
        _check(lib.qv_ioctl(self.fd, lib.KVM_SET_CPUID2, cpuid), "KVM_SET_CPUID2")

    def set_xcr0(self, value: int) -> None:
        xcrs = ffi.new("struct kvm_xcrs *")
        xcrs.nr_xcrs = 1
        xcrs.xcrs[0].xcr = 0
        xcrs.xcrs[0].value = value
        _check(lib.qv_ioctl(self.fd, lib.KVM_SET_XCRS, xcrs), "KVM_SET_XCRS")

    def close(self) -> None:
        self._run_map.close()
        os.close(self.fd)
