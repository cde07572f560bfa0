"""Last-writer-wins checker for DynamoDB global tables: pure over a history (no AWS calls).

Why: a global table resolves concurrent writes to one key in two regions by keeping the write
with the latest timestamp. After convergence both regions must hold the *same* item, and it must
be a write that could have been last. "Could have been last" is decided from the writers' own
invoke/completion times: write W cannot be the winner if another acknowledged write W2 to the key
*started after W had completed* (W2 then certainly carries a later timestamp). Overlapping writes
are concurrent: either may win. A write with an unknown outcome (``info``) may have happened at
any time up to the end, so it can win and never disqualifies another. A failed write must not win.

Vocabulary (DESIGN §4 style):

- role ``lww`` (process ``lww:<region>:<n>``), ``f="write"``: ``invoke`` then ``ok|fail|info``,
  value ``{"key": str, "value": str}`` (values unique per write), region = region written;
- role ``lww-read``, ``f="read"``: bare ``ok`` after convergence, value ``{"key", "value"}``
  (``value`` null = item absent), region = region read. The last read per (key, region) counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from drharness.checkers.base import UNKNOWN, Result, coerce_opts, finish, value_field
from drharness.history import Event, HistoryError, Op, pair_ops

__all__ = ["NAME", "READER", "WRITER", "LwwOpts", "check"]

NAME: Final = "dynamodb_lww"
WRITER: Final = "lww"
READER: Final = "lww-read"


@dataclass(frozen=True)
class LwwOpts:
    """``clock_skew_s``: W2 must start this much after W completed to be certainly later (regions'
    clocks differ a little on AWS). ``regions``: regions that must have a final read (default: all
    seen). ``require_complete``: a history without its drill end is ``unknown``."""

    clock_skew_s: float = 0.0
    regions: Sequence[str] | None = None
    require_complete: bool = True
    max_reported: int = 20


@dataclass
class _Write:
    key: str
    value: str
    region: str | None
    type: str  # ok | fail | info
    start: float
    end: float  # math.inf when the outcome is unknown
    op: Op = field(repr=False, compare=False)


def check(history: Sequence[Event], opts: LwwOpts | dict[str, Any] | None = None) -> Result:
    """Verdict: every key converged to one value, and that value is a possible last writer's."""
    o = coerce_opts(opts, LwwOpts)
    if o.require_complete:
        return finish(NAME, history, lambda: _check(history, o))
    return _check(history, o)


def _writes(history: Sequence[Event]) -> dict[str, list[_Write]]:
    out: dict[str, list[_Write]] = {}
    for op in pair_ops(history):
        if op.role != WRITER or op.f != "write":
            continue
        key = value_field(op, "key", str)
        val = value_field(op, "value", str)
        end = op.t_end if op.type != "info" and op.t_end is not None else math.inf
        out.setdefault(key, []).append(_Write(key, val, op.region, op.type, op.t, end, op))
    return out


def _reads(history: Sequence[Event]) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for e in history:
        if e.role != READER or e.f != "read" or e.type != "ok":
            continue
        key = value_field(e, "key", str)
        if e.region is None:
            raise HistoryError(f"event #{e.index} ({e.process} read t={e.t}): a final read needs its region")
        val = e.value.get("value") if isinstance(e.value, dict) else None
        if val is not None and not isinstance(val, str):
            raise HistoryError(f"event #{e.index}: value.value must be a string or null, got {type(val).__name__}")
        out.setdefault(key, {})[e.region] = val
    return out


def _check(history: Sequence[Event], o: LwwOpts) -> Result:
    writes = _writes(history)
    reads = _reads(history)
    regions = list(o.regions) if o.regions is not None else sorted({r for rs in reads.values() for r in rs})
    problems: list[dict[str, Any]] = []
    unknown: list[str] = []
    winners: dict[str, dict[str, Any]] = {}
    for key in sorted(writes.keys() | reads.keys()):
        ws = writes.get(key, [])
        rs = reads.get(key, {})
        missing = [r for r in regions if r not in rs]
        if missing or not rs:
            unknown.append(f"{key}: no final read in {', '.join(missing) or 'any region'}")
            continue
        finals = set(rs.values())
        if len(finals) > 1:
            problems.append({"key": key, "problem": "diverged", "final": rs})
            continue
        final = next(iter(finals))
        by_value: dict[str, list[_Write]] = {}
        for w in ws:
            by_value.setdefault(w.value, []).append(w)
        if len(by_value.get(final or "", [])) > 1:
            raise HistoryError(f"key {key}: value {final!r} written more than once; LWW needs unique values")
        if final is None:
            if any(w.type == "ok" for w in ws):
                problems.append({"key": key, "problem": "acknowledged writes but the item is absent", "final": None})
            continue
        winner = by_value.get(final, [None])[0]
        if winner is None:
            problems.append({"key": key, "problem": "final value was never written", "final": final})
            continue
        if winner.type == "fail":
            problems.append({"key": key, "problem": "final value is from a failed write", "final": final,
                             "winner_region": winner.region})
            continue
        later = [w for w in ws if w.type == "ok" and w is not winner and w.start > winner.end + o.clock_skew_s]
        if later:
            last = max(later, key=lambda w: w.start)
            problems.append({
                "key": key, "problem": "an older write won", "final": final, "winner_region": winner.region,
                "winner_completed_at": winner.end, "later_write": last.value, "later_region": last.region,
                "later_started_at": last.start,
                "later_by_s": round(last.start - winner.end, 6)})
            continue
        winners[key] = {"value": final, "region": winner.region, "concurrent_with": sum(
            1 for w in ws if w is not winner and w.type != "fail" and w.start <= winner.end and winner.start <= w.end)}
    figures = {"keys": len(writes.keys() | reads.keys()), "writes": sum(len(v) for v in writes.values()),
               "acknowledged": sum(1 for v in writes.values() for w in v if w.type == "ok"),
               "regions": regions, "violations": problems[: o.max_reported], "violation_count": len(problems),
               "unknown": unknown[: o.max_reported],
               "winners": dict(list(winners.items())[: o.max_reported]),
               "contested_keys": sum(1 for w in winners.values() if w["concurrent_with"])}
    if problems:
        first = problems[0]
        detail = f"{len(problems)} key(s) violate last-writer-wins; e.g. {first['key']}: {first['problem']}"
        return Result(name=NAME, valid=False, figures=figures, detail=detail)
    if unknown or not figures["keys"]:
        detail = "; ".join(unknown[:3]) if unknown else "no lww writes in the history"
        return Result(name=NAME, valid=UNKNOWN, figures=figures, detail=detail)
    return Result(name=NAME, valid=True, figures=figures, detail=(
        f"{figures['keys']} keys converged to a last writer's value in {', '.join(regions)} "
        f"({figures['contested_keys']} with concurrent writes)"))
