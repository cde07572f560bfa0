"""Health check aggregator: custom checks per region, a dependency graph, one verdict per region.

Runs once (``drharness health``), on a schedule (Lambda ``health_check_aggregator.handler``), or in
the drill's detection loop. Publishes ``drharness/RegionHealthy`` per region to CloudWatch in every
region it can reach, for alarms and Route 53 health checks to consume.
"""

from __future__ import annotations

from typing import Any

from drharness.aggregator.core import Aggregator, CheckResult, RegionVerdict

__all__ = ["Aggregator", "CheckResult", "RegionVerdict", "lambda_handler"]


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from drharness.target import from_env

    agg = Aggregator(from_env())
    verdicts = agg.evaluate()
    agg.publish(verdicts)
    return {r: v.to_dict() for r, v in verdicts.items()}
