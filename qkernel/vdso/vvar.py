"""The vDSO's data page ("vvar"): what the kernel publishes for user-space time.

Layout (little-endian; vdso.c's struct vvar must match):
  0 u32 seq        odd while the kernel rewrites the page
  4 u32 mode       1: the TSC fields are valid; 0: the vDSO makes syscalls
  8 u64 tsc_base   guest TSC at the anchor
 16 u64 mono_base  guest CLOCK_MONOTONIC (ns since the sandbox started) at the anchor
 24 u64 real_base  CLOCK_REALTIME (ns) at the anchor
 32 u64 mult       ns = base + ((tsc - tsc_base) * mult) >> shift
 40 u32 shift
The guest's clocks are QKernel's (qkernel/clock.py): realtime is the host's,
monotonic counts from kernel.boot_monotonic_ns.

Until `start()` has calibrated (CALIBRATION_S on its own thread) the page
says mode 0 and the vDSO makes syscalls.
Accuracy: the scale is first measured over CALIBRATION_S, then `refresh()`
re-anchors on fresh host readings and re-measures the scale over the whole
time since start (so it converges); the monotonic anchor never moves back,
so the guest's monotonic clock never goes backwards across a refresh.
"""
from __future__ import annotations

import struct
import threading
import time
from typing import Any

from qkernel.vdso import tsc

LAYOUT = struct.Struct("<IIQQQQI")
OFF_SEQ = 0
CALIBRATION_S = 0.02
REFRESH_S = 1.0


class Vvar:
    def __init__(self, memory: Any, frame: int, boot_monotonic_ns: int,
                 use_tsc: bool | None = None) -> None:
        self.memory = memory
        self.frame = frame
        self.boot_ns = boot_monotonic_ns
        self.seq = 0
        self.guest_tsc_offset = 0          # guest TSC - host TSC
        self.mult = 0
        self.shift = 32
        self.enabled = tsc.tsc_usable() if use_tsc is None else use_tsc
        self._first: tuple[int, int, int] | None = None
        self._anchor: tuple[int, int, int] | None = None   # (host tsc, guest mono, real)
        self._stop = threading.Event()
        self._lock = threading.Lock()      # the refresher thread and the kernel both publish
        # Until calibrated (start(), off the start-up path), the vDSO makes syscalls.
        self.publish()

    # ---- measuring ------------------------------------------------------------
    def calibrate(self, seconds: float = CALIBRATION_S) -> None:
        first = tsc.sample()
        time.sleep(seconds)
        last = tsc.sample()
        self._first = first
        self.mult, self.shift = tsc.scale(last[0] - first[0], last[1] - first[1])
        self._anchor = (last[0], last[1] - self.boot_ns, last[2])
        self.publish()

    def refresh(self) -> None:
        """Re-anchor on the host clocks (NTP steps realtime; the scale drifts)."""
        if not self.enabled or self._first is None or self._anchor is None:
            return
        now = tsc.sample()
        old_tsc, old_mono, _ = self._anchor
        # What a guest reading the current page at this TSC gets: never go below it.
        extrapolated = old_mono + (((now[0] - old_tsc) * self.mult) >> self.shift)
        self.mult, self.shift = tsc.scale(now[0] - self._first[0], now[1] - self._first[1])
        mono = now[1] - self.boot_ns
        self._anchor = (now[0], max(mono, extrapolated), now[2])
        self.publish()

    def set_guest_tsc_offset(self, offset: int) -> None:
        """The guest's TSC reads host TSC + offset (hardware KVM's TSC offset)."""
        self.guest_tsc_offset = offset
        self.publish()

    def disable(self) -> None:
        """The guest's TSC cannot be trusted: the vDSO asks the kernel from now on."""
        self.enabled = False
        self.publish()

    # ---- publishing -------------------------------------------------------------
    def publish(self) -> None:
        """Rewrite the page under the sequence count (odd while writing)."""
        with self._lock:
            self._publish()

    def _publish(self) -> None:
        view = self.memory.view
        self.seq += 1
        struct.pack_into("<I", view, self.frame + OFF_SEQ, self.seq & 0xFFFFFFFF)
        if self.enabled and self._anchor is not None:
            host_tsc, mono, real = self._anchor
            guest_tsc = (host_tsc + self.guest_tsc_offset) & 0xFFFFFFFFFFFFFFFF
            body = LAYOUT.pack(self.seq, 1, guest_tsc, max(mono, 0), real, self.mult, self.shift)
        else:
            body = LAYOUT.pack(self.seq, 0, 0, 0, 0, 0, 0)
        view[self.frame + 4:self.frame + LAYOUT.size] = body[4:]
        self.seq += 1
        struct.pack_into("<I", view, self.frame + OFF_SEQ, self.seq & 0xFFFFFFFF)

    def start(self, interval: float = REFRESH_S) -> threading.Thread | None:
        """Calibrate and then refresh every `interval` seconds on a daemon thread
        (calibrating sleeps, which start-up should not wait for)."""
        if not self.enabled:
            return None

        def loop() -> None:
            self.calibrate()
            while not self._stop.wait(interval):
                self.refresh()
        thread = threading.Thread(target=loop, name="quark-vvar", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    # ---- what the guest would compute (tests) -------------------------------------
    def guest_ns(self, guest_tsc: int, monotonic: bool) -> int | None:
        raw = bytes(self.memory.view[self.frame:self.frame + LAYOUT.size])
        seq, mode, tsc_base, mono, real, mult, shift = LAYOUT.unpack(raw)
        if mode != 1:
            return None
        delta = max(guest_tsc - tsc_base, 0)
        return (mono if monotonic else real) + ((delta * mult) >> shift)
