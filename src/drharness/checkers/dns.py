"""Stale-DNS checker: after the failover DNS flip, clients must move within TTL.

Flip = the first dns answer for the new region (from any process) at/after the fault start; if no
process logged one, the end of the orchestrator's ``dns`` step. A client may use a cached old answer
for at most its TTL (the larger of the last old answer's and the flip answer's TTL, or ``ttl_s``),
so after ``deadline = flip + ttl + grace`` it is a violation to

- send a probe to an old-region ip (a prober that ignores TTL or pins a connection), or
- receive a dns answer for the old region (a resolver serving a stale answer).

The check window closes at the first old-region answer that follows a legitimate reason to point
back (the fault healed — Route 53 fails back by itself — or a later orchestrator ``dns`` step, e.g.
failback), or at ``until``. Old ips come from old-region answers, probes served by the old region
before the flip, and ``old_ips``; an ip that also maps to the new region (a shared edge address)
cannot be judged by ip and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from drharness.checkers.base import UNKNOWN, Result, coerce_opts, finish, value_field
from drharness.checkers.timeline import (
    dns_answers,
    fault_intervals,
    first_fault,
    probe_ops,
    step_intervals,
    step_spans,
)
from drharness.history import Event

__all__ = ["NAME", "DnsOpts", "check"]

NAME: Final = "dns"


@dataclass(frozen=True)
class DnsOpts:
    """``grace_s``: slack on top of the TTL (probe interval, resolver jitter). ``ttl_s``: override the
    TTL read from answers. ``new_region``/``old_region``: default from the answers / the fault's
    ``target_region``. ``old_ips``: extra addresses of the old region. ``until``: close the window."""

    grace_s: float = 5.0
    ttl_s: float | None = None
    new_region: str | None = None
    old_region: str | None = None
    old_ips: Sequence[str] = ()
    until: float | None = None


def check(history: Sequence[Event], opts: DnsOpts | dict[str, Any] | None = None) -> Result:
    """Stale-answer verdict: valid iff nothing used the old region's address after flip + TTL + grace."""
    o = coerce_opts(opts, DnsOpts)
    return finish(NAME, history, lambda: _check(history, o))


def _region(e: Event) -> str | None:
    region: str | None = value_field(e, "region", str, optional=True)
    return region


