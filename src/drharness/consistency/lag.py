"""Replication lag of the three stores: sampled directly, or read back from CloudWatch.

Why both: CloudWatch is what AWS reports (and what alarms fire on), but its resolution is a minute
and it can be missing during a regional event; direct sampling measures what a client would see,
to the tenth of a second, with the same code on the lab and on AWS.

Direct sampling puts a *marker* on the writing side and times its appearance on the other:

- aurora: the writer's ``pg_current_wal_lsn()`` is the marker; it has arrived when the standby's
  ``pg_last_wal_replay_lsn()`` reaches it (no table written, works on any database);
- dynamodb: an item ``pk = "drharness-lag#<uuid>"`` put in one region, polled (one BatchGetItem
  per poll) in the other, then deleted;
- s3: an object ``drharness-lag/<uuid>`` put in one bucket; it has arrived when the replica is
  listed in the other bucket (one ListObjectsV2 per poll), then both versions are deleted.

Markers are put every ``interval`` and polled every ``poll`` seconds, so a stalled replication
shows as growing lags (every marker that arrives late is measured) rather than as missing data; a
marker that never arrives is recorded as a lower bound once it is older than the give-up time.
Each sample is appended to the history as ``{"process": "lag", "f": "lag", "type": "ok",
"value": {"store", "lag_ms", ...}}`` (DESIGN §4), which ``drharness.checkers.lag`` judges.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import psycopg

from drharness.checkers.lag import DEFAULT_THRESHOLDS_MS, percentile
from drharness.consistency.ddb import LAG_MARKER_PREFIX as DDB_MARKER
from drharness.consistency.s3 import LAG_MARKER_PREFIX as S3_MARKER
from drharness.history import LAG, NULL_HISTORY, BaseHistory

__all__ = [
    "STORES",
    "THRESHOLDS_MS",
    "AuroraProbe",
    "DynamoDBProbe",
    "LagMonitor",
    "LagSample",
    "S3Probe",
    "cloudwatch_lag",
    "make_probe",
    "record",
    "sample_aurora",
    "sample_dynamodb",
    "sample_s3",
    "summarize",
    "watch",
]

STORES: Final = ("aurora", "dynamodb", "s3")
THRESHOLDS_MS: Final[Mapping[str, float]] = dict(DEFAULT_THRESHOLDS_MS)
POLL_S: Final = {"aurora": 0.01, "dynamodb": 0.1, "s3": 0.2}


@dataclass
class LagSample:
    """One measurement. ``lag_ms`` None = could not measure (``error`` says why); ``lower_bound``:
    the marker had not arrived yet, the true lag is at least this."""

    store: str
    lag_ms: float | None
    region: str | None = None  # the receiving region
    t: float = field(default_factory=time.time)
    lower_bound: bool = False
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def value(self) -> dict[str, Any]:
        """The history event's value (the lag checker reads ``store`` and ``lag_ms``)."""
        out: dict[str, Any] = {"store": self.store, "lag_ms": None if self.lag_ms is None else round(self.lag_ms, 3),
                               "method": "direct"}
        if self.lower_bound:
            out["lower_bound"] = True
        if self.error:
            out["error"] = self.error
        out.update(self.detail)
        return out


def record(history: BaseHistory, sample: LagSample) -> None:
    """Append a sample as a bare ``ok`` lag event (DESIGN §4 vocabulary)."""
    history.append(LAG, "ok", "lag", sample.value(), sample.region)


@dataclass
class Marker:
    id: str
    t: float  # when the write was acknowledged
    source: str
    receiving: str
    token: Any = None  # LSN (int), DynamoDB key, or S3 (key, version)


# ----------------------------------------------------------------------------------------- probes
class Probe(Protocol):
    store: str

    def put(self) -> Marker: ...

    def arrived(self, markers: Sequence[Marker]) -> dict[str, float]: ...

    def cleanup(self, markers: Iterable[Marker]) -> None: ...

    def close(self) -> None: ...


def _lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


