"""Checkers: pure functions ``check(history, opts) -> Result`` over a drill history (DESIGN.md §5).

They import nothing from drharness but ``history`` and this package, so a verdict can be recomputed
from a history file anywhere, with no lab and no AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from drharness.checkers import availability, dns, lag, rpo, rto, timeline
from drharness.checkers.base import UNKNOWN, Result, Valid, check_safe, coerce_opts, compose, merge_valid
from drharness.history import Event

__all__ = [
    "CHECKERS",
    "UNKNOWN",
    "Result",
    "Valid",
    "availability",
    "check_all",
    "check_safe",
    "coerce_opts",
    "compose",
    "dns",
    "lag",
    "merge_valid",
    "rpo",
    "rto",
    "timeline",
]

Checker = Callable[[Sequence[Event], Any], Result]

# Report name → checker (the report's ``replication_lag_ms`` comes from "replication_lag").
CHECKERS: Final[Mapping[str, Checker]] = {
    rto.NAME: rto.check,
    rpo.NAME: rpo.check,
    lag.NAME: lag.check,
    availability.NAME: availability.check,
    dns.NAME: dns.check,
}


def check_all(
    history: Sequence[Event], opts: Mapping[str, Any] | None = None, *, only: Sequence[str] | None = None
) -> dict[str, Result]:
    """Run checkers safely (exceptions → unknown); ``opts`` maps checker name → its opts."""
    opts = opts or {}
    unknown = sorted(set(opts) - set(CHECKERS))
    if unknown:
        raise ValueError(f"opts for unknown checker(s): {', '.join(unknown)}; known: {sorted(CHECKERS)}")
    names = list(only) if only is not None else list(CHECKERS)
    missing = sorted(set(names) - set(CHECKERS))
    if missing:
        raise ValueError(f"unknown checker(s): {', '.join(missing)}; known: {sorted(CHECKERS)}")
    return {name: check_safe(CHECKERS[name], history, opts.get(name), name=name) for name in names}
