"""Which kind of KVM this host has: kvm_pvm (software, nested) or hardware.

The two differ in where `syscall` lands (DESIGN §3): under kvm_pvm a ring-3
`syscall` reaches LSTAR still at ring 3, so the entry trampoline returns
with popfq + jmp; on hardware VMX/SVM it lands at ring 0 and returns with
sysret. Everything else is shared.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    name: str            # "pvm" or "hardware"
    trampoline: str      # name of the boot stub used as the syscall entry


def detect(sys_module: str = "/sys/module") -> Platform:
    if os.path.isdir(os.path.join(sys_module, "kvm_pvm")):
        return Platform("pvm", "trampoline_pvm")
    return Platform("hardware", "trampoline_vmx")
