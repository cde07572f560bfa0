"""RPO / lost-writes checker: planted losses must be caught and named; unknowns are not losses."""

from __future__ import annotations

from typing import Any

import pytest

from drharness.checkers import check_safe, rpo
from drharness.history import HistoryError

FAULT = 100.0


def test_no_loss_passes(outage: Any) -> None:
    r = rpo.check(outage().build())
    assert r.valid is True, r.detail
    for store in ("aurora", "dynamodb", "s3"):
        s = r.figures["per_store"][store]
        assert s["acknowledged"] == 99 + 39 and s["lost"] == 0 and s["lost_keys"] == []
        assert s["indeterminate"] == 10 and s["unverified"] == 0 and s["valid"] is True
    assert r.figures["seconds"] == 0.0


def test_acknowledged_write_removed_from_readback_fails_and_is_named(outage: Any) -> None:
    r = rpo.check(outage(lost=["aurora-10"]).build())
    assert r.valid is False
    assert "aurora-10" in r.detail
    aurora = r.figures["per_store"]["aurora"]
    assert aurora["lost"] == 1 and aurora["lost_keys"] == ["aurora-10"]
    assert aurora["seconds"] == pytest.approx(FAULT - 10.02)  # acked at 10.02, cut at the fault
    assert r.figures["per_store"]["dynamodb"]["valid"] is True


def test_small_unplanned_loss_within_slo_passes_but_is_reported(outage: Any) -> None:
    r = rpo.check(outage(lost=["dynamodb-98", "dynamodb-99"]).build())
    assert r.valid is True
    d = r.figures["per_store"]["dynamodb"]
    assert d["lost_keys"] == ["dynamodb-98", "dynamodb-99"]
    assert d["seconds"] == pytest.approx(FAULT - 98.02)
    assert r.figures["lost"] == 2


def test_planned_switchover_loses_nothing(outage: Any) -> None:
    r = rpo.check(outage(lost=["s3-99"]).build(), {"zero_loss": True})
    assert r.valid is False and "s3-99" in r.detail and "zero loss" in r.detail
    assert rpo.check(outage().build(), {"zero_loss": True}).valid is True


def test_info_writes_are_never_lost(outage: Any) -> None:
    # outage(): 10 info writes per store during the outage, none present in the read-back
    r = rpo.check(outage().build(), {"zero_loss": True})
    assert r.valid is True and r.figures["lost"] == 0
    assert r.figures["per_store"]["aurora"]["indeterminate_present"] == 0

    def info_present(b: Any) -> None:
        b.write(150, "aurora", 5000, outcome="info")

    b = outage(post_recovery=info_present)
    b.remove(lambda e: e.f == "read-all" and e.value["store"] == "aurora")
    b.read_all(410, "aurora", [*b.keys_written("aurora"), "aurora-5000"])
    r = rpo.check(b.build(), {"zero_loss": True})
    assert r.valid is True and r.figures["per_store"]["aurora"]["indeterminate_present"] == 1


def test_failed_write_that_is_present_is_flagged(outage: Any) -> None:
    def fail_write(b: Any) -> None:
        b.write(301, "s3", 7777, outcome="fail", region="us-west-2")

    b = outage(post_recovery=fail_write)
    b.remove(lambda e: e.f == "read-all" and e.value["store"] == "s3")
    b.read_all(410, "s3", [*b.keys_written("s3"), "s3-7777"])
    r = rpo.check(b.build())
    assert r.valid is False and "s3-7777" in r.detail and "info" in r.detail
    assert rpo.check(b.build(), {"strict_fail": False}).valid is True


def test_missing_readback_for_a_store_is_unknown(outage: Any) -> None:
    b = outage().remove(lambda e: e.f == "read-all" and e.value["store"] == "s3")
    r = rpo.check(b.build())
    assert r.valid == "unknown"
    assert r.figures["per_store"]["s3"]["valid"] == "unknown" and "s3" in r.detail
    assert r.figures["per_store"]["aurora"]["valid"] is True


