"""Stale-DNS checker: clients must leave the old region's address within TTL of the flip."""

from __future__ import annotations

from typing import Any

from drharness.checkers import dns

OLD_IP = "127.0.1.1"


def test_clients_follow_the_flip(outage: Any, t0: float) -> None:
    r = dns.check(outage().build())
    assert r.valid is True, r.detail
    f = r.figures
    assert f["flip_t"] == t0 + 180 and f["ttl_s"] == 30 and f["deadline"] == t0 + 215
    assert f["old_ips"] == [OLD_IP] and f["stale_probes"] == 0 and f["probes_checked"] > 100


def _stale_prober(until: float) -> Any:
    """A prober that pins the old address after the flip (ignores TTL)."""

    def plant(b: Any) -> None:
        b.remove(lambda e: e.f == "probe" and b.t0 + 180 <= e.t < b.t0 + until)
        b.probes(180, until, outcome="fail", region=None, ip=OLD_IP, latency=1.0)

    return plant


def test_prober_ignoring_ttl_fails(outage: Any) -> None:
    r = dns.check(outage(post_recovery=_stale_prober(260)).build())
    assert r.valid is False
    assert r.figures["stale_probes"] == 260 - 216
    assert "TTL ignored or stale DNS answer" in r.detail and OLD_IP in r.detail


def test_old_address_within_ttl_plus_grace_is_fine(outage: Any) -> None:
    r = dns.check(outage(post_recovery=_stale_prober(215)).build())
    assert r.valid is True, r.detail


def test_stale_answer_after_ttl_fails(outage: Any) -> None:
    def stale_answer(b: Any) -> None:
        b.dns(250, "us-east-1")

    r = dns.check(outage(post_recovery=stale_answer).build())
    assert r.valid is False and r.figures["stale_answers"] == 1


def test_failback_closes_the_window(outage: Any) -> None:
    def failback(b: Any) -> None:
        b.step("dns", 300, 305)
        b.dns(310, "us-east-1")
        b.probes(311, 320, region="us-east-1", process="prober:2")

    r = dns.check(outage(post_recovery=failback).build())
    assert r.valid is True, r.detail
    assert r.figures["window_end"] is not None


def test_heal_then_route53_fails_back_by_itself(hb: Any) -> None:
    b = hb().drill_start(0).dns(0, "us-east-1", ttl=10).probes(1, 50, region="us-east-1")
    b.fault(50, 200).dns(80, "us-west-2", ttl=10).probes(81, 200, region="us-west-2")
    b.dns(230, "us-east-1", ttl=10).probes(231, 260, region="us-east-1").drill_end(270)
    assert dns.check(b.build()).valid is True


def test_flip_from_orchestrator_step_catches_a_prober_that_never_re_resolves(hb: Any) -> None:
    # The prober resolved once and never again: it logs no new answer, only probes to the old ip.
    b = hb().drill_start(0).dns(0, "us-east-1", ttl=10).probes(1, 50, region="us-east-1")
    b.fault(50).step("dns", 60, 65).probes(50, 200, outcome="fail", region=None, ip=OLD_IP).drill_end(210)
    r = dns.check(b.build(), {"new_region": "us-west-2"})
    assert r.valid is False and r.figures["flip_source"] == "orchestrator dns step end"


def test_no_flip_is_unknown(hb: Any) -> None:
    b = hb().drill_start(0).dns(0, "us-east-1").probes(1, 50, region="us-east-1").fault(50).drill_end(60)
    assert dns.check(b.build(), {"new_region": "us-west-2"}).valid == "unknown"


def test_shared_edge_address_cannot_be_judged(hb: Any) -> None:
    b = hb().drill_start(0).dns(0, "us-east-1", ip="10.0.0.1").fault(10)
    b.dns(20, "us-west-2", ip="10.0.0.1").probes(21, 100, region="us-west-2", ip="10.0.0.1").drill_end(110)
    r = dns.check(b.build())
    assert r.valid == "unknown" and "share" in r.detail


def test_ttl_override_and_missing_ttl(hb: Any) -> None:
    b = hb().drill_start(0).add(0, "prober", "ok", "dns", {"answer": OLD_IP, "region": "us-east-1"})
    b.fault(10).add(20, "prober", "ok", "dns", {"answer": "127.0.2.1", "region": "us-west-2"})
    b.probes(21, 100, region="us-west-2").drill_end(110)
    assert dns.check(b.build()).valid == "unknown"
    assert dns.check(b.build(), {"ttl_s": 5}).valid is True


def test_incomplete_history_is_unknown(outage: Any) -> None:
    assert dns.check(outage(end_drill=False).build()).valid == "unknown"
