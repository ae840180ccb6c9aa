"""The C side of QCall: claiming requests exactly once."""
from __future__ import annotations

import ctypes

from generated import qcall as qc
from qvisor.kvm import lib

INDEX = 127          # a slot no test sandbox uses


def make_slot(req_seq: int) -> ctypes.Array:
    slot = (ctypes.c_uint64 * (qc.SLOT_SIZE // 8))()
    slot[qc.SLOT_REQ_SEQ // 8] = req_seq
    lib.qv_set_slot_layout(qc.SLOT_REQ_SEQ // 8, qc.SLOT_DONE_SEQ // 8, qc.SLOT_POLLER_AWAKE // 8)
    assert lib.qv_slot_register(INDEX, ctypes.addressof(slot)) == 0
    return slot


def test_a_request_is_claimed_once() -> None:
    slot = make_slot(0)
    assert lib.qv_claim(INDEX, 1) == 1
    assert lib.qv_claim(INDEX, 1) == 0
    lib.qv_publish(INDEX, 1)
    assert slot[qc.SLOT_DONE_SEQ // 8] == 1
    assert lib.qv_claim(INDEX, 2) == 1


def test_reregistered_slot_does_not_replay_the_last_request() -> None:
    # A vCPU handed to a new task keeps its slot: what was posted before
    # counts as served, so the poller cannot run it again.
    slot = make_slot(41)
    assert lib.qv_claim(INDEX, 41) == 0
    assert slot[qc.SLOT_DONE_SEQ // 8] == 41
    assert lib.qv_claim(INDEX, 42) == 1
