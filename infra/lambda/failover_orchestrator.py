"""Lambda entry point of the failover orchestrator (handler ``failover_orchestrator.handler``).

Deliberately thin: the orchestration logic lives in ``drharness.orchestrator`` so that the same code
runs here, in ``drharness failover`` and in the local lab. This module only forwards the Lambda event
(an SNS notification of the peer-health alarm, or a direct invocation from the drill runner).

Environment (set by infra/modules/multi-region/lambda-replication.tf):
    DRHARNESS_TARGET_JSON       the stack, shaped like the drharness_target output
    DRHARNESS_METRIC_NAMESPACE  "drharness"
    DRHARNESS_METRIC_NAME       "RegionHealthy"
"""

from __future__ import annotations

import importlib
from typing import Any

PACKAGE = "drharness.orchestrator"
ENTRY_POINTS = ("lambda_handler", "handler")


def _entry_point():
    module = importlib.import_module(PACKAGE)
    for name in ENTRY_POINTS:
        func = getattr(module, name, None)
        if callable(func):
            return func
    raise RuntimeError(f"{PACKAGE} defines none of {', '.join(ENTRY_POINTS)}(event, context)")


def handler(event: dict[str, Any], context: Any) -> Any:
    return _entry_point()(event, context)
