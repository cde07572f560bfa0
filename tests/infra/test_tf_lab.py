"""The Terraform-provisioned lab (``drharness lab up --provision terraform``), once per run.

One lab of its own (own state dir, own free ports; the session ``lab`` fixture is not touched) whose
resources come from ``terraform apply`` of infra/environments/lab against the lab's gateways. It
proves that the real module applies, that a second plan is a no-op (the gateways close moto's
gaps, not ``ignore_changes``), that the drill passes on what Terraform created, and that the aws
Target built from ``terraform output -json`` drives the same drill through the live code path.

Skipped, with the reason shown, when terraform or the provider mirror is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pytest runs with --import-mode=importlib
from infra_tf_helpers import providers_or_skip, terraform_or_skip  # noqa: E402

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[2]


class TfLab:
    """A running Terraform-provisioned lab: its state, its environment dir and CLI runner."""

    def __init__(self, state_file: Path, cwd: Path) -> None:
        self.state_file = state_file
        self.cwd = cwd
        self.state: dict[str, Any] = json.loads(state_file.read_text())
        self.env_dir = Path(self.state["extra"]["terraform"]["env_dir"])

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRHARNESS_"))}
        env.update(DRHARNESS_LAB_STATE=str(self.state_file), AWS_ACCESS_KEY_ID="lab", AWS_SECRET_ACCESS_KEY="lab",
                   AWS_DEFAULT_REGION="us-east-1", **extra)
        return env

    def cli(self, *args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "drharness", *args], cwd=self.cwd, env=self.env(**extra),
                              capture_output=True, text=True, timeout=timeout, check=False)

    def terraform(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        from drharness.lab.tfprovision import tf_env

        return subprocess.run(["terraform", *args], cwd=self.env_dir, env=tf_env(self.env_dir.parents[2]),
                              capture_output=True, text=True, timeout=timeout, check=False)

    def outputs(self) -> dict[str, Any]:
        res = self.terraform("output", "-json", timeout=120)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)


@pytest.fixture(scope="module")
def tf_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TfLab]:
    terraform_or_skip()
    providers_or_skip()
    work = tmp_path_factory.mktemp("tf-lab")
    state = work / "lab.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRHARNESS_"))}
    env["DRHARNESS_LAB_STATE"] = str(state)
    try:
        up = subprocess.run([sys.executable, "-m", "drharness", "lab", "up", "--provision", "terraform"], cwd=work,
                            env=env, capture_output=True, text=True, timeout=900, check=False)
        tf_log = work / "terraform.log"
        assert up.returncode == 0, up.stdout + up.stderr + (tf_log.read_text()[-4000:] if tf_log.exists() else "")
        yield TfLab(state, work)
    finally:
        subprocess.run([sys.executable, "-m", "drharness", "lab", "down"], cwd=work, env=env, capture_output=True,
                       timeout=120, check=False)


def test_the_lab_runs_on_what_terraform_created(tf_lab: TfLab) -> None:
    assert tf_lab.state["extra"]["provision"] == "terraform"
    assert REPO not in tf_lab.env_dir.parents, "terraform must run in a copy, not in the repository"
    target = tf_lab.outputs()["drharness_target"]["value"]
    for region, info in target["regions"].items():
        lab_region = tf_lab.state["regions"][region]
        # the data planes use the ids Terraform reports (health checks, FIS templates, alarms, ...)
        assert lab_region["health_check_id"] == info["health_check_id"]
        assert lab_region["fis_templates"] == info["fis_template_ids"]
        assert lab_region["bucket"] == info["s3_bucket"]
        # the Aurora endpoint Terraform outputs reaches the lab's real PostgreSQL in that region
        a = info["aurora"]
        with psycopg.connect(host=a["writer_endpoint"], port=a["port"], user=a["username"], dbname=a["database"],
                             connect_timeout=5) as conn:
            in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        assert in_recovery is (region != target["primary_region"])


def test_the_aggregator_schedules_run_the_handler_terraform_deployed(tf_lab: TfLab) -> None:
    """The schedules name health_check_aggregator.handler, a module only the harness zip holds: the
    lab's runtime imports it from the function's deployment package (lab/scheduler.py)."""
    import time
    import urllib.request

    def schedules() -> dict[str, Any]:
        with urllib.request.urlopen(tf_lab.state["control_url"] + "/status", timeout=10) as resp:
            return json.loads(resp.read())["schedules"]

    deadline = time.monotonic() + 30
    while True:
        runs = {k: v for k, v in schedules().items() if "health-check-aggregator" in k}
        if (len(runs) == 2 and all(v["invocations"] > v["errors"] for v in runs.values())) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(runs) == 2, runs
    for name, run in runs.items():
        assert run["invocations"] > 0 and run["last_error"] is None, (name, run)


def test_dynamodb_replica_block_created_the_replica_table(tf_lab: TfLab) -> None:
    import boto3

    regions = tf_lab.state["regions"]
    kw = {"aws_access_key_id": "lab", "aws_secret_access_key": "lab"}
    east = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=regions["us-east-1"]["aws_endpoint"], **kw)
    west = boto3.client("dynamodb", region_name="us-west-2", endpoint_url=regions["us-west-2"]["aws_endpoint"], **kw)
    table = regions["us-east-1"]["table"]
    primary = east.describe_table(TableName=table)["Table"]
    replica = west.describe_table(TableName=table)["Table"]
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in primary["Replicas"]] == [("us-west-2", "ACTIVE")]
    assert replica["KeySchema"] == primary["KeySchema"]
    assert replica["StreamSpecification"] == primary["StreamSpecification"]


def test_second_plan_is_a_no_op(tf_lab: TfLab) -> None:
    res = tf_lab.terraform("plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false")
    changes = [ln for ln in res.stdout.splitlines() if ln.strip().startswith(("#", "~", "+", "-"))]
    assert res.returncode == 0, "second plan is not a no-op:\n" + "\n".join(changes[:60]) + res.stderr[-2000:]


def test_region_outage_drill_passes_on_terraform_resources(tf_lab: TfLab, tmp_path: Path) -> None:
    res = tf_lab.cli("drill", "run", "--scenario", "region-outage", "--report-dir", str(tmp_path), "--json")
    report = json.loads((tmp_path / "drill-report.json").read_text())
    failed = [c for c in report["checks"] if c["verdict"] != "pass"]
    assert res.returncode == 0 and report["verdict"] == "pass", json.dumps(failed, indent=1)[:4000]


def test_aws_target_drill_passes_through_terraform_outputs(tf_lab: TfLab, tmp_path: Path) -> None:
    """The live-drill code path offline: Target from `terraform output -json`, endpoints from the env."""
    regions, dns = tf_lab.state["regions"], tf_lab.state["dns"]
    env = {f"DRHARNESS_AWS_ENDPOINT_{r.upper().replace('-', '_')}": info["aws_endpoint"]
           for r, info in regions.items()}
    env["AWS_ENDPOINT_URL"] = regions["us-east-1"]["aws_endpoint"]  # anything outside the Target (global APIs)
    env.update(DRHARNESS_DNS_RESOLVER=str(dns["host"]), DRHARNESS_DNS_PORT=str(dns["port"]))
    res = tf_lab.cli("drill", "run", "--target", "aws", "--env", str(tf_lab.env_dir), "--scenario", "region-outage",
                     "--report-dir", str(tmp_path), "--yes", "--json", **env)
    report_file = tmp_path / "drill-report.json"
    assert report_file.exists(), res.stdout[-2000:] + res.stderr[-2000:]
    report = json.loads(report_file.read_text())
    assert report["target"] == "aws"
    failed = [c for c in report["checks"] if c["verdict"] != "pass"]
    assert res.returncode == 0 and report["verdict"] == "pass", json.dumps(failed, indent=1)[:4000]


def test_plan_after_the_drills_is_still_a_no_op(tf_lab: TfLab) -> None:
    """The drills fenced and unfenced the app (reserved concurrency 100 in the module): failback puts
    back what was there, so Terraform finds nothing to change, as it must on AWS after a drill."""
    res = tf_lab.terraform("plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false")
    changes = [ln for ln in res.stdout.splitlines() if ln.strip().startswith(("#", "~", "+", "-"))]
    assert res.returncode == 0, "plan after the drills shows drift:\n" + "\n".join(changes[:60]) + res.stderr[-2000:]


def test_destroy_removes_everything_terraform_created(tf_lab: TfLab) -> None:
    """Last user of the Terraform lab: `terraform destroy` of the real module completes against the
    lab (moto's global cluster refused it: the gateway detaches a deleted secondary, as RDS does) and
    leaves nothing in the state nor the global cluster in RDS."""
    import boto3

    gc = tf_lab.outputs()["drharness_target"]["value"]["global_cluster_id"]
    # As an operator retires a stack: deletion protection off first (the lab keeps it on, as prod does).
    unprotected = ["-var", "aurora_deletion_protection=false", "-var", "dynamodb_deletion_protection=false"]
    off = tf_lab.terraform("apply", "-auto-approve", "-input=false", "-no-color", "-lock=false", *unprotected,
                           timeout=900)
    assert off.returncode == 0, off.stdout[-3000:] + off.stderr[-3000:]
    res = tf_lab.terraform("destroy", *unprotected, "-auto-approve", "-input=false", "-no-color", "-lock=false", timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    left = tf_lab.terraform("state", "list", timeout=120)
    assert left.returncode == 0 and not left.stdout.strip(), left.stdout[:2000] + left.stderr[-1000:]
    rds = boto3.client("rds", region_name="us-east-1", endpoint_url=tf_lab.state["regions"]["us-east-1"]["aws_endpoint"],
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    assert gc not in [g["GlobalClusterIdentifier"] for g in rds.describe_global_clusters()["GlobalClusters"]]


# ---------------------------------------------------------------------------------------------
# The gateway hooks one by one (seconds, no terraform): each case also runs against a gateway
# without the hook, where moto's own answer must show the gap the hook closes.
# ---------------------------------------------------------------------------------------------

REGIONS = ("us-east-1", "us-west-2")


class Gateways:
    """moto in-process behind one plain and one hooked gateway pair, served on loopback."""

    def __init__(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app

        from drharness.lab import net
        from drharness.lab.faults import Faults
        from drharness.lab.gateway import RegionGateway
        from drharness.lab.httpserve import serve
        from drharness.lab.interceptors import (
            CloudFrontConfigs,
            DynamoDBReplicas,
            GlobalClusterProtection,
            GlobalClusterTags,
            S3BucketPolicies,
            global_cluster_detach_hook,
            rds_terraform_hook,
            route53_check_config_hook,
        )
        from drharness.lab.tfprovision import S3AccessLogging

        self.app = DomainDispatcherApplication(create_backend_app)
        faults = Faults(REGIONS)
        self.plain = {r: RegionGateway(r, self.app, faults) for r in REGIONS}
        self.hooked = {r: RegionGateway(r, self.app, faults) for r in REGIONS}
        cf, reps, pols, tags = CloudFrontConfigs(), DynamoDBReplicas(self.app), S3BucketPolicies(), GlobalClusterTags()
        logging_ = S3AccessLogging()
        self.pg_hosts = {"us-east-1": "127.0.1.1", "us-west-2": "127.0.2.1"}
        for gw in self.hooked.values():
            gw.peers = self.hooked
            gw.interceptors += [cf.intercept, reps.intercept, tags.intercept, pols.intercept, logging_.intercept,
                                GlobalClusterProtection(self.app).intercept]
            gw.post += [logging_.hook, rds_terraform_hook(self.pg_hosts, {"gwtest-us-east-1"}), tags.hook, cf.hook,
                        reps.hook, route53_check_config_hook(), global_cluster_detach_hook()]
        self.servers = []
        self.urls: dict[tuple[bool, str], str] = {}
        for hooked, gws in ((False, self.plain), (True, self.hooked)):
            for r, gw in gws.items():
                port = net.free_port()
                self.servers.append(serve("127.0.0.1", port, gw, f"gw-{r}"))
                self.urls[(hooked, r)] = f"http://127.0.0.1:{port}"

    def client(self, service: str, region: str = "us-east-1", hooked: bool = True) -> Any:
        import boto3

        return boto3.client(service, region_name=region, endpoint_url=self.urls[(hooked, region)],
                            aws_access_key_id="lab", aws_secret_access_key="lab")

    def close(self) -> None:
        for s in self.servers:
            s.shutdown()


@pytest.fixture(scope="module")
def gateways() -> Iterator[Gateways]:
    gws = Gateways()
    yield gws
    gws.close()


def _table(gw: Gateways, name: str, hooked: bool) -> None:
    gw.client("dynamodb", hooked=hooked).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})


@pytest.mark.parametrize("hooked", [True, False], ids=["hooked", "moto-alone"])
def test_replica_updates_create_the_replica_table(gateways: Gateways, hooked: bool) -> None:
    from botocore.exceptions import ClientError

    name = f"gwtest-orders-{hooked}"
    _table(gateways, name, hooked)
    gateways.client("dynamodb", hooked=hooked).update_table(
        TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    west = gateways.client("dynamodb", "us-west-2", hooked)
    if not hooked:  # the gap: accepted, nothing created (Terraform's waiter would never end)
        with pytest.raises(ClientError, match="ResourceNotFound"):
            west.describe_table(TableName=name)
        return
    replica = west.describe_table(TableName=name)["Table"]
    primary = gateways.client("dynamodb").describe_table(TableName=name)["Table"]
    assert replica["KeySchema"] == primary["KeySchema"]
    assert replica["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert primary["Replicas"] == [{"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"}]
    assert replica["Replicas"] == [{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"}]


def test_a_call_signed_for_the_other_region_reaches_that_region(gateways: Gateways) -> None:
    """Terraform reaches a replica's region through the provider's one endpoint (the us-east-1 gateway)."""
    import boto3

    _table(gateways, "gwtest-relay", True)
    gateways.client("dynamodb").update_table(TableName="gwtest-relay",
                                             ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    cross = boto3.client("dynamodb", region_name="us-west-2", endpoint_url=gateways.urls[(True, "us-east-1")],
                         aws_access_key_id="lab", aws_secret_access_key="lab")
    assert cross.describe_table(TableName="gwtest-relay")["Table"]["Replicas"][0]["RegionName"] == "us-east-1"
    plain = boto3.client("dynamodb", region_name="us-west-2", endpoint_url=gateways.urls[(False, "us-east-1")],
                         aws_access_key_id="lab", aws_secret_access_key="lab")
    with pytest.raises(Exception, match="InvalidClientTokenId"):  # the fast lab still refuses misrouted calls
        plain.describe_table(TableName="gwtest-relay")


def _distribution(caller: str) -> dict:
    origin = {"DomainName": "{}.example.com", "CustomOriginConfig": {
        "HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}
    return {
        "CallerReference": caller, "Comment": "gwtest", "Enabled": True,
        "Origins": {"Quantity": 2, "Items": [{**origin, "Id": "primary", "DomainName": "a.example.com"},
                                             {**origin, "Id": "secondary", "DomainName": "b.example.com"}]},
        "OriginGroups": {"Quantity": 1, "Items": [{
            "Id": "failover", "FailoverCriteria": {"StatusCodes": {"Quantity": 1, "Items": [503]}},
            "Members": {"Quantity": 2, "Items": [{"OriginId": "primary"}, {"OriginId": "secondary"}]}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "failover", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": "TLSv1"},
    }


def test_cloudfront_behaviour_on_an_origin_group_is_accepted_and_read_back_as_sent(gateways: Gateways) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="NoSuchOrigin"):  # the gap
        gateways.client("cloudfront", hooked=False).create_distribution(DistributionConfig=_distribution("gw-plain"))
    cf = gateways.client("cloudfront")
    dist = cf.create_distribution(DistributionConfig=_distribution("gw-hooked"))["Distribution"]
    config = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "failover"
    assert config["OriginGroups"]["Items"][0]["Id"] == "failover"
    assert "SSLSupportMethod" not in config["ViewerCertificate"]  # moto invents sni-only


def test_bucket_policy_denying_plain_http_does_not_deny_the_lab_and_reads_back_as_sent(gateways: Gateways) -> None:
    from botocore.exceptions import ClientError

    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::{b}", "arn:aws:s3:::{b}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    for hooked in (False, True):
        bucket = f"gwtest-policy-{str(hooked).lower()}"
        s3 = gateways.client("s3", hooked=hooked)
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy).replace("{b}", bucket))
        if not hooked:  # the gap: moto applies the deny to every request
            with pytest.raises(ClientError, match="403"):
                s3.put_object(Bucket=bucket, Key="k", Body=b"1")
            continue
        s3.put_object(Bucket=bucket, Key="k", Body=b"1")
        assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Sid"] == "DenyInsecureTransport"


def test_rds_answers_as_aurora_for_the_labs_clusters(gateways: Gateways) -> None:
    rds = gateways.client("rds")
    rds.create_global_cluster(GlobalClusterIdentifier="gwtest-global", Engine="aurora-postgresql",
                              EngineVersion="16.4", DatabaseName="orders", Tags=[{"Key": "team", "Value": "dr"}])
    rds.create_db_cluster(DBClusterIdentifier="gwtest-us-east-1", Engine="aurora-postgresql", EngineVersion="16.4",
                          GlobalClusterIdentifier="gwtest-global", MasterUsername="admin_user",
                          MasterUserPassword="x" * 20, Port=15432)
    gc = rds.describe_global_clusters(GlobalClusterIdentifier="gwtest-global")["GlobalClusters"][0]
    assert gc["DatabaseName"] == "orders"
    assert gc["TagList"] == [{"Key": "team", "Value": "dr"}]
    cluster = rds.describe_db_clusters(DBClusterIdentifier="gwtest-us-east-1")["DBClusters"][0]
    assert (cluster["Endpoint"], cluster["ReaderEndpoint"], cluster["Port"]) == ("127.0.1.1", "127.0.1.1", 15432)
    assert "ScalingConfigurationInfo" not in cluster
    plain = gateways.client("rds", hooked=False)
    assert "DatabaseName" not in plain.describe_global_clusters(GlobalClusterIdentifier="gwtest-global")["GlobalClusters"][0]
    assert plain.describe_db_clusters(DBClusterIdentifier="gwtest-us-east-1")["DBClusters"][0]["Endpoint"] != "127.0.1.1"


def test_s3_access_logging_reads_back_as_sent_without_moto_writing_a_log_per_request(gateways: Gateways) -> None:
    """moto writes a log object for every request to a logged bucket at once (labd grew ~3 MB/s and
    starved S3 replication on the Terraform lab); the hooked gateway keeps only the configuration."""
    for hooked in (False, True):
        s3 = gateways.client("s3", hooked=hooked)
        data, logs = f"gwtest-data-{str(hooked).lower()}", f"gwtest-logs-{str(hooked).lower()}"
        for b in (data, logs):
            s3.create_bucket(Bucket=b)
        s3.put_bucket_acl(Bucket=logs, GrantWrite="uri=http://acs.amazonaws.com/groups/s3/LogDelivery",
                          GrantReadACP="uri=http://acs.amazonaws.com/groups/s3/LogDelivery")
        s3.put_bucket_logging(Bucket=data, BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "access/"}})
        for i in range(5):
            s3.put_object(Bucket=data, Key=f"k{i}", Body=b"x")
            s3.head_object(Bucket=data, Key=f"k{i}")
        written = s3.list_objects_v2(Bucket=logs).get("KeyCount", 0)
        assert s3.get_bucket_logging(Bucket=data)["LoggingEnabled"] == {"TargetBucket": logs, "TargetPrefix": "access/"}
        if not hooked:
            assert written >= 10  # the gap: one log object per request, kept forever
        else:
            assert written == 0


def test_deleting_the_secondary_cluster_detaches_it_so_the_global_cluster_can_be_destroyed(
        gateways: Gateways) -> None:
    """What `terraform destroy` does (lab down throws moto's state away instead, so this is the check):
    delete the secondary member in its region, then the global cluster."""
    from botocore.exceptions import ClientError

    for hooked in (False, True):
        gc_id, sec = f"gwtest-destroy-{str(hooked).lower()}", f"gwtest-destroy-sec-{str(hooked).lower()}"
        east, west = gateways.client("rds", hooked=hooked), gateways.client("rds", "us-west-2", hooked)
        east.create_global_cluster(GlobalClusterIdentifier=gc_id, Engine="aurora-postgresql", EngineVersion="16.4")
        east.create_db_cluster(DBClusterIdentifier=f"{sec}-p", Engine="aurora-postgresql", EngineVersion="16.4",
                               GlobalClusterIdentifier=gc_id, MasterUsername="admin_user", MasterUserPassword="x" * 20)
        west.create_db_cluster(DBClusterIdentifier=sec, Engine="aurora-postgresql", EngineVersion="16.4",
                               GlobalClusterIdentifier=gc_id)
        east.delete_db_cluster(DBClusterIdentifier=f"{sec}-p", SkipFinalSnapshot=True)
        west.delete_db_cluster(DBClusterIdentifier=sec, SkipFinalSnapshot=True)
        members = next(g for g in east.describe_global_clusters()["GlobalClusters"]  # moto ignores the id filter
                       if g["GlobalClusterIdentifier"] == gc_id)["GlobalClusterMembers"]
        if not hooked:  # the gap: the deleted secondary stays a member, DeleteGlobalCluster is refused
            assert any(sec in m["DBClusterArn"] for m in members)
            with pytest.raises(ClientError):
                east.delete_global_cluster(GlobalClusterIdentifier=gc_id)
            continue
        assert members == []
        east.delete_global_cluster(GlobalClusterIdentifier=gc_id)
        assert not [g for g in east.describe_global_clusters()["GlobalClusters"] if g["GlobalClusterIdentifier"] == gc_id]


def test_global_cluster_deletion_protection_is_modified_and_honoured(gateways: Gateways) -> None:
    """Retiring a stack: `deletion_protection = false` is a ModifyGlobalCluster (moto: not implemented,
    a 500 the provider retried for its whole timeout), and a protected global cluster refuses deletion."""
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    for hooked in (False, True):
        gc_id = f"gwtest-protected-{str(hooked).lower()}"
        east = gateways.client("rds", hooked=hooked)
        east.create_global_cluster(GlobalClusterIdentifier=gc_id, Engine="aurora-postgresql", EngineVersion="16.4",
                                   DeletionProtection=True)
        if not hooked:  # the gaps: no ModifyGlobalCluster (500), and the protected cluster is deleted anyway
            with pytest.raises((ClientError, ResponseParserError)):
                east.modify_global_cluster(GlobalClusterIdentifier=gc_id, DeletionProtection=False)
            east.delete_global_cluster(GlobalClusterIdentifier=gc_id)
            continue
        with pytest.raises(ClientError, match="protected"):
            east.delete_global_cluster(GlobalClusterIdentifier=gc_id)
        out = east.modify_global_cluster(GlobalClusterIdentifier=gc_id, DeletionProtection=False)["GlobalCluster"]
        assert (out["GlobalClusterIdentifier"], out["DeletionProtection"]) == (gc_id, False)
        east.delete_global_cluster(GlobalClusterIdentifier=gc_id)
        assert not [g for g in east.describe_global_clusters()["GlobalClusters"] if g["GlobalClusterIdentifier"] == gc_id]


def test_alarm_health_checks_have_no_endpoint_settings(gateways: Gateways) -> None:
    r53 = gateways.client("route53")
    hc = r53.create_health_check(CallerReference="gwtest-alarm", HealthCheckConfig={
        "Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "us-west-2", "Name": "a"},
        "InsufficientDataHealthStatus": "LastKnownStatus"})["HealthCheck"]
    assert "RequestInterval" not in r53.get_health_check(HealthCheckId=hc["Id"])["HealthCheck"]["HealthCheckConfig"]
    plain = gateways.client("route53", hooked=False).get_health_check(HealthCheckId=hc["Id"])
    assert plain["HealthCheck"]["HealthCheckConfig"].get("RequestInterval") == 30  # the gap: forces replacement


def test_provision_terraform_without_terraform_is_one_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRHARNESS_"))}
    env.update(PATH=str(Path(sys.executable).parent) + ":/usr/bin:/bin", DRHARNESS_LAB_STATE=str(tmp_path / "lab.json"))
    if any((Path(d) / "terraform").exists() for d in env["PATH"].split(":")):
        pytest.skip("terraform is in /usr/bin or /bin here: cannot hide it")
    res = subprocess.run([sys.executable, "-m", "drharness", "lab", "up", "--provision", "terraform"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 3
    assert "terraform not found on PATH" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "lab.json").exists()


def test_unknown_provisioning_is_bad_input(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRHARNESS_"))}
    env["DRHARNESS_LAB_STATE"] = str(tmp_path / "lab.json")
    res = subprocess.run([sys.executable, "-m", "drharness", "lab", "up", "--provision", "cdk"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "--provision" in res.stderr
