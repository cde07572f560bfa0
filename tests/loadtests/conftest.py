"""Helpers of the load tests, as fixtures (tests run with --import-mode=importlib: no package imports)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drharness.target import DnsTarget, RegionTarget, Target

E, W = "us-east-1", "us-west-2"


def _fake_target(app_url: str = "http://127.0.0.1:9") -> Target:
    """A Target whose apps listen nowhere by default (port 9): for input checks that must fail first."""
    regions = {
        r: RegionTarget(name=r, aws_endpoint=None, app_url=app_url, pg_dsn="host=x", table="t",
                        bucket=f"b-{r}", cluster_id=f"c-{r}", cluster_arn=f"arn:c-{r}", health_check_id="h",
                        function="f", topic_arn="arn:t", host=ip)
        for r, ip in ((E, "127.0.1.1"), (W, "127.0.2.1"))
    }
    return Target(name="test", primary_region=E, secondary_region=W, regions=regions,
                  dns=DnsTarget(name="app.example", zone_id="Z", ttl=1, resolver_host="127.0.0.1", resolver_port=9),
                  edge_url="", global_cluster_id="g", account_id="1", timing={}, source="unit test")


@pytest.fixture(scope="session")
def fake_target() -> Callable[..., Target]:
    return _fake_target