def test_loss_beats_unknown(outage: Any) -> None:
    b = outage(lost=["aurora-1"]).remove(lambda e: e.f == "read-all" and e.value["store"] == "s3")
    assert rpo.check(b.build()).valid is False


def test_store_without_writes_is_unknown(outage: Any) -> None:
    b = outage().remove(lambda e: e.f == "write" and e.value["store"] == "dynamodb")
    r = rpo.check(b.build())
    assert (
        r.valid == "unknown"
        and "no acknowledged canary writes" in r.figures["per_store"]["dynamodb"]["detail"]
    )
    assert rpo.check(b.build(), {"stores": ["aurora", "s3"]}).valid is True


def test_key_late_in_first_read_but_present_in_last_is_not_lost(outage: Any) -> None:
    b = outage()
    keys = b.keys_written("dynamodb")
    b.read_all(402, "dynamodb", [k for k in keys if k != "dynamodb-97"])  # replication still catching up
    r = rpo.check(b.build(), {"zero_loss": True})
    assert r.valid is True
    assert r.figures["per_store"]["dynamodb"]["late_keys"] == ["dynamodb-97"]


def test_writes_after_the_last_read_are_unverified_not_lost(outage: Any) -> None:
    def late_writes(b: Any) -> None:
        b.write(420, "aurora", 9000, region="us-west-2")

    r = rpo.check(outage(post_recovery=late_writes).build(), {"zero_loss": True})
    assert r.valid is True and r.figures["per_store"]["aurora"]["unverified"] == 1


def test_pre_fault_read_of_the_lagging_secondary_is_ignored(outage: Any) -> None:
    def early(b: Any) -> None:
        b.read_all(50, "aurora", [], region="us-west-2")

    assert rpo.check(outage(post_recovery=early).build(), {"zero_loss": True}).valid is True


def test_read_region_filter(outage: Any) -> None:
    r = rpo.check(outage().build(), {"read_region": "us-east-1"})
    assert r.valid == "unknown"  # no read-back from that region


def test_writes_lost_after_the_fault_lengthen_rpo(hb: Any) -> None:
    # The old region kept acknowledging for 90 s after replication was cut: all of it is lost.
    b = hb().drill_start(0)
    for seq in range(1, 200):
        b.write(float(seq), "aurora", seq)
    b.fault(100, 300)
    b.read_all(400, "aurora", [f"aurora-{s}" for s in range(1, 100)])
    b.drill_end(410)
    r = rpo.check(b.build(), {"stores": ["aurora"]})
    assert r.valid is False
    assert r.figures["seconds"] == pytest.approx(199.02 - 100.02)
    assert r.figures["per_store"]["aurora"]["lost"] == 100


def test_incomplete_history_is_unknown_never_pass(outage: Any) -> None:
    r = rpo.check(outage(end_drill=False).build())
    assert r.valid == "unknown" and "history incomplete" in r.detail
    r = rpo.check(outage(lost=["aurora-5"], end_drill=False).build())
    assert r.valid == "unknown"  # even a visible loss: the record itself cannot be trusted


def test_one_process_name_for_concurrent_writers_is_refused(hb: Any) -> None:
    # Two writes in flight on one process name: pairing would mis-attribute acks and could hide a loss.
    b = hb().drill_start(0).fault(50, 60)
    b.op(1, 2, "canary", "write", "ok", {"store": "s3", "key": "s3-1", "seq": 1})
    b.op(1.5, 2.5, "canary", "write", "ok", {"store": "s3", "key": "s3-2", "seq": 2})
    b.read_all(100, "s3", ["s3-1", "s3-2"]).drill_end(110)
    events = b.build()
    with pytest.raises(HistoryError, match="one process name each"):
        rpo.check(events, {"stores": ["s3"]})
    r = check_safe(rpo.check, events, {"stores": ["s3"]})
    assert r.valid == "unknown" and r.detail.startswith("bad history")
