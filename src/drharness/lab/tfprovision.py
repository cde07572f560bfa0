"""``lab up --provision terraform``: the lab's resources created by ``terraform apply`` of
``infra/environments/lab`` (the real module, providers pointed at the lab's region gateways).

Fast provisioning (``provision.py``) stays the default: an apply costs minutes because of the AWS
provider's fixed waiters. Terraform runs in a copy of ``infra/`` under the lab's state directory, so
no ``.terraform`` or state file lands in the repository. What Terraform created is then read back
from ``terraform output -json`` (names, ids, ARNs) and the lab's data planes run on exactly that.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from drharness.errors import EnvironmentProblem

log = logging.getLogger(__name__)

PLUGIN_MIRROR = Path(os.environ.get("DRHARNESS_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
ENV_REL = Path("infra/environments/lab")
VARS_FILE = "lab.auto.tfvars.json"  # read by every later plan/apply/output in the work dir


def repo_root() -> Path:
    """The checkout this package runs from (src layout): infra/ lives next to src/."""
    return Path(__file__).resolve().parents[3]


def cli_config(work: Path) -> Path | None:
    """A CLI config that installs hashicorp/* from the filesystem mirror when it exists (the registry
    cannot be reached on the CI machines); None = the registry, as Terraform does by default."""
    if not PLUGIN_MIRROR.is_dir():
        return None
    path = work / "terraformrc"
    path.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{PLUGIN_MIRROR}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n')
    return path


def tf_env(work: Path) -> dict[str, str]:
    """No real credentials ever reach terraform: AWS_* is dropped, the providers carry dummy keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_INPUT="0")
    env.pop("TF_CLI_CONFIG_FILE", None)
    env.pop("TF_DATA_DIR", None)
    cfg = work / "terraformrc"
    if cfg.is_file():
        env["TF_CLI_CONFIG_FILE"] = str(cfg)
    return env


def preflight(source: Path | None = None) -> None:
    """What --provision terraform needs, checked before anything starts (exit 3 with one line)."""
    source = source or repo_root()
    if shutil.which("terraform") is None:
        raise EnvironmentProblem("terraform not found on PATH: install Terraform >= 1.11 to use "
                                 "'lab up --provision terraform' (or use the default fast provisioning)")
    if not (source / ENV_REL).is_dir():
        raise EnvironmentProblem(f"{source / ENV_REL} not found: --provision terraform needs the drharness checkout")


def prepare(work: Path, source: Path | None = None) -> Path:
    """A fresh copy of infra/ (modules + the lab environment) and the Lambda zips; returns the env dir."""
    source = source or repo_root()
    preflight(source)
    if work.exists():
        shutil.rmtree(work)
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "*.auto.tfvars.json")
    shutil.copytree(source / "infra" / "modules", work / "infra" / "modules", ignore=ignore)
    shutil.copytree(source / ENV_REL, work / ENV_REL, ignore=ignore)
    cli_config(work)
    out = work / "build" / "lambda"  # the lab tfvars name ../../../build/lambda/*.zip
    res = subprocess.run(["bash", str(source / "infra" / "scripts" / "build-lambda-zips.sh"), "--out", str(out)],
                         capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}, timeout=120,
                         check=False)
    if res.returncode != 0:
        raise EnvironmentProblem(f"building the Lambda zips failed: {res.stderr.strip()[-300:]}")
    return work / ENV_REL


def run(env_dir: Path, args: list[str], log_file: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """One terraform command in the work dir. Its output is streamed to the lab's terraform.log with
    the seconds since the command started on each line, so a slow apply shows which resource waited."""
    work = env_dir.parents[2]
    t0 = time.monotonic()
    if args[0] == "output":  # read back as JSON: stdout alone, not logged
        res = subprocess.run(["terraform", *args], cwd=env_dir, env=tf_env(work), capture_output=True, text=True,
                             timeout=timeout, check=False)
        with log_file.open("a") as fh:
            fh.write(f"$ terraform {' '.join(args)}: {time.monotonic() - t0:.1f} s, exit {res.returncode}\n"
                     + res.stderr)
        return res
    lines: list[str] = []
    with log_file.open("a") as fh:
        fh.write(f"$ terraform {' '.join(args)}\n")
        fh.flush()
        proc = subprocess.Popen(["terraform", *args], cwd=env_dir, env=tf_env(work), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                fh.write(f"[{time.monotonic() - t0:6.1f}] {line}")
                fh.flush()
            code = proc.wait()
        finally:
            timer.cancel()
        timed_out = time.monotonic() - t0 >= timeout
        fh.write(f"$ terraform {args[0]}: {time.monotonic() - t0:.1f} s, exit {code}"
                 f"{' (killed: timeout)' if timed_out else ''}\n")
    out = "".join(lines)
    return subprocess.CompletedProcess(["terraform", *args], code, out, out if code else "")


def _check(res: subprocess.CompletedProcess, what: str, log_file: Path) -> None:
    if res.returncode not in (0,):
        lines = [ln for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
        first = next((i for i, ln in enumerate(lines) if ln.lstrip("│ ").startswith("Error")), max(0, len(lines) - 12))
        errors = lines[first:first + 12]
        raise EnvironmentProblem(f"terraform {what} failed (see {log_file}):\n  " + "\n  ".join(errors))


def write_vars(env_dir: Path, endpoints: dict[str, str], pg_port: int, aggregator_period_s: float) -> None:
    """The running lab's addresses, as an auto-loaded tfvars file (later plans see the same values)."""
    values: dict[str, Any] = {f"lab_endpoint_{r.replace('-', '_')}": url for r, url in endpoints.items()}
    values["aurora_port"] = pg_port
    values["lab_aggregator_period_s"] = aggregator_period_s
    (env_dir / VARS_FILE).write_text(json.dumps(values, indent=2) + "\n")


def apply(env_dir: Path, log_file: Path, timeout: float = 600) -> dict[str, Any]:
    """init (mirror or registry) + apply; returns ``terraform output -json``."""
    _check(run(env_dir, ["init", "-input=false", "-no-color"], log_file, timeout=120), "init", log_file)
    _check(run(env_dir, ["apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=30"], log_file,
               timeout=timeout), "apply", log_file)
    res = run(env_dir, ["output", "-json"], log_file, timeout=60)
    _check(res, "output", log_file)
    return json.loads(res.stdout)


def resources_from_outputs(outputs: dict[str, Any], env_dir: Path) -> dict[str, Any]:
    """The lab's resource map (the shape fast provisioning returns) read from Terraform's outputs."""
    t = outputs["drharness_target"]["value"]
    clusters = outputs["aurora_clusters"]["value"]
    res: dict[str, Any] = {"regions": {}, "global_cluster_id": t["global_cluster_id"],
                           "roles": outputs["iam_role_arns"]["value"]}
    for r, info in t["regions"].items():
        res["regions"][r] = {
            "cluster_id": info["aurora"]["cluster_id"], "cluster_arn": clusters[r]["cluster_arn"],
            "table": info["dynamodb_table"],
            "table_arn": f"arn:aws:dynamodb:{r}:{t['account_id']}:table/{info['dynamodb_table']}",
            "bucket": info["s3_bucket"], "topic_arn": info["sns_topic_arn"], "function": info["lambda_function_name"],
            "health_check_id": info["health_check_id"], "fis_templates": info["fis_template_ids"],
            "alarms": info["alarm_names"], "app_endpoint": info["app_url"],
        }
    dns = t["dns"]
    res["dns"] = {"zone_id": dns["zone_id"], "zone": dns["zone_name"], "record": dns["record_name"], "ttl": dns["ttl"]}
    res["terraform"] = {"env_dir": str(env_dir),
                        "master_username": next(iter(t["regions"].values()))["aurora"]["username"]}
    return res


def provision_terraform(work: Path, endpoints: dict[str, str], pg_port: int, log_file: Path,
                        aggregator_period_s: float = 60.0) -> dict[str, Any]:
    """Copy, init, apply; the resources Terraform reports."""
    t0 = time.monotonic()
    env_dir = prepare(work)
    write_vars(env_dir, endpoints, pg_port, aggregator_period_s)
    outputs = apply(env_dir, log_file)
    res = resources_from_outputs(outputs, env_dir)
    res["terraform"]["apply_seconds"] = round(time.monotonic() - t0, 1)
    log.info("terraform provisioning done in %.1f s (%s)", time.monotonic() - t0, env_dir)
    return res


# ---- inside labd: the gateways' Terraform hooks, the apply, and the data planes' view of it ------
def lab_names(names: dict[str, str], account: str = "123456789012") -> dict[str, str]:
    """The module's naming (infra/modules/multi-region/main.tf) where it differs from the fast lab's:
    buckets carry the account id. Checked against Terraform's outputs after the apply."""
    return {**names, "bucket_prefix": f"{names['prefix']}-orders-{account}"}


def _verify_names(lab: Any, res: dict[str, Any]) -> None:
    names = lab.plan["profile"]["names"]
    wrong = []
    if res["global_cluster_id"] != names["global_cluster"]:
        wrong.append(f"global cluster {res['global_cluster_id']} (lab: {names['global_cluster']})")
    for r, info in res["regions"].items():
        expected = {"cluster_id": lab.cluster_ids[r], "table": names["table"],
                    "bucket": f"{names['bucket_prefix']}-{r}", "function": names["function"]}
        wrong += [f"{r} {k} {info[k]} (lab: {v})" for k, v in expected.items() if info[k] != v]
    if wrong:
        raise EnvironmentProblem("infra/environments/lab created resources the lab does not serve: "
                                 + "; ".join(wrong) + " (keep name_prefix = \"drharness\")")


def _create_master_user(lab: Any, username: str) -> None:
    """CreateDBCluster's MasterUsername exists in Aurora: create it in the lab's PostgreSQL pair."""
    import psycopg

    node = lab.aurora.nodes[lab.aurora.writer_region]
    node.wait_ready()
    with psycopg.connect(node.dsn, autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchone()
        if not exists:
            c.execute(f'CREATE ROLE "{username}" LOGIN SUPERUSER')  # identifier checked by the module's validation


class S3AccessLogging:
    """Server access logging as S3 keeps its configuration, without moto's delivery. moto writes one
    log object into the (versioned) target bucket for *every* request to a logged bucket, at once
    and kept forever: in the lab, where the replicator, the apps and the status hooks call S3 many
    times a second, that grew labd by ~3 MB/s and starved replication (drills found objects still
    PENDING). S3 delivers these logs best effort, hours later; nothing in the lab reads them. So
    moto gets logging switched off and every read answers the configuration as Terraform sent it."""

    OFF = b'<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    DROPPED_HEADERS = ("HTTP_CONTENT_ENCODING", "HTTP_X_AMZ_DECODED_CONTENT_LENGTH", "HTTP_CONTENT_MD5",
                       "HTTP_X_AMZ_TRAILER", "HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM")

    def __init__(self) -> None:
        self.configs: dict[str, bytes] = {}  # bucket -> BucketLoggingStatus as PUT

    @staticmethod
    def _is_logging(call: Any) -> bool:
        from urllib.parse import parse_qs

        return call.service == "s3" and "logging" in parse_qs(call.environ.get("QUERY_STRING", ""),
                                                                keep_blank_values=True)

    def intercept(self, call: Any) -> Any:
        import io

        from werkzeug.wrappers import Response

        from drharness.lab.interceptors import _decoded_body

        if not self._is_logging(call):
            return None
        bucket = call.path.lstrip("/").split("/", 1)[0]
        if call.method == "GET" and bucket in self.configs:
            return Response(self.configs[bucket], status=200, headers={"Content-Type": "application/xml"})
        if call.method != "PUT":
            return None
        call.environ["drharness.s3_logging"] = _decoded_body(call)
        for key in [k for k in call.environ if k in self.DROPPED_HEADERS or k.startswith("HTTP_X_AMZ_CHECKSUM_")]:
            call.environ.pop(key, None)
        call.environ["HTTP_X_AMZ_CONTENT_SHA256"] = "UNSIGNED-PAYLOAD"
        call.environ["wsgi.input"] = io.BytesIO(self.OFF)
        call.environ["CONTENT_LENGTH"] = str(len(self.OFF))
        return None

    def hook(self, call: Any, resp: Any) -> Any:
        sent = call.environ.get("drharness.s3_logging")
        if sent is not None and resp.status_code < 300:
            self.configs[call.path.lstrip("/").split("/", 1)[0]] = sent
        return resp


def attach_terraform(lab: Any, endpoints: dict[str, str]) -> dict[str, Any]:
    """Called by labd instead of fast provisioning: hooks the gateways, applies, reads the outputs."""
    from drharness.lab.interceptors import (
        CloudFrontConfigs,
        DynamoDBReplicas,
        GlobalClusterProtection,
        GlobalClusterTags,
        S3BucketPolicies,
        apigw_endpoint_hook,
        global_cluster_detach_hook,
        lambda_config_hook,
        rds_terraform_hook,
        route53_check_config_hook,
        secret_replica_kms_hook,
    )

    # IAM's AWS managed policies (AmazonRDSEnhancedMonitoringRole, ...) exist in every account.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    p = lab.plan
    # The functions Terraform deploys run in-process when their schedules fire, loaded from the zip
    # Terraform uploaded (lab/scheduler.py); inside the lab "the regional endpoint" and "the
    # resolver" are the lab's, never AWS (Terraform's Lambda environment names neither).
    for r, url in endpoints.items():
        os.environ[f"DRHARNESS_AWS_ENDPOINT_{r.upper().replace('-', '_')}"] = url
    os.environ["DRHARNESS_DNS_RESOLVER"] = "127.0.0.1"
    os.environ["DRHARNESS_DNS_PORT"] = str(p["ports"]["dns"])
    hosts = p["hosts"]
    app_urls = {r: f"http://{hosts[r]}:{p['ports']['app']}" for r in lab.regions}
    cloudfront, replicas, policies = CloudFrontConfigs(), DynamoDBReplicas(lab.moto_app), S3BucketPolicies()
    logging_ = S3AccessLogging()
    rds, gc_tags = rds_terraform_hook(hosts, set(lab.cluster_ids.values())), GlobalClusterTags()
    gc_protection = GlobalClusterProtection(lab.moto_app)
    fn_config, secret_kms = lambda_config_hook(), secret_replica_kms_hook()
    for gw in lab.gateways.values():
        gw.peers = lab.gateways
        gw.interceptors += [cloudfront.intercept, replicas.intercept, gc_tags.intercept, policies.intercept,
                            logging_.intercept, gc_protection.intercept]
        gw.post += [logging_.hook, rds, gc_tags.hook, apigw_endpoint_hook(app_urls), cloudfront.hook, replicas.hook, fn_config,
                    secret_kms, route53_check_config_hook(), global_cluster_detach_hook()]
    lab.tf_apps = {url: (hosts[r], p["ports"]["app"]) for r, url in app_urls.items()}
    work = Path(p["terraform"]["work_dir"])
    work.parent.mkdir(parents=True, exist_ok=True)
    prof = p["profile"]
    period = float(prof["aggregator_period_s"]) if prof["name"] == "fast" else 60.0  # as LabScheduler fires it
    res = provision_terraform(work, endpoints, p["ports"]["pg"][lab.primary], work.parent / "terraform.log", period)
    _verify_names(lab, res)
    _create_master_user(lab, res["terraform"]["master_username"])
    return res


def route53_types(lab: Any) -> tuple[type, type]:
    """The lab's Route 53 health checker and DNS server for what the module creates: HTTPS health
    checks on each regional API's host and CNAME failover records to those hosts. An API host is the
    region's app in the lab, so a check probes that app and the CNAME is answered with its address
    (flattened to A, as a resolver following the chain would end). The fast profile caps the answered
    TTL at its own, as it shortens the probing; the stored values stay what Terraform wrote."""
    from drharness.lab.route53 import HealthChecker, ZoneResolver

    apps: dict[str, tuple[str, int]] = getattr(lab, "tf_apps", {})
    prof = lab.plan["profile"]
    ttl_cap = int(prof["dns_ttl"]) if prof["name"] == "fast" else None

    def lab_address(value: str) -> tuple[str, int] | None:
        v = value.rstrip(".")
        for url, addr in apps.items():
            if v in (url, url.split("://", 1)[-1], addr[0]):
                return addr
        return None

    class TfHealthChecker(HealthChecker):
        def probe(self, cfg: dict) -> tuple[bool, str]:
            addr = lab_address(cfg.get("FullyQualifiedDomainName") or cfg.get("IPAddress") or "")
            if addr and cfg.get("Type", "HTTP") != "TCP":
                cfg = {**cfg, "IPAddress": addr[0], "Port": addr[1]}
            return super().probe(cfg)

    class TfZoneResolver(ZoneResolver):
        def answer(self, name: str, qtype: str) -> tuple[str, list[dict]]:
            rcode, chosen = super().answer(name, qtype)
            if qtype != "A" or chosen or rcode != "NOERROR":
                return rcode, chosen
            rcode, cnames = super().answer(name, "CNAME")
            out = []
            for rr in cnames:
                addrs = [lab_address(v["Value"]) for v in rr.get("ResourceRecords", [])]
                if addrs and all(addrs):
                    ttl = int(rr.get("TTL", 60))
                    out.append({"TTL": min(ttl, ttl_cap) if ttl_cap else ttl,
                                "ResourceRecords": [{"Value": a[0]} for a in addrs if a]})
            return rcode, out

    return TfHealthChecker, TfZoneResolver
