"""CloudWatch metric alarms that really evaluate (moto stores alarms but never evaluates them).

moto keeps every alarm in state OK ("Unchecked: Initial alarm creation") whatever the data, so
FIS stop conditions, ``aws:cloudwatch:assert-alarm-state`` and Route 53 CLOUDWATCH_METRIC health
checks would never see a breach. :class:`AlarmEvaluator` reads the datapoints moto holds and sets
each alarm's state with the same knobs CloudWatch uses: ``Period``, ``EvaluationPeriods``,
``DatapointsToAlarm``, ``Statistic``/``ExtendedStatistic``, ``ComparisonOperator``, ``Threshold``
and ``TreatMissingData``.

Where the lab differs from CloudWatch (and says so):

- The fast profile evaluates with a shorter period (``period_override_s``) than the ``Period``
  stored in the API, as it probes health checks faster than ``RequestInterval``.
- Periods are aligned to the clock; the current, still open period counts only once it holds data.
- State changes are edge-triggered: an alarm is set only when its *evaluated* state changes, so a
  ``SetAlarmState`` holds until the data moves the alarm (CloudWatch reverts it at the next
  evaluation, "often within seconds"). Tests plant states with it.
- Metric-math and anomaly-detection alarms are not evaluated (their state is left as is and the
  reason says so). Alarm actions are not executed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
RETENTION_S = 3 * 3600.0  # datapoints older than this are dropped from moto (nothing here looks further back)


@dataclass(frozen=True)
class AlarmSpec:
    """What decides a metric alarm's state (the fields of PutMetricAlarm that matter)."""

    name: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str  # Average | Sum | Minimum | Maximum | SampleCount | pNN (extended)
    period_s: float
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    treat_missing: str = "missing"  # missing | notBreaching | breaching | ignore


@dataclass
class Sample:
    """One datapoint as moto holds it: a single value, or a statistic set (PutMetricData StatisticValues)."""

    t: float
    value: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    total: float | None = None
    count: float | None = None

    def values(self) -> list[float]:
        return [self.value] if self.value is not None else []


@dataclass
class Evaluation:
    state: str
    reason: str
    datapoints: list[float | None] = field(default_factory=list)  # oldest first; None = missing


def statistic(samples: list[Sample], stat: str) -> float | None:
    """The period's statistic over its samples (None when the period has no data)."""
    if not samples:
        return None
    singles = [v for s in samples for v in s.values()]
    mins = singles + [s.minimum for s in samples if s.minimum is not None]
    maxs = singles + [s.maximum for s in samples if s.maximum is not None]
    total = sum(singles) + sum(s.total or 0.0 for s in samples if s.value is None)
    count = len(singles) + sum(s.count or 0.0 for s in samples if s.value is None)
    if stat == "Minimum":
        return min(mins) if mins else None
    if stat == "Maximum":
        return max(maxs) if maxs else None
    if stat == "Sum":
        return total
    if stat == "SampleCount":
        return count
    if stat == "Average":
        return total / count if count else None
    if stat.startswith("p"):  # extended statistic over single values (nearest rank)
        pct = float(stat[1:])
        vals = sorted(singles)
        if not vals:
            return None
        return vals[max(0, min(len(vals) - 1, math.ceil(pct / 100.0 * len(vals)) - 1))]
    raise ValueError(f"unsupported statistic {stat!r}")


