"""What moto lacks, answered at the region gateway behind the same AWS API.

- rds: FailoverGlobalCluster / SwitchoverGlobalCluster act on the PostgreSQL pair; DescribeGlobalClusters
  shows FailoverState while one runs.
- route53: GetHealthCheckStatus reports what the lab's health checkers really observed.
- s3: GET/HEAD of an object carries x-amz-replication-status from the CRR replicator's ledger.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs
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


def _global_cluster_xml(moto_app: Callable, region: str, ident: str) -> str:
    """moto's description of one global cluster as the ``<GlobalCluster>`` element an RDS answer
    carries ("" when there is none). moto lists every global cluster whatever identifier is asked."""
    out = moto_call(moto_app, region, "rds", data=f"Action=DescribeGlobalClusters&Version=2014-10-31&"
                                                   f"GlobalClusterIdentifier={ident}")
    root = ET.fromstring(out.get_data())
    ns = "{" + RDS_NS + "}"
    gc = next((e for e in root.iterfind(f"{ns}DescribeGlobalClustersResult/{ns}GlobalClusters/*")
               if (e.findtext(f"{ns}GlobalClusterIdentifier") or "").lower() == ident.lower()), None)
    if gc is None:
        return ""
    gc.tag = "GlobalCluster"
    for el in gc.iter():
        el.tag = el.tag.replace(ns, "")
    return ET.tostring(gc, encoding="unicode")


def rds_interceptor(aurora: AuroraGlobal, moto_app: Callable, arn_of: Callable[[str], str]) -> Callable:
    def describe_one(region: str) -> str:
        xml = _global_cluster_xml(moto_app, region, aurora.global_cluster_id)
        if xml and aurora.failover_state and "<FailoverState>" not in xml:
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


def _has_query_key(call: ApiCall, key: str) -> bool:
    """``?replication`` (boto3) and ``?replication=`` (the Go SDK, hence Terraform) are the same query."""
    return key in parse_qs(call.environ.get("QUERY_STRING", ""), keep_blank_values=True)


def _decoded_body(call: ApiCall) -> bytes:
    """The payload of a request, also when the SDK sent it ``aws-chunked`` (Go SDK v2 checksums)."""
    body = call.body
    sha = call.environ.get("HTTP_X_AMZ_CONTENT_SHA256", "")
    if "aws-chunked" not in call.environ.get("HTTP_CONTENT_ENCODING", "") and not sha.startswith("STREAMING-"):
        return body
    out, rest = b"", body
    while rest:
        head, _, rest = rest.partition(b"\r\n")
        size = int(head.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return out


def s3_replication_config_interceptor(repl: S3Replicator) -> Callable:
    """moto drops parts of a replication configuration (DeleteMarkerReplication reads back Disabled):
    keep the document as S3 stores it and answer GetBucketReplication from it."""

    def intercept(call: ApiCall) -> Response | None:
        if call.service != "s3" or not _has_query_key(call, "replication"):
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
        if call.service == "s3" and call.method == "PUT" and resp.status_code < 300 \
                and _has_query_key(call, "replication"):
            repl.raw_configs[call.path.lstrip("/").split("/", 1)[0]] = _decoded_body(call)
            return resp
        if call.service == "s3" and call.method in ("PUT", "POST", "DELETE") and resp.status_code < 300:
            parts = call.path.lstrip("/").split("/", 1)
            if len(parts) == 2 and parts[1] and not _has_query_key(call, "versionId"):  # a version delete is no write
                from urllib.parse import unquote

                repl.mark_dirty(parts[0], unquote(parts[1]), resp.headers.get("x-amz-version-id"),
                                resp.headers.get("x-amz-delete-marker") == "true")
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

        status = repl.status_of(parts[0], unquote(parts[1]), version, resp.headers.get("x-amz-server-side-encryption"))
        if status:
            resp.headers["x-amz-replication-status"] = status
        return resp

    return hook


# ---- what `terraform apply` of the real module needs from moto (``lab up --provision terraform``) ----
# Each hook closes one gap of DESIGN §9 at the gateway, so the module itself stays as it is for AWS.


def _xml_response(resp: Response, text: str) -> Response:
    out = Response(text, status=resp.status_code, headers=dict(resp.headers))
    out.headers.pop("Content-Length", None)
    return out


def _edit_global_clusters(body: str, edit: Callable[[ET.Element, str], str | None]) -> str | None:
    """Apply ``edit(item, identifier)`` to each global cluster of an RDS answer (the top-level items:
    members of a global cluster use the same element name); "drop" removes the item. Returns the new
    body, or None when nothing changed."""
    ns = "{" + RDS_NS + "}"
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    items: list[tuple[ET.Element | None, ET.Element]] = []
    for container in root.iter(ns + "GlobalClusters"):
        items += [(container, el) for el in list(container)]
    items += [(None, el) for el in root.iter(ns + "GlobalCluster")]
    changed = False
    for parent, el in items:
        ident = el.findtext(ns + "GlobalClusterIdentifier") or ""
        outcome = edit(el, ident)
        if outcome == "drop" and parent is not None:
            parent.remove(el)
        changed = changed or outcome is not None
    if not changed:
        return None
    ET.register_namespace("", RDS_NS)
    return ET.tostring(root, encoding="unicode")


def _set_child(el: ET.Element, tag: str, after: str) -> ET.Element:
    """The child ``tag`` of ``el`` (created right after ``after`` when missing), emptied."""
    ns = "{" + RDS_NS + "}"
    child = el.find(ns + tag)
    if child is None:
        child = ET.Element(ns + tag)
        anchor = el.find(ns + after)
        el.insert(list(el).index(anchor) + 1 if anchor is not None else len(el), child)
    for sub in list(child):
        child.remove(sub)
    child.text = None
    return child


def rds_terraform_hook(pg_hosts: dict[str, str], cluster_ids: set[str]) -> Callable[[ApiCall, Response], Response]:
    """RDS answers as Aurora gives them, for the lab's clusters:

    - Endpoint/ReaderEndpoint of a regional cluster = the lab's PostgreSQL proxy in that region (the
      port is the cluster's own: the lab applies with aurora_port = the proxy port), so whatever reads
      the endpoints from Terraform reaches real SQL;
    - no ScalingConfigurationInfo on a provisioned cluster (moto adds the serverless v1 block);
    - a global cluster keeps the DatabaseName it was created with (moto drops it: forced replacement);
    - DescribeGlobalClusters honours the ``global-cluster-id`` filter (moto lists every cluster).
    """
    db_names: dict[str, str] = {}
    insights: dict[str, dict[str, str]] = {}  # instance -> Performance Insights settings as sent

    def fix_cluster(block: re.Match, region: str) -> str:
        text = block.group(0)
        ident = re.search(r"<DBClusterIdentifier>([^<]+)</DBClusterIdentifier>", text)
        if not ident or ident.group(1) not in cluster_ids:
            return text
        host = pg_hosts[region]
        text = re.sub(r"<Endpoint>[^<]*</Endpoint>", f"<Endpoint>{host}</Endpoint>", text, count=1)
        text = re.sub(r"<ReaderEndpoint>[^<]*</ReaderEndpoint>", f"<ReaderEndpoint>{host}</ReaderEndpoint>",
                      text, count=1)
        if "<EngineMode>provisioned</EngineMode>" in text:
            text = re.sub(r"<ScalingConfigurationInfo\s*/>|<ScalingConfigurationInfo>.*?</ScalingConfigurationInfo>",
                          "", text, flags=re.S)
        return text

    def fix_global(el: ET.Element, name: str, wanted: set[str] | None) -> str | None:
        if wanted is not None and name not in wanted:
            return "drop"
        if name in db_names and el.find("{" + RDS_NS + "}DatabaseName") is None:
            _set_child(el, "DatabaseName", "GlobalClusterIdentifier").text = db_names[name]
            return "changed"
        return None

    def fix_instance(block: re.Match) -> str:
        text = block.group(0)
        ident = re.search(r"<DBInstanceIdentifier>([^<]+)</DBInstanceIdentifier>", text)
        sent = insights.get(ident.group(1), {}) if ident else {}
        for key, value in sent.items():
            element = f"<{key}>{escape(value)}</{key}>"
            text, n = re.subn(rf"<{key}>[^<]*</{key}>|<{key}\s*/>", element, text, count=1)
            if not n:
                text = text.replace("</DBInstance>", element + "</DBInstance>", 1)
        return text

    def hook(call: ApiCall, resp: Response) -> Response:
        if call.service != "rds" or resp.status_code >= 300:
            return resp
        p = call.params
        if call.action == "CreateGlobalCluster" and p.get("DatabaseName"):
            db_names[p["GlobalClusterIdentifier"]] = p["DatabaseName"]
        if call.action in ("CreateDBInstance", "ModifyDBInstance"):  # moto drops Performance Insights
            sent = {k: p[k] for k in ("PerformanceInsightsKMSKeyId", "PerformanceInsightsRetentionPeriod") if k in p}
            if "EnablePerformanceInsights" in p:
                sent["PerformanceInsightsEnabled"] = p["EnablePerformanceInsights"].lower()
            insights.setdefault(p.get("DBInstanceIdentifier", ""), {}).update(sent)
        body = resp.get_data(as_text=True)
        new = body
        if "<DBInstance>" in body and insights:
            new = re.sub(r"<DBInstance>.*?</DBInstance>", fix_instance, new, flags=re.S)
        if "<DBCluster>" in body:
            new = re.sub(r"<DBCluster>.*?</DBCluster>", lambda m: fix_cluster(m, call.region), new, flags=re.S)
        if "GlobalCluster" in call.action:
            wanted = None
            if call.action == "DescribeGlobalClusters" and not p.get("GlobalClusterIdentifier"):
                names = [v for k, v in p.items() if k.startswith("Filters.Filter.") and ".Values." in k
                         and p.get(k.split(".Values.")[0] + ".Name") == "global-cluster-id"]
                wanted = set(names) if names else None
            new = _edit_global_clusters(new, lambda el, name: fix_global(el, name, wanted)) or new
        return resp if new == body else _xml_response(resp, new)

    return hook


def global_cluster_detach_hook(account: str = "123456789012") -> Callable[[ApiCall, Response], Response]:
    """A deleted cluster leaves its global cluster, as in Aurora. moto only detaches a member deleted
    in the global cluster's own region, so destroying a secondary left a member forever and
    DeleteGlobalCluster failed (the provider retried until its timeout)."""

    def hook(call: ApiCall, resp: Response) -> Response:
        if call.service != "rds" or call.action != "DeleteDBCluster" or resp.status_code >= 300:
            return resp
        from moto.rds.models import rds_backends

        ident = call.params.get("DBClusterIdentifier", "")
        for backend in rds_backends[account].values():
            for gc in list(backend.global_clusters.values()):
                gc.members = [m for m in gc.members
                              if not (m.db_cluster_identifier == ident and getattr(m, "region_name", call.region)
                                      == call.region)]
        return resp

    return hook


class GlobalClusterProtection:
    """ModifyGlobalCluster (moto: NotImplementedError, a 500 the provider retried for its whole
    timeout: `terraform apply` of ``deletion_protection = false`` before a destroy hung) for what
    the module changes, deletion protection and engine version; and DeleteGlobalCluster refuses a
    protected global cluster, as RDS does (moto deletes it)."""

    def __init__(self, moto_app: Callable, account: str = "123456789012") -> None:
        self.moto_app = moto_app
        self.account = account

    def _find(self, ident: str) -> tuple[str, Any] | None:
        from moto.rds.models import rds_backends

        for region, backend in rds_backends[self.account].items():
            gc = backend.global_clusters.get(ident)
            if gc is not None:
                return region, gc
        return None

    def intercept(self, call: ApiCall) -> Response | None:
        if call.service != "rds" or call.action not in ("ModifyGlobalCluster", "DeleteGlobalCluster"):
            return None
        p = call.params
        ident = p.get("GlobalClusterIdentifier", "")
        found = self._find(ident)
        if found is None:
            return aws_error("rds", "GlobalClusterNotFoundFault", f"Global cluster {ident} not found", 404)
        region, gc = found
        if call.action == "DeleteGlobalCluster":
            if gc.deletion_protection:
                return aws_error("rds", "InvalidParameterCombination", "Cannot delete protected Global Cluster, "
                                 "please disable deletion protection and try again.", 400)
            return None  # moto deletes it (members are refused there)
        if p.get("NewGlobalClusterIdentifier"):
            return aws_error("rds", "InvalidParameterValue", "the lab does not rename global clusters", 400)
        if "DeletionProtection" in p:
            gc.deletion_protection = p["DeletionProtection"].lower() == "true"
        if p.get("EngineVersion"):
            gc.engine_version = p["EngineVersion"]
        xml = _global_cluster_xml(self.moto_app, region, gc.global_cluster_identifier)
        if not xml:
            return aws_error("rds", "GlobalClusterNotFoundFault", f"Global cluster {ident} not found", 404)
        return _rds_wrap("ModifyGlobalCluster", xml)


class GlobalClusterTags:
    """Tags of global clusters (moto keeps none: every plan would add them again): kept from
    CreateGlobalCluster / AddTagsToResource, answered by ListTagsForResource and in the TagList of
    DescribeGlobalClusters (which the provider reads)."""

    def __init__(self, account: str = "123456789012") -> None:
        self.account = account
        self.tags: dict[str, dict[str, str]] = {}  # global cluster id -> tags

    @staticmethod
    def _tag_params(p: dict[str, str]) -> dict[str, str]:
        out = {}
        for k, v in p.items():
            if re.match(r"Tags\.(?:member|Tag)\.\d+\.Key$", k):
                out[v] = p.get(k[: -len(".Key")] + ".Value", "")
        return out

    @staticmethod
    def _tag_xml(tags: dict[str, str]) -> str:
        return "".join(f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>" for k, v in tags.items())

    def intercept(self, call: ApiCall) -> Response | None:
        if call.service != "rds":
            return None
        p = call.params
        if call.action == "CreateGlobalCluster":
            self.tags[p.get("GlobalClusterIdentifier", "")] = self._tag_params(p)
            return None
        arn = p.get("ResourceName", "")
        if ":global-cluster:" not in arn:
            return None
        ident = arn.rsplit(":", 1)[-1]
        if call.action == "ListTagsForResource":
            return _rds_wrap("ListTagsForResource", f"<TagList>{self._tag_xml(self.tags.get(ident, {}))}</TagList>")
        if call.action == "AddTagsToResource":
            self.tags.setdefault(ident, {}).update(self._tag_params(p))
            return _rds_wrap("AddTagsToResource", "")
        if call.action == "RemoveTagsFromResource":
            for k, v in p.items():
                if k.startswith("TagKeys.member."):
                    self.tags.get(ident, {}).pop(v, None)
            return _rds_wrap("RemoveTagsFromResource", "")
        return None

    def hook(self, call: ApiCall, resp: Response) -> Response:
        if call.service != "rds" or "GlobalCluster" not in call.action or resp.status_code >= 300 or not self.tags:
            return resp
        ns = "{" + RDS_NS + "}"

        def fix(el: ET.Element, name: str) -> str | None:
            if name not in self.tags:
                return None
            tag_list = _set_child(el, "TagList", "Endpoint")
            for k, v in self.tags[name].items():
                tag = ET.SubElement(tag_list, ns + "Tag")
                ET.SubElement(tag, ns + "Key").text = k
                ET.SubElement(tag, ns + "Value").text = v
            return "changed"

        new = _edit_global_clusters(resp.get_data(as_text=True), fix)
        return resp if new is None else _xml_response(resp, new)


def route53_check_config_hook() -> Callable[[ApiCall, Response], Response]:
    """CLOUDWATCH_METRIC and CALCULATED health checks have no endpoint: Route 53 answers them without
    RequestInterval, FailureThreshold, Port (moto adds 30, 3, 80: `request_interval` forces a
    replacement on every plan)."""
    endpoint_only = ("RequestInterval", "FailureThreshold", "Port", "MeasureLatency", "EnableSNI")

    def fix(block: re.Match) -> str:
        text = block.group(0)
        if not re.search(r"<Type>(CLOUDWATCH_METRIC|CALCULATED)</Type>", text):
            return text
        for key in endpoint_only:
            text = re.sub(rf"<{key}>[^<]*</{key}>|<{key}\s*/>", "", text)
        return text

    def hook(call: ApiCall, resp: Response) -> Response:
        if call.service != "route53" or "/healthcheck" not in call.path or resp.status_code >= 300:
            return resp
        body = resp.get_data(as_text=True)
        new = re.sub(r"<HealthCheckConfig>.*?</HealthCheckConfig>", fix, body, flags=re.S)
        return resp if new == body else _xml_response(resp, new)

    return hook


def kept_json_fields_hook(service: str, create: re.Pattern, read: re.Pattern, fields: tuple[str, ...],
                          name_of: Callable[[ApiCall, dict], str | None]) -> Callable[[ApiCall, Response], Response]:
    """For REST-JSON APIs where moto drops some configuration fields: keep them as sent (by resource
    name and region) and put them back into every answer about that resource."""
    kept: dict[tuple[str, str], dict[str, Any]] = {}

    def hook(call: ApiCall, resp: Response) -> Response:
        if call.service != service or resp.status_code >= 300 \
                or not (create.match(call.path) or read.match(call.path)):
            return resp
        try:
            doc = json.loads(resp.get_data() or b"{}")
        except ValueError:
            return resp
        if call.method in ("POST", "PUT") and create.match(call.path) and call.body:
            sent = json.loads(call.body)
            name = name_of(call, doc)
            if name:
                kept.setdefault((call.region, name), {}).update({f: sent[f] for f in fields if f in sent})
        target = doc.get("Configuration", doc) if isinstance(doc, dict) else None
        name = name_of(call, doc)
        extra = kept.get((call.region, name or ""))
        if not extra or not isinstance(target, dict):
            return resp
        target.update(extra)
        out = Response(json.dumps(doc), status=resp.status_code, headers=dict(resp.headers))
        out.headers.pop("Content-Length", None)
        return out

    return hook


def lambda_config_hook() -> Callable[[ApiCall, Response], Response]:
    """moto drops a function's DeadLetterConfig and LoggingConfig."""
    return kept_json_fields_hook(
        "lambda", re.compile(r"^/2015-03-31/functions/?(?:[^/]+/configuration)?$"),
        re.compile(r"^/2015-03-31/functions/[^/]+(?:/configuration)?$"), ("DeadLetterConfig", "LoggingConfig"),
        lambda call, doc: (doc.get("Configuration", doc) or {}).get("FunctionName") if isinstance(doc, dict) else None)


