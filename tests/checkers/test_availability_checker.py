"""Availability checker: requests, errors, downtime and error budget."""

from __future__ import annotations

from typing import Any

import pytest

from drharness.checkers import availability


def test_drill_downtime_and_budget(outage: Any) -> None:
    r = availability.check(outage().build())
    assert r.valid is True, r.detail
    f = r.figures
    assert f["requests"] == 99 + 100 + 200
    assert f["errors"] == 100
    # first failing probe sent at 100, first healthy answer at 200.05
    assert f["downtime_s"] == pytest.approx(100.05)
    assert f["error_budget_s"] == pytest.approx(21.6 * 60)
    assert f["budget_consumed"] == pytest.approx(100.05 / 1296)
    assert len(f["downtime_windows"]) == 1 and not f["ongoing_at_end"]


def test_flaps_add_windows(outage: Any) -> None:
    def flap(b: Any) -> None:
        b.remove(lambda e: e.f == "probe" and e.t in (b.t0 + 300, b.t0 + 300.05))
        b.probe(300, "fail", None, ip="127.0.2.1", latency=0.5)

    f = availability.check(outage(post_recovery=flap).build()).figures
    assert len(f["downtime_windows"]) == 2
    assert f["downtime_s"] == pytest.approx(100.05 + 1.05)


def test_outage_longer_than_budget_fails(outage: Any) -> None:
    r = availability.check(outage(recover_at=100 + 1500).build())
    assert r.valid is False and r.figures["budget_consumed"] > 1
    assert availability.check(outage().build(), {"max_budget_fraction": 0.05}).valid is False


def test_still_down_at_end_counts_until_drill_end(hb: Any) -> None:
    b = hb().drill_start(0).probes(1, 10, region="us-east-1").probes(10, 20, outcome="fail", region=None)
    b.drill_end(30)
    f = availability.check(b.build()).figures
    assert f["ongoing_at_end"] and f["downtime_s"] == pytest.approx(20.0)


def test_in_flight_probes_are_requests_not_errors(hb: Any) -> None:
    b = hb().drill_start(0).probes(1, 10, region="us-east-1").probe(10, None, None).drill_end(11)
    f = availability.check(b.build()).figures
    assert f["requests"] == 10 and f["errors"] == 0 and f["in_flight"] == 1


def test_no_probes_unknown_and_incomplete_unknown(hb: Any, outage: Any) -> None:
    assert availability.check(hb().drill_start(0).drill_end(1).build()).valid == "unknown"
    assert availability.check(outage(end_drill=False).build()).valid == "unknown"
