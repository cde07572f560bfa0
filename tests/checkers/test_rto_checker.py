"""RTO checker: recovery point, phases, planted outages and flaps."""

from __future__ import annotations

from typing import Any

import pytest

from drharness.checkers import check_safe, rto

FAULT = 100.0


def test_region_outage_passes_with_phases(outage: Any, t0: float) -> None:
    r = rto.check(outage().build(), {"new_region": "us-west-2", "floor_seconds": 50.0})
    assert r.valid is True, r.detail
    f = r.figures
    assert f["seconds"] == pytest.approx(100.05)
    assert f["recovered_at"] == pytest.approx(t0 + 200.05)
    assert f["start"] == t0 + FAULT and f["start_source"] == "fault"
    assert f["old_region"] == "us-east-1" and f["new_region"] == "us-west-2"
    assert f["ratio"] == pytest.approx(100.05 / 50.0)
    assert f["phases"] == pytest.approx(
        {
            "detection": 15.0,
            "decision": 2.0,
            "aurora_promotion": 35.0,
            "dns": 20.0,
            "warmup": 25.0,
            "validation": 8.0,
        }
    )
    assert list(f["phases"]) == ["detection", "decision", "aurora_promotion", "dns", "warmup", "validation"]
    assert "fence" in f["steps"] and "notify" in f["steps"]
    assert r.verdict == "pass"


def test_new_region_is_inferred_from_last_healthy_probe(outage: Any) -> None:
    r = rto.check(outage().build())
    assert r.valid is True and r.figures["new_region"] == "us-west-2" and r.figures["new_region_inferred"]


def test_prober_gap_beyond_slo_fails(outage: Any) -> None:
    history = outage(recover_at=FAULT + 1000).build()
    r = rto.check(history, {"new_region": "us-west-2"})
    assert r.valid is False
    assert r.figures["seconds"] == pytest.approx(1000.05)
    assert "> SLO 900s" in r.detail


def test_tighter_slo_is_honoured(outage: Any) -> None:
    assert rto.check(outage().build(), {"slo_s": 60}).valid is False


@pytest.mark.parametrize("flap", ["fail", "info"])
def test_flap_after_recovery_moves_recovery_point(outage: Any, flap: str) -> None:
    def flap_at_300(b: Any) -> None:
        b.remove(lambda e: e.f == "probe" and e.t == b.t0 + 300)
        b.remove(lambda e: e.f == "probe" and e.t == b.t0 + 300.05)
        b.probe(300, flap, None, ip="127.0.2.1")

    r = rto.check(outage(post_recovery=flap_at_300).build(), {"new_region": "us-west-2"})
    assert r.valid is True, r.detail
    assert r.figures["seconds"] == pytest.approx(301.05 - FAULT)


def test_flap_into_old_region_after_recovery_moves_recovery_point(outage: Any) -> None:
    def served_by_old(b: Any) -> None:
        b.probe(350.5, "ok", "us-east-1")

    r = rto.check(outage(post_recovery=served_by_old).build(), {"new_region": "us-west-2"})
    assert r.figures["recovered_at"] - r.figures["start"] == pytest.approx(351.05 - FAULT)


def test_non_2xx_ok_probe_is_not_healthy(outage: Any) -> None:
    def bad_status(b: Any) -> None:
        b.probe(390.5, "ok", "us-west-2", status=500)

    r = rto.check(outage(post_recovery=bad_status).build())
    assert r.figures["recovered_at"] - r.figures["start"] == pytest.approx(391.05 - FAULT)


def test_never_recovered_fails(hb: Any) -> None:
    b = hb().drill_start(0).probes(1, 100, region="us-east-1").fault(100)
    b.probes(100, 400, outcome="fail", region=None).drill_end(400)
    r = rto.check(b.build(), {"new_region": "us-west-2"})
    assert r.valid is False and "never recovered" in r.detail and r.figures["seconds"] is None


def test_never_recovered_without_any_healthy_probe(hb: Any) -> None:
    b = hb().drill_start(0).fault(1).probes(2, 50, outcome="info", region=None).drill_end(60)
    r = rto.check(b.build())
    assert r.valid is False and "never recovered" in r.detail


def test_final_run_shorter_than_min_probes_fails(hb: Any) -> None:
    b = hb().drill_start(0).probes(1, 100, region="us-east-1").fault(100)
    b.probes(100, 200, outcome="fail", region=None).probes(200, 202, region="us-west-2").drill_end(210)
    assert rto.check(b.build()).valid is False
    assert rto.check(b.build(), {"min_probes": 2}).valid is True


def test_recovery_in_wrong_region_fails(outage: Any) -> None:
    r = rto.check(outage().build(), {"new_region": "eu-west-1"})
    assert r.valid is False and "eu-west-1" in r.detail


def test_probe_in_flight_at_the_end_does_not_break_recovery(outage: Any) -> None:
    def in_flight(b: Any) -> None:
        b.probe(455, None, None)  # invoke, never completed

    assert rto.check(outage(post_recovery=in_flight).build()).valid is True


def test_incomplete_history_is_unknown_never_pass(outage: Any) -> None:
    r = rto.check(outage(end_drill=False).build())
    assert r.valid == "unknown"
    assert "history incomplete" in r.detail and "pass" in r.detail  # says what it would have said
    assert r.figures["seconds"] == pytest.approx(100.05)


def test_no_start_event_is_unknown(hb: Any) -> None:
    b = hb().drill_start(0).probes(1, 10, region="us-west-2").drill_end(11)
    assert rto.check(b.build()).valid == "unknown"


def test_planned_switchover_measures_from_first_orchestrator_step(hb: Any) -> None:
    b = hb().drill_start(0).probes(1, 50, region="us-east-1")
    b.step("fence", 50, 52).step("aurora_promotion", 52, 70).step("dns", 70, 75)
    b.probes(50, 80, outcome="fail", region=None).probes(80, 120, region="us-west-2").drill_end(130)
    r = rto.check(b.build(), {"start": "auto"})
    assert r.valid is True and r.figures["start_source"] == "orchestrator"
    assert r.figures["seconds"] == pytest.approx(30.05)
    assert rto.check(b.build(), {"start": "fault"}).valid == "unknown"


def test_bad_opts_raise_and_become_unknown_under_check_safe(outage: Any) -> None:
    with pytest.raises(ValueError, match="unknown RtoOpts option"):
        rto.check(outage().build(), {"slo": 900})
    r = check_safe(rto.check, outage().build(), {"slo": 900})
    assert r.valid == "unknown" and r.name == "rto" and "slo" in r.detail


def test_opts_dataclass_accepted(outage: Any) -> None:
    assert rto.check(outage().build(), rto.RtoOpts(slo_s=120, new_region="us-west-2")).valid is True
