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
ALARM_PERIOD_S = 60  # Period of the region alarms in Terraform (Route 53 needs standard resolution: >= 60 s)


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
    # CloudWatch alarms: the period the lab evaluates them with (None = each alarm's own Period, as
    # stored in the API), and the evaluation periods of the alarms that judge regions.
    alarm_period_s: float | None = None
    dns_alarm_evaluation_periods: int = 1
    region_health_evaluation_periods: int = 3
    aggregator_confirm_s: float = 5.0  # an unhealthy verdict is re-checked this much later before it is published
    ddb_poll_s: float = 0.1
    s3_poll_s: float = 0.2
    source: str = "built-in"
    names: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def alarm_eval_s(self) -> float:
        """Worst case for the DNS alarm to fire once the verdict is published (period x datapoints)."""
        return (self.alarm_period_s or ALARM_PERIOD_S) * self.dns_alarm_evaluation_periods

    @property
    def detection_floor_s(self) -> float:
        """Route 53 HTTP detection, or the aggregated verdict (schedule + alarm), whichever is later:
        the failover follows the verdict and DNS follows both."""
        return max(self.health_interval_s * self.failure_threshold, self.aggregator_period_s + self.alarm_eval_s)


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


def _rate_seconds(expr: str) -> float:
    """rate(N minute[s]|hour[s]) in seconds (the lab fires the aggregator schedule at that rate)."""
    m = re.fullmatch(r"\s*rate\(\s*(\d+)\s+(minute|minutes|hour|hours)\s*\)\s*", expr)
    if not m:
        raise ValueError(f"aggregator_schedule_expression {expr!r}: the lab fires only rate() schedules")
    return float(int(m.group(1)) * (3600 if m.group(2).startswith("hour") else 60))


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
            alarm_period_s=1.0,
            dns_alarm_evaluation_periods=1,
            region_health_evaluation_periods=3,
            # As tolerant as the HTTP check (threshold 2 at 1 s): a verdict must hold 1 s to be published.
            aggregator_confirm_s=1.0,
            source="built-in fast profile (CI): health checks probed every 1 s, threshold 2, TTL 1 s; "
                   "aggregator every 1 s, alarms evaluated over 1 s periods",
            names=names,
        )
    interval, threshold, ttl, source = 30, 3, 60, "seed values (no tfvars found)"
    dns_periods, region_periods, agg_period = 1, 3, 60.0
    tfvars = (root or Path.cwd()) / DEFAULT_TFVARS
    if tfvars.is_file():
        v = _tfvars_values(tfvars)
        try:
            interval = int(v.get("health_check_request_interval", interval))
            threshold = int(v.get("health_check_failure_threshold", threshold))
            ttl = int(v.get("dns_ttl", ttl))
            dns_periods = int(v.get("dns_health_alarm_evaluation_periods", dns_periods))
            region_periods = int(v.get("region_health_evaluation_periods", region_periods))
            agg_period = _rate_seconds(v.get("aggregator_schedule_expression", "rate(1 minute)"))
        except ValueError as exc:
            raise BadInput(f"{tfvars}: cannot read a timing value: {exc}") from None
        source = str(DEFAULT_TFVARS)
    return Profile(
        name="realistic",
        health_interval_s=float(interval),
        r53_request_interval=interval,
        failure_threshold=threshold,
        dns_ttl=ttl,
        aggregator_period_s=agg_period,
        alarm_period_s=None,
        dns_alarm_evaluation_periods=dns_periods,
        region_health_evaluation_periods=region_periods,
        source=source,
        names=names,
    )