def secret_replica_kms_hook() -> Callable[[ApiCall, Response], Response]:
    """moto ignores the KmsKeyId of a secret's replica region (AddReplicaRegions)."""
    kept: dict[tuple[str, str], str] = {}  # (secret name, region) -> key

    def hook(call: ApiCall, resp: Response) -> Response:
        if call.service != "secretsmanager" or resp.status_code >= 300 or not call.body:
            return resp
        if call.action in ("CreateSecret", "ReplicateSecretToRegions"):
            sent = json.loads(call.body)
            doc = json.loads(resp.get_data() or b"{}")
            name = sent.get("Name") or doc.get("Name") or sent.get("SecretId", "")
            for rep in sent.get("AddReplicaRegions", []):
                if rep.get("KmsKeyId"):
                    kept[(name, rep["Region"])] = rep["KmsKeyId"]
                    kept[(doc.get("ARN", ""), rep["Region"])] = rep["KmsKeyId"]
            return resp
        if call.action != "DescribeSecret" or not kept:
            return resp
        doc = json.loads(resp.get_data() or b"{}")
        changed = False
        for rep in doc.get("ReplicationStatus", []):
            key = kept.get((doc.get("Name", ""), rep.get("Region", ""))) or kept.get((doc.get("ARN", ""), rep.get("Region", "")))
            if key:
                rep["KmsKeyId"] = key
                changed = True
        if not changed:
            return resp
        out = Response(json.dumps(doc), status=resp.status_code, headers=dict(resp.headers))
        out.headers.pop("Content-Length", None)
        return out

    return hook


