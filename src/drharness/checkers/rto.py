"""RTO checker: how long clients went without healthy service, measured from the client side.

RTO = fault start (first nemesis fault invoke; without a fault, the first orchestrator step start)
→ recovery point T. T is the completion time of the first probe of the *final uninterrupted run*
of healthy probes served by the new region: every probe that completed after T was ``ok`` (2xx)
and served there. Probes are ordered by completion time; a ``fail`` or ``info`` (timeout) probe
breaks the run, so a flap after recovery moves T later. A probe that never completed (in flight
when the prober stopped) has no completion time and neither proves nor breaks recovery. The run
must hold at least ``min_probes`` probes, otherwise the drill ended before recovery was shown and
the check fails. Using completion times makes the figure conservative (never shorter than what a
client saw).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from drharness.checkers.base import UNKNOWN, Result, coerce_opts, finish, value_field
from drharness.checkers.timeline import first_fault, phases, probe_healthy, probe_ops, step_spans
from drharness.history import ORCHESTRATOR, Event, Op, ops_for

__all__ = ["NAME", "RtoOpts", "check"]

NAME: Final = "rto"


@dataclass(frozen=True)
class RtoOpts:
    """``slo_s``: RTO objective. ``min_probes``: length of the healthy run that proves recovery.
    ``new_region``: where traffic must recover (default: the region of the last healthy probe).
    ``old_region``: the faulted region (default: the fault's ``target_region``).
    ``floor_seconds``: the profile's physical floor (health check interval × threshold + TTL + ...),
    reported with ``ratio`` = seconds / floor. ``start``: "auto" (fault, else first orchestrator
    step), "fault" or "orchestrator"."""

    slo_s: float = 900.0
    min_probes: int = 3
    new_region: str | None = None
    old_region: str | None = None
    floor_seconds: float | None = None
    start: str = "auto"


def check(history: Sequence[Event], opts: RtoOpts | dict[str, Any] | None = None) -> Result:
    """RTO verdict: valid iff the prober recovered in the new region within ``slo_s``."""
    o = coerce_opts(opts, RtoOpts)
    if o.start not in ("auto", "fault", "orchestrator"):
        raise ValueError(f"RtoOpts.start must be auto, fault or orchestrator, got {o.start!r}")
    if o.min_probes < 1:
        raise ValueError(f"RtoOpts.min_probes must be >= 1, got {o.min_probes}")
    return finish(NAME, history, lambda: _check(history, o))


def _reference(history: Sequence[Event], o: RtoOpts) -> tuple[float, str, str | None] | None:
    fault = first_fault(history)
    if fault is not None and o.start in ("auto", "fault"):
        assert fault.invoke is not None
        return fault.t, "fault", value_field(fault.invoke, "target_region", str, optional=True)
    if o.start in ("auto", "orchestrator"):
        step = next((op for op in ops_for(history, ORCHESTRATOR, "step") if op.invoke is not None), None)
        if step is not None:
            return step.t, "orchestrator", None
    return None


def _check(history: Sequence[Event], o: RtoOpts) -> Result:
    ref = _reference(history, o)
    if ref is None:
        want = {"auto": "nemesis fault or orchestrator step", "fault": "nemesis fault"}.get(o.start, o.start)
        return Result(name=NAME, valid=UNKNOWN, detail=f"no start event ({want}) in the history")
    start, source, fault_region = ref
    old_region = o.old_region or fault_region

    completed = sorted((op for op in probe_ops(history) if op.t_end is not None), key=_end)
    figures: dict[str, Any] = {
        "seconds": None,
        "slo_s": o.slo_s,
        "floor_seconds": o.floor_seconds,
        "ratio": None,
        "start": start,
        "start_source": source,
        "recovered_at": None,
        "old_region": old_region,
        "new_region": o.new_region,
        "new_region_inferred": False,
        "probes": len(completed),
        "unhealthy_probes_after_start": sum(
            1 for op in completed if _end(op) >= start and not probe_healthy(op)
        ),
        "final_run_probes": 0,
        "min_probes": o.min_probes,
    }
    if not completed:
        return Result(
            name=NAME, valid=UNKNOWN, figures=figures, detail="no completed prober ops in the history"
        )

    new_region = o.new_region
    if new_region is None:
        last_healthy = next((op for op in reversed(completed) if probe_healthy(op)), None)
        if last_healthy is None:
            return Result(
                name=NAME, valid=False, figures=figures, detail="no healthy probe at all: never recovered"
            )
        new_region = last_healthy.region
        figures["new_region"] = new_region
        figures["new_region_inferred"] = True

    run: list[Op] = []
    for op in reversed(completed):
        if not (probe_healthy(op) and op.region == new_region):
            break
        run.append(op)
    run.reverse()
    figures["final_run_probes"] = len(run)
    _add_phases(figures, history, start, new_region, old_region)

    if len(run) < o.min_probes:
        last = completed[-1]
        detail = (
            f"probes never recovered in {new_region}: the final run of healthy probes served there has "
            f"{len(run)} probe(s), need >= {o.min_probes}; last probe at +{_end(last) - start:.1f}s was "
            f"{last.type} from {last.region}"
        )
        return Result(name=NAME, valid=False, figures=figures, detail=detail)

    recovered_at = _end(run[0])
    seconds = max(0.0, recovered_at - start)
    figures["recovered_at"] = recovered_at
    figures["seconds"] = seconds
    if o.floor_seconds:
        figures["ratio"] = seconds / o.floor_seconds
    valid = seconds <= o.slo_s
    note = f" (recovered in the faulted region {new_region}: no failover)" if new_region == old_region else ""
    detail = (
        f"RTO {seconds:.1f}s {'<=' if valid else '>'} SLO {o.slo_s:g}s: healthy in {new_region} from "
        f"+{seconds:.1f}s after {source} start, {len(run)} probes since{note}"
    )
    return Result(name=NAME, valid=valid, figures=figures, detail=detail)


def _end(op: Op) -> float:
    assert op.t_end is not None
    return op.t_end


def _add_phases(
    figures: dict[str, Any],
    history: Sequence[Event],
    start: float,
    new_region: str | None,
    old_region: str | None,
) -> None:
    found = phases(history, start=start, new_region=new_region, old_region=old_region)
    figures["phases"] = {name: iv.seconds for name, iv in found.items()}
    figures["phase_intervals"] = {name: iv.to_dict(start) for name, iv in found.items()}
    figures["steps"] = {name: iv.to_dict(start) for name, iv in step_spans(history, after=start).items()}
