"""Create in moto, through the region gateways, every resource the Terraform stack names.

One profile config drives it. Terraform provisioning (``--provision terraform``) creates the same
kinds of resources from ``infra/``; this is the fast default.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

log = logging.getLogger(__name__)

ACCOUNT = "123456789012"
SCENARIO_DURATION = "PT10M"  # the drill stops experiments when it has measured what it needs


def lambda_zip() -> bytes:
    """The regional app's deployment package: the real handler code, as Terraform ships it."""
    root = Path(__file__).resolve().parents[1]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for rel in ("refapp/__init__.py", "refapp/handler.py", "refapp/secrets.py"):
            info = zipfile.ZipInfo(f"drharness/{rel}", date_time=(2026, 1, 1, 0, 0, 0))
            z.writestr(info, (root / rel).read_bytes())
    return buf.getvalue()


def _stack_doc(res: dict[str, Any], names: dict[str, str], hosts: dict[str, str], app_port: int,
               pg_ports: dict[str, int], interval: int, threshold: int, ttl: int, primary: str, secondary: str,
               aggregator_period_s: float) -> dict[str, Any]:
    """The stack description Terraform hands the harness functions (DRHARNESS_TARGET_JSON, shaped like
    the module's drharness_target output), with the lab's addresses."""
    regions = {}
    for r, info in res["regions"].items():
        endpoint = hosts[r]
        regions[r] = {
            "app_url": f"http://{hosts[r]}:{app_port}", "health_check_id": info["health_check_id"],
            "dns_answer": info["dns_answer"],
            "aurora": {"cluster_id": info["cluster_id"], "cluster_arn": info["cluster_arn"],
                       "writer_endpoint": endpoint, "reader_endpoint": endpoint, "port": pg_ports.get(r, 5432),
                       "database": "postgres", "username": "postgres", "secret_arn": info["secret_arn"]},
            "dynamodb_table": info["table"], "s3_bucket": info["bucket"], "lambda_function_name": info["function"],
            "sns_topic_arn": info["topic_arn"]}
    return {"schema": "drharness.target/1", "primary_region": primary, "secondary_region": secondary,
            "account_id": ACCOUNT, "global_cluster_id": res["global_cluster_id"],
            "aggregator_period_s": aggregator_period_s,
            "dns": {"zone_id": res["dns"]["zone_id"], "zone_name": res["dns"]["zone"],
                    "record_name": res["dns"]["record"], "ttl": ttl, "health_check_request_interval": interval,
                    "health_check_failure_threshold": threshold},
            "regions": regions}


def clients(endpoints: dict[str, str], service: str) -> dict[str, Any]:
    cfg = Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=10)
    return {r: boto3.client(service, region_name=r, endpoint_url=u, aws_access_key_id="lab",
                            aws_secret_access_key="lab", config=cfg) for r, u in endpoints.items()}


LAB_DB_PASSWORD = "lab-password-not-checked"  # noqa: S105 - the lab's PostgreSQL trusts loopback
AGGREGATOR_HANDLER = "drharness.aggregator.lambda_handler"  # what infra/lambda/health_check_aggregator.handler calls


def _rate(seconds: float) -> str:
    """The EventBridge rate() that Terraform would store for this period (at least one minute)."""
    minutes = max(1, round(seconds / 60))
    return f"rate({minutes} minute{'s' if minutes > 1 else ''})"