class S3BucketPolicies:
    """Bucket policies as S3 keeps them. moto applies a ``Deny`` whatever its condition, so the usual
    ``aws:SecureTransport = false`` deny refuses every request; in the lab the region gateway stands
    for the TLS endpoint, so moto gets the policy without those statements and every read answers
    the policy as sent."""

    def __init__(self) -> None:
        self.policies: dict[str, bytes] = {}

    @staticmethod
    def _transport_only(st: dict) -> bool:
        cond = st.get("Condition") or {}
        keys = {k.lower() for ops in cond.values() if isinstance(ops, dict) for k in ops}
        return st.get("Effect") == "Deny" and keys == {"aws:securetransport"}

    def intercept(self, call: ApiCall) -> Response | None:
        if call.service != "s3" or not _has_query_key(call, "policy"):
            return None
        bucket = call.path.lstrip("/").split("/", 1)[0]
        if call.method == "GET" and bucket in self.policies:
            return Response(self.policies[bucket], status=200, headers={"Content-Type": "application/json"})
        if call.method == "DELETE":
            self.policies.pop(bucket, None)
            return None
        if call.method != "PUT":
            return None
        raw = _decoded_body(call)
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        self.policies[bucket] = raw
        statements = doc.get("Statement", [])
        doc["Statement"] = [st for st in (statements if isinstance(statements, list) else [statements])
                            if not self._transport_only(st)]
        if not doc["Statement"]:  # nothing left for moto to enforce
            return Response(b"", status=204)
        data = json.dumps(doc).encode()
        for key in ("HTTP_CONTENT_ENCODING", "HTTP_X_AMZ_DECODED_CONTENT_LENGTH", "HTTP_CONTENT_MD5"):
            call.environ.pop(key, None)
        call.environ["HTTP_X_AMZ_CONTENT_SHA256"] = "UNSIGNED-PAYLOAD"
        call.environ["wsgi.input"] = io.BytesIO(data)
        call.environ["CONTENT_LENGTH"] = str(len(data))
        return None


