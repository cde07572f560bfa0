"""Step definitions: thin. They run the scenario's Chaos Toolkit experiment through chaoslib and assert on
what the checkers found in the history that run wrote (``drharness.chaos.judge``).

Experiment runs are shared: ``run_experiment_once`` (root conftest) runs each scenario once per test
session, behind a file lock that xdist workers share, and every feature judging that scenario reads the
same report. Journal, history and drill report stay in the run's report dir (``report["_report_dir"]``).
"""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

import dns.resolver
import pytest
from pytest_bdd import given, parsers, then, when

from steps.allure_hooks import *  # noqa: F403 - Allure attachments, categories, environment (inert without --alluredir)

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


@when(parsers.parse('the "{scenario}" experiment runs'))
def run_experiment(run_experiment_once, ctx, scenario):  # noqa: ANN001
    """chaoslib runs experiments/<scenario>.json (the "failback" acceptance is the region-outage run's
    failback rollback); the checkers judge the history its drharness control wrote."""
    ctx["report"] = run_experiment_once(scenario)


def _check(report: dict, name: str) -> dict:
    found = [c for c in report["checks"] if c["name"] == name]
    assert found, f"no {name} check in the run's report (checks: {[c['name'] for c in report['checks']]})"
    return found[0]


@then("the experiment completes without deviating from its steady state")
def experiment_completed(ctx):  # noqa: ANN001
    j = ctx["report"]["journal"]
    assert j is not None and j["status"] == "completed" and not j["deviated"], j
    assert not ctx["report"]["errors"], ctx["report"]["errors"]


@then("every check of the run passes")
def run_passes(ctx):  # noqa: ANN001
    r = ctx["report"]
    assert r["verdict"] == "pass", [c for c in r["checks"] if c["verdict"] != "pass"]


@then(parsers.parse("clients see healthy writes in us-west-2 within {minutes:d} minutes of the fault"))
def rto_within(ctx, minutes):  # noqa: ANN001
    rto = ctx["report"]["rto"]
    assert _check(ctx["report"], "rto")["verdict"] == "pass"
    assert rto["seconds"] is not None and rto["seconds"] < minutes * 60, rto


@then("the recovery is reported per phase beside the profile's floor")
def rto_phases(ctx):  # noqa: ANN001
    rto = ctx["report"]["rto"]
    assert rto["phases"] and rto["floor_seconds"] > 0
    assert {"detection", "dns_ttl", "aurora_promotion"} <= set(rto["floor_terms"])


@then(parsers.parse("each failover phase stays within its budget, {minutes:d} minutes in all"))
def phase_budgets(ctx, datatable, minutes):  # noqa: ANN001
    phases = ctx["report"]["rto"]["phases"]
    budgets = {phase: float(budget) for phase, budget in datatable[1:]}
    assert sum(budgets.values()) < minutes * 60, f"the phase budgets add up to {sum(budgets.values())} s"
    for phase, budget in budgets.items():
        assert phase in phases, f"phase {phase} was not measured (measured: {sorted(phases)})"
        assert phases[phase] <= budget, f"{phase} took {phases[phase]} s > {budget} s"


@then("no client kept using us-east-1's address longer than the record's TTL after the flip")
def no_stale_dns(ctx):  # noqa: ANN001
    assert _check(ctx["report"], "dns")["verdict"] == "pass", _check(ctx["report"], "dns")


@then(parsers.parse("acknowledged {store} writes were made during the run"))
def acked(ctx, store):  # noqa: ANN001
    assert ctx["report"]["rpo"]["per_store"][store]["acknowledged"] > 0


@then(parsers.parse("the acknowledged {store} writes lost span less than {seconds:d} seconds"))
def rpo_under(ctx, store, seconds):  # noqa: ANN001
    r = ctx["report"]
    assert _check(r, "rpo")["verdict"] == "pass", _check(r, "rpo")
    assert r["slo"]["rpo_s"] <= seconds
    lost = r["rpo"]["per_store"][store]
    assert lost["lost"] == 0 or (r["rpo"]["seconds"] is not None and r["rpo"]["seconds"] < seconds), lost


@then(parsers.parse("no acknowledged {store} write was lost"))
def zero_loss(ctx, store):  # noqa: ANN001
    s = ctx["report"]["rpo"]["per_store"][store]
    assert s["lost"] == 0, s["lost_keys"]


@then("no orchestrator step called an API in us-east-1 that failed the failover")
def no_use_dependency(ctx):  # noqa: ANN001
    failover = [run for run in ctx["report"]["orchestrator"] if run["kind"] == "failover"]
    assert len(failover) == 1, ctx["report"]["orchestrator"]
    steps = failover[0]["steps"]
    assert [s["name"] for s in steps][-1] == "notify", steps  # the whole plan ran
    assert all(s["status"] in ("ok", "skipped") for s in steps), steps


@when("customers read through the CDN while a planned switchover runs")
def reads_during_switchover(ctx, tmp_path):  # noqa: ANN001
    """Runs the orchestrator's planned switchover directly, not the experiment: the reader has to run
    concurrently with the switchover, and the planned-switchover experiment run is cached and shared
    with the zero-loss scenarios (a second, uncached run here would cost ~15 s). The reads are judged
    as they are: every one must be a 200."""
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


