"""What moto lacks, answered at the region gateway behind the same AWS API.

- rds: FailoverGlobalCluster / SwitchoverGlobalCluster act on the PostgreSQL pair; DescribeGlobalClusters
  shows FailoverState while one runs.
- route53: GetHealthCheckStatus reports what the lab's health checkers really observed.
- s3: GET/HEAD of an object carries x-amz-replication-status from the CRR replicator's ledger.
"""

from __future__ import annotations

import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from drharness.lab.aurora import AuroraGlobal, GlobalClusterError
from drharness.lab.gateway import ApiCall, aws_error, moto_call
from drharness.lab.route53 import HealthChecker
from drharness.lab.s3_replicator import S3Replicator

RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"


def _rds_wrap(action: str, inner: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="{RDS_NS}"><{action}Result>'
            f"{inner}</{action}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            f"</ResponseMetadata></{action}Response>")
    return Response(body, status=200, headers={"Content-Type": "text/xml"})


def _failover_state_xml(state: dict) -> str:
    return ("<FailoverState>" + "".join(
        f"<{k}>{str(v).lower() if isinstance(v, bool) else escape(str(v))}</{k}>" for k, v in state.items()
    ) + "</FailoverState>")


def rds_interceptor(aurora: AuroraGlobal, moto_app: Callable, arn_of: Callable[[str], str]) -> Callable:
    def describe_one(region: str) -> str:
        out = moto_call(moto_app, region, "rds", data=f"Action=DescribeGlobalClusters&Version=2014-10-31&"
                                                       f"GlobalClusterIdentifier={aurora.global_cluster_id}")
        root = ET.fromstring(out.get_data())
        ns = {"r": RDS_NS}
        gc = root.find("r:DescribeGlobalClustersResult/r:GlobalClusters/r:GlobalClusterMember", ns)
        if gc is None:
            return ""
        gc.tag = "GlobalCluster"
        for el in gc.iter():
            el.tag = el.tag.replace("{" + RDS_NS + "}", "")
        xml = ET.tostring(gc, encoding="unicode")
        if aurora.failover_state and "<FailoverState>" not in xml:
            xml = xml.replace("</GlobalCluster>", _failover_state_xml(aurora.failover_state) + "</GlobalCluster>")
        return xml

    def intercept(call: ApiCall) -> Response | None:
        if call.service != "rds":
            return None
        p = call.params
        if call.action in ("FailoverGlobalCluster", "SwitchoverGlobalCluster"):
            if p.get("GlobalClusterIdentifier", "").lower() != aurora.global_cluster_id.lower():
                return aws_error("rds", "GlobalClusterNotFoundFault",
                                 f"Global cluster {p.get('GlobalClusterIdentifier')} not found", 404)
            target = p.get("TargetDbClusterIdentifier", "")
            loss = p.get("AllowDataLoss", "false").lower() == "true"
            planned = call.action == "SwitchoverGlobalCluster" or p.get("Switchover", "").lower() == "true"
            try:
                if planned:
                    aurora.switchover(target, arn_of)
                elif loss:
                    aurora.failover(target, arn_of)
                else:
                    # Without AllowDataLoss/Switchover AWS performs a switchover (managed, no loss).
                    aurora.switchover(target, arn_of)
            except GlobalClusterError as exc:
                return aws_error("rds", exc.code, exc.message, exc.status)
            return _rds_wrap(call.action, describe_one(call.region))
        if call.action == "DescribeGlobalClusters" and aurora.failover_state:
            ident = p.get("GlobalClusterIdentifier")
            if ident and ident.lower() != aurora.global_cluster_id.lower():
                return None
            inner = f"<GlobalClusters>{describe_one(call.region)}</GlobalClusters>"
            return _rds_wrap("DescribeGlobalClusters", inner)
        return None

    return intercept


def route53_interceptor(checker: HealthChecker) -> Callable:
    pat = re.compile(r"^/2013-04-01/healthcheck/([^/]+)/status$")

    def intercept(call: ApiCall) -> Response | None:
        if call.service != "route53" or call.method != "GET":
            return None
        m = pat.match(call.path)
        if not m:
            return None
        st = checker.checks.get(m.group(1))
        if st is None:
            return aws_error("route53", "NoSuchHealthCheck", f"No health check with ID {m.group(1)}", 404)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.last_checked or time.time()))
        status = st.last_result if st.last_result.startswith(("Success", "Failure")) else (
            ("Success: " if st.healthy else "Failure: ") + st.last_result)
        body = ('<?xml version="1.0" encoding="UTF-8"?><GetHealthCheckStatusResponse '
                'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HealthCheckObservations>'
                f"<HealthCheckObservation><Region>us-east-1</Region><IPAddress>127.0.0.1</IPAddress>"
                f"<StatusReport><Status>{escape(status)}</Status><CheckedTime>{when}</CheckedTime>"
                "</StatusReport></HealthCheckObservation></HealthCheckObservations>"
                "</GetHealthCheckStatusResponse>")
        return Response(body, status=200, headers={"Content-Type": "text/xml"})

    return intercept


def s3_replication_config_interceptor(repl: S3Replicator) -> Callable:
    """moto drops parts of a replication configuration (DeleteMarkerReplication reads back Disabled):
    keep the document as S3 stores it and answer GetBucketReplication from it."""

    def intercept(call: ApiCall) -> Response | None:
        if call.service != "s3" or "replication" not in call.environ.get("QUERY_STRING", "").split("&"):
            return None
        bucket = call.path.lstrip("/").split("/", 1)[0]
        if call.method == "GET" and bucket in repl.raw_configs:
            return Response(repl.raw_configs[bucket], status=200, headers={"Content-Type": "application/xml"})
        if call.method == "DELETE":
            repl.raw_configs.pop(bucket, None)
        return None

    return intercept


def s3_replication_status_hook(repl: S3Replicator) -> Callable[[ApiCall, Response], Response]:
    def hook(call: ApiCall, resp: Response) -> Response:
        if (call.service == "s3" and call.method == "PUT" and resp.status_code < 300
                and "replication" in call.environ.get("QUERY_STRING", "").split("&")):
            repl.raw_configs[call.path.lstrip("/").split("/", 1)[0]] = call.body
            return resp
        if call.service == "s3" and call.method in ("PUT", "POST", "DELETE") and resp.status_code < 300:
            parts = call.path.lstrip("/").split("/", 1)
            if len(parts) == 2 and parts[1]:
                from urllib.parse import unquote

                repl.mark_dirty(parts[0], unquote(parts[1]))
            return resp
        if call.service != "s3" or call.method not in ("GET", "HEAD") or resp.status_code >= 300:
            return resp
        parts = call.path.lstrip("/").split("/", 1)
        if len(parts) != 2 or not parts[1]:
            return resp
        version = resp.headers.get("x-amz-version-id")
        if not version:
            return resp
        from urllib.parse import unquote

        status = repl.status_of(parts[0], unquote(parts[1]), version)
        if status:
            resp.headers["x-amz-replication-status"] = status
        return resp

    return hook
