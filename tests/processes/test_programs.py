"""C programs for threads, spawning and orphan reaping (tests/programs/proc_*.c),
static in the busybox bundle and dynamic in the host bundle, compared with
their native runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.guest import run_native, write_config
from tests.processes.helpers import (assert_same, run_container, run_native_ns,
                                     set_process)

PTHREAD_OUT = "threads=8 total=1000000 joined=1000000 expected=1000000\n"


def test_pthread_static(bb_bundle: Path) -> None:
    args = ["/t/proc_pthread", "8", "1000000"]
    write_config(bb_bundle, args)
    got = run_container(bb_bundle)
    assert_same(got, run_native(bb_bundle / "rootfs", args))
    assert (got.status, got.stdout) == (0, PTHREAD_OUT)


def test_pthread_dynamic(host_bundle: Path) -> None:
    set_process(host_bundle, ["/t/proc_pthread_dyn", "8", "1000000"], cwd="/")
    got = run_container(host_bundle)
    assert_same(got, run_native_ns(host_bundle))
    assert (got.status, got.stdout) == (0, PTHREAD_OUT)


@pytest.mark.parametrize("mode", ["fork", "vfork", "posix_spawn"])
def test_spawn_true_100_times(bb_bundle: Path, mode: str) -> None:
    args = ["/t/proc_spawn", mode, "/bin/true", "100"]
    write_config(bb_bundle, args)
    got = run_container(bb_bundle)
    assert_same(got, run_native(bb_bundle / "rootfs", args))
    assert got.status == 0
    assert got.stdout == (f"{mode}: 100/100 exited 0, pids changed 100 times, "
                          "no children left: yes\n")


def test_spawn_dynamic_true(host_bundle: Path) -> None:
    # A dynamic parent execs the host's dynamic coreutils true.
    set_process(host_bundle, ["/t/proc_spawn_dyn", "fork", "/usr/bin/true", "100"], cwd="/")
    got = run_container(host_bundle)
    assert_same(got, run_native_ns(host_bundle))
    assert got.status == 0


def test_orphan_reparented_to_pid1(bb_bundle: Path) -> None:
    # The native run must be PID 1 of its own PID namespace as well.
    write_config(bb_bundle, ["/t/proc_orphan"])
    got = run_container(bb_bundle)
    assert_same(got, run_native_ns(bb_bundle))
    assert got.status == 0
    assert got.stdout == ("init pid=1\norphan ppid=1\n"
                          "reaped child=1 orphan=1 other=0 errno=ECHILD\n")


def test_orphan_under_shell_init(bb_bundle: Path) -> None:
    # A shell is PID 1. A subshell starts an inner sh in the background, waits
    # until it is running, and exits: the inner sh is orphaned and must be
    # adopted by PID 1. It waits until its PPid changes, then records it.
    script = r"""
rm -f /tmp/orphan.*
( sh -c 'p=$PPID; touch /tmp/orphan.started; i=0
         while grep -q "^PPid:[[:space:]]*$p\$" /proc/$$/status && [ $i -lt 200 ]; do
           sleep 0.05; i=$((i+1))
         done
         { [ "$p" != 1 ] && echo "first parent was not init"
           grep ^PPid: /proc/$$/status | tr -d "\t "; } > /tmp/orphan.tmp
         mv /tmp/orphan.tmp /tmp/orphan.out' &
  while [ ! -e /tmp/orphan.started ]; do sleep 0.05; done )
i=0
while [ ! -s /tmp/orphan.out ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
cat /tmp/orphan.out; rm -f /tmp/orphan.*
"""
    write_config(bb_bundle, ["/bin/sh", "-c", script])
    got = run_container(bb_bundle)
    assert_same(got, run_native_ns(bb_bundle))
    assert got.stdout == "first parent was not init\nPPid:1\n"
