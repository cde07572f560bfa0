"""Which part of a drill's history each checker judges (pure functions; shared by the drill runner and
the Chaos Toolkit judge so both cut the same windows)."""

from __future__ import annotations

from collections.abc import Sequence

from drharness.history import Event


def lag_outside(history: Sequence[Event], start: float | None, end: float | None) -> list[Event]:
    """Replication lag is judged in steady state: lag samples between ``start`` (the disruption) and
    ``end`` (the recovery that follows it) are left out; a cut link makes lag grow by design."""
    return [e for e in history if e.process != "lag" or start is None
            or e.t < start or (end is not None and e.t > end)]


def failback_start(history: Sequence[Event]) -> float | None:
    """When the orchestrator's failback began (None: no failback in this history)."""
    return next((e.t for e in history if e.process == "orchestrator" and e.type == "invoke"
                 and isinstance(e.value, dict) and e.value.get("kind") == "failback"), None)


def before_failback(history: Sequence[Event], fb_start: float | None) -> list[Event]:
    """RTO and stale-DNS judge the failover only: the failback's own flip back is not a regression."""
    return [e for e in history if fb_start is None or e.t < fb_start or e.process == "harness"]
