"""Test hook shared by the harness: ``DRHARNESS_CRASH_AT=<point>`` SIGKILLs the process there."""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    """kill -9 ourselves at ``name`` when asked (recovery tests); a no-op otherwise."""
    if os.environ.get("DRHARNESS_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