def apigw_endpoint_hook(app_urls: dict[str, str]) -> Callable[[ApiCall, Response], Response]:
    """An HTTP API's ``apiEndpoint`` is where the lab serves it: the region's app (API Gateway
    emulation in front of the same Lambda handler), so the app URL Terraform outputs is reachable."""

    def fix(doc: Any, region: str) -> Any:
        if isinstance(doc, dict):
            if "apiEndpoint" in doc:
                doc["apiEndpoint"] = app_urls[region]
            for item in doc.get("items", []) or []:
                fix(item, region)
        return doc

    def hook(call: ApiCall, resp: Response) -> Response:
        if call.service != "apigateway" or not call.path.startswith("/v2/apis") or resp.status_code >= 300 \
                or call.region not in app_urls:
            return resp
        try:
            doc = json.loads(resp.get_data() or b"{}")
        except ValueError:
            return resp
        out = Response(json.dumps(fix(doc, call.region)), status=resp.status_code, headers=dict(resp.headers))
        out.headers.pop("Content-Length", None)
        return out

    return hook


class CloudFrontConfigs:
    """CloudFront distributions as CloudFront keeps them. moto rejects a cache behaviour that targets
    an origin *group* (404 NoSuchOrigin) and answers back a config that is not the one sent (origin
    groups dropped, ``SSLSupportMethod`` invented): the gateway forwards a copy whose behaviours name
    the group's primary origin, keeps the document as sent, and answers every read with it."""

    DIST = re.compile(r"^/2020-05-31/distribution(?:/([^/]+))?(/config)?$")
    CONFIG = re.compile(r"<DistributionConfig(?:\s[^>]*)?>.*</DistributionConfig>", re.S)

    def __init__(self) -> None:
        self.configs: dict[str, str] = {}

    @staticmethod
    def _bare(config: str) -> str:
        return re.sub(r"^<DistributionConfig\s[^>]*>", "<DistributionConfig>", config)

    @staticmethod
    def _for_moto(config: str) -> str:
        groups: dict[str, str] = {}
        for g in re.findall(r"<OriginGroup>.*?</OriginGroup>", config, flags=re.S):
            gid = re.search(r"<Id>([^<]+)</Id>", g)
            first = re.search(r"<OriginId>([^<]+)</OriginId>", g)
            if gid and first:
                groups[gid.group(1)] = first.group(1)
        return re.sub(r"<TargetOriginId>([^<]+)</TargetOriginId>",
                      lambda m: f"<TargetOriginId>{groups.get(m.group(1), m.group(1))}</TargetOriginId>", config)

    def intercept(self, call: ApiCall) -> Response | None:
        if call.service != "cloudfront" or call.method not in ("POST", "PUT"):
            return None
        m = self.DIST.match(call.path)
        if not m or not call.body:
            return None
        body = call.body.decode()
        sent = self.CONFIG.search(body)
        if not sent:
            return None
        data = self._for_moto(body).encode()
        call.environ["wsgi.input"] = io.BytesIO(data)
        call.environ["CONTENT_LENGTH"] = str(len(data))
        call.environ["drharness.cloudfront_config"] = self._bare(sent.group(0))
        return None

    def hook(self, call: ApiCall, resp: Response) -> Response:
        if call.service != "cloudfront" or resp.status_code >= 300:
            return resp
        m = self.DIST.match(call.path)
        if not m:
            return resp
        body = resp.get_data(as_text=True)
        ident = m.group(1) or (re.search(r"<Id>([^<]+)</Id>", body) or [None, None])[1]
        if call.method == "DELETE":
            self.configs.pop(ident or "", None)
            return resp
        sent = call.environ.get("drharness.cloudfront_config")
        if sent and ident:
            self.configs[ident] = sent
        kept = self.configs.get(ident or "")
        if not kept or not self.CONFIG.search(body):
            return resp
        # the root element of GetDistributionConfig keeps its namespace
        new = self.CONFIG.sub(lambda c: kept if c.group(0).startswith("<DistributionConfig>")
                              else c.group(0)[:c.group(0).index(">") + 1] + kept[len("<DistributionConfig>"):],
                              body, count=1)
        return _xml_response(resp, new)


