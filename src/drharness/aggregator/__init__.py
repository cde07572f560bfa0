"""Health check aggregator: custom checks per region, a dependency graph, one verdict per region.

Runs once (``drharness health``), on a schedule (Lambda ``health_check_aggregator.handler``), or in
the drill's detection loop. Publishes ``drharness/RegionHealthy`` per region to CloudWatch, where
the region alarms and, through them, the Route 53 health checks of the failover records consume it.

On a schedule each region's function publishes the verdicts of both regions into its own region
only (``observer_region`` in the event): the alarm that judges us-east-1 lives in us-west-2 and is
fed by the us-west-2 aggregator, so an outage of us-east-1 cannot starve it. An unhealthy verdict
is checked again ``DRHARNESS_CONFIRM_UNHEALTHY_S`` later before it is published, so that one lost
probe does not move DNS (the DNS alarm fires on a single period).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from drharness.aggregator.core import Aggregator, CheckResult, RegionVerdict

__all__ = ["Aggregator", "CheckResult", "RegionVerdict", "confirmed_verdict", "judge_and_publish", "lambda_handler"]

DEFAULT_CONFIRM_S = 5.0


def confirmed_verdict(agg: Aggregator, region: str, confirm_s: float) -> RegionVerdict:
    """The region's verdict, where "unhealthy" must hold on a second look ``confirm_s`` later."""
    verdict = agg.evaluate_region(region)
    if not verdict.healthy and confirm_s > 0:
        time.sleep(confirm_s)
        verdict = agg.evaluate_region(region)
    return verdict


def judge_and_publish(agg: Aggregator, confirm_s: float, publish_to: list[str] | None = None
                      ) -> tuple[dict[str, RegionVerdict], dict[str, dict[str, str]]]:
    """Each region judged and published on its own, so a slow verdict on a failing region never
    delays (or starves) the metric of a healthy one."""
    def one(region: str) -> tuple[RegionVerdict, dict[str, str]]:
        v = confirmed_verdict(agg, region, confirm_s)
        return v, agg.publish({region: v}, publish_to)

    with ThreadPoolExecutor(max_workers=len(agg.target.regions), thread_name_prefix="judge") as pool:
        futs = {r: pool.submit(one, r) for r in agg.target.regions}
        done = {r: f.result() for r, f in futs.items()}
    return {r: d[0] for r, d in done.items()}, {r: d[1] for r, d in done.items()}


_WARM: dict[str, Aggregator] = {}  # one per stack description, reused while the container is warm


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from drharness.target import from_env

    key = os.environ.get("DRHARNESS_TARGET_JSON", "")
    agg = _WARM.get(key)
    if agg is None:
        agg = _WARM.setdefault(key, Aggregator(from_env()))
    try:
        confirm_s = float(os.environ.get("DRHARNESS_CONFIRM_UNHEALTHY_S", DEFAULT_CONFIRM_S))
    except ValueError:
        confirm_s = DEFAULT_CONFIRM_S
    observer = (event or {}).get("observer_region")
    verdicts, published = judge_and_publish(agg, confirm_s, [observer] if observer in agg.target.regions else None)
    return {"observer_region": observer, "published": published,
            "verdicts": {r: v.to_dict() for r, v in verdicts.items()}}
