"""Every guest stub, disassembled with capstone and checked."""
from __future__ import annotations

import pathlib

import capstone
import pytest

from codegen import boot
from generated import boot_stubs
from qvisor import layout
from generated import qcall as qc

ROOT = pathlib.Path(__file__).resolve().parent.parent
SLOT = qc.PAGE_VA + qc.SLOT_OFFSET
STUBS = {"trampoline_pvm": boot_stubs.TRAMPOLINE_PVM, "trampoline_vmx": boot_stubs.TRAMPOLINE_VMX,
         "exceptions": boot_stubs.EXCEPTIONS}


def disassemble(stub: boot_stubs.Stub) -> list[capstone.CsInsn]:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    insns = list(md.disasm(stub.code, stub.va))
    assert sum(i.size for i in insns) == len(stub.code), "undecodable bytes in the stub"
    return insns


def memory_targets(insn: capstone.CsInsn) -> list[int]:
    out = []
    for op in insn.operands:
        if op.type == capstone.x86.X86_OP_MEM and op.mem.base in (0, capstone.x86.X86_REG_RIP):
            if op.mem.base == capstone.x86.X86_REG_RIP:
                out.append(insn.address + insn.size + op.mem.disp)
            else:
                out.append(op.mem.disp & 0xFFFFFFFFFFFFFFFF)
    return out


def test_generated_stubs_are_current() -> None:
    expected = boot.generate(ROOT / "spec", ROOT / "boot")["generated/boot_stubs.py"]
    assert (ROOT / "generated" / "boot_stubs.py").read_text() == expected, "run `make gen`"


@pytest.mark.parametrize("name", sorted(STUBS))
def test_stub_decodes_and_labels_are_instruction_starts(name: str) -> None:
    stub = STUBS[name]
    starts = {i.address for i in disassemble(stub)}
    for label, addr in stub.labels.items():
        assert addr in starts, f"{name}: label {label} is not at an instruction"


@pytest.mark.parametrize("name", ["trampoline_pvm", "trampoline_vmx"])
def test_trampoline_touches_only_its_slot(name: str) -> None:
    # keystone once encoded `mov reg, [abs]` with a wrong displacement: every
    # absolute or RIP-relative access must land inside the QCall slot.
    for insn in disassemble(STUBS[name]):
        for target in memory_targets(insn):
            assert SLOT <= target < SLOT + qc.SLOT_SIZE, f"{insn.mnemonic} {insn.op_str}"


def test_pvm_trampoline_has_no_privileged_instructions() -> None:
    # It runs at ring 3 under kvm_pvm: only the allowed `out` to the QCall port.
    for insn in disassemble(boot_stubs.TRAMPOLINE_PVM):
        assert insn.mnemonic not in ("sysret", "sysretq", "iretq", "hlt", "invlpg", "cli", "sti")
        if insn.mnemonic == "out":
            assert insn.op_str == f"{qc.PORT_QCALL:#x}, al"


def test_trampoline_preserves_red_zone() -> None:
    # The only stack write is popfq's push, after moving 128 bytes below rsp.
    insns = disassemble(boot_stubs.TRAMPOLINE_PVM)
    pushes = [i for i, insn in enumerate(insns) if insn.mnemonic == "push"]
    assert len(pushes) == 1
    before = insns[pushes[0] - 1]
    assert before.mnemonic == "lea" and before.op_str == "rsp, [rsp - 0x80]"


def test_exception_entries_fit_the_ring0_budget() -> None:
    # Ring-0 code is interpreted under kvm_pvm: each entry is a handful of instructions.
    stub = boot_stubs.EXCEPTIONS
    insns = disassemble(stub)
    by_addr = {i.address: n for n, i in enumerate(insns)}
    for v in range(32):
        first = by_addr[stub.labels[f"vec{v}"]]
        jumps = [i for i in insns[first:first + 3] if i.mnemonic == "jmp"]
        assert jumps and int(jumps[0].op_str, 16) == stub.labels["common"]
    assert stub.va >= layout.PHYSMAP_BASE


def test_pvm_trampoline_writes_only_syscall_clobbers() -> None:
    # Linux's syscall clobbers rax, rcx and r11 only; rsp moves and comes back.
    allowed = {"rax", "eax", "al", "rcx", "r11", "r11d", "rsp", "rip", "rflags"}
    for insn in disassemble(boot_stubs.TRAMPOLINE_PVM):
        _, written = insn.regs_access()
        names = {insn.reg_name(r) for r in written}
        assert names <= allowed, f"{insn.mnemonic} {insn.op_str} writes {names - allowed}"


def test_native_core_has_a_slot_per_vcpu() -> None:
    from qvisor.kvm import lib
    assert lib.qv_max_slots() == layout.MAX_VCPUS