class AuroraProbe:
    """Writer LSN as the marker; arrived when the reader replayed it. The roles are re-read on every
    put, so the probe follows a failover."""

    store = "aurora"

    def __init__(self, target: Any, connect_timeout_s: float = 3.0) -> None:
        self.target = target
        self.timeout = connect_timeout_s
        self.conns: dict[str, psycopg.Connection] = {}
        self.reader: str | None = None

    def _conn(self, region: str) -> psycopg.Connection:
        c = self.conns.get(region)
        if c is None or c.closed or c.broken:
            c = psycopg.connect(self.target.regions[region].pg_dsn, autocommit=True,
                                connect_timeout=max(1, int(self.timeout)), application_name="drharness-lag")
            c.execute("SET statement_timeout = 5000")
            self.conns[region] = c
        return c

    def _query(self, region: str, q: str) -> tuple[Any, ...]:
        try:
            row = self._conn(region).execute(q).fetchone()
        except psycopg.Error:
            self.conns.pop(region, None)
            raise
        assert row is not None
        return tuple(row)

    def put(self) -> Marker:
        regions = [self.target.primary_region, self.target.secondary_region]
        state = {r: self._query(r, "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() "
                                   "THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text")
                 for r in regions}
        writers = [r for r in regions if not state[r][0]]
        if len(writers) != 1:
            raise RuntimeError("no single writer (" + ", ".join(
                f"{r}: {'standby' if state[r][0] else 'writer'}" for r in regions) + ")")
        writer = writers[0]
        reader = next(r for r in regions if r != writer)
        self.reader = reader
        lsn = state[writer][1]
        return Marker(lsn, time.time(), writer, reader, _lsn(lsn))

    def arrived(self, markers: Sequence[Marker]) -> dict[str, float]:
        if not markers:
            return {}
        replay = self._query(markers[0].receiving, "SELECT pg_last_wal_replay_lsn()::text")[0]
        now = time.time()
        if replay is None:
            return {}
        pos = _lsn(replay)
        return {m.id: now for m in markers if m.token <= pos}

    def cleanup(self, markers: Iterable[Marker]) -> None:
        return None

    def close(self) -> None:
        for c in self.conns.values():
            c.close()
        self.conns.clear()


