"""Builds quark's C core (vcpu.c) as a cffi extension, in place.

Run by `make native` (python -m qvisor.native.build). The struct
declarations below are checked by cffi against the real <linux/kvm.h> at
build time, so their layouts cannot drift from the kernel's.
"""
from __future__ import annotations

import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent

CDEF = r"""
#define KVM_GET_API_VERSION ...
#define KVM_CREATE_VM ...
#define KVM_CHECK_EXTENSION ...
#define KVM_GET_VCPU_MMAP_SIZE ...
#define KVM_GET_SUPPORTED_CPUID ...
#define KVM_CREATE_VCPU ...
#define KVM_SET_USER_MEMORY_REGION ...
#define KVM_RUN ...
#define KVM_GET_REGS ...
#define KVM_SET_REGS ...
#define KVM_GET_SREGS ...
#define KVM_SET_SREGS ...
#define KVM_SET_MSRS ...
#define KVM_GET_MSRS ...
#define KVM_SET_CPUID2 ...
#define KVM_GET_XCRS ...
#define KVM_SET_XCRS ...
#define KVM_GET_XSAVE ...
#define KVM_SET_XSAVE ...
#define KVM_CAP_SYNC_REGS ...
#define KVM_CAP_XCRS ...
#define KVM_SYNC_X86_REGS ...
#define KVM_SYNC_X86_SREGS ...
#define KVM_SYNC_X86_EVENTS ...
#define KVM_EXIT_UNKNOWN ...
#define KVM_EXIT_EXCEPTION ...
#define KVM_EXIT_IO ...
#define KVM_EXIT_HLT ...
#define KVM_EXIT_MMIO ...
#define KVM_EXIT_SHUTDOWN ...
#define KVM_EXIT_FAIL_ENTRY ...
#define KVM_EXIT_INTERNAL_ERROR ...
#define KVM_EXIT_INTR ...
#define KVM_EXIT_SYSTEM_EVENT ...
#define KVM_EXIT_IO_IN ...
#define KVM_EXIT_IO_OUT ...

struct kvm_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
};
struct kvm_segment {
    uint64_t base; uint32_t limit; uint16_t selector;
    uint8_t type, present, dpl, db, s, l, g, avl, unusable, padding;
};
struct kvm_dtable { uint64_t base; uint16_t limit; ...; };
struct kvm_sregs {
    struct kvm_segment cs, ds, es, fs, gs, ss, tr, ldt;
    struct kvm_dtable gdt, idt;
    uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
    uint64_t interrupt_bitmap[4];
};
struct kvm_userspace_memory_region {
    uint32_t slot; uint32_t flags; uint64_t guest_phys_addr;
    uint64_t memory_size; uint64_t userspace_addr;
};
struct kvm_msr_entry { uint32_t index; uint32_t reserved; uint64_t data; };
struct kvm_msrs { uint32_t nmsrs; uint32_t pad; struct kvm_msr_entry entries[]; };
struct kvm_cpuid_entry2 {
    uint32_t function, index, flags, eax, ebx, ecx, edx; uint32_t padding[3];
};
struct kvm_cpuid2 { uint32_t nent; uint32_t padding; struct kvm_cpuid_entry2 entries[]; };
struct kvm_xcr { uint32_t xcr; uint32_t reserved; uint64_t value; };
struct kvm_xcrs { uint32_t nr_xcrs; uint32_t flags; struct kvm_xcr xcrs[16]; ...; };

struct qv_io { uint8_t direction; uint8_t size; uint16_t port; uint32_t count; uint64_t data_offset; };
struct qv_sync { struct kvm_regs regs; struct kvm_sregs sregs; };

struct kvm_run {
    uint8_t request_interrupt_window;
    uint8_t immediate_exit;
    uint32_t exit_reason;
    uint64_t kvm_valid_regs;
    uint64_t kvm_dirty_regs;
    ...;
};

int qv_run(int vcpu_fd, struct kvm_run *run);
int qv_kick(struct kvm_run *run, unsigned long thread, int sig);
unsigned long qv_thread_self(void);
int qv_ioctl(int fd, unsigned long req, void *arg);
int qv_ioctl_int(int fd, unsigned long req, unsigned long arg);
struct qv_io *qv_run_io(struct kvm_run *run);
struct qv_sync *qv_run_sync(struct kvm_run *run);
uint64_t qv_run_hw_reason(struct kvm_run *run);
uint32_t qv_run_suberror(struct kvm_run *run);
uint64_t qv_host_xcr0(void);

void qv_set_slot_layout(int req_seq_word, int done_seq_word, int awake_word);
int qv_slot_register(int index, uint64_t host_addr);
int qv_max_slots(void);
int qv_claim(int index, uint64_t seq);
void qv_publish(int index, uint64_t seq);
void qv_wait_answered(int index, uint64_t seq);
uint64_t qv_read_req_seq(int index);
void qv_poller_wake(void);
int qv_poller_start(uint64_t idle_spin_ns);
void qv_poller_stop(void);

extern "Python" void qv_serve_slot(int index, uint64_t seq);
"""

SOURCE = (HERE / "vcpu.c").read_text() + r"""
struct qv_io { uint8_t direction; uint8_t size; uint16_t port; uint32_t count; uint64_t data_offset; };
struct qv_sync { struct kvm_regs regs; struct kvm_sregs sregs; };
struct qv_io *qv_run_io(struct kvm_run *run) { return (struct qv_io *)&run->io; }
struct qv_sync *qv_run_sync(struct kvm_run *run) { return (struct qv_sync *)&run->s.regs; }
uint64_t qv_run_hw_reason(struct kvm_run *run) { return run->hw.hardware_exit_reason; }
uint32_t qv_run_suberror(struct kvm_run *run) { return run->internal.suberror; }
"""


def make_ffi() -> FFI:
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source("qvisor.native._qvnative", SOURCE, extra_compile_args=["-O2", "-std=gnu11"],
                   libraries=["pthread"])
    return ffi


def main() -> None:
    ffi = make_ffi()
    root = HERE.parent.parent
    ffi.compile(tmpdir=str(root), verbose=False)
    print("built qvisor/native/_qvnative")


if __name__ == "__main__":
    main()