@then(parsers.parse("clients see healthy writes in us-east-1 again less than {minutes:d} minutes after the failback "
                    "starts"))
def failback_time(ctx, minutes):  # noqa: ANN001
    fb = ctx["report"]["failback"]
    assert fb and fb["verdict"] == "pass", _check(ctx["report"], "failback")
    assert fb["seconds"] is not None and fb["seconds"] < minutes * 60, fb
    assert ctx["report"]["slo"]["failback_s"] <= minutes * 60


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


@then(parsers.parse("its downtime uses less than {pct:d} % of the {minutes:g} minute monthly error budget"))
def error_budget(ctx, pct, minutes):  # noqa: ANN001
    av = ctx["report"]["availability"]
    assert _check(ctx["report"], "availability")["verdict"] == "pass"
    assert av["downtime_s"] is not None and av["budget_consumed"] is not None
    # the checker's budget is the 99.95 % SLA over 30 days; the feature's number must be that budget
    if av["budget_consumed"]:
        assert av["downtime_s"] / av["budget_consumed"] == pytest.approx(minutes * 60)
    assert av["budget_consumed"] * 100 < pct, f"{av['downtime_s']:.1f} s = {av['budget_consumed']:.2%} of the budget"


@then(parsers.parse("the {store} replication lag was measured"))
def lag_measured(ctx, store):  # noqa: ANN001
    lag = ctx["report"]["replication_lag_ms"].get(store) or {}
    assert lag.get("p99") is not None, f"no {store} lag samples in the run"


@then(parsers.parse("the {store} replication lag p99 is under {threshold_ms:d} ms"))
def lag_under(ctx, store, threshold_ms):  # noqa: ANN001
    p99 = ctx["report"]["replication_lag_ms"][store]["p99"]
    assert p99 < threshold_ms, f"{store} p99 {p99} ms"
    assert next(c for c in ctx["report"]["checks"] if c["name"] == "replication_lag")["verdict"] == "pass"


@when(parsers.parse('this session\'s "{scenario}" experiment run and drill run are counted as {runs:d} runs in a row'))
def shared_runs_counted(run_experiment_once, run_drill_once, ctx, tmp_path, scenario, runs):  # noqa: ANN001
    """The runs the session shares, in the order they ran, as they were judged: the Chaos Toolkit
    experiment and the drill runner drive the same fault and failover. Counting them costs no extra run."""
    from pathlib import Path

    from drharness.chaos.runner import repeat_experiment

    reports = [run_experiment_once(scenario), run_drill_once(scenario)]
    assert len(reports) == runs, f"{runs} runs asked, {len(reports)} shared"
    prior = [Path(r["_report_dir"]) for r in sorted(reports, key=lambda r: r.get("started_at") or 0)]
    ctx["archive"] = tmp_path / "history"
    ctx["runs_history"] = repeat_experiment(scenario, runs, tmp_path / "runs", history_dir=ctx["archive"], prior=prior)
    ctx["runs"] = runs


@then("each run's outcome is recorded in the runs history")
def outcomes_recorded(ctx):  # noqa: ANN001
    from drharness.history import load_history, ops_for

    runs = ops_for(load_history(ctx["runs_history"]), "harness", "run")
    assert len(runs) == ctx["runs"], runs
    for op in runs:
        assert op.type in ("ok", "fail"), f"run {op.invoke_value} has no outcome: {op.value}"
        assert op.type == "ok" or op.value["failed_checks"], op.value


@then(parsers.parse('the success-rate checker does not refute "more than {pct:d} %" over the {runs:d} runs'))
def success_rate_holds(ctx, pct, runs):  # noqa: ANN001
    from drharness.checkers import success_rate
    from drharness.history import load_history

    res = success_rate.check(load_history(ctx["runs_history"]), {"objective": pct / 100, "min_runs": runs})
    ctx["success"] = res
    assert res.figures["runs"] == runs
    assert res.valid is not False, f"{res.detail}; failed runs: {res.figures['failed_runs']}"


@then(parsers.parse("the report says {needed:d} consecutive successes are needed to demonstrate {pct:d} % at "
                    "{conf:d} % confidence"))
def runs_needed(ctx, needed, pct, conf):  # noqa: ANN001
    f = ctx["success"].figures
    assert f["objective"] == pct / 100 and f["confidence"] == conf / 100
    assert f["runs_needed"] == needed
    assert f["demonstrated"] is (f["runs"] >= needed and f["successes"] == f["runs"])


@then('the archived runs summarised by "drharness report --history" get the same success-rate verdict')
def archive_verdict(ctx):  # noqa: ANN001
    from drharness.report.history_trend import history_trend

    s = history_trend(ctx["archive"], plot=False)["success"]
    res = ctx["success"]
    assert (s["runs"], s["passed"]) == (res.figures["runs"], res.figures["successes"]), s
    assert s["verdict"] == res.verdict, (s["detail"], res.detail)