def provision(endpoints: dict[str, str], names: dict[str, str], hosts: dict[str, str], app_port: int,
              r53_interval: int, failure_threshold: int, ttl: int, primary: str = "us-east-1",
              profile: dict[str, Any] | None = None, pg_ports: dict[str, int] | None = None) -> dict[str, Any]:
    """Everything the Terraform module creates that the lab emulates. ``profile``: the lab profile
    (alarm evaluation periods, aggregator period); ``pg_ports``: where each region's Aurora
    endpoint listens (for the aggregator functions' stack description)."""
    prof = profile or {}
    regions = list(endpoints)
    secondary = next(r for r in regions if r != primary)
    res: dict[str, Any] = {"regions": {r: {} for r in regions}, "fis_templates": {}}
    tags = [{"Key": "drharness:stack", "Value": names["prefix"]}]

    # ---- IAM (global: through us-east-1) --------------------------------------------------------
    iam = clients({primary: endpoints[primary]}, "iam")[primary]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": ["lambda.amazonaws.com", "fis.amazonaws.com", "s3.amazonaws.com"]}, "Action": "sts:AssumeRole"}]})
    role_arns = {}
    for role in ("app", "fis", "s3-replication", "orchestrator", "aggregator"):
        name = f"{names['prefix']}-{role}"
        role_arns[role] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    res["roles"] = role_arns

    # ---- Aurora Global Database ------------------------------------------------------------------
    rds = clients(endpoints, "rds")
    gid = names["global_cluster"]
    rds[primary].create_global_cluster(GlobalClusterIdentifier=gid, Engine="aurora-postgresql",
                                       EngineVersion="15.4", DatabaseName=names["database"])
    for r in [primary, secondary]:
        cid = f"{names['prefix']}-{r}"
        kw: dict[str, Any] = dict(DBClusterIdentifier=cid, Engine="aurora-postgresql", EngineVersion="15.4",
                                  GlobalClusterIdentifier=gid, Tags=tags)
        if r == primary:
            kw.update(MasterUsername="postgres", MasterUserPassword="lab-password-not-used",
                      DatabaseName=names["database"])
        cl = rds[r].create_db_cluster(**kw)["DBCluster"]
        rds[r].create_db_instance(DBInstanceIdentifier=f"{cid}-1", DBClusterIdentifier=cid,
                                  Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
        res["regions"][r].update(cluster_id=cid, cluster_arn=cl["DBClusterArn"])
    res["global_cluster_id"] = gid

    # ---- DynamoDB global table (replica per region + streams) -----------------------------------
    for r, c in clients(endpoints, "dynamodb").items():
        t = c.create_table(TableName=names["table"], BillingMode="PAY_PER_REQUEST",
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                           StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                           Tags=tags + [{"Key": "drharness:name", "Value": names["table"]}])
        res["regions"][r].update(table=names["table"], table_arn=t["TableDescription"]["TableArn"])

    # ---- S3 with CRR both ways -------------------------------------------------------------------
    s3 = clients(endpoints, "s3")
    buckets = {r: f"{names['bucket_prefix']}-{r}" for r in regions}
    for r, c in s3.items():
        kw = {} if r == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": r}}
        c.create_bucket(Bucket=buckets[r], **kw)
        c.put_bucket_versioning(Bucket=buckets[r], VersioningConfiguration={"Status": "Enabled"})
        c.put_bucket_tagging(Bucket=buckets[r], Tagging={"TagSet": tags + [
            {"Key": "drharness:name", "Value": buckets[r]}]})
        res["regions"][r]["bucket"] = buckets[r]
    for r, c in s3.items():
        other = next(x for x in regions if x != r)
        c.put_bucket_replication(Bucket=buckets[r], ReplicationConfiguration={
            "Role": role_arns["s3-replication"],
            "Rules": [{"ID": f"to-{other}", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                       "DeleteMarkerReplication": {"Status": "Enabled"},
                       "Destination": {"Bucket": f"arn:aws:s3:::{buckets[other]}",
                                       "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                                       "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}]})

    # ---- SNS + CloudWatch alarms -----------------------------------------------------------------
    for r, c in clients(endpoints, "sns").items():
        res["regions"][r]["topic_arn"] = c.create_topic(Name=names["topic"])["TopicArn"]
    cw = clients(endpoints, "cloudwatch")
    region_periods = int(prof.get("region_health_evaluation_periods", 3))
    for r, c in cw.items():
        other = next(x for x in regions if x != r)
        # (namespace, metric, threshold, dimensions, operator, statistic, periods, datapoints, missing): as
        # infra/modules/multi-region/monitoring.tf (60 s periods; the fast profile evaluates them faster).
        alarms = {
            "aurora_lag": ("AWS/RDS", "AuroraGlobalDBReplicationLag", 1000.0,
                           [{"Name": "DBClusterIdentifier", "Value": f"{names['prefix']}-{r}"}], "GreaterThanThreshold",
                           "Maximum", 3, 2, "notBreaching"),
            "dynamodb_latency": ("AWS/DynamoDB", "ReplicationLatency", 60000.0,
                                 [{"Name": "TableName", "Value": names["table"]},
                                  {"Name": "ReceivingRegion", "Value": other}], "GreaterThanThreshold",
                                 "Average", 3, 2, "notBreaching"),
            "s3_latency": ("AWS/S3", "ReplicationLatency", 900.0,
                           [{"Name": "SourceBucket", "Value": buckets[r]},
                            {"Name": "DestinationBucket", "Value": buckets[other]},
                            {"Name": "RuleId", "Value": f"to-{other}"}], "GreaterThanThreshold",
                           "Maximum", 3, 2, "notBreaching"),
            # Self view (R as seen from R): missing data is breaching, an aggregator that cannot publish
            # from its own region is itself a sign of trouble there.
            "region_health": ("drharness", "RegionHealthy", 1.0, [{"Name": "Region", "Value": r}],
                              "LessThanThreshold", "Minimum", region_periods, region_periods, "breaching"),
        }
        names_out = {}
        for key, (ns, metric, threshold, dims, op, stat, periods, points, missing) in alarms.items():
            alarm = f"{names['prefix']}-{r}-{key.replace('_', '-')}"
            c.put_metric_alarm(AlarmName=alarm, Namespace=ns, MetricName=metric, Dimensions=dims,
                               Statistic=stat, Period=60, EvaluationPeriods=periods, DatapointsToAlarm=points,
                               Threshold=threshold, ComparisonOperator=op, TreatMissingData=missing,
                               AlarmActions=[res["regions"][r]["topic_arn"]])
            names_out[key] = alarm
        res["regions"][r]["alarms"] = names_out
    # The alarms the failover records' health checks follow: BOTH in the secondary region, fed by the
    # secondary's aggregator, so that losing the primary region never leaves its judge without data.
    dns_periods = int(prof.get("dns_alarm_evaluation_periods", 1))
    for r in regions:
        alarm = f"{names['prefix']}-dns-health-{r}"
        cw[secondary].put_metric_alarm(
            AlarmName=alarm, AlarmDescription=f"drharness aggregated health of {r} (seen from {secondary}) "
                                              "below 1: takes its failover record out of DNS",
            Namespace="drharness", MetricName="RegionHealthy", Dimensions=[{"Name": "Region", "Value": r}],
            Statistic="Minimum", Period=60, EvaluationPeriods=dns_periods, DatapointsToAlarm=dns_periods,
            Threshold=1.0, ComparisonOperator="LessThanThreshold", TreatMissingData="missing",
            AlarmActions=[res["regions"][secondary]["topic_arn"]], OKActions=[res["regions"][secondary]["topic_arn"]])
        res["regions"][r]["alarms"]["dns_health"] = alarm
        res["regions"][r]["dns_alarm_region"] = secondary

    # ---- Secrets Manager: the Aurora master credentials, replicated to the secondary -------------
    sm = clients(endpoints, "secretsmanager")
    secret = sm[primary].create_secret(
        Name=f"{names['prefix']}/aurora/master", Description="Aurora Global Database master credentials",
        SecretString=json.dumps({"engine": "postgres", "username": "postgres", "password": LAB_DB_PASSWORD,
                                 "port": 5432, "dbname": "postgres"}),
        AddReplicaRegions=[{"Region": secondary}], Tags=tags)
    for r in regions:
        res["regions"][r]["secret_arn"] = secret["ARN"].replace(f":{primary}:", f":{r}:")

    # ---- Lambda: same artifact, env and layers in both regions -----------------------------------
    code = lambda_zip()
    env = {"TABLE_NAME": names["table"], "BUCKET_PREFIX": names["bucket_prefix"],
           "DB_NAME": "postgres", "APP_VERSION": "1"}
    lambdas = clients(endpoints, "lambda")
    for r, c in lambdas.items():
        layer = c.publish_layer_version(LayerName=f"{names['prefix']}-deps", Content={"ZipFile": code},
                                        CompatibleRuntimes=["python3.11"])["LayerVersionArn"]
        fn = c.create_function(FunctionName=names["function"], Runtime="python3.11",
                               Role=role_arns["app"], Handler="drharness.refapp.handler.lambda_handler",
                               Code={"ZipFile": code}, Environment={"Variables": env}, Layers=[layer],
                               Timeout=10, MemorySize=512, Tags={"drharness:stack": names["prefix"]})
        res["regions"][r].update(function=fn["FunctionName"], function_arn=fn["FunctionArn"])

    # ---- Route 53: health checks + failover records ----------------------------------------------
    r53 = clients({primary: endpoints[primary]}, "route53")[primary]
    zone = r53.create_hosted_zone(Name=names["zone"], CallerReference=f"{names['prefix']}-zone")["HostedZone"]
    zone_id = zone["Id"].split("/")[-1]
    for r in regions:
        # CALCULATED over (HTTP /health, CLOUDWATCH_METRIC on the region's DNS alarm): the record leaves
        # DNS when the app fails its health check OR the aggregated verdict says the region is unhealthy.
        # InsufficientDataHealthStatus=LastKnownStatus: an alarm without data (aggregator or CloudWatch
        # of the secondary down) says nothing about the region, so it neither fails it over nor forgets
        # a failure already seen; the HTTP child still catches hard outages.
        checks = {
            "http": {"Type": "HTTP", "IPAddress": hosts[r], "Port": app_port, "ResourcePath": "/health",
                     "RequestInterval": r53_interval, "FailureThreshold": failure_threshold},
            "verdict": {"Type": "CLOUDWATCH_METRIC", "InsufficientDataHealthStatus": "LastKnownStatus",
                        "AlarmIdentifier": {"Region": res["regions"][r]["dns_alarm_region"],
                                            "Name": res["regions"][r]["alarms"]["dns_health"]}},
        }
        ids = {}
        for kind, cfg in checks.items():
            hc = r53.create_health_check(CallerReference=f"{names['prefix']}-{r}-{kind}", HealthCheckConfig=cfg)
            ids[kind] = hc["HealthCheck"]["Id"]
            r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=ids[kind],
                                         AddTags=[{"Key": "Name", "Value": f"{names['prefix']}-{r}-{kind}"}])
        calc = r53.create_health_check(CallerReference=f"{names['prefix']}-{r}", HealthCheckConfig={
            "Type": "CALCULATED", "ChildHealthChecks": [ids["http"], ids["verdict"]], "HealthThreshold": 2})
        cid = calc["HealthCheck"]["Id"]
        r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=cid,
                                     AddTags=[{"Key": "Name", "Value": f"{names['prefix']}-{r}"}])
        res["regions"][r].update(health_check_id=cid, http_health_check_id=ids["http"],
                                 verdict_health_check_id=ids["verdict"], dns_answer=hosts[r])
    changes = []
    for r, role in ((primary, "PRIMARY"), (secondary, "SECONDARY")):
        changes.append({"Action": "UPSERT", "ResourceRecordSet": {
            "Name": names["record"], "Type": "A", "SetIdentifier": f"{role.lower()}-{r}", "Failover": role,
            "TTL": ttl, "ResourceRecords": [{"Value": hosts[r]}],
            "HealthCheckId": res["regions"][r]["health_check_id"]}})
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    res["dns"] = {"zone_id": zone_id, "zone": names["zone"], "record": names["record"], "ttl": ttl}

    # ---- The health check aggregator: a function per region on an EventBridge schedule ------------
    # The lab fires the schedules (lab/scheduler.py); each run publishes both verdicts into its region.
    doc = _stack_doc(res, names, hosts, app_port, pg_ports or {}, r53_interval, failure_threshold, ttl, primary,
                     secondary, float(prof.get("aggregator_period_s", 60.0)))
    harness_env = {"DRHARNESS_TARGET_JSON": json.dumps(doc, separators=(",", ":")),
                   "DRHARNESS_CONFIRM_UNHEALTHY_S": str(prof.get("aggregator_confirm_s", 5.0)),
                   **{f"DRHARNESS_AWS_ENDPOINT_{r.upper().replace('-', '_')}": u for r, u in endpoints.items()}}
    schedulers = clients(endpoints, "scheduler")
    for r, c in lambdas.items():
        fn = c.create_function(FunctionName=names["aggregator_function"], Runtime="python3.11",
                               Role=role_arns["aggregator"], Handler=AGGREGATOR_HANDLER, Code={"ZipFile": code},
                               Environment={"Variables": harness_env}, Timeout=60, MemorySize=256,
                               Tags={"drharness:stack": names["prefix"]})
        schedulers[r].create_schedule(
            Name=names["aggregator_function"], ScheduleExpression=_rate(float(prof.get("aggregator_period_s", 60))),
            Description=f"Publish drharness/RegionHealthy for both regions as seen from {r}",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": fn["FunctionArn"], "RoleArn": role_arns["aggregator"],
                    "Input": json.dumps({"source": "drharness.scheduler", "observer_region": r})})
        res["regions"][r]["aggregator_function"] = fn["FunctionName"]

    # ---- FIS experiment templates, one per scenario (targets by tag, never wildcards) ------------
    fis = clients(endpoints, "fis")
    for r in regions:
        other = next(x for x in regions if x != r)
        stop = [{"source": "aws:cloudwatch:alarm",
                 "value": f"arn:aws:cloudwatch:{other}:{ACCOUNT}:alarm:{res['regions'][other]['alarms']['region_health']}"}]
        subnets = {"resourceType": "aws:ec2:subnet", "resourceTags": {"drharness:region": r},
                   "selectionMode": "ALL"}
        table_t = {"resourceType": "aws:dynamodb:global-table", "resourceArns": [res["regions"][r]["table_arn"]],
                   "selectionMode": "ALL"}
        bucket_t = {"resourceType": "aws:s3:bucket", "resourceArns": [f"arn:aws:s3:::{buckets[r]}"],
                    "selectionMode": "ALL"}
        cluster_t = {"resourceType": "aws:rds:cluster", "resourceArns": [res["regions"][r]["cluster_arn"]],
                     "selectionMode": "ALL"}
        d = {"duration": SCENARIO_DURATION}
        templates = {
            "region-outage": ({"Subnets": subnets}, {
                "disrupt-app-subnets": {"actionId": "aws:network:disrupt-connectivity",
                                        "parameters": {**d, "scope": "all"}, "targets": {"Subnets": "Subnets"}},
                "isolate-cross-region": {"actionId": "aws:network:route-table-disrupt-cross-region-connectivity",
                                         "parameters": {**d, "region": other}, "targets": {"Subnets": "Subnets"}},
            }),
            "aurora-writer-failure": ({"Clusters": cluster_t}, {
                "failover-writer": {"actionId": "aws:rds:failover-db-cluster", "parameters": {},
                                    "targets": {"Clusters": "Clusters"}}}),
            "dynamodb-replication-pause": ({"Tables": table_t}, {
                "pause": {"actionId": "aws:dynamodb:global-table-pause-replication", "parameters": d,
                          "targets": {"Tables": "Tables"}}}),
            "s3-replication-pause": ({"Buckets": bucket_t}, {
                "pause": {"actionId": "aws:s3:bucket-pause-replication",
                          "parameters": {**d, "region": other}, "targets": {"Buckets": "Buckets"}}}),
            "control-plane-impairment": ({}, {
                "api-unavailable": {"actionId": "aws:fis:inject-api-unavailable-error",
                                    "parameters": {**d, "service": "*", "percentage": "100"}}}),
        }
        out = {}
        for scenario, (targets, actions) in templates.items():
            tpl = fis[r].create_experiment_template(
                clientToken=f"{scenario}-{r}", description=f"drharness {scenario} ({r})",
                roleArn=role_arns["fis"], stopConditions=stop, targets=targets, actions=actions,
                tags={"drharness:scenario": scenario, "drharness:stack": names["prefix"]})
            out[scenario] = tpl["experimentTemplate"]["id"]
        res["regions"][r]["fis_templates"] = out
    return res
