"""Step definitions: thin. They run drills (or chaoslib experiments) and assert on checker results."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

import dns.resolver
import pytest
from pytest_bdd import given, parsers, then, when

E, W = "us-east-1", "us-west-2"


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {}


@given("the two-region stack is healthy with us-east-1 as the writer")
def healthy_stack(lab, ctx):  # noqa: ANN001
    lab.reset()
    ctx["lab"] = lab
    ctx["target"] = lab.target
    assert lab.writer_region() == E


@when(parsers.parse('the "{scenario}" drill runs'))
def run_drill(run_drill_once, ctx, scenario):  # noqa: ANN001
    ctx["report"] = run_drill_once(scenario)


def _check(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["name"] == name)


@then("the drill passes")
def drill_passes(ctx):  # noqa: ANN001
    r = ctx["report"]
    assert r["verdict"] == "pass", [c for c in r["checks"] if c["verdict"] != "pass"]


@then(parsers.parse("clients see healthy writes in us-west-2 within {minutes:d} minutes of the fault"))
def rto_within(ctx, minutes):  # noqa: ANN001
    rto = ctx["report"]["rto"]
    assert rto["seconds"] is not None and rto["seconds"] < minutes * 60
    assert _check(ctx["report"], "rto")["verdict"] == "pass"


@then("the recovery is reported per phase beside the profile's floor")
def rto_phases(ctx):  # noqa: ANN001
    rto = ctx["report"]["rto"]
    assert rto["phases"] and rto["floor_seconds"] > 0
    assert {"detection", "dns_ttl", "aurora_promotion"} <= set(rto["floor_terms"])


@then("each failover phase stays within its budget")
def phase_budgets(ctx, datatable):  # noqa: ANN001
    phases = ctx["report"]["rto"]["phases"]
    for phase, budget in datatable[1:]:
        if phase in phases:
            assert phases[phase] <= float(budget), f"{phase} took {phases[phase]} s > {budget} s"


@then(parsers.parse("acknowledged {store} writes were made during the drill"))
def acked(ctx, store):  # noqa: ANN001
    assert ctx["report"]["rpo"]["per_store"][store]["acknowledged"] > 0


@then(parsers.parse("the {store} RPO is under {seconds:d} seconds"))
def rpo_under(ctx, store, seconds):  # noqa: ANN001
    r = ctx["report"]
    assert _check(r, "rpo")["verdict"] == "pass"
    assert (r["rpo"]["seconds"] or 0) < seconds


@then(parsers.parse("no acknowledged {store} write was lost"))
def zero_loss(ctx, store):  # noqa: ANN001
    s = ctx["report"]["rpo"]["per_store"][store]
    assert s["lost"] == 0, s["lost_keys"]


@then("no orchestrator step called an API in us-east-1 that failed the failover")
def no_use_dependency(ctx):  # noqa: ANN001
    failover = next(run for run in ctx["report"]["orchestrator"] if run["kind"] == "failover")
    assert all(s["status"] in ("ok", "skipped") for s in failover["steps"]), failover["steps"]


@when("customers read through the CDN while a planned switchover runs")
def reads_during_switchover(ctx, tmp_path):  # noqa: ANN001
    t = ctx["target"]
    oid = f"cdn-{int(time.time() * 1000)}"
    req = urllib.request.Request(t.regions[E].app_url + "/orders", data=b'{"id": "%s"}' % oid.encode(),
                                 method="POST")
    urllib.request.urlopen(req, timeout=5).read()
    time.sleep(1.0)  # replicated to us-west-2 before the switchover
    results: list[int | str] = []
    stop = threading.Event()

    def reader() -> None:
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{t.edge_url}/orders/{oid}", timeout=5) as r:
                    results.append(r.status)
            except Exception as exc:  # noqa: BLE001
                results.append(getattr(exc, "code", type(exc).__name__))
            time.sleep(0.05)

    th = threading.Thread(target=reader)
    th.start()
    from drharness.orchestrator import Orchestrator, OrchestratorConfig

    try:
        Orchestrator(t, OrchestratorConfig(mode="planned", confirmed=True, state_dir=str(tmp_path))).failover()
        time.sleep(1.0)
    finally:
        stop.set()
        th.join()
    ctx["reads"] = results


@then("no customer read failed")
def no_failed_reads(ctx):  # noqa: ANN001
    reads = ctx["reads"]
    assert len(reads) > 10
    assert all(r == 200 for r in reads), [r for r in reads if r != 200][:5]


@then(parsers.parse("the failback takes less than {minutes:d} minutes"))
def failback_time(ctx, minutes):  # noqa: ANN001
    fb = ctx["report"]["failback"]
    assert fb and fb["seconds"] < minutes * 60 and fb["verdict"] == "pass"


@then("us-east-1 is the writer again")
def east_writer(lab):  # noqa: ANN001
    assert lab.writer_region() == E


@then("both regions hold the same orders")
def same_orders(lab):  # noqa: ANN001
    from drharness import consistency

    res = consistency.check(lab.target, ["aurora"], tables=["orders"])["aurora"].to_dict()
    assert res["ok"], res["detail"]


def _resolver(t):  # noqa: ANN001, ANN202
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [t.dns.resolver_host]
    r.port = t.dns.resolver_port
    r.lifetime = 2
    return r


@then("the failover name answers us-east-1 with the configured TTL")
def dns_primary(ctx):  # noqa: ANN001
    t = ctx["target"]
    ans = _resolver(t).resolve(t.dns.name, "A")
    assert ans[0].to_text() == t.regions[E].host
    assert ans.rrset.ttl == t.dns.ttl == t.timing["dns_ttl"]


@when("the us-east-1 application becomes unreachable")
def east_app_down(ctx):  # noqa: ANN001
    ctx["t0"] = time.monotonic()
    ctx["lab"].fault(E, data_plane_down=True)


@then("the failover name answers us-west-2 within interval x threshold plus one interval")
def dns_flips(ctx):  # noqa: ANN001
    t = ctx["target"]
    interval, threshold = t.timing["health_interval_s"], t.timing["failure_threshold"]
    limit = interval * (threshold + 1)
    r = _resolver(t)
    while time.monotonic() - ctx["t0"] < limit + 1.0:
        if r.resolve(t.dns.name, "A")[0].to_text() == t.regions[W].host:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - ctx["t0"]
    assert r.resolve(t.dns.name, "A")[0].to_text() == t.regions[W].host
    # within the window allowed by the config, with 1 s of scheduling slack on a loaded CI machine
    assert elapsed <= limit + 1.0, f"flip after {elapsed:.2f} s, window {limit} s"
    ctx["lab"].clear()


@when(parsers.parse("{first} and then {second} write the same key while replication is paused"))
def conflicting_writes(ctx, first, second):  # noqa: ANN001
    t = ctx["target"]
    table = t.regions[E].table
    key = {"pk": {"S": f"lww-{time.time_ns()}"}}
    ctx["lab"].control("/pause", {"kind": "dynamodb", "name": table, "paused": True})
    t.client("dynamodb", first).put_item(TableName=table, Item={**key, "v": {"S": first}})
    time.sleep(0.05)
    t.client("dynamodb", second).put_item(TableName=table, Item={**key, "v": {"S": second}})
    ctx["key"], ctx["table"] = key, table


@when("replication resumes")
def resume(ctx):  # noqa: ANN001
    ctx["lab"].control("/pause", {"kind": "dynamodb", "name": ctx["table"], "paused": False})


@then(parsers.parse("both regions hold the value written by {second}"))
def converged(ctx, second):  # noqa: ANN001
    t = ctx["target"]
    deadline = time.time() + 15
    vals: list = []
    while time.time() < deadline:
        vals = [t.client("dynamodb", r).get_item(TableName=ctx["table"], Key=ctx["key"], ConsistentRead=True)
                .get("Item", {}).get("v", {}).get("S") for r in (E, W)]
        if vals == [second, second]:
            return
        time.sleep(0.1)
    raise AssertionError(f"regions hold {vals}, expected {second} in both")


@then(parsers.parse("the drill's downtime uses less than {pct:d} % of the 21.6 minute monthly error budget"))
def error_budget(ctx, pct):  # noqa: ANN001
    av = ctx["report"]["availability"]
    assert av["budget_consumed"] is not None
    assert av["budget_consumed"] * 100 < pct


@then(parsers.parse("the {store} replication lag was measured"))
def lag_measured(ctx, store):  # noqa: ANN001
    lag = ctx["report"]["replication_lag_ms"].get(store) or {}
    assert lag.get("p99") is not None, f"no {store} lag samples in the drill"


@then(parsers.parse("the {store} replication lag p99 is under {threshold_ms:d} ms"))
def lag_under(ctx, store, threshold_ms):  # noqa: ANN001
    p99 = ctx["report"]["replication_lag_ms"][store]["p99"]
    assert p99 < threshold_ms, f"{store} p99 {p99} ms"
    assert next(c for c in ctx["report"]["checks"] if c["name"] == "replication_lag")["verdict"] == "pass"
