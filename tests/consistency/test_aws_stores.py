"""DynamoDB and S3 consistency, lag sampling and the LWW test against the lab's gateways."""

from __future__ import annotations

import dataclasses
import io
import json
import time
import uuid
from typing import Any

import pytest

from drharness.checkers import lag as lag_checker
from drharness.consistency import check, check_dynamodb, check_s3, exit_code, report_section
from drharness.consistency import lag as lagmod
from drharness.consistency.conflict import run_conflict_test
from drharness.errors import BadInput, EnvironmentProblem
from drharness.history import MemoryHistory

pytestmark = pytest.mark.lab


def _with(t: Any, region: str, **changes: str) -> Any:
    regions = dict(t.regions)
    regions[region] = dataclasses.replace(regions[region], **changes)
    return dataclasses.replace(t, regions=regions)


def wait_for(cond: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.05)
    return v


def test_all_stores_consistent_after_normal_replication(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    p = t.primary_region
    ddb, s3 = t.client("dynamodb", p), t.client("s3", p)
    for i in range(20):
        ddb.put_item(TableName=t.regions[p].table, Item={"pk": {"S": f"ok-{i}"}, "n": {"N": str(i)}})
        s3.put_object(Bucket=t.regions[p].bucket, Key=f"ok/{i}.json", Body=b"{}")
    results = check(t, settle_s=10)
    section = report_section(results)
    assert set(section) == {"aurora", "dynamodb", "s3"}
    for store, r in results.items():
        assert r.ok, f"{store}: {r.detail}"
        assert r.compared > 0
    assert section["dynamodb"]["compared"] >= 20 and section["s3"]["compared"] >= 20
    assert exit_code(results) == 0


def test_dynamodb_paused_replication_diff_names_the_item(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    p = t.primary_region
    clean_lab.control("/pause", {"kind": "dynamodb", "name": t.regions[p].table, "paused": True})
    key = f"paused-{uuid.uuid4().hex[:8]}"
    t.client("dynamodb", p).put_item(TableName=t.regions[p].table, Item={"pk": {"S": key}})
    r = check_dynamodb(t, settle_s=0.5)
    assert not r.ok and r.status == "diff" and r.diffs == 1
    assert r.diff_keys == [key]
    assert r.extra["diff_details"] == [{"key": key, "kind": f"only_in_{p}"}]
    assert exit_code({"dynamodb": r}) == 1


def test_s3_paused_replication_is_pending_not_lost(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    p = t.primary_region
    clean_lab.control("/pause", {"kind": "s3", "name": t.regions[p].bucket, "paused": True})
    key = f"paused/{uuid.uuid4().hex[:8]}.json"
    t.client("s3", p).put_object(Bucket=t.regions[p].bucket, Key=key, Body=b"x")
    r = check_s3(t, settle_s=0.5)
    assert not r.ok and r.status == "pending"
    assert r.diff_keys == [key]
    assert r.extra["pending"] == 1 and r.extra["lost"] == 0
    assert r.extra["diff_details"][0]["reasons"][0]["reason"] == "ReplicationStatus PENDING"
    clean_lab.control("/pause", {"kind": "s3", "name": t.regions[p].bucket, "paused": False})
    assert wait_for(lambda: check_s3(t, settle_s=0).ok)


def test_unknown_table_or_bucket_is_bad_input(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    s = t.secondary_region
    with pytest.raises(BadInput, match=f"DynamoDB table 'no-such-table' not found in {s}"):
        check_dynamodb(_with(t, s, table="no-such-table"))
    with pytest.raises(BadInput, match=f"S3 bucket 'no-such-bucket' not found in {s}"):
        check_s3(_with(t, s, bucket="no-such-bucket"), settle_s=0)
    # several stores at once: every message, one exception; captured for a drill report
    bad = _with(_with(t, s, table="no-such-table"), s, bucket="no-such-bucket")
    with pytest.raises(BadInput, match="dynamodb: .*s3: "):
        check(bad, "dynamodb,s3")
    res = check(bad, "dynamodb,s3", capture_errors=True)
    assert res["s3"].status == "error" and not res["s3"].ok and exit_code(res) == 2


def test_unreachable_region_is_an_environment_problem(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    clean_lab.fault(t.secondary_region, mode="unreachable")
    with pytest.raises(EnvironmentProblem, match=f"{t.secondary_region} unreachable"):
        check_dynamodb(t)


def test_lag_samples_go_to_the_history_and_the_lag_checker(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    h = MemoryHistory()
    d = h.drill_start()
    one = [lagmod.sample_aurora(t, history=h), lagmod.sample_dynamodb(t, history=h), lagmod.sample_s3(t, history=h)]
    for s in one:
        assert s.lag_ms is not None and not s.lower_bound and s.region == t.secondary_region, s
    mon = lagmod.LagMonitor(t, h, interval_s=0.3, max_seconds=30).start()
    time.sleep(1.5)
    summary = mon.stop()
    assert not mon.running
    h.drill_end(d)
    for store in ("aurora", "dynamodb", "s3"):
        assert summary[store]["samples"] >= 1, summary
        assert summary[store]["p99"] < lagmod.THRESHOLDS_MS[store]
    lag_events = [e for e in h.events if e.process == "lag"]
    assert {e.value["store"] for e in lag_events} == {"aurora", "dynamodb", "s3"}
    assert all(e.f == "lag" and e.type == "ok" and "lag_ms" in e.value for e in lag_events)
    verdict = lag_checker.check(h.events)
    assert verdict.valid is True, verdict.detail
    # markers are cleaned up: nothing of the sampler is left to compare
    assert check_dynamodb(t, settle_s=2).ok


def test_paused_replication_shows_as_growing_lag(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    clean_lab.control("/pause", {"kind": "dynamodb", "name": t.regions[t.primary_region].table, "paused": True})
    h = MemoryHistory()
    mon = lagmod.LagMonitor(t, h, stores=["dynamodb"], interval_s=0.2, thresholds_ms={"dynamodb": 500},
                            give_up_s={"dynamodb": 30}).start()
    time.sleep(1.0)
    clean_lab.control("/pause", {"kind": "dynamodb", "name": t.regions[t.primary_region].table, "paused": False})
    time.sleep(0.8)
    summary = mon.stop()["dynamodb"]
    assert summary["max"] > 700 and summary["breached"], summary


def test_cloudwatch_readback(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    end = time.time()
    out = lagmod.cloudwatch_lag(t, end - 120, end, period=1)
    assert out["aurora"]["samples"] > 0 and out["aurora"]["max"] is not None
    assert out["s3"]["pending_operations"]["samples"] > 0
    assert all(out[s]["source"] == "cloudwatch" for s in ("aurora", "dynamodb", "s3"))


def test_watch_renders_a_live_table(clean_lab) -> None:  # noqa: ANN001
    from rich.console import Console

    buf = io.StringIO()
    summary = lagmod.watch(clean_lab.target, seconds=1.0, interval=0.3, stores=["aurora"],
                           console=Console(file=buf, width=120, force_terminal=False))
    assert summary["aurora"]["samples"] >= 1
    assert "replication lag" in buf.getvalue() and "aurora" in buf.getvalue()


def test_dynamodb_conflicting_writes_converge_to_last_writer(clean_lab) -> None:  # noqa: ANN001
    h = MemoryHistory()
    r = run_conflict_test(clean_lab.target, keys=4, rounds=2, history=h, quiet_s=0.6)
    assert r.valid is True, (r.detail, r.figures.get("violations"))
    assert r.figures["keys"] == 4 and r.figures["writes"] == 16
    assert r.figures["contested_keys"] >= 1  # some final values were decided by a race
    assert not any(e.process == "harness" for e in h.events)  # the drill's own start/end stay the drill's


def test_cli_hook(clean_lab, capsys) -> None:  # noqa: ANN001
    import argparse

    from drharness.consistency.cli import add_cli

    parser = argparse.ArgumentParser(prog="drharness")
    add_cli(parser.add_subparsers(dest="cmd", required=True))
    a = parser.parse_args(["consistency", "check", "--json", "--stores", "dynamodb,s3", "--settle", "2"])
    assert a.fn(a) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and set(doc["consistency"]) == {"dynamodb", "s3"}
    a = parser.parse_args(["consistency", "check", "--stores", "mysql"])
    with pytest.raises(BadInput):
        a.fn(a)
    a = parser.parse_args(["lag", "watch", "--seconds", "1", "--interval", "0.3", "--stores", "aurora", "--json"])
    assert a.fn(a) == 0
    assert "aurora" in json.loads(capsys.readouterr().out)
