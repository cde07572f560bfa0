"""Test hook shared by the harness: ``DRHARNESS_CRASH_AT=<point>`` SIGKILLs the process there."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_disarmed = threading.Event()


def crash_point(name: str) -> None:
    """kill -9 ourselves at ``name`` when asked (recovery tests); a no-op otherwise."""
    if os.environ.get("DRHARNESS_CRASH_AT") == name and not _disarmed.is_set():
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def disarmed() -> Iterator[None]:
    """No crash point fires inside: the recovery of a dead run runs orchestrator steps too (a failback),
    and a test that kills a drill at, say, the failback's ``drain`` means the drill's own failback."""
    _disarmed.set()
    try:
        yield
    finally:
        _disarmed.clear()
