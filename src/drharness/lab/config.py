"""Lab profiles: the timing values behind every floor the reports show.

``fast`` is for CI; ``realistic`` reads the production environment's tfvars so that the lab and
Terraform cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from drharness.errors import BadInput

REGIONS = ("us-east-1", "us-west-2")
PROFILES = ("fast", "realistic")
DEFAULT_TFVARS = Path("infra/environments/prod-us-west-2/terraform.tfvars")


@dataclass(frozen=True)
class Profile:
    name: str
    # Route 53 health check: the interval the lab checker really probes at, and the value stored in
    # the Route 53 API (AWS only accepts 10 or 30; the fast profile shortens the probing, and says so).
    health_interval_s: float
    r53_request_interval: int
    failure_threshold: int
    dns_ttl: int
    aggregator_period_s: float
    ddb_poll_s: float = 0.1
    s3_poll_s: float = 0.2
    source: str = "built-in"
    names: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def detection_floor_s(self) -> float:
        return self.health_interval_s * self.failure_threshold


def resource_names(prefix: str = "drharness") -> dict[str, str]:
    """Names of every resource the lab provisions (the Terraform stack names the same kinds)."""
    return {
        "prefix": prefix,
        "global_cluster": f"{prefix}-global",
        "table": f"{prefix}-orders",
        "bucket_prefix": f"{prefix}-orders",
        "zone": "drharness.lab",
        "record": "app.drharness.lab",
        "function": f"{prefix}-app",
        "orchestrator_function": f"{prefix}-failover-orchestrator",
        "aggregator_function": f"{prefix}-health-check-aggregator",
        "topic": f"{prefix}-dr-events",
        "database": "orders",
    }


def _tfvars_values(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*([A-Za-z0-9_]+)\s*=\s*\"?([^\"#]*)\"?", line)
        if m:
            values[m.group(1)] = m.group(2).strip()
    return values


def load_profile(name: str, root: Path | None = None) -> Profile:
    if name not in PROFILES:
        raise BadInput(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    names = resource_names()
    if name == "fast":
        return Profile(
            name="fast",
            health_interval_s=1.0,
            r53_request_interval=10,
            failure_threshold=2,
            dns_ttl=1,
            aggregator_period_s=1.0,
            source="built-in fast profile (CI): health checks probed every 1 s, threshold 2, TTL 1 s",
            names=names,
        )
    interval, threshold, ttl, source = 30, 3, 60, "seed values (no tfvars found)"
    tfvars = (root or Path.cwd()) / DEFAULT_TFVARS
    if tfvars.is_file():
        v = _tfvars_values(tfvars)
        try:
            interval = int(v.get("health_check_request_interval", interval))
            threshold = int(v.get("health_check_failure_threshold", threshold))
            ttl = int(v.get("dns_ttl", ttl))
        except ValueError as exc:
            raise BadInput(f"{tfvars}: cannot read a timing value: {exc}") from None
        source = str(DEFAULT_TFVARS)
    return Profile(
        name="realistic",
        health_interval_s=float(interval),
        r53_request_interval=interval,
        failure_threshold=threshold,
        dns_ttl=ttl,
        aggregator_period_s=60.0,
        source=source,
        names=names,
    )
