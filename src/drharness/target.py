"""The Target: every address the harness needs, per region (DESIGN §2).

This is the only module that knows a local lab from AWS. Everything else receives a Target and
talks boto3 / HTTP / DNS / SQL to the endpoints in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
from botocore.config import Config

from drharness.errors import BadInput, EnvironmentProblem

TARGET_SCHEMA = "drharness.target/1"


@dataclass
class RegionTarget:
    name: str
    aws_endpoint: str | None  # None = real AWS
    app_url: str
    pg_dsn: str  # the region's Aurora cluster endpoint (writer when primary, reader otherwise)
    table: str
    bucket: str
    cluster_id: str
    cluster_arn: str
    health_check_id: str
    function: str
    topic_arn: str
    fis_templates: dict[str, str] = field(default_factory=dict)
    alarms: dict[str, str] = field(default_factory=dict)
    host: str = ""  # the IP the failover DNS name resolves to for this region (if known)


@dataclass
class DnsTarget:
    name: str
    zone_id: str
    ttl: int
    resolver_host: str | None  # None = the system resolver
    resolver_port: int = 53


@dataclass
class Target:
    name: str  # "local" or "aws": for reports only, never for branching
    primary_region: str
    secondary_region: str
    regions: dict[str, RegionTarget]
    dns: DnsTarget
    edge_url: str
    global_cluster_id: str
    account_id: str
    timing: dict[str, Any]  # health interval, threshold, TTL, aggregator period: behind every floor
    profile: str = ""
    credentials: dict[str, str] | None = None  # dummy keys for the lab; None = the default chain
    source: str = ""

    # ---- clients ---------------------------------------------------------------------------------
    def client(self, service: str, region: str, connect_timeout: float = 2, read_timeout: float = 5,
               attempts: int = 2) -> Any:
        cfg = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                     retries={"max_attempts": attempts, "mode": "standard"})
        kw: dict[str, Any] = {"region_name": region, "config": cfg}
        endpoint = self.regions[region].aws_endpoint
        if endpoint:
            kw["endpoint_url"] = endpoint
        if self.credentials:
            kw.update(self.credentials)
        return boto3.client(service, **kw)

    def pg(self, region: str, timeout: float = 2) -> psycopg.Connection:
        return psycopg.connect(self.regions[region].pg_dsn, autocommit=True, connect_timeout=int(max(1, timeout)),
                               options="-c statement_timeout=5000")

    def region_of_ip(self, ip: str) -> str | None:
        """The region a DNS answer of the failover name stands for: the lab answers A records (an
        IP per region), AWS a CNAME to the region's API host (``dns_answer`` in the outputs)."""
        want = (ip or "").rstrip(".").lower()
        return next((r for r, t in self.regions.items() if t.host and t.host.rstrip(".").lower() == want), None)

    def other(self, region: str) -> str:
        return self.secondary_region if region == self.primary_region else self.primary_region

    def cluster_region(self, cluster: str) -> str | None:
        return next((r for r, t in self.regions.items() if cluster in (t.cluster_id, t.cluster_arn)), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("credentials", None)
        return d


# ---- builders ------------------------------------------------------------------------------------
def from_lab(state_file: Path | None = None) -> Target:
    from drharness.lab.state import read_state, state_path  # the lab's state file format only

    path = state_file or state_path()
    if not path.exists():
        raise EnvironmentProblem(f"no running lab ({path} not found): start one with 'drharness lab up'")
    st = read_state(path)
    regions = {}
    for r, info in st.regions.items():
        regions[r] = RegionTarget(
            name=r, aws_endpoint=info["aws_endpoint"], app_url=info["app_url"], pg_dsn=info["pg_dsn"],
            table=info["table"], bucket=info["bucket"], cluster_id=info["cluster_id"],
            cluster_arn=info["cluster_arn"], health_check_id=info["health_check_id"], function=info["function"],
            topic_arn=info["topic_arn"], fis_templates=info.get("fis_templates", {}),
            alarms=info.get("alarms", {}), host=info.get("host", ""))
    prof = st.profile
    names = list(regions)
    return Target(
        name="local", primary_region=names[0], secondary_region=names[1], regions=regions,
        dns=DnsTarget(name=st.dns["name"], zone_id=st.dns["zone_id"], ttl=int(st.dns["ttl"]),
                      resolver_host=st.dns["host"], resolver_port=int(st.dns["port"])),
        edge_url=st.edge_url, global_cluster_id=st.resources["global_cluster_id"], account_id=st.account_id,
        timing={"health_interval_s": prof["health_interval_s"], "failure_threshold": prof["failure_threshold"],
                "dns_ttl": prof["dns_ttl"], "aggregator_period_s": prof["aggregator_period_s"],
                "alarm_period_s": prof.get("alarm_period_s") or 60,
                "alarm_datapoints": prof.get("dns_alarm_evaluation_periods", 1),
                "r53_request_interval": prof["r53_request_interval"], "source": prof["source"]},
        profile=prof["name"], credentials={"aws_access_key_id": "lab", "aws_secret_access_key": "lab"},
        source=str(path),
    )


def terraform_outputs(env_dir: Path) -> dict[str, Any]:
    if not env_dir.is_dir():
        raise BadInput(f"--env {env_dir}: not a directory")
    canned = env_dir / "terraform-outputs.json"
    if os.environ.get("DRHARNESS_TF_OUTPUTS"):
        canned = Path(os.environ["DRHARNESS_TF_OUTPUTS"])
    if canned.is_file():
        text = canned.read_text()
    else:
        tf = shutil.which("terraform")
        if not tf:
            raise EnvironmentProblem("terraform not found on PATH: install it to read the environment's outputs")
        res = subprocess.run([tf, "output", "-json"], cwd=env_dir, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise EnvironmentProblem(f"terraform output failed in {env_dir}: {res.stderr.strip()[:300]}")
        text = res.stdout
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"terraform outputs of {env_dir} are not JSON: {exc}") from None


def from_terraform(env_dir: Path) -> Target:
    """Build the aws Target from the ``drharness_target`` output (the infra's documented contract)."""
    outputs = terraform_outputs(env_dir)
    try:
        t = outputs["drharness_target"]["value"]
    except (KeyError, TypeError):
        raise BadInput(f"{env_dir}: terraform outputs have no 'drharness_target' (apply the drharness module)") \
            from None
    return from_target_doc(t, str(env_dir))


def from_env() -> Target:
    """In a deployed Lambda: the stack description Terraform put in DRHARNESS_TARGET_JSON."""
    raw = os.environ.get("DRHARNESS_TARGET_JSON")
    if not raw:
        raise EnvironmentProblem("DRHARNESS_TARGET_JSON is not set")
    try:
        return from_target_doc(json.loads(raw), "DRHARNESS_TARGET_JSON")
    except json.JSONDecodeError as exc:
        raise BadInput(f"DRHARNESS_TARGET_JSON is not JSON: {exc}") from None


def from_target_doc(t: dict[str, Any], env_dir: str) -> Target:
    if not isinstance(t, dict):
        raise BadInput(f"{env_dir}: drharness_target is not an object")
    if t.get("schema") != TARGET_SCHEMA:
        raise BadInput(f"{env_dir}: drharness_target schema {t.get('schema')!r}, expected {TARGET_SCHEMA!r}")
    endpoints = {r: os.environ.get(f"DRHARNESS_AWS_ENDPOINT_{r.upper().replace('-', '_')}")
                 or os.environ.get("AWS_ENDPOINT_URL") for r in t["regions"]}
    regions = {}
    try:
        for r, info in t["regions"].items():
            a = info["aurora"]
            user = a.get("username", "postgres")
            dsn = (f"host={a['writer_endpoint']} port={a.get('port', 5432)} user={user} "
                   f"dbname={a.get('database', 'postgres')} connect_timeout=3")
            regions[r] = RegionTarget(
                name=r, aws_endpoint=endpoints[r], app_url=info["app_url"], pg_dsn=dsn,
                table=info["dynamodb_table"], bucket=info["s3_bucket"], cluster_id=a["cluster_id"],
                cluster_arn=a.get("cluster_arn", a["cluster_id"]), health_check_id=info["health_check_id"],
                function=info["lambda_function_name"], topic_arn=info["sns_topic_arn"],
                fis_templates=info.get("fis_template_ids", {}), alarms=info.get("alarm_names", {}),
                host=info.get("dns_answer", ""))
        dns = t["dns"]
        return Target(
            name="aws", primary_region=t["primary_region"], secondary_region=t["secondary_region"],
            regions=regions,
            dns=DnsTarget(name=dns["record_name"], zone_id=dns["zone_id"], ttl=int(dns["ttl"]),
                          resolver_host=os.environ.get("DRHARNESS_DNS_RESOLVER") or dns.get("resolver_host"),
                          resolver_port=int(os.environ.get("DRHARNESS_DNS_PORT") or dns.get("resolver_port") or 53)),
            edge_url=t.get("edge_url", ""), global_cluster_id=t["global_cluster_id"],
            account_id=str(t.get("account_id", "")),
            timing={"health_interval_s": float(dns["health_check_request_interval"]),
                    "failure_threshold": int(dns["health_check_failure_threshold"]), "dns_ttl": int(dns["ttl"]),
                    "aggregator_period_s": float(t.get("aggregator_period_s", 60)),
                    "alarm_period_s": float(dns.get("alarm_period_s", 60)),
                    "alarm_datapoints": int(dns.get("alarm_datapoints_to_alarm", 1)),
                    "r53_request_interval": int(dns["health_check_request_interval"]),
                    "source": f"terraform outputs of {env_dir}"},
            profile="terraform", source=str(env_dir),
        )
    except KeyError as exc:
        raise BadInput(f"{env_dir}: drharness_target lacks {exc}") from None


def ensure_target(kind: str = "local", env_dir: str | None = None, profile: str = "fast") -> tuple[Target, bool]:
    """Like resolve_target, but on the local target start a lab when none runs.

    Returns (target, started): the caller stops a lab it started (``stop_local_lab``)."""
    if kind == "local":
        from drharness.lab.state import state_path

        if not state_path().exists():
            from drharness.lab.manager import lab_up

            lab_up(profile)
            return from_lab(), True
    return resolve_target(kind, env_dir), False


def stop_local_lab() -> None:
    from drharness.lab.manager import lab_down

    lab_down()


def resolve_target(kind: str = "local", env_dir: str | None = None) -> Target:
    if kind == "local":
        return from_lab()
    if kind == "aws":
        if not env_dir:
            raise BadInput("--target aws needs --env DIR (a Terraform environment directory)")
        return from_terraform(Path(env_dir))
    raise BadInput(f"unknown target {kind!r}: choose local or aws")
