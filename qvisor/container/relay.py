"""`quark exec -t` without a console socket: the caller's own terminal is
relayed to the container process's pty, as runc does for a foreground exec.

The relaying process is not the pty's owner: a forked stand-in is (session
leader, the pty as its controlling terminal), so ^C typed here reaches the
pty's line discipline as a byte and comes back to the stand-in as SIGINT,
which it forwards into the container. This process copies bytes both ways
(our terminal in raw mode), copies window sizes, and when the pty closes
exits with the stand-in's status.
"""
from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import termios
import tty

from qvisor.container.hostproc import wait_exit_code

_WINSIZE = b"\0" * 8


def relay_terminal(master: int, standin: int, standin_done: int) -> int:
    """Relay until the pty closes or the stand-in ends (`standin_done`, the
    read end of a pipe whose write end only the stand-in holds, reaches
    EOF); the stand-in's exit status."""
    def copy_size(*_args: object) -> None:
        try:
            fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, _WINSIZE))
        except OSError:
            pass
    saved = None
    if os.isatty(0):
        copy_size()
        signal.signal(signal.SIGWINCH, copy_size)
        saved = termios.tcgetattr(0)
        tty.setraw(0)
    try:
        _copy(master, standin_done)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
        os.close(standin_done)
    return wait_exit_code(standin)


def _copy(master: int, standin_done: int) -> None:
    inputs = [0, master, standin_done]
    while True:
        try:
            ready, _, _ = select.select(inputs, [], [])
        except InterruptedError:
            continue
        if master in ready and not _pass_output(master):
            return
        if 0 in ready:
            data = os.read(0, 4096)
            if data:
                os.write(master, data)
            else:                      # our stdin ended: the pty sees end-of-file
                os.write(master, b"\x04")
                inputs.remove(0)
        if standin_done in ready:
            # The process is gone: pass on what it wrote last, then stop.
            while select.select([master], [], [], 0.05)[0] and _pass_output(master):
                pass
            return


def _pass_output(master: int) -> bool:
    """Copy what the pty has to our stdout; False once it is closed."""
    try:
        data = os.read(master, 4096)
    except OSError as err:
        if err.errno == errno.EIO:      # every slave fd closed: the process is gone
            return False
        raise
    if not data:
        return False
    os.write(1, data)
    return True
