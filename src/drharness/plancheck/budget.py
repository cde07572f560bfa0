"""Worst-case RTO / RPO budgets computed from the Terraform configuration alone.

RTO = detection (Route 53 + one period of ``aggregator_schedule_expression``) + decision + DNS
(``dns_ttl``) + Aurora promotion + warmup + validation. The Route 53 term is the failover record's
health check: ``health_check_request_interval`` x ``health_check_failure_threshold`` for the HTTP
check, or, when the record's check is CALCULATED over a CLOUDWATCH_METRIC check (DNS follows the
aggregated verdict), the later of that and the alarm's evaluation (``period`` x
``datapoints_to_alarm``): the verdict reaches DNS one aggregator period (its own term) plus that. Decision, promotion, warmup and validation are the orchestrator's
step budgets (``drharness.orchestrator.core.BUDGETS``) unless the configuration declares a variable
``<step>_budget_seconds`` / ``<step>_seconds`` (Aurora also ``aurora_failover_seconds``).

RPO = the largest replication-lag alarm threshold (Aurora ``aurora_replica_lag_alarm_threshold_ms``,
DynamoDB ``dynamodb_replication_latency_alarm_threshold_ms``, S3
``s3_replication_latency_alarm_threshold_s``): lag below a threshold raises no alarm, so that much
acknowledged data can be lost unnoticed.

A value that cannot be resolved statically is reported (``source`` says which and why) and the
worst documented value in ``WORST_CASE`` is assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from drharness.plancheck.loader import Resolution, Scope

__all__ = ["WORST_CASE", "Term", "rpo_terms", "rto_terms", "schedule_period_seconds"]

# name -> (assumed value, why). Used only when a value cannot be resolved.
WORST_CASE: dict[str, tuple[float, str]] = {
    "health_check_request_interval": (30, "Route 53 accepts only 10 or 30 s; 30 is the slower"),
    "health_check_failure_threshold": (10, "Route 53 maximum failure threshold"),
    "dns_ttl": (300, "Route 53 console default record TTL (Route 53 has no useful maximum; 300 s assumed)"),
    "aggregator_schedule_expression": (300, "no aggregator schedule found; 5 minutes assumed"),
    "rto_target_seconds": (900, "project default RTO (DESIGN: 15 min)"),
    "rpo_target_seconds": (60, "project default RPO (DESIGN: 1 min)"),
    "lag_alarm": (900, "S3 Replication Time Control SLA (900 s), the only documented replication bound"),
}

STEP_SOURCE = "drharness.orchestrator.core.BUDGETS[{step!r}] (src/drharness/orchestrator/core.py)"


@dataclass
class Term:
    name: str
    seconds: float
    source: str
    assumed: bool = False  # True when a worst case replaced an unresolvable value

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": self.seconds, "source": self.source, "assumed": self.assumed}


@dataclass
class Lookup:
    value: Any
    resolved: bool
    source: str
    notes: list[str] = field(default_factory=list)


def _declaring_leaves(root: Scope, name: str) -> list[Scope]:
    """Deepest scopes declaring ``name`` (where resources use it)."""
    out = []
    for s in root.walk():
        if s.declares(name) and not any(d is not s and d.declares(name) for d in s.walk()):
            out.append(s)
    return out


def _resource_attr(root: Scope, rtype: str, attr: str, cond: Any = None) -> list[Resolution]:
    out = []
    for s in root.walk():
        for f in s.files:
            for labels, body in f.blocks("resource"):
                if labels[0] != rtype or attr not in body or (cond and not cond(labels, body)):
                    continue
                r = s.evaluate(body[attr], attr)
                ln = f.header_line("resource", labels)
                r.source = f"{labels[0]}.{labels[1]}.{attr} ({s.rel(f.path)}:{ln}): {r.source}"
                out.append(r)
    return out


def lookup(root: Scope, name: str, *, fallback: list[Resolution] | None = None,
           worst: str | None = None, convert: Any = float, pick: Any = max) -> Lookup | None:
    """Resolve variable ``name`` in every deepest scope declaring it; worst value wins.

    Returns None when nothing declares it and there is no fallback.
    """
    scopes = _declaring_leaves(root, name)
    results = [s.resolve(name) for s in scopes] or list(fallback or [])
    if not results:
        return None
    good: list[tuple[float, str]] = []
    bad: list[str] = []
    for r in results:
        if r.resolved:
            try:
                good.append((convert(r.value), r.source))
            except (TypeError, ValueError) as exc:
                bad.append(f"{r.source}: unusable value ({exc})")
        else:
            bad.append(r.source)
    if bad:
        if (worst or name) not in WORST_CASE:
            return Lookup(None, False, f"UNRESOLVED {'; '.join(bad)}")
        wv, why = WORST_CASE[worst or name]
        return Lookup(wv, False, f"UNRESOLVED {'; '.join(bad)} -> assumed {wv:g} ({why})")
    v, src = pick(good, key=lambda t: t[0])
    return Lookup(v, True, src)


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_period_seconds(expr: str) -> float:
    """Longest gap between two runs of an EventBridge rate()/cron() expression (ValueError if unknown)."""
    expr = expr.strip()
    m = _RATE.match(expr)
    if m:
        return int(m.group(1)) * _UNIT[m.group(2).rstrip("s")]
    if expr.startswith("cron(") and expr.endswith(")"):
        fields = expr[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"cron expression needs 6 fields: {expr}")
        minute, hour = fields[0], fields[1]
        every_hour = hour in ("*", "?")
        if minute in ("*", "?") and every_hour:
            return 60
        m2 = re.match(r"^(\*|\d+)/(\d+)$", minute)
        if m2 and every_hour:
            return int(m2.group(2)) * 60
        if "," in minute and every_hour and all(x.isdigit() for x in minute.split(",")):
            mins = sorted(int(x) for x in minute.split(","))
            gaps = [b - a for a, b in zip(mins, mins[1:], strict=False)] + [60 - mins[-1] + mins[0]]
            return max(gaps) * 60
        if minute.isdigit() and every_hour:
            return 3600
        return 86400  # daily or sparser: one day is the optimistic end of that, said in the source
    raise ValueError(f"not a rate() or cron() expression: {expr}")


def _budgets() -> dict[str, float]:
    from drharness.orchestrator.core import BUDGETS

    return dict(BUDGETS)


def _step_term(root: Scope, step: str, label: str, extra: tuple[str, ...] = ()) -> Term:
    for var in (f"{step}_budget_seconds", f"{step}_seconds", *extra):
        lk = lookup(root, var, worst=None) if _declaring_leaves(root, var) else None
        if lk is not None and lk.resolved:
            return Term(label, lk.value, lk.source)
    return Term(label, float(_budgets()[step]), STEP_SOURCE.format(step=step))


_ALARM_REF = re.compile(r"aws_cloudwatch_metric_alarm\.([A-Za-z0-9_-]+)\.")


def verdict_alarm_term(root: Scope) -> Term | None:
    """The slowest CloudWatch alarm a CLOUDWATCH_METRIC Route 53 health check follows (period x
    datapoints_to_alarm, else evaluation_periods), or None when no health check follows an alarm."""
    labels: set[str] = set()
    for s in root.walk():
        for f in s.files:
            for lb, body in f.blocks("resource"):
                if lb[0] == "aws_route53_health_check" and "CLOUDWATCH_METRIC" in str(body.get("type", "")):
                    labels.update(_ALARM_REF.findall(str(body.get("cloudwatch_alarm_name", ""))))
    if not labels:
        return None
    worst: Term | None = None
    for s in root.walk():
        for f in s.files:
            for lb, body in f.blocks("resource"):
                if lb[0] != "aws_cloudwatch_metric_alarm" or lb[1] not in labels:
                    continue
                ln = f.header_line("resource", lb)
                vals: dict[str, tuple[float, str, bool]] = {}
                for attr in ("period", "datapoints_to_alarm", "evaluation_periods"):
                    if attr not in body:
                        continue
                    r = s.evaluate(body[attr], attr)
                    try:
                        vals[attr] = (float(r.value), r.source, not r.resolved)
                    except (TypeError, ValueError):
                        vals[attr] = (float("nan"), r.source, True)
                period = vals.get("period", (60.0, "default", False))
                points = vals.get("datapoints_to_alarm") or vals.get("evaluation_periods") or (1.0, "default", False)
                assumed = period[2] or points[1] == "default" or points[2] or period[0] != period[0] \
                    or points[0] != points[0]
                secs = 300.0 * 5 if assumed else period[0] * points[0]
                src = (f"alarm {lb[1]} ({s.rel(f.path)}:{ln}) period {period[0]:g} s [{period[1]}] x "
                       f"datapoints {points[0]:g} [{points[1]}]")
                if assumed:
                    src = f"UNRESOLVED {src} -> assumed {secs:g}"
                if worst is None or secs > worst.seconds:
                    worst = Term("detection.verdict_alarm", secs, src, assumed)
    return worst


def rto_terms(root: Scope) -> tuple[list[Term], Term]:
    """The RTO terms and the target (as a Term, for its source)."""
    def hc(attr: str) -> list[Resolution]:
        return _resource_attr(root, "aws_route53_health_check", attr)

    def term(name: str, var: str, fb: list[Resolution]) -> tuple[float, str, bool]:
        lk = lookup(root, var, fallback=fb)
        if lk is None:
            wv, why = WORST_CASE[var]
            return wv, f"UNRESOLVED var.{var}: not declared and no resource sets it -> assumed {wv:g} ({why})", True
        return float(lk.value), lk.source, not lk.resolved

    iv, isrc, ia = term("interval", "health_check_request_interval", hc("request_interval"))
    th, tsrc, ta = term("threshold", "health_check_failure_threshold", hc("failure_threshold"))
    route53 = Term("detection.route53_health_check", iv * th,
                   f"health_check_request_interval {iv:g} s [{isrc}] x health_check_failure_threshold {th:g} "
                   f"[{tsrc}]", ia or ta)
    alarm = verdict_alarm_term(root)
    if alarm is not None and alarm.seconds > route53.seconds:
        route53 = Term(route53.name, alarm.seconds, f"{alarm.source} (later than the HTTP check: "
                                                    f"{route53.source})", alarm.assumed or route53.assumed)
    elif alarm is not None:
        route53 = Term(route53.name, route53.seconds, f"{route53.source}; the verdict alarm ({alarm.source}) "
                                                      f"is not later", route53.assumed or alarm.assumed)
    terms = [route53]

    sched = lookup(root, "aggregator_schedule_expression", convert=str, pick=lambda g, key: g[0],
                   fallback=_resource_attr(root, "aws_scheduler_schedule", "schedule_expression",
                                           lambda lb, b: "aggregat" in lb[1].lower()))
    if sched is None:
        wv, why = WORST_CASE["aggregator_schedule_expression"]
        terms.append(Term("detection.aggregator_period", wv, f"UNRESOLVED var.aggregator_schedule_expression: not "
                                                             f"declared -> assumed {wv:g} ({why})", True))
    elif not sched.resolved:
        terms.append(Term("detection.aggregator_period", float(sched.value), sched.source, True))
    else:
        try:
            terms.append(Term("detection.aggregator_period", float(schedule_period_seconds(str(sched.value))),
                              f"{sched.value} [{sched.source}]"))
        except ValueError as exc:
            wv, why = WORST_CASE["aggregator_schedule_expression"]
            terms.append(Term("detection.aggregator_period", wv, f"UNRESOLVED {exc} [{sched.source}] -> assumed "
                                                                 f"{wv:g}", True))

    terms.append(_step_term(root, "decision", "decision"))
    rec = [r for r in _resource_attr(root, "aws_route53_record", "ttl",
                                     lambda lb, b: "failover_routing_policy" in b)]
    tv, tsrc2, tta = term("ttl", "dns_ttl", rec)
    terms.append(Term("dns.ttl", tv, tsrc2, tta))
    terms.append(_step_term(root, "aurora_promotion", "aurora_promotion", ("aurora_failover_seconds",)))
    terms.append(_step_term(root, "warmup", "warmup"))
    terms.append(_step_term(root, "validation", "validation"))

    tgt = lookup(root, "rto_target_seconds", pick=min)
    if tgt is None:
        wv, why = WORST_CASE["rto_target_seconds"]
        target = Term("target", wv, f"var.rto_target_seconds not declared -> {wv:g} ({why})", True)
    else:
        target = Term("target", float(tgt.value), tgt.source, not tgt.resolved)
    return terms, target


_RPO_VARS = (("aurora.replica_lag_alarm", "aurora_replica_lag_alarm_threshold_ms", 1000.0),
             ("dynamodb.replication_latency_alarm", "dynamodb_replication_latency_alarm_threshold_ms", 1000.0),
             ("s3.replication_latency_alarm", "s3_replication_latency_alarm_threshold_s", 1.0))


def rpo_terms(root: Scope) -> tuple[list[Term], Term, list[str]]:
    terms: list[Term] = []
    notes: list[str] = []
    for label, var, div in _RPO_VARS:
        lk = lookup(root, var, worst="lag_alarm")
        if lk is None:
            notes.append(f"var.{var} not declared: no {label.split('.')[0]} lag alarm term")
            continue
        secs = float(lk.value) if not lk.resolved else float(lk.value) / div
        terms.append(Term(label, secs, lk.source, not lk.resolved))
    tgt = lookup(root, "rpo_target_seconds", pick=min)
    if tgt is None:
        wv, why = WORST_CASE["rpo_target_seconds"]
        target = Term("target", wv, f"var.rpo_target_seconds not declared -> {wv:g} ({why})", True)
    else:
        target = Term("target", float(tgt.value), tgt.source, not tgt.resolved)
    return terms, target, notes
