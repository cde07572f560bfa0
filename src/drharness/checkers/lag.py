"""Replication-lag checker: p50/p95/p99/max per store from the lag monitor's samples.

Percentiles are nearest-rank (the value of an actual sample, never interpolated below a spike).
A store fails when its chosen percentile (default p99) exceeds its threshold; the defaults are the
stores' replication promises: Aurora Global Database ~1 s, DynamoDB global tables well under a
minute, S3 RTC 15 min. A sample with ``lag_ms: null`` means the monitor could not measure (e.g.
replication paused); it is counted as ``unmeasured`` and a store with only such samples is unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from drharness.checkers.base import UNKNOWN, Result, Valid, coerce_opts, finish, merge_valid, value_field
from drharness.history import LAG, Event

__all__ = ["DEFAULT_THRESHOLDS_MS", "NAME", "LagOpts", "check", "percentile"]

NAME: Final = "replication_lag"
DEFAULT_THRESHOLDS_MS: Final[Mapping[str, float]] = {"aurora": 1000.0, "dynamodb": 60000.0, "s3": 900000.0}


@dataclass(frozen=True)
class LagOpts:
    """``thresholds_ms``: per store, merged over ``DEFAULT_THRESHOLDS_MS`` (a store without one is
    reported, not judged). ``percentile``: which one is judged (99 = p99). ``stores``: stores that
    must have samples, else unknown (default: the stores seen)."""

    thresholds_ms: Mapping[str, float] = field(default_factory=dict)
    percentile: float = 99.0
    stores: Sequence[str] | None = None


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of ascending values (p in (0, 100])."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def check(history: Sequence[Event], opts: LagOpts | dict[str, Any] | None = None) -> Result:
    """Lag verdict per store; figures match the report's ``replication_lag_ms``."""
    o = coerce_opts(opts, LagOpts)
    if not 0 < o.percentile <= 100:
        raise ValueError(f"LagOpts.percentile must be in (0, 100], got {o.percentile}")
    return finish(NAME, history, lambda: _check(history, o))


def _check(history: Sequence[Event], o: LagOpts) -> Result:
    thresholds = {**DEFAULT_THRESHOLDS_MS, **o.thresholds_ms}
    samples: dict[str, list[float]] = {}
    unmeasured: dict[str, int] = {}
    for e in history:
        if e.role != LAG or e.f != "lag" or e.type != "ok":
            continue
        store = value_field(e, "store", str)
        lag = value_field(e, "lag_ms", (int, float), optional=True)
        if lag is None or not math.isfinite(lag):
            unmeasured[store] = unmeasured.get(store, 0) + 1
            samples.setdefault(store, [])
        else:
            samples.setdefault(store, []).append(float(lag))

    stores = list(dict.fromkeys([*(o.stores or ()), *samples]))
    label = f"p{o.percentile:g}"
    per_store: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    valids: list[Valid] = []
    for store in stores:
        values = sorted(samples.get(store, []))
        fig: dict[str, Any] = {"samples": len(values), "unmeasured": unmeasured.get(store, 0)}
        threshold = thresholds.get(store)
        fig["threshold_ms"] = threshold
        if not values:
            fig.update(p50=None, p95=None, p99=None, max=None)
            valids.append(UNKNOWN)
            problems.append(f"{store}: no lag samples")
        else:
            fig.update(
                p50=percentile(values, 50),
                p95=percentile(values, 95),
                p99=percentile(values, 99),
                max=values[-1],
            )
            judged = percentile(values, o.percentile)
            fig["judged"] = {"percentile": label, "value_ms": judged}
            if threshold is not None and judged > threshold:
                valids.append(False)
                problems.append(
                    f"{store}: {label} lag {judged:.0f} ms > {threshold:.0f} ms (max {values[-1]:.0f} ms)"
                )
            else:
                valids.append(True)
        per_store[store] = fig

    valid = merge_valid(valids)
    if not stores:
        detail = "no lag samples in the history"
    elif valid is True:
        detail = ", ".join(f"{s} {label} {f['judged']['value_ms']:.0f} ms" for s, f in per_store.items())
    else:
        detail = "; ".join(problems)
    return Result(
        name=NAME, valid=valid, figures={"per_store": per_store, "percentile": label}, detail=detail
    )