def evaluate(spec: AlarmSpec, samples: Iterable[Sample], now: float, current: str,
             since: float | None = None) -> Evaluation:
    """The alarm state CloudWatch would set now, from the samples of the alarm's metric.

    The evaluation range is the last ``evaluation_periods`` clock-aligned periods, ending with the
    open period if it already holds data (else with the last closed one). ALARM when at least
    ``datapoints_to_alarm`` of them breach; missing periods are treated per ``treat_missing``.
    Periods that ended before ``since`` (the alarm did not exist yet) are not evaluated at all: a new
    alarm whose missing data is breaching must not start in ALARM for the time before it existed.
    """
    if spec.comparison not in COMPARE:
        return Evaluation(current, f"comparison {spec.comparison} is not evaluated by the lab")
    p = spec.period_s
    n = max(1, spec.evaluation_periods)
    m = max(1, min(spec.datapoints_to_alarm or n, n))
    buckets: dict[int, list[Sample]] = {}
    for s in samples:
        if s.t <= now:
            buckets.setdefault(math.floor(s.t / p), []).append(s)
    last = math.floor(now / p)  # the open period
    if last not in buckets:
        last -= 1
    periods = [k for k in range(last - n + 1, last + 1) if since is None or (k + 1) * p > since]
    if not periods:
        return Evaluation(INSUFFICIENT, "Insufficient Data: the alarm is younger than one period", [])
    n = len(periods)
    points = [statistic(buckets.get(k, []), spec.statistic) for k in periods]
    cmp = COMPARE[spec.comparison]
    present = [v for v in points if v is not None]
    missing = len(points) - len(present)
    shown = ", ".join("missing" if v is None else f"{v:g}" for v in points)
    what = f"[{shown}] ({spec.statistic} over {p:g} s periods) vs {spec.comparison} {spec.threshold:g}"
    if not present:
        if spec.treat_missing == "breaching":
            return Evaluation(ALARM, f"Threshold Crossed: no datapoints in {n} period(s), treated as breaching",
                              points)
        if spec.treat_missing == "notBreaching":
            return Evaluation(OK, f"no datapoints in {n} period(s), treated as not breaching", points)
        if spec.treat_missing == "ignore":
            return Evaluation(current, f"no datapoints in {n} period(s): state kept (ignore)", points)
        return Evaluation(INSUFFICIENT, f"Insufficient Data: no datapoints in the last {n} period(s)", points)
    breaching = sum(1 for v in present if cmp(v, spec.threshold))
    if spec.treat_missing == "breaching":
        breaching += missing
    if breaching >= m:
        return Evaluation(ALARM, f"Threshold Crossed: {breaching} of {n} datapoint(s) {what}", points)
    return Evaluation(OK, f"{breaching} of {n} datapoint(s) breaching (needs {m}): {what}", points)


def _epoch(ts: Any) -> float:
    if isinstance(ts, dt.datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.UTC)
        return ts.timestamp()
    return float(ts)


def spec_of(alarm: Any, period_override_s: float | None = None) -> AlarmSpec | None:
    """An :class:`AlarmSpec` from a moto ``Alarm``; None for metric-math/anomaly alarms."""
    if getattr(alarm, "metric_data_queries", None) or not getattr(alarm, "metric_name", None):
        return None
    n = int(alarm.evaluation_periods or 1)
    return AlarmSpec(
        name=alarm.name, namespace=alarm.namespace, metric=alarm.metric_name,
        dimensions=tuple(sorted((d.name, d.value) for d in alarm.dimensions)),
        statistic=alarm.extended_statistic or alarm.statistic or "Average",
        period_s=float(period_override_s or alarm.period or 60), evaluation_periods=n,
        datapoints_to_alarm=int(alarm.datapoints_to_alarm or n),
        comparison=alarm.comparison_operator or "", threshold=float(alarm.threshold),
        treat_missing=alarm.treat_missing_data or "missing")


