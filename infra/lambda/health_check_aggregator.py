"""Lambda entry point of the health check aggregator (handler ``health_check_aggregator.handler``).

Deliberately thin: the aggregation logic lives in ``drharness.aggregator`` so that the same code
runs here, in ``drharness health`` and in the local lab. Invoked every
``aggregator_schedule_expression`` by EventBridge Scheduler in each region with
``{"source": "drharness.scheduler", "observer_region": "<region>"}``; it publishes the metric
drharness/RegionHealthy (dimension Region) for both regions.

Environment (set by infra/modules/multi-region/lambda-replication.tf):
    DRHARNESS_TARGET_JSON       the stack, shaped like the drharness_target output
    DRHARNESS_METRIC_NAMESPACE  "drharness"
    DRHARNESS_METRIC_NAME       "RegionHealthy"
"""

from __future__ import annotations

import importlib
from typing import Any

PACKAGE = "drharness.aggregator"
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
