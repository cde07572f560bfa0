"""Failover orchestrator: a plan of idempotent, recorded steps (preflight -> ... -> notify).

Runs as ``drharness failover`` / ``failback``, inside a drill, or as the Lambda
``failover_orchestrator.handler``. It speaks only boto3 / HTTP / DNS / SQL to the Target, and
the unplanned path uses nothing in the failed region: no Route 53 change API, no IAM.
"""

from __future__ import annotations

from typing import Any

from drharness.orchestrator.core import (
    FAILBACK_STEPS,
    FAILOVER_STEPS,
    Orchestrator,
    OrchestratorConfig,
    StepRecord,
)

__all__ = ["FAILBACK_STEPS", "FAILOVER_STEPS", "Orchestrator", "OrchestratorConfig", "StepRecord",
           "lambda_handler"]


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Invoked by the peer-health alarm's SNS topic (automatic) or by the drill runner (manual)."""
    from drharness.target import from_env

    mode = (event or {}).get("mode", "unplanned")
    cfg = OrchestratorConfig(mode=mode, decision="manual" if event.get("manual") else "auto",
                             confirmed=True, state_dir="/tmp/drharness-orchestrator")
    return Orchestrator(from_env(), cfg).failover().summary()
