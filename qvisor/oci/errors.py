"""The one error type of the OCI layer.

A BundleError is a user's mistake (a bad bundle or config.json), not a bug:
the CLI prints its message as one line and exits 1, without a traceback.
"""
from __future__ import annotations


class BundleError(Exception):
    """A bundle or its config.json cannot be used; str() is a one-line message."""

    def __init__(self, msg: str) -> None:
        # Keep it to one line whatever the caller passed: the CLI prints it raw.
        super().__init__(" ".join(str(msg).split()))