class DynamoDBReplicas:
    """Global tables version 2019.11.21 (``replica`` blocks): UpdateTable ``ReplicaUpdates`` creates the
    replica table in the other region with the same keys, billing and stream (moto accepts the call
    and creates nothing, so the provider's waiter never ends), and DescribeTable reports
    ``Replicas`` as ACTIVE in both regions. The lab's replicator then replicates between them."""

    def __init__(self, moto_app: Callable) -> None:
        self.moto_app = moto_app
        self.replicas: dict[str, dict[str, dict[str, Any]]] = {}  # table -> region -> replica description

    def _call(self, region: str, action: str, doc: dict) -> tuple[int, dict]:
        out = moto_call(self.moto_app, region, "dynamodb", data=json.dumps(doc),
                        headers={"X-Amz-Target": f"DynamoDB_20120810.{action}",
                                 "Content-Type": "application/x-amz-json-1.0"})
        return out.status_code, json.loads(out.get_data() or b"{}")

    def intercept(self, call: ApiCall) -> Response | None:
        if call.service != "dynamodb" or call.action != "UpdateTable":
            return None
        doc = json.loads(call.body or b"{}")
        updates = doc.pop("ReplicaUpdates", None)
        if not updates:
            return None
        table = doc["TableName"]
        status, desc = self._call(call.region, "DescribeTable", {"TableName": table})
        if status >= 300:
            return Response(json.dumps(desc), status=status, headers={"Content-Type": "application/x-amz-json-1.0"})
        t = desc["Table"]
        for upd in updates:
            if "Create" in upd:
                region = upd["Create"]["RegionName"]
                create: dict[str, Any] = {
                    "TableName": table, "KeySchema": t["KeySchema"], "AttributeDefinitions": t["AttributeDefinitions"],
                    "BillingMode": (t.get("BillingModeSummary") or {}).get("BillingMode", "PAY_PER_REQUEST")}
                if create["BillingMode"] == "PROVISIONED":
                    pt = t["ProvisionedThroughput"]
                    create["ProvisionedThroughput"] = {k: pt[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
                if t.get("StreamSpecification"):
                    create["StreamSpecification"] = t["StreamSpecification"]
                kms = upd["Create"].get("KMSMasterKeyId")
                if kms:
                    create["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms}
                status, out = self._call(region, "CreateTable", create)
                if status >= 300 and "ResourceInUse" not in out.get("__type", ""):
                    return Response(json.dumps(out), status=status,
                                    headers={"Content-Type": "application/x-amz-json-1.0"})
                rep = {"RegionName": region, "ReplicaStatus": "ACTIVE"}
                if kms:
                    rep["KMSMasterKeyId"] = kms
                self.replicas.setdefault(table, {})[region] = rep
                self.replicas[table].setdefault(call.region, {"RegionName": call.region, "ReplicaStatus": "ACTIVE"})
            elif "Delete" in upd:
                region = upd["Delete"]["RegionName"]
                self._call(region, "DeleteTable", {"TableName": table})
                self.replicas.get(table, {}).pop(region, None)
        if len(doc) > 1:  # other changes in the same call go to moto
            data = json.dumps(doc).encode()
            call.environ["wsgi.input"] = io.BytesIO(data)
            call.environ["CONTENT_LENGTH"] = str(len(data))
            return None
        status, desc = self._call(call.region, "DescribeTable", {"TableName": table})
        return Response(json.dumps({"TableDescription": self._with_replicas(desc["Table"], call.region)}),
                        status=200, headers={"Content-Type": "application/x-amz-json-1.0"})

    def _with_replicas(self, table: dict, region: str) -> dict:
        reps = self.replicas.get(table.get("TableName", ""), {})
        others = [r for name, r in reps.items() if name != region]
        if others:
            table["Replicas"] = others
            table.setdefault("GlobalTableVersion", "2019.11.21")
        return table

    def hook(self, call: ApiCall, resp: Response) -> Response:
        if call.service != "dynamodb" or call.action not in ("DescribeTable", "UpdateTable", "CreateTable") \
                or resp.status_code >= 300 or not self.replicas:
            return resp
        doc = json.loads(resp.get_data() or b"{}")
        key = "Table" if "Table" in doc else "TableDescription"
        if key not in doc:
            return resp
        doc[key] = self._with_replicas(doc[key], call.region)
        out = Response(json.dumps(doc), status=resp.status_code, headers=dict(resp.headers))
        out.headers.pop("Content-Length", None)
        return out
