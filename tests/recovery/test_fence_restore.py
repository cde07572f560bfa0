"""Failback restores the reserved concurrency the app had before the failover's fence.

Terraform sets ``reserved_concurrent_executions`` on the app; a failback that deleted it instead
would leave drift for the next plan (on AWS too).
"""

from __future__ import annotations

import json

import pytest

from drharness.orchestrator import Orchestrator, OrchestratorConfig

pytestmark = pytest.mark.lab

E, W = "us-east-1", "us-west-2"


def _concurrency(t, region: str) -> int | None:  # noqa: ANN001
    return t.client("lambda", region).get_function_concurrency(
        FunctionName=t.regions[region].function).get("ReservedConcurrentExecutions")


def test_failback_restores_the_reserved_concurrency_the_fence_replaced(clean_lab, tmp_path):
    t = clean_lab.target
    fn = t.regions[E].function
    t.client("lambda", E).put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=100)
    failover = Orchestrator(t, OrchestratorConfig(mode="unplanned", decision="manual", confirmed=True,
                                                  state_dir=str(tmp_path))).failover()
    fence = failover.steps["fence"]
    assert fence.status == "ok", fence.detail
    assert _concurrency(t, E) == 0
    state = json.loads(failover.state_file().read_text())
    assert state["steps"]["fence"]["data"]["previous_concurrency"] == 100

    failback = Orchestrator(t, OrchestratorConfig(mode="planned", confirmed=True, state_dir=str(tmp_path)),
                            from_region=W).failback()
    assert _concurrency(t, E) == 100, failback.steps["aurora_switchover"].detail
    assert "100 restored" in failback.steps["aurora_switchover"].detail


def test_unfence_without_a_record_removes_only_a_fence(clean_lab, tmp_path):
    """No failover state (run elsewhere): a 0 is a fence and goes; a value someone set stays."""
    t = clean_lab.target
    lam, fn = t.client("lambda", E), t.regions[E].function
    orch = Orchestrator(t, OrchestratorConfig(state_dir=str(tmp_path)), from_region=W)
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    assert orch.unfence().startswith("reserved concurrency removed")
    assert _concurrency(t, E) is None
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=50)
    assert orch.unfence() == "not fenced"
    assert _concurrency(t, E) == 50


def test_recovery_of_a_dead_run_restores_from_that_runs_fence_record(clean_lab, tmp_path):
    """safety.recovery unfences from its own state dir, reading the dead run's failover record."""
    t = clean_lab.target
    fn = t.regions[E].function
    t.client("lambda", E).put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=40)
    dead = tmp_path / "orchestrator"
    orch = Orchestrator(t, OrchestratorConfig(mode="unplanned", confirmed=True, state_dir=str(dead)))
    orch._run(("fence",))  # a failover that died right after its fence
    assert _concurrency(t, E) == 0
    cfg = OrchestratorConfig(mode="planned", confirmed=True, state_dir=str(tmp_path / "recovery"))
    assert Orchestrator(t, cfg, from_region=W).unfence().startswith("reserved concurrency removed")  # no record
    t.client("lambda", E).put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    cfg.fence_record_dir = str(dead)
    assert Orchestrator(t, cfg, from_region=W).unfence() == "reserved concurrency 40 restored"
    assert _concurrency(t, E) == 40
