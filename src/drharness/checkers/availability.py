"""Availability checker: what the drill cost in client-visible errors and error budget.

Probes are taken in completion order. A downtime interval opens at the *invoke* time of the first
unhealthy probe (``fail``, ``info``/timeout, or non-2xx) and closes at the completion of the next
healthy probe, from any region; if none follows, it closes at the drill end (or the last probe).
Using the failed request's send time and the healthy answer's arrival errs long, never short.
Probes still in flight (no completion) count as requests but not errors.

The error budget of a monthly availability SLA is ``(1 − sla) × period``: 99.95 % over 30 days is
21.6 min; ``budget_consumed`` is downtime as a fraction of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from drharness.checkers.base import UNKNOWN, Result, coerce_opts, finish
from drharness.checkers.timeline import drill_interval, probe_healthy, probe_ops
from drharness.history import Event, Op

__all__ = ["NAME", "AvailabilityOpts", "check"]

NAME: Final = "availability"
MONTH_S: Final = 30 * 24 * 3600.0


@dataclass(frozen=True)
class AvailabilityOpts:
    """``sla``: monthly availability objective. ``period_s``: the SLA period. ``max_budget_fraction``:
    how much of the period's error budget one drill may consume before the check fails."""

    sla: float = 0.9995
    period_s: float = MONTH_S
    max_budget_fraction: float = 1.0


def check(history: Sequence[Event], opts: AvailabilityOpts | dict[str, Any] | None = None) -> Result:
    """Requests, errors, downtime and error budget consumed; valid iff within ``max_budget_fraction``."""
    o = coerce_opts(opts, AvailabilityOpts)
    if not 0 < o.sla < 1:
        raise ValueError(f"AvailabilityOpts.sla must be in (0, 1), got {o.sla}")
    return finish(NAME, history, lambda: _check(history, o))


def _check(history: Sequence[Event], o: AvailabilityOpts) -> Result:
    probes = probe_ops(history)
    completed = sorted((op for op in probes if op.t_end is not None), key=_end)
    errors = [op for op in completed if not probe_healthy(op)]
    budget_s = (1.0 - o.sla) * o.period_s

    windows: list[dict[str, Any]] = []
    down_since: float | None = None
    for op in completed:
        if probe_healthy(op):
            if down_since is not None:
                windows.append({"start": down_since, "end": _end(op), "seconds": _end(op) - down_since})
                down_since = None
        elif down_since is None:
            down_since = op.t
    ongoing = down_since is not None
    if down_since is not None:
        drill = drill_interval(history)
        end = drill.end if drill is not None and drill.end is not None else _end(completed[-1])
        end = max(end, down_since)
        windows.append({"start": down_since, "end": end, "seconds": end - down_since, "ongoing": True})

    downtime = sum(w["seconds"] for w in windows)
    figures: dict[str, Any] = {
        "requests": len(probes),
        "errors": len(errors),
        "in_flight": len(probes) - len(completed),
        "success_ratio": (len(completed) - len(errors)) / len(completed) if completed else None,
        "downtime_s": downtime,
        "downtime_windows": windows,
        "ongoing_at_end": ongoing,
        "sla": o.sla,
        "error_budget_s": budget_s,
        "budget_consumed": downtime / budget_s,
    }
    if not completed:
        return Result(
            name=NAME, valid=UNKNOWN, figures=figures, detail="no completed probes: availability unknown"
        )
    consumed = figures["budget_consumed"]
    valid = consumed <= o.max_budget_fraction
    detail = (
        f"{len(errors)}/{len(completed)} probes failed, downtime {downtime:.1f}s = {consumed:.1%} of the "
        f"{o.sla:.2%} error budget ({budget_s / 60:.1f} min)"
        + ("" if valid else f" > allowed {o.max_budget_fraction:.0%}")
        + (" (still down at the end)" if ongoing else "")
    )
    return Result(name=NAME, valid=valid, figures=figures, detail=detail)


def _end(op: Op) -> float:
    assert op.t_end is not None
    return op.t_end