class DynamoDBProbe:
    """A marker item per sample, written in the source region, polled in the other."""

    store = "dynamodb"

    def __init__(self, target: Any, source: str | None = None) -> None:
        self.target = target
        self.source = source or target.primary_region
        self.receiving = target.other(self.source)
        self.src = target.client("dynamodb", self.source)
        self.dst = target.client("dynamodb", self.receiving)
        self.table_src = target.regions[self.source].table
        self.table_dst = target.regions[self.receiving].table
        self._key_names: list[tuple[str, str]] | None = None

    def _keys(self) -> list[tuple[str, str]]:
        if self._key_names is None:
            desc = self.src.describe_table(TableName=self.table_src)["Table"]
            types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
            ks = sorted(desc["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
            self._key_names = [(k["AttributeName"], types[k["AttributeName"]]) for k in ks]
        return self._key_names

    def _key(self, mid: str) -> dict[str, Any]:
        names = self._keys()
        if names[0][1] != "S":
            raise RuntimeError(f"table {self.table_src}: hash key {names[0][0]} is not a string; "
                               "cannot write a lag marker")
        key: dict[str, Any] = {names[0][0]: {"S": DDB_MARKER + mid}}
        for name, typ in names[1:]:
            key[name] = {typ: "0" if typ == "N" else (b"0" if typ == "B" else "0")}
        return key

    def put(self) -> Marker:
        mid = uuid.uuid4().hex
        key = self._key(mid)
        self.src.put_item(TableName=self.table_src, Item={**key, "drharness_lag_t": {"N": repr(time.time())}})
        return Marker(mid, time.time(), self.source, self.receiving, key)

    def arrived(self, markers: Sequence[Marker]) -> dict[str, float]:
        by_pk = {m.token[self._keys()[0][0]]["S"]: m for m in markers}
        seen: dict[str, float] = {}
        items = list(markers)
        for i in range(0, len(items), 100):
            out = self.dst.batch_get_item(RequestItems={self.table_dst: {
                "Keys": [m.token for m in items[i:i + 100]], "ConsistentRead": True}})
            now = time.time()
            for item in out.get("Responses", {}).get(self.table_dst, []):
                m = by_pk.get(item[self._keys()[0][0]]["S"])
                if m is not None:
                    seen[m.id] = now
        return seen

    def cleanup(self, markers: Iterable[Marker]) -> None:
        for m in markers:
            try:
                self.src.delete_item(TableName=self.table_src, Key=m.token)
            except Exception:  # noqa: BLE001 - best effort: a leftover marker is ignored by the comparer
                pass

    def close(self) -> None:
        return None


class S3Probe:
    """A marker object per sample, put in the source bucket; arrived when its replica is listed."""

    store = "s3"

    def __init__(self, target: Any, source: str | None = None) -> None:
        self.target = target
        self.source = source or target.primary_region
        self.receiving = target.other(self.source)
        self.src = target.client("s3", self.source)
        self.dst = target.client("s3", self.receiving)
        self.bucket_src = target.regions[self.source].bucket
        self.bucket_dst = target.regions[self.receiving].bucket

    def put(self) -> Marker:
        mid = uuid.uuid4().hex
        key = f"{S3_MARKER}{mid}"
        out = self.src.put_object(Bucket=self.bucket_src, Key=key, Body=b"drharness lag marker\n")
        return Marker(mid, time.time(), self.source, self.receiving, (key, out.get("VersionId")))

    def arrived(self, markers: Sequence[Marker]) -> dict[str, float]:
        want = {m.token[0]: m for m in markers}
        seen: dict[str, float] = {}
        kw: dict[str, Any] = {"Bucket": self.bucket_dst, "Prefix": S3_MARKER}
        while True:
            out = self.dst.list_objects_v2(**kw)
            now = time.time()
            for obj in out.get("Contents", []):
                m = want.get(obj["Key"])
                if m is not None:
                    seen[m.id] = now
            if not out.get("IsTruncated"):
                return seen
            kw["ContinuationToken"] = out["NextContinuationToken"]

    def cleanup(self, markers: Iterable[Marker]) -> None:
        """Delete every version of the markers in both buckets (permanent deletes do not replicate)."""
        for m in markers:
            for client, bucket in ((self.src, self.bucket_src), (self.dst, self.bucket_dst)):
                try:
                    out = client.list_object_versions(Bucket=bucket, Prefix=m.token[0])
                    for v in out.get("Versions", []) + out.get("DeleteMarkers", []):
                        if v["Key"] == m.token[0]:
                            client.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
                except Exception:  # noqa: BLE001 - best effort: leftovers are ignored by the comparer
                    pass

    def close(self) -> None:
        return None


def make_probe(target: Any, store: str) -> Probe:
    if store == "aurora":
        return AuroraProbe(target)
    if store == "dynamodb":
        return DynamoDBProbe(target)
    if store == "s3":
        return S3Probe(target)
    raise ValueError(f"unknown store {store!r}: choose from {', '.join(STORES)}")


def _one_shot(probe: Probe, timeout_s: float, poll_s: float) -> LagSample:
    try:
        m = probe.put()
    except Exception as exc:  # noqa: BLE001 - a failed sample is recorded as unmeasured, with the reason
        probe.close()
        return LagSample(probe.store, None, error=f"{type(exc).__name__}: {exc}")
    try:
        while True:
            seen = probe.arrived([m])
            if m.id in seen:
                return LagSample(probe.store, (seen[m.id] - m.t) * 1000.0, m.receiving)
            age = time.time() - m.t
            if age >= timeout_s:
                return LagSample(probe.store, age * 1000.0, m.receiving, lower_bound=True,
                                 detail={"timeout_s": timeout_s})
            time.sleep(poll_s)
    except Exception as exc:  # noqa: BLE001
        return LagSample(probe.store, None, m.receiving, error=f"{type(exc).__name__}: {exc}")
    finally:
        probe.cleanup([m])
        probe.close()


def sample_aurora(target: Any, timeout_s: float = 10.0, history: BaseHistory = NULL_HISTORY) -> LagSample:
    """Time for the reader to replay the writer's current WAL position (one sample)."""
    s = _one_shot(AuroraProbe(target), timeout_s, POLL_S["aurora"])
    record(history, s)
    return s


def sample_dynamodb(target: Any, timeout_s: float = 60.0, source: str | None = None,
                    history: BaseHistory = NULL_HISTORY) -> LagSample:
    """Time for a marker item written in ``source`` (default primary) to appear in the other region."""
    s = _one_shot(DynamoDBProbe(target, source), timeout_s, POLL_S["dynamodb"])
    record(history, s)
    return s


def sample_s3(target: Any, timeout_s: float = 120.0, source: str | None = None,
              history: BaseHistory = NULL_HISTORY) -> LagSample:
    """Time for a marker object put in ``source``'s bucket to be a REPLICA in the other bucket."""
    probe = S3Probe(target, source)
    s = _one_shot(_CheckReplica(probe), timeout_s, POLL_S["s3"])
    record(history, s)
    return s


class _CheckReplica:
    """S3 one-shot: on arrival also confirm the copy says ReplicationStatus REPLICA."""

    store = "s3"

    def __init__(self, probe: S3Probe) -> None:
        self.p = probe

    def put(self) -> Marker:
        return self.p.put()

    def arrived(self, markers: Sequence[Marker]) -> dict[str, float]:
        seen = self.p.arrived(markers)
        for m in markers:
            if m.id in seen:
                head = self.p.dst.head_object(Bucket=self.p.bucket_dst, Key=m.token[0])
                if head.get("ReplicationStatus") not in (None, "REPLICA"):
                    seen.pop(m.id)  # something else wrote that key: not our replica
        return seen

    def cleanup(self, markers: Iterable[Marker]) -> None:
        self.p.cleanup(markers)

    def close(self) -> None:
        self.p.close()


# ----------------------------------------------------------------------------------------- monitor
def summarize(samples: Iterable[LagSample], threshold_ms: float | None = None) -> dict[str, Any]:
    """p50/p95/p99/max (nearest rank, as the lag checker computes them) of the measured samples."""
    ss = list(samples)
    values = sorted(s.lag_ms for s in ss if s.lag_ms is not None)
    out: dict[str, Any] = {"samples": len(values), "unmeasured": sum(1 for s in ss if s.lag_ms is None),
                           "lower_bounds": sum(1 for s in ss if s.lower_bound), "threshold_ms": threshold_ms}
    if values:
        out.update(p50=percentile(values, 50), p95=percentile(values, 95), p99=percentile(values, 99),
                   max=values[-1], last=next(s.lag_ms for s in reversed(ss) if s.lag_ms is not None))
        out["breached"] = threshold_ms is not None and out["p99"] > threshold_ms
    else:
        out.update(p50=None, p95=None, p99=None, max=None, last=None, breached=False)
    errors = [s.error for s in ss if s.error]
    if errors:
        out["last_error"] = errors[-1]
    return out


class LagMonitor:
    """Background sampler of the stores' lag during a drill: one thread per store, bounded in time
    (``max_seconds``) and memory (``max_samples`` kept per store); every sample also goes to
    ``history``. ``stop()`` returns the summary per store."""

    def __init__(self, target: Any, history: BaseHistory = NULL_HISTORY, *, stores: Sequence[str] = STORES,
                 interval_s: float = 1.0, max_seconds: float = 3600.0, max_samples: int = 10000,
                 thresholds_ms: Mapping[str, float] | None = None, give_up_s: Mapping[str, float] | None = None,
                 probe_factory: Callable[[Any, str], Probe] = make_probe) -> None:
        unknown = [s for s in stores if s not in STORES]
        if unknown:
            raise ValueError(f"unknown store(s) {unknown}: choose from {', '.join(STORES)}")
        self.target = target
        self.history = history
        self.stores = tuple(stores)
        self.interval_s = interval_s
        self.max_seconds = max_seconds
        self.thresholds = {**THRESHOLDS_MS, **(thresholds_ms or {})}
        # A marker still missing after twice the threshold proves a breach: record it as a lower bound.
        self.give_up = {s: max(5.0, 2 * self.thresholds[s] / 1000.0) for s in STORES}
        self.give_up.update(give_up_s or {})
        self.samples: dict[str, deque[LagSample]] = {s: deque(maxlen=max_samples) for s in self.stores}
        self._probe_factory = probe_factory
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> LagMonitor:
        if self._threads:
            raise RuntimeError("LagMonitor already started")
        self.started_at = time.time()
        for store in self.stores:
            t = threading.Thread(target=self._run, args=(store,), name=f"drh-lag-{store}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> dict[str, dict[str, Any]]:
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.stopped_at = time.time()
        return self.summary()

    def __enter__(self) -> LagMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def summary(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {s: summarize(list(self.samples[s]), self.thresholds.get(s)) for s in self.stores}

    def _emit(self, sample: LagSample) -> None:
        with self._lock:
            self.samples[sample.store].append(sample)
        try:
            record(self.history, sample)
        except Exception:  # noqa: BLE001 - a closed history must not kill the sampler thread
            pass

    def _run(self, store: str) -> None:
        end = time.monotonic() + self.max_seconds
        poll = min(POLL_S[store], self.interval_s)
        probe: Probe | None = None
        outstanding: list[Marker] = []
        next_put = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                if probe is None:
                    probe = self._probe_factory(self.target, store)
                if time.monotonic() >= next_put:
                    next_put = time.monotonic() + self.interval_s
                    m = probe.put()
                    if outstanding and (m.source, m.receiving) != (outstanding[0].source, outstanding[0].receiving):
                        probe.cleanup(outstanding)  # roles swapped (failover): old markers mean nothing now
                        outstanding = []
                    outstanding.append(m)
                if outstanding:
                    seen = probe.arrived(outstanding)
                    now = time.time()
                    done = [m for m in outstanding if m.id in seen]
                    late = [m for m in outstanding if m.id not in seen and now - m.t >= self.give_up[store]]
                    for m in done:
                        self._emit(LagSample(store, (seen[m.id] - m.t) * 1000.0, m.receiving, t=seen[m.id]))
                    for m in late:
                        self._emit(LagSample(store, (now - m.t) * 1000.0, m.receiving, t=now, lower_bound=True,
                                             detail={"gave_up_after_s": round(now - m.t, 3)}))
                    if done or late:
                        probe.cleanup(done + late)
                        gone = {m.id for m in done + late}
                        outstanding = [m for m in outstanding if m.id not in gone]
            except Exception as exc:  # noqa: BLE001 - the region may be down: record it, keep sampling
                self._emit(LagSample(store, None, getattr(probe, "receiving", None) or getattr(probe, "reader", None),
                                     error=f"{type(exc).__name__}: {exc}"[:300]))
                if probe is not None:
                    probe.close()
                probe = None
                next_put = time.monotonic() + self.interval_s
                self._stop.wait(self.interval_s)
                continue
            self._stop.wait(poll)
        if probe is not None:
            now = time.time()
            breach = [m for m in outstanding if (now - m.t) * 1000.0 > self.thresholds[store]]
            for m in breach:  # still missing past the threshold: that much is certain
                self._emit(LagSample(store, (now - m.t) * 1000.0, m.receiving, t=now, lower_bound=True,
                                     detail={"at_stop": True}))
            probe.cleanup(outstanding)
            probe.close()


# ----------------------------------------------------------------------------------------- CloudWatch
def _metric_values(cw: Any, namespace: str, metric: str, dims: Mapping[str, str], start: datetime,
                   end: datetime, period: int) -> list[float]:
    query = {"Id": "m0", "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": metric,
                   "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
        "Period": period, "Stat": "Maximum"}}
    values: list[float] = []
    kw: dict[str, Any] = {"MetricDataQueries": [query], "StartTime": start, "EndTime": end}
    while True:
        out = cw.get_metric_data(**kw)
        for r in out.get("MetricDataResults", []):
            values += [float(v) for v in r.get("Values", [])]
        if not out.get("NextToken"):
            return values
        kw["NextToken"] = out["NextToken"]


def _stats(values: list[float], scale: float = 1.0) -> dict[str, Any]:
    v = sorted(x * scale for x in values)
    if not v:
        return {"p50": None, "p95": None, "p99": None, "max": None, "samples": 0}
    return {"p50": percentile(v, 50), "p95": percentile(v, 95), "p99": percentile(v, 99), "max": v[-1],
            "samples": len(v)}


def cloudwatch_lag(target: Any, start: float, end: float, period: int = 60) -> dict[str, dict[str, Any]]:
    """Lag per store over [start, end] (unix seconds) as CloudWatch recorded it.

    Values are the per-period *Maximum* (so percentiles are over periods, never below a spike);
    ``period`` 60 matches AWS's standard resolution (the lab publishes every second, so 1 works
    there). Both directions are read, so the numbers survive a failover during the drill.
    """
    t0 = datetime.fromtimestamp(start, UTC)
    t1 = datetime.fromtimestamp(max(end, start + period), UTC)
    regions = [target.primary_region, target.secondary_region]
    cw = {r: target.client("cloudwatch", r) for r in regions}
    errors: dict[str, str] = {}

    def read(region: str, ns: str, metric: str, dims: Mapping[str, str]) -> list[float]:
        try:
            return _metric_values(cw[region], ns, metric, dims, t0, t1, period)
        except Exception as exc:  # noqa: BLE001 - a region without CloudWatch: report, don't crash
            errors[f"{region} {ns}/{metric}"] = f"{type(exc).__name__}: {exc}"[:200]
            return []

    aurora: list[float] = []
    ddb: list[float] = []
    s3_latency: list[float] = []
    s3_pending: list[float] = []
    for r in regions:
        other = target.other(r)
        aurora += read(r, "AWS/RDS", "AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": target.regions[r].cluster_id})
        ddb += read(r, "AWS/DynamoDB", "ReplicationLatency",
                    {"TableName": target.regions[r].table, "ReceivingRegion": other})
        bucket = target.regions[r].bucket
        s3_pending += read(r, "AWS/S3", "OperationsPendingReplication", {"SourceBucket": bucket})
        try:
            found = cw[r].list_metrics(Namespace="AWS/S3", MetricName="ReplicationLatency",
                                       Dimensions=[{"Name": "SourceBucket", "Value": bucket}]).get("Metrics", [])
        except Exception as exc:  # noqa: BLE001
            errors[f"{r} AWS/S3/ReplicationLatency"] = f"{type(exc).__name__}: {exc}"[:200]
            found = []
        for m in found:
            s3_latency += read(r, "AWS/S3", "ReplicationLatency", {d["Name"]: d["Value"] for d in m["Dimensions"]})
    out: dict[str, dict[str, Any]] = {
        "aurora": {**_stats(aurora), "metric": "AWS/RDS AuroraGlobalDBReplicationLag"},
        "dynamodb": {**_stats(ddb), "metric": "AWS/DynamoDB ReplicationLatency"},
        "s3": {**_stats(s3_latency, 1000.0), "metric": "AWS/S3 ReplicationLatency (s -> ms)",
               "pending_operations": _stats(s3_pending)},
    }
    for v in out.values():
        v.update(source="cloudwatch", period_s=period, stat="Maximum")
    if errors:
        out["errors"] = errors  # type: ignore[assignment]
    return out


# ----------------------------------------------------------------------------------------- live view
def _fmt(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}"


def render_table(summary: Mapping[str, Mapping[str, Any]], elapsed_s: float | None = None) -> Any:
    """A Rich table of a LagMonitor summary."""
    from rich.table import Table

    title = "replication lag (ms)" + (f" - {elapsed_s:.0f} s" if elapsed_s is not None else "")
    table = Table(title=title)
    for col in ("store", "last", "p50", "p95", "p99", "max", "samples", "threshold", "status"):
        table.add_column(col, justify="left" if col in ("store", "status") else "right")
    for store, s in summary.items():
        if s.get("samples"):
            status = "[red]over threshold[/red]" if s.get("breached") else "[green]ok[/green]"
        else:
            status = f"[yellow]{s.get('last_error') or 'no sample yet'}[/yellow]"
        table.add_row(store, _fmt(s.get("last")), _fmt(s.get("p50")), _fmt(s.get("p95")), _fmt(s.get("p99")),
                      _fmt(s.get("max")), str(s.get("samples", 0)), _fmt(s.get("threshold_ms")), status)
    return table


def watch(target: Any, seconds: float = 30.0, interval: float = 1.0, *, stores: Sequence[str] = STORES,
          history: BaseHistory = NULL_HISTORY, console: Any = None, refresh_s: float = 0.5
          ) -> dict[str, dict[str, Any]]:
    """Sample for ``seconds`` and keep a live table on screen; return the final summary."""
    from rich.console import Console
    from rich.live import Live

    console = console or Console()
    mon = LagMonitor(target, history, stores=stores, interval_s=interval, max_seconds=seconds + 5)
    t0 = time.monotonic()
    mon.start()
    try:
        with Live(render_table(mon.summary(), 0.0), console=console, refresh_per_second=4) as live:
            while time.monotonic() - t0 < seconds:
                time.sleep(min(refresh_s, max(0.0, seconds - (time.monotonic() - t0))))
                live.update(render_table(mon.summary(), time.monotonic() - t0))
            summary = mon.stop()
            live.update(render_table(summary, time.monotonic() - t0))
    finally:
        mon.stop()
    return summary
