"""Failback's drain waits for DynamoDB too: a barrier item each way (planted: replication paused).

Traffic moved back while global-table writes are still in flight loses them to last-writer-wins, so
a drain that passed with DynamoDB replication stopped would be a defect.
"""

from __future__ import annotations

import time

import pytest

from drharness.consistency.ddb import LAG_MARKER_PREFIX
from drharness.orchestrator import Orchestrator, OrchestratorConfig
from drharness.orchestrator.core import BUDGETS, StepRecord

pytestmark = pytest.mark.lab

E, W = "us-east-1", "us-west-2"


def _orch(t, tmp_path, drain_s: float) -> Orchestrator:  # noqa: ANN001
    cfg = OrchestratorConfig(mode="planned", confirmed=True, state_dir=str(tmp_path),
                             timeouts={**BUDGETS, "drain": drain_s})
    return Orchestrator(t, cfg, from_region=W)


def _gone(t, rec: StepRecord) -> bool:  # noqa: ANN001
    """This drain's markers are deleted where they were written; the deletes replicate like any write
    (bounded wait). Markers other runs left are not this test's business."""
    keys = list(rec.data["dynamodb_barrier_markers"].values())
    assert len(keys) == 2 and all(next(iter(k.values()))["S"].startswith(LAG_MARKER_PREFIX) for k in keys)
    deadline = time.monotonic() + 30
    while True:
        left = [(r, k) for r in (E, W) for k in keys
                if "Item" in t.client("dynamodb", r).get_item(TableName=t.regions[r].table, Key=k, ConsistentRead=True)]
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def test_drain_waits_for_dynamodb_and_leaves_no_marker(clean_lab, tmp_path):
    t = clean_lab.target
    rec = StepRecord("drain")
    detail = _orch(t, tmp_path, 60).step_drain(rec)
    assert "DynamoDB barrier replicated both ways" in detail
    assert set(rec.data["dynamodb_barrier_s"]) == {E, W}
    assert _gone(t, rec)


def test_drain_does_not_pass_while_dynamodb_replication_is_paused(clean_lab, tmp_path):
    t = clean_lab.target
    table = t.regions[E].table
    clean_lab.control("/pause", {"kind": "dynamodb", "name": table, "paused": True})
    rec = StepRecord("drain")
    try:
        with pytest.raises(TimeoutError, match="replication drained"):
            _orch(t, tmp_path, 4).step_drain(rec)
    finally:
        clean_lab.control("/pause", {"kind": "dynamodb", "name": table, "paused": False})
    assert _gone(t, rec)
