"""RPO / lost-writes checker: acknowledged canary writes missing from the read-back.

Per store, an acknowledged write (canary ``write`` op completed ``ok``) is judged by the *last*
verifier ``read-all`` of that store that started after the acknowledgement (Jepsen's set checker
reads the final state): absent there → **lost**. A key missing from an earlier read but present in
the last is reported as ``late_keys`` (replication caught up), not lost. Writes acknowledged after
the last read are ``unverified``. ``info`` writes (unknown outcome) are never lost, whether present
or absent; a ``fail`` write that is present means the canary misreported an ambiguous error, which
``strict_fail`` turns into a failure. Only reads that start at/after the reference time count, so a
pre-fault read of the lagging secondary cannot invent losses.

RPO seconds (per store, overall = max): the span of acknowledged time lost,
``max(t_ref, last lost ack) − first lost ack``, where ``t_ref`` is the fault start (first nemesis
fault invoke), else the first orchestrator step start. With a replication lag L and nothing
accepted after the cut, that is ≈ L; writes lost *after* the fault (a region that kept acking)
lengthen it instead of hiding. 0 when nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from drharness.checkers.base import UNKNOWN, Result, Valid, coerce_opts, finish, merge_valid, value_field
from drharness.checkers.timeline import fault_start
from drharness.history import CANARY, ORCHESTRATOR, VERIFIER, Event, HistoryError, Op, ops_for

__all__ = ["NAME", "STORES", "RpoOpts", "check"]

NAME: Final = "rpo"
STORES: Final[tuple[str, ...]] = ("aurora", "dynamodb", "s3")


@dataclass(frozen=True)
class RpoOpts:
    """``slo_s``: RPO objective. ``zero_loss``: planned switchover, any lost write fails.
    ``stores``: stores that must have evidence (acks and a read-back), else unknown.
    ``read_region``: only read-alls of this region count (default: any).
    ``strict_fail``: a write logged ``fail`` but present in the read-back fails the check."""

    slo_s: float = 60.0
    zero_loss: bool = False
    stores: Sequence[str] = STORES
    read_region: str | None = None
    strict_fail: bool = True


def check(history: Sequence[Event], opts: RpoOpts | dict[str, Any] | None = None) -> Result:
    """Lost-write verdict: valid iff no store lost more than ``slo_s`` of acknowledged time
    (``zero_loss``: nothing at all) and every expected store had evidence."""
    o = coerce_opts(opts, RpoOpts)
    return finish(NAME, history, lambda: _check(history, o))


def _asked(op: Op) -> Event:
    first = op.invoke if op.invoke is not None else op.completion
    assert first is not None
    return first


def _reference(history: Sequence[Event]) -> float | None:
    start = fault_start(history)
    if start is not None:
        return start
    return next((op.t for op in ops_for(history, ORCHESTRATOR, "step") if op.invoke is not None), None)


def _check(history: Sequence[Event], o: RpoOpts) -> Result:
    t_ref = _reference(history)
    writes = ops_for(history, CANARY, "write")
    for w in writes:
        _check_pairing(w)
    reads: list[tuple[Op, str, frozenset[str]]] = []
    for op in ops_for(history, VERIFIER, "read-all"):
        if op.type != "ok" or (t_ref is not None and op.t < t_ref):
            continue
        assert op.completion is not None
        region = value_field(op.completion, "region", str, optional=True) or op.region
        if o.read_region is not None and region != o.read_region:
            continue
        keys = value_field(op.completion, "keys", list)
        reads.append((op, value_field(op.completion, "store", str), frozenset(str(k) for k in keys)))

    stores = list(dict.fromkeys([*o.stores, *(value_field(_asked(w), "store", str) for w in writes)]))
    per_store: dict[str, dict[str, Any]] = {}
    for store in stores:
        store_writes = [w for w in writes if value_field(_asked(w), "store", str) == store]
        store_reads = sorted(((op, keys) for op, s, keys in reads if s == store), key=lambda r: r[0].t)
        per_store[store] = _check_store(store, store_writes, store_reads, t_ref, o)

    valid = merge_valid(s["valid"] for s in per_store.values())
    seconds = max((s["seconds"] for s in per_store.values() if s["seconds"] is not None), default=None)
    figures: dict[str, Any] = {
        "seconds": seconds,
        "slo_s": o.slo_s,
        "zero_loss": o.zero_loss,
        "reference_t": t_ref,
        "lost": sum(s["lost"] for s in per_store.values()),
        "per_store": per_store,
    }
    notes = [f"{store}: {s['detail']}" for store, s in per_store.items() if s["valid"] is not True]
    if valid is True:
        lost = figures["lost"]
        detail = f"RPO {seconds or 0:.1f}s <= SLO {o.slo_s:g}s, {lost} acknowledged write(s) lost"
    else:
        detail = "; ".join(notes)
    return Result(name=NAME, valid=valid, figures=figures, detail=detail)


def _check_store(
    store: str,
    writes: list[Op],
    reads: list[tuple[Op, frozenset[str]]],
    t_ref: float | None,
    o: RpoOpts,
) -> dict[str, Any]:
    acked = sorted((w for w in writes if w.type == "ok"), key=_ack_time)
    present_anywhere = frozenset().union(*(keys for _, keys in reads)) if reads else frozenset()
    lost: list[tuple[float, str]] = []
    late: list[str] = []
    unverified = 0
    for w in acked:
        key = _key(w)
        after = [keys for op, keys in reads if op.t >= _ack_time(w)]
        if not after:
            unverified += 1
        elif key not in after[-1]:
            lost.append((_ack_time(w), key))
        elif any(key not in keys for keys in after[:-1]):
            late.append(key)
    info = [w for w in writes if w.type == "info"]
    unexpected = [_key(w) for w in writes if w.type == "fail" and _key(w) in present_anywhere]

    seconds: float | None = None
    if lost:
        first, last = lost[0][0], lost[-1][0]
        seconds = (last if t_ref is None else max(t_ref, last)) - first
    elif acked and reads:
        seconds = 0.0
    fig: dict[str, Any] = {
        "acknowledged": len(acked),
        "lost": len(lost),
        "lost_keys": [k for _, k in lost],
        "seconds": seconds,
        "verified": len(acked) - unverified,
        "unverified": unverified,
        "late_keys": late,
        "indeterminate": len(info),
        "indeterminate_present": sum(1 for w in info if _key(w) in present_anywhere),
        "failed": sum(1 for w in writes if w.type == "fail"),
        "unexpected_keys": unexpected,
        "reads": len(reads),
    }
    valid: Valid
    if not acked:
        valid, detail = UNKNOWN, "no acknowledged canary writes: nothing to check"
    elif not reads:
        valid, detail = UNKNOWN, "no verifier read-all after the reference time: cannot tell what was lost"
    elif unverified == len(acked):
        valid, detail = UNKNOWN, "every acknowledged write came after the last read-all"
    else:
        problems = []
        named = _few(fig["lost_keys"])
        if lost and o.zero_loss:
            problems.append(f"lost {len(lost)} acknowledged write(s) where zero loss is required: {named}")
        if seconds is not None and seconds > o.slo_s:
            problems.append(
                f"RPO {seconds:.1f}s > SLO {o.slo_s:g}s: lost {len(lost)} acknowledged write(s): {named}"
            )
        if unexpected and o.strict_fail:
            problems.append(
                f"{len(unexpected)} write(s) logged 'fail' are present ({_few(unexpected)}): "
                "the canary must log ambiguous errors as 'info'"
            )
        valid = not problems
        detail = "; ".join(problems) or (
            f"lost {len(lost)} acknowledged write(s) ({_few(fig['lost_keys'])}) over {seconds or 0:.1f}s"
            if lost
            else f"all {len(acked) - unverified} verified acknowledged writes present"
        )
    fig["valid"] = valid
    fig["detail"] = detail
    return fig


def _check_pairing(op: Op) -> None:
    """A completion restating another key means one process name ran writes concurrently: the
    pairing (and so every ack time) is wrong, and a lost write could hide as ``info``. Refuse."""
    if op.invoke is None or op.completion is None:
        return
    asked, answered = op.invoke.value, op.completion.value
    if (
        isinstance(asked, dict)
        and isinstance(answered, dict)
        and "key" in answered
        and asked.get("key") != answered["key"]
    ):
        raise HistoryError(
            f"canary process {op.process!r}: completion for key {answered['key']!r} follows the invoke for "
            f"{asked.get('key')!r}; concurrent writers need one process name each (e.g. 'canary:<store>')"
        )


def _ack_time(op: Op) -> float:
    return op.t if op.t_end is None else op.t_end


def _key(op: Op) -> str:
    return str(value_field(_asked(op), "key", (str, int)))


def _few(keys: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" … (+{len(keys) - limit} more)" if len(keys) > limit else "")
