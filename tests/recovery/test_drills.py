"""The recovery path on the lab: drills pass, writes are counted exactly, failback restores us-east-1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from drharness import checkers
from drharness.drill import Drill, DrillConfig
from drharness.history import History, load_history
from drharness.orchestrator import Orchestrator, OrchestratorConfig
from drharness.workload.canary import Canary, read_back

pytestmark = pytest.mark.lab

E, W = "us-east-1", "us-west-2"


def test_region_outage_drill_passes_with_rto_per_phase_and_failback(clean_lab, run_drill_once):
    report = run_drill_once("region-outage")
    report_dir = Path(report["_report_dir"])
    assert report["verdict"] == "pass", report["checks"]
    rto = report["rto"]
    assert 0 < rto["seconds"] < 900
    assert {"detection", "aurora_promotion", "dns"} <= set(rto["phases"])
    assert set(rto["floor_terms"]) == {"detection", "dns_ttl", "aurora_promotion"}
    assert report["failback"]["verdict"] == "pass"
    assert report["rpo"]["per_store"]["aurora"]["acknowledged"] > 0
    assert (report_dir / "drill-report.md").read_text().startswith("# Drill report: region-outage")
    assert clean_lab.writer_region() == E
    # Both sides hold the same orders after failback (the re-seeded us-east-1 replicates again).
    assert report["consistency"]["aurora"]["ok"], report["consistency"]["aurora"]


def test_unplanned_failover_counts_lost_writes_exactly(clean_lab, tmp_path):
    """Planted: replication is cut before the outage, so writes acknowledged meanwhile are lost."""
    t = clean_lab.target
    path = tmp_path / "history.jsonl"
    h = History(path)
    drill = h.drill_start({"scenario": "planted-loss"})
    canary = Canary(t, h, interval_s=0.1, stores=("aurora",)).start()
    time.sleep(1.0)
    clean_lab.fault(E, isolated=True)  # cut replication: acknowledged writes stop reaching us-west-2
    h.append("nemesis", "invoke", "fault", {"fault": "replication-cut", "target_region": E}, E)
    time.sleep(1.5)
    canary.stop()
    with t.pg(E) as a, t.pg(W) as b:  # ground truth, read before the primary is lost
        on_primary = {r[0] for r in a.execute("SELECT id FROM orders WHERE id LIKE %s", (f"canary-{canary.run_id}-%",))}
        on_standby = {r[0] for r in b.execute("SELECT id FROM orders WHERE id LIKE %s", (f"canary-{canary.run_id}-%",))}
    truly_lost = on_primary - on_standby
    assert truly_lost, "the planted cut must leave acknowledged writes unreplicated"
    clean_lab.fault(E, data_plane_down=True, isolated=True)
    Orchestrator(t, OrchestratorConfig(mode="unplanned", confirmed=True, state_dir=str(tmp_path)), h).failover()
    read_back(t, h, W, canary.run_id, stores=("aurora",))
    h.drill_end(drill)
    h.close()
    res = checkers.rpo.check(load_history(path), {"stores": ["aurora"], "read_region": W})
    per = res.figures["per_store"]["aurora"]
    assert set(per["lost_keys"]) == truly_lost
    assert per["lost"] == len(truly_lost)
    assert res.figures["seconds"] > 0


def test_failover_refuses_an_unhealthy_secondary_unless_forced(clean_lab, tmp_path):
    t = clean_lab.target
    clean_lab.fault(W, data_plane_down=True)
    cfg = OrchestratorConfig(mode="unplanned", confirmed=True, state_dir=str(tmp_path))
    with pytest.raises(Exception, match="not ready"):
        Orchestrator(t, cfg).failover()
    assert clean_lab.writer_region() == E


def test_aurora_writer_failure_recovers_in_region_without_loss(clean_lab, tmp_path):
    report = Drill(clean_lab.target, DrillConfig(scenario="aurora-writer-failure", report_dir=tmp_path)).run()
    assert report["verdict"] == "pass", report["checks"]
    assert report["rpo"]["per_store"]["aurora"]["lost"] == 0
