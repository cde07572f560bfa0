"""Replication-lag checker: percentiles per store, spikes over threshold fail."""

from __future__ import annotations

from typing import Any

import pytest

from drharness.checkers import lag


def test_drill_lag_within_thresholds(outage: Any) -> None:
    r = lag.check(outage().build())
    assert r.valid is True, r.detail
    per = r.figures["per_store"]
    assert set(per) == {"aurora", "dynamodb", "s3"}
    assert (
        per["aurora"]["samples"] == 20 + 39
        and per["aurora"]["p50"] == 150.0
        and per["aurora"]["p99"] == 150.0
        and per["aurora"]["max"] == 150.0
    )
    assert per["aurora"]["threshold_ms"] == 1000.0
    assert {"p50", "p95", "p99", "max"} <= set(per["s3"])


def test_lag_spike_fails(hb: Any) -> None:
    b = hb().drill_start(0)
    for i in range(100):
        b.lag(i, "aurora", 5000.0 if 40 <= i < 42 else 100.0)  # 2 % of samples spike to 5 s
        b.lag(i, "dynamodb", 2000.0)
    b.drill_end(200)
    r = lag.check(b.build())
    assert r.valid is False
    assert "aurora" in r.detail and "p99" in r.detail and "dynamodb" not in r.detail
    assert r.figures["per_store"]["aurora"]["p99"] == 5000.0
    assert r.figures["per_store"]["aurora"]["p50"] == 100.0


def test_single_outlier_passes_p99_but_not_max(hb: Any) -> None:
    b = hb().drill_start(0)
    for i in range(1000):
        b.lag(i, "aurora", 9000.0 if i == 500 else 100.0)
    b.drill_end(2000)
    assert lag.check(b.build()).valid is True
    assert lag.check(b.build(), {"percentile": 100}).valid is False


def test_threshold_override_merges_with_defaults(outage: Any) -> None:
    r = lag.check(outage().build(), {"thresholds_ms": {"dynamodb": 1000}})
    assert r.valid is False and "dynamodb" in r.detail
    assert r.figures["per_store"]["aurora"]["threshold_ms"] == 1000.0


def test_unmeasured_and_missing_stores_are_unknown(hb: Any) -> None:
    b = hb().drill_start(0).lag(1, "s3", None).lag(2, "aurora", 10).drill_end(3)
    r = lag.check(b.build())
    assert r.valid == "unknown" and r.figures["per_store"]["s3"]["unmeasured"] == 1
    b2 = hb().drill_start(0).lag(2, "aurora", 10).drill_end(3)
    assert lag.check(b2.build()).valid is True
    assert lag.check(b2.build(), {"stores": ["aurora", "dynamodb"]}).valid == "unknown"
    assert lag.check(hb().drill_start(0).drill_end(1).build()).valid == "unknown"


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert lag.percentile(values, 50) == 50.0
    assert lag.percentile(values, 99) == 99.0
    assert lag.percentile(values, 100) == 100.0
    assert lag.percentile([7.0], 1) == 7.0
    with pytest.raises(ValueError):
        lag.percentile([], 50)


def test_incomplete_history_is_unknown(outage: Any) -> None:
    assert lag.check(outage(end_drill=False).build()).valid == "unknown"
