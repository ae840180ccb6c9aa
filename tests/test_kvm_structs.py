"""spec/structs/kvm.yaml (generated ctypes) agrees with <linux/kvm.h> (via cffi)."""
from __future__ import annotations

import ctypes

import pytest

from generated import structs
from qvisor.kvm import ffi

CHECKED = ["kvm_regs", "kvm_segment", "kvm_dtable", "kvm_sregs", "kvm_userspace_memory_region",
           "kvm_msr_entry", "kvm_cpuid_entry2", "kvm_xcr"]


@pytest.mark.parametrize("name", CHECKED)
def test_layout_matches_kernel_header(name: str) -> None:
    cls = getattr(structs, name)
    assert ctypes.sizeof(cls) == ffi.sizeof(f"struct {name}")
    for field, *_ in cls._fields_:
        if field.startswith(("pad", "_", "reserved")):
            continue
        try:
            want = ffi.offsetof(f"struct {name}", field)
        except (KeyError, ffi.error, TypeError):
            continue          # a field the cffi declaration leaves opaque
        assert getattr(cls, field).offset == want, field