class AlarmEvaluator:
    """Evaluates every metric alarm of every region held by the in-process moto, continuously.

    ``backends``: region -> moto CloudWatchBackend. ``period_override_s``: the fast profile's
    period (None = each alarm's own ``Period``). ``frozen``: a test switch that stops evaluation
    (alarms then keep whatever state they have), so a test can prove it depends on the evaluator.
    """

    def __init__(self, backends: Callable[[], dict[str, Any]], period_override_s: float | None = None,
                 tick_s: float | None = None) -> None:
        self.backends = backends
        self.period_override_s = period_override_s
        self.tick_s = tick_s or (period_override_s / 2 if period_override_s else 1.0)
        self.frozen = False
        self.evaluations = 0
        self.transitions: list[tuple[float, str, str, str]] = []  # (t, region, alarm, new state)
        self._last: dict[tuple[str, str], str] = {}
        self._first_seen: dict[tuple[str, str], float] = {}  # when this evaluator first saw each alarm
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cw-alarms", daemon=True)

    def start(self) -> AlarmEvaluator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def resync(self) -> None:
        """Forget the last evaluations: the next pass sets every alarm to its evaluated state
        (undoes states planted with SetAlarmState)."""
        self._last.clear()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            if self.frozen:
                continue
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - one bad pass must not end evaluation
                log.exception("alarm evaluation pass failed")

    def run_once(self, now: float | None = None) -> int:
        """Evaluate every alarm that is due; returns how many changed state."""
        now = time.time() if now is None else now
        changed = 0
        for region, backend in self.backends().items():
            alarms = list(backend.alarms.values())
            specs = {a.name: spec_of(a, self.period_override_s) for a in alarms}
            specs = {k: v for k, v in specs.items() if v is not None}
            if not specs:
                continue
            horizon = max(s.period_s * (s.evaluation_periods + 1) for s in specs.values())
            series = self._series(backend, now, horizon)
            for alarm in alarms:
                spec = specs.get(alarm.name)
                key = (region, alarm.name)
                if spec is None:
                    continue
                since = self._first_seen.setdefault(key, now)
                ev = evaluate(spec, series.get((spec.namespace, spec.metric, spec.dimensions), []), now,
                              alarm.state_value, since)
                self.evaluations += 1
                if ev.state == self._last.get(key):
                    continue
                self._last[key] = ev.state
                if ev.state != alarm.state_value:
                    self._set(backend, alarm.name, ev, region)
                    changed += 1
            self._prune(backend, now)
        return changed

    def _series(self, backend: Any, now: float, horizon: float) -> dict[tuple, list[Sample]]:
        """Datapoints of the last ``horizon`` seconds, grouped by (namespace, metric, dimensions)."""
        out: dict[tuple, list[Sample]] = {}
        since = now - horizon
        data = backend.metric_data
        stale = 0
        for d in reversed(data):
            t = _epoch(d.timestamp)
            if t < since:
                stale += 1
                if stale > 200:  # appends are (nearly) in time order: this far back, the rest is older
                    break
                continue
            key = (d.namespace, d.name, tuple(sorted((x.name, x.value) for x in d.dimensions)))
            if hasattr(d, "value"):
                s = Sample(t, value=float(d.value))
            else:
                s = Sample(t, minimum=d.min, maximum=d.max, total=d.sum, count=d.sample_count)
            out.setdefault(key, []).append(s)
        return out

    @staticmethod
    def _prune(backend: Any, now: float) -> None:
        data = backend.metric_data
        k = 0
        while k < len(data) and _epoch(data[k].timestamp) < now - RETENTION_S:
            k += 1
        if k:
            del data[:k]  # appends only happen at the end: dropping a prefix loses nothing new

    def _set(self, backend: Any, name: str, ev: Evaluation, region: str) -> None:
        data = json.dumps({"version": "1.0", "recentDatapoints": ev.datapoints, "evaluatedBy": "drharness lab"})
        backend.set_alarm_state(name, ev.reason[:1023], data, ev.state)
        self.transitions.append((time.time(), region, name, ev.state))
        del self.transitions[:-200]
        log.info("alarm %s (%s) -> %s: %s", name, region, ev.state, ev.reason)

    def status(self) -> dict[str, Any]:
        return {"frozen": self.frozen, "evaluations": self.evaluations,
                "period_override_s": self.period_override_s,
                "transitions": [list(t) for t in self.transitions[-20:]]}