def _check(history: Sequence[Event], o: DnsOpts) -> Result:
    fault = first_fault(history)
    t_ref = None if fault is None else fault.t
    answers = dns_answers(history)
    old_region = o.old_region
    if old_region is None and fault is not None and fault.invoke is not None:
        old_region = value_field(fault.invoke, "target_region", str, optional=True)
    if old_region is None and answers:
        old_region = _region(answers[0])
    new_region = o.new_region
    if new_region is None:
        new_region = next(
            (
                _region(a)
                for a in answers
                if (t_ref is None or a.t >= t_ref) and _region(a) not in (None, old_region)
            ),
            None,
        )
    figures: dict[str, Any] = {"old_region": old_region, "new_region": new_region, "grace_s": o.grace_s}
    if old_region is None or new_region is None:
        return Result(
            name=NAME,
            valid=UNKNOWN,
            figures=figures,
            detail="cannot tell old and new region from the history",
        )

    flip_answer = next(
        (a for a in answers if _region(a) == new_region and (t_ref is None or a.t >= t_ref)), None
    )
    if flip_answer is not None:
        flip, source = flip_answer.t, f"dns answer ({flip_answer.process})"
    else:
        span = step_spans(history, after=t_ref).get("dns")
        if span is None or span.end is None or span.outcome != "ok":
            return Result(
                name=NAME, valid=UNKNOWN, figures=figures, detail=f"no DNS flip to {new_region} observed"
            )
        flip, source = span.end, "orchestrator dns step end"

    ttls = [_ttl(a) for a in answers if a.t <= flip and _region(a) == old_region][-1:]
    if flip_answer is not None:
        ttls.append(_ttl(flip_answer))
    known = [t for t in ttls if t is not None]
    ttl = o.ttl_s if o.ttl_s is not None else (max(known) if known else None)
    figures.update(flip_t=flip, flip_source=source, ttl_s=ttl)
    if ttl is None:
        return Result(
            name=NAME, valid=UNKNOWN, figures=figures, detail="TTL unknown: no ttl in dns answers; pass ttl_s"
        )
    deadline = flip + ttl + o.grace_s

    # When may the answer legitimately point back to the old region?
    failover_dns = step_spans(history, after=t_ref).get("dns")
    settled = max(
        flip, failover_dns.end if failover_dns is not None and failover_dns.end is not None else flip
    )
    rearm = [iv.end for iv in fault_intervals(history) if iv.end is not None and iv.end >= flip]
    rearm += [iv.start for iv in step_intervals(history) if iv.name == "dns" and iv.start > settled]
    rearm_t = min(rearm, default=math.inf)
    back = next((a for a in answers if _region(a) == old_region and a.t >= rearm_t), None)
    window_end = min(o.until if o.until is not None else math.inf, back.t if back is not None else math.inf)

    old_ips = set(o.old_ips)
    new_ips: set[str] = set()
    for a in answers:
        ip = value_field(a, "answer", str, optional=True)
        if ip is not None and _region(a) == old_region:
            old_ips.add(ip)
        elif ip is not None and _region(a) == new_region:
            new_ips.add(ip)
    probes = probe_ops(history)
    for op in probes:
        ip = value_field(op, "ip", str, optional=True)
        if ip is not None and op.t < flip and op.type == "ok" and op.region == old_region:
            old_ips.add(ip)
    shared = old_ips & new_ips
    judged_ips = old_ips - new_ips
    figures.update(
        deadline=deadline,
        window_end=None if math.isinf(window_end) else window_end,
        old_ips=sorted(judged_ips),
        shared_ips=sorted(shared),
    )
    if not judged_ips:
        why = f"old and new region share {sorted(shared)}" if shared else "no old-region ip known"
        return Result(name=NAME, valid=UNKNOWN, figures=figures, detail=f"cannot judge by address: {why}")

    stale: list[dict[str, Any]] = []
    checked = 0
    for op in probes:
        if not deadline < op.t < window_end:
            continue
        ip = value_field(op, "ip", str, optional=True)
        if ip is None:
            continue
        checked += 1
        if ip in judged_ips:
            stale.append(
                {"kind": "probe", "process": op.process, "t": op.t, "ip": ip, "late_s": op.t - deadline}
            )
    for a in answers:
        if deadline < a.t < window_end and _region(a) == old_region:
            ip = value_field(a, "answer", str, optional=True)
            stale.append(
                {"kind": "answer", "process": a.process, "t": a.t, "ip": ip, "late_s": a.t - deadline}
            )
    stale.sort(key=lambda s: s["t"])
    figures.update(
        probes_checked=checked,
        stale_probes=sum(1 for s in stale if s["kind"] == "probe"),
        stale_answers=sum(1 for s in stale if s["kind"] == "answer"),
        max_late_s=max((s["late_s"] for s in stale), default=0.0),
        stale=stale[:20],
    )
    if stale:
        first = stale[0]
        detail = (
            f"{len(stale)} use(s) of the old region's address after flip+ttl+grace "
            f"({flip:.1f}+{ttl:g}+{o.grace_s:g}s); first: {first['kind']} from {first['process']} to "
            f"{first['ip']} {first['late_s']:.1f}s late (TTL ignored or stale DNS answer)"
        )
        return Result(name=NAME, valid=False, figures=figures, detail=detail)
    if checked == 0:
        return Result(
            name=NAME,
            valid=UNKNOWN,
            figures=figures,
            detail="no probe with an ip after flip+ttl+grace: nothing to judge",
        )
    return Result(
        name=NAME,
        valid=True,
        figures=figures,
        detail=f"{checked} probes after flip+ttl+grace all went to {new_region}'s address",
    )


def _ttl(e: Event) -> float | None:
    ttl = value_field(e, "ttl", (int, float), optional=True)
    return None if ttl is None else float(ttl)
