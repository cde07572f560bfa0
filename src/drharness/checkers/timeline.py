"""Intervals and phases of a drill, read from the history (not a checker).

Shared by the RTO checker (its phase breakdown) and the report (the timeline chart), so both tell
the same story from the same events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from drharness.checkers.base import value_field
from drharness.history import (
    AGGREGATOR,
    DRILL,
    HARNESS,
    NEMESIS,
    ORCHESTRATOR,
    PROBER,
    Event,
    Op,
    ops_for,
)

__all__ = [
    "PHASES",
    "Interval",
    "dns_answers",
    "drill_interval",
    "fault_intervals",
    "fault_start",
    "first_fault",
    "phases",
    "probe_healthy",
    "probe_ops",
    "step_intervals",
    "step_name",
    "step_spans",
    "timeline",
]

PHASES: Final[tuple[str, ...]] = ("detection", "decision", "aurora_promotion", "dns", "warmup", "validation")


@dataclass(frozen=True, slots=True)
class Interval:
    """A named span; ``end`` is None when it never finished (an op with unknown outcome)."""

    kind: str  # "drill" | "fault" | "step" | "phase"
    name: str
    start: float
    end: float | None
    outcome: str = "ok"  # ok | fail | info
    region: str | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def to_dict(self, t0: float | None = None) -> dict[str, Any]:
        """For reports; with ``t0`` also offsets from the drill (or fault) start."""
        d: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "start": self.start,
            "end": self.end,
            "seconds": self.seconds,
            "outcome": self.outcome,
            "region": self.region,
        }
        if t0 is not None:
            d["start_offset_s"] = self.start - t0
            d["end_offset_s"] = None if self.end is None else self.end - t0
        return d


def _interval(kind: str, name: str, op: Op, region: str | None = None) -> Interval:
    return Interval(kind, name, op.t, op.t_end, op.type, region if region is not None else op.region)


def drill_interval(history: Sequence[Event]) -> Interval | None:
    """The first drill (harness/drill invoke → its completion)."""
    for op in ops_for(history, HARNESS, DRILL):
        if op.invoke is not None:
            name = op.invoke_value.get("scenario", DRILL) if isinstance(op.invoke_value, dict) else DRILL
            return _interval("drill", str(name), op)
    return None


def first_fault(history: Sequence[Event]) -> Op | None:
    """The first injected fault: its invoke is the RTO/RPO reference time."""
    return next((op for op in ops_for(history, NEMESIS, "fault") if op.invoke is not None), None)


def fault_start(history: Sequence[Event]) -> float | None:
    op = first_fault(history)
    return None if op is None else op.t


def fault_intervals(history: Sequence[Event]) -> list[Interval]:
    """Each fault from injection to heal (end None if never healed)."""
    out = []
    for op in ops_for(history, NEMESIS, "fault"):
        if op.invoke is None:
            continue
        name = value_field(op.invoke, "fault", str, optional=True) or "fault"
        target = value_field(op.invoke, "target_region", str, optional=True)
        out.append(_interval("fault", name, op, target))
    return out


def step_name(op: Op) -> str:
    """The orchestrator step's name, from its invoke (the completion may add error details)."""
    item = op.invoke if op.invoke is not None else op.completion
    assert item is not None
    return str(value_field(item, "step", str))


def step_intervals(history: Sequence[Event]) -> list[Interval]:
    """Every orchestrator step attempt, in start order."""
    return [_interval("step", step_name(op), op) for op in ops_for(history, ORCHESTRATOR, "step")]


def step_spans(history: Sequence[Event], *, after: float | None = None) -> dict[str, Interval]:
    """Per step name: first attempt at/after ``after`` until its first ``ok`` attempt (retries count
    as part of the step). A later repeat (e.g. failback's dns step) is not merged in."""
    spans: dict[str, Interval] = {}
    settled: set[str] = set()
    for iv in step_intervals(history):
        if (after is not None and iv.start < after) or iv.name in settled:
            continue
        first = spans.get(iv.name)
        start = iv.start if first is None else first.start
        spans[iv.name] = Interval("step", iv.name, start, iv.end, iv.outcome, iv.region)
        if iv.outcome == "ok":
            settled.add(iv.name)
    return spans


def dns_answers(history: Sequence[Event], *, role: str | None = None) -> list[Event]:
    """Bare ``ok`` dns observations (``value.region`` = region the answer maps to), in order."""
    return [
        e
        for e in history
        if e.f == "dns" and e.type == "ok" and (role is None or e.role == role) and isinstance(e.value, dict)
    ]


def probe_ops(history: Sequence[Event]) -> list[Op]:
    """Prober ops (all prober threads), in start order."""
    return ops_for(history, PROBER, "probe")


def probe_healthy(op: Op) -> bool:
    """A healthy probe: ``ok`` and, when a status is logged, 2xx."""
    if op.type != "ok":
        return False
    status = value_field(op, "status", int, optional=True)
    return status is None or 200 <= status < 300


def phases(
    history: Sequence[Event],
    *,
    start: float,
    new_region: str | None = None,
    old_region: str | None = None,
) -> dict[str, Interval]:
    """The RTO phases that the history shows, in ``PHASES`` order; missing ones are left out.

    detection: ``start`` → the earlier of the decision step start and the first unhealthy aggregator
    verdict (for ``old_region`` if given). decision/aurora_promotion/warmup/validation: their step
    spans. dns: aurora_promotion end (else dns step start) → the first dns answer for ``new_region``
    seen by the prober (else the dns step end); 0 s if the prober saw it before promotion ended.
    """
    spans = step_spans(history, after=start)
    out: dict[str, Interval] = {}

    detected: list[float] = []
    if "decision" in spans:
        detected.append(spans["decision"].start)
    for e in history:
        if e.role == AGGREGATOR and e.f == "verdict" and e.type == "ok" and e.t >= start:
            healthy = value_field(e, "healthy", bool, optional=True)
            region = value_field(e, "region", str, optional=True)
            if healthy is False and (old_region is None or region == old_region):
                detected.append(e.t)
                break
    if detected:
        out["detection"] = Interval("phase", "detection", start, min(detected), "ok", old_region)

    for name in ("decision", "aurora_promotion"):
        if name in spans and spans[name].end is not None:
            out[name] = _as_phase(spans[name])

    promoted = spans.get("aurora_promotion")
    dns_start = promoted.end if promoted is not None and promoted.end is not None else None
    if dns_start is None and "dns" in spans:
        dns_start = spans["dns"].start
    if dns_start is not None:
        seen = None
        if new_region is not None:
            seen = next(
                (
                    e.t
                    for e in dns_answers(history, role=PROBER)
                    if e.t >= start and value_field(e, "region", str, optional=True) == new_region
                ),
                None,
            )
        if seen is None and "dns" in spans:
            seen = spans["dns"].end
        if seen is not None:
            out["dns"] = Interval("phase", "dns", dns_start, max(seen, dns_start), "ok", new_region)

    for name in ("warmup", "validation"):
        if name in spans and spans[name].end is not None:
            out[name] = _as_phase(spans[name])
    return {name: out[name] for name in PHASES if name in out}


def _as_phase(span: Interval) -> Interval:
    return Interval("phase", span.name, span.start, span.end, span.outcome, span.region)


def timeline(history: Sequence[Event]) -> list[Interval]:
    """Drill, faults and every step attempt, by start time: the report's Gantt rows."""
    rows: list[Interval] = []
    drill = drill_interval(history)
    if drill is not None:
        rows.append(drill)
    rows.extend(fault_intervals(history))
    rows.extend(step_intervals(history))
    return sorted(rows, key=lambda iv: iv.start)
