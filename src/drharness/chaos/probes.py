"""Probes: what steady state means for a two-region deployment."""

from __future__ import annotations

import time
from typing import Any

from drharness.aggregator import Aggregator
from drharness.chaos import session as sessions
from drharness.chaos import target_from
from drharness.workload.prober import Prober

__all__ = ["acknowledged_writes", "aggregator_verdict", "aurora_lag_ms", "dynamodb_replicates",
           "failover_name_healthy", "recovery_monitor", "s3_replicates", "serving_region"]

RTO_BUDGET_S = 900.0


def failover_name_healthy(attempts: int = 3, configuration: dict | None = None, secrets: dict | None = None) -> bool:
    """A healthy write through the failover DNS name (any region): True if one of `attempts` succeeds."""
    p = Prober(target_from(configuration))
    return any(p.probe_once().get("status") == 201 for _ in range(max(1, attempts)))


def serving_region(configuration: dict | None = None, secrets: dict | None = None) -> str | None:
    """The region the failover name currently resolves to."""
    t = target_from(configuration)
    p = Prober(t)
    return p.resolver.current_region()


def aurora_lag_ms(region: str = "us-west-2", configuration: dict | None = None, secrets: dict | None = None) -> float:
    """Replica lag of the region's Aurora cluster, from PostgreSQL; 0 for the writer; 1e9 if unreachable."""
    res = Aggregator(target_from(configuration)).check_aurora(region)
    if not res.ok and res.metrics.get("lag_ms") is None:
        return 1e9
    return float(res.metrics.get("lag_ms") or 0.0)


def aggregator_verdict(region: str, configuration: dict | None = None, secrets: dict | None = None) -> dict[str, Any]:
    return Aggregator(target_from(configuration)).evaluate_region(region).to_dict()


def recovery_monitor(duration_s: float = 120.0, interval_s: float = 0.5, min_healthy: int = 3,
                     configuration: dict | None = None, secrets: dict | None = None) -> dict[str, Any]:
    """Background probe: timestamps when disruption was detected and when steady state came back.

    Run it with ``"background": true`` before the fault; it probes the failover name every
    interval and returns ``{disrupted_at, recovered_at, time_to_recover_s, probes, failures}``.
    Bounded by duration_s; it returns early once recovered after a disruption, or, in a run
    recorded by the drharness control, when the method ended without any disruption."""
    p = Prober(target_from(configuration))
    s = sessions.current()
    start = time.time()
    disrupted_at = recovered_at = None
    streak = failures = n = 0
    first_ok_of_streak = None
    while time.time() - start < duration_s:
        if disrupted_at is None and s is not None and s.method_done.is_set():
            break
        n += 1
        ok = p.probe_once().get("status") == 201
        now = time.time()
        if not ok:
            failures += 1
            streak = 0
            if disrupted_at is None:
                disrupted_at = now
        elif disrupted_at is not None:
            if streak == 0:
                first_ok_of_streak = now
            streak += 1
            if streak >= min_healthy:
                recovered_at = first_ok_of_streak
                break
        time.sleep(interval_s)
    return {"started_at": start, "disrupted_at": disrupted_at, "recovered_at": recovered_at,
            "time_to_recover_s": (recovered_at - disrupted_at) if disrupted_at and recovered_at else None,
            "probes": n, "failures": failures}


def dynamodb_replicates(source: str = "us-east-1", within_s: float = 60.0, configuration: dict | None = None,
                        secrets: dict | None = None) -> float:
    """Write a marker item in `source`; seconds until the other region holds it (raises past within_s)."""
    t = target_from(configuration)
    dst = t.other(source)
    key = {"pk": {"S": f"chaos-marker-{time.time_ns()}"}}
    t.client("dynamodb", source).put_item(TableName=t.regions[source].table, Item=key)
    start = time.time()
    other = t.client("dynamodb", dst)
    while time.time() - start < within_s:
        if other.get_item(TableName=t.regions[dst].table, Key=key, ConsistentRead=True).get("Item"):
            return round(time.time() - start, 3)
        time.sleep(0.1)
    raise RuntimeError(f"marker not replicated {source} -> {dst} within {within_s} s")


def s3_replicates(source: str = "us-east-1", within_s: float = 900.0, configuration: dict | None = None,
                  secrets: dict | None = None) -> float:
    """Put a marker object in `source`; seconds until its replica (ReplicationStatus REPLICA) exists."""
    t = target_from(configuration)
    dst = t.other(source)
    key = f"chaos/marker-{time.time_ns()}"
    t.client("s3", source).put_object(Bucket=t.regions[source].bucket, Key=key, Body=b"marker")
    start = time.time()
    other = t.client("s3", dst)
    while time.time() - start < within_s:
        try:
            if other.head_object(Bucket=t.regions[dst].bucket, Key=key).get("ReplicationStatus") == "REPLICA":
                return round(time.time() - start, 3)
        except Exception:  # noqa: BLE001 - not there yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"marker not replicated {source} -> {dst} within {within_s} s")


def acknowledged_writes(region: str = "us-west-2", configuration: dict | None = None,
                        secrets: dict | None = None) -> dict[str, dict[str, int]]:
    """Verifier: once clients see healthy writes in `region` (and one TTL more), stop the canary and
    read back every acknowledged write of this run from `region`; the RPO checker judges the read.

    Returns per store ``{"acknowledged", "found"}``. Needs the drharness control (it owns the canary)."""
    from drharness.workload.canary import read_back

    s = sessions.current()
    if s is None or s.canary is None:
        raise RuntimeError("acknowledged_writes needs the drharness.chaos.control control in the experiment "
                           "(it runs the canary whose writes are read back)")
    if s.failover_failed:
        pass  # already recorded as a harness error; read back what is there now
    elif not s.wait_recovered(region, RTO_BUDGET_S):
        s.error(f"clients never saw {sessions.RECOVERED_PROBES} healthy writes in {region}")
    time.sleep(s.t.dns.ttl + sessions.DNS_GRACE_S + 0.5)  # evidence for the stale-DNS checker either way
    s.canary.stop()
    found = read_back(s.t, s.h, region, s.canary.run_id)
    return {store: {"acknowledged": s.canary.acked.get(store, 0), "found": len(keys)} for store, keys in found.items()}
