"""Region gateway: the AWS API endpoint of one lab region.

Forwards boto3 calls to moto (in-process WSGI), injects the region's faults, and answers the
calls moto lacks behind the same API (``Interceptor``s). Global services (Route 53, IAM,
CloudFront, STS) live in us-east-1, as in AWS: through any gateway they fail while us-east-1 is down.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from drharness.lab.faults import Faults

log = logging.getLogger(__name__)

GLOBAL_SERVICES = {"route53", "iam", "cloudfront", "sts", "organizations"}
GLOBAL_HOME = "us-east-1"
QUERY = {"rds", "iam", "sns", "sts", "sqs", "ec2", "elasticloadbalancing", "autoscaling"}
JSON = {"dynamodb", "events", "logs", "kms", "secretsmanager", "ssm"}
REST_XML = {"s3", "route53", "cloudfront"}
CRED_RE = re.compile(r"Credential=[^/]+/\d+/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


@dataclass
class ApiCall:
    region: str  # the gateway's region
    service: str  # signing name (rds, dynamodb, s3, route53, fis, monitoring, ...)
    signing_region: str
    action: str
    method: str
    path: str
    params: dict[str, str]
    body: bytes
    environ: dict = field(repr=False, default_factory=dict)


Interceptor = Callable[[ApiCall], "Response | None"]


def aws_error(service: str, code: str, message: str, status: int) -> Response:
    """An error body in the service's own protocol, so botocore raises a proper ClientError."""
    rid = str(uuid.uuid4())
    if service in QUERY:
        body = (f'<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>'
                f"</Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return Response(body, status=status, headers={"Content-Type": "text/xml", "x-amzn-RequestId": rid})
    if service in REST_XML:
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{rid}</RequestId></Error>"
        return Response(body, status=status, headers={"Content-Type": "application/xml",
                                                        "x-amz-request-id": rid})
    return Response(json.dumps({"__type": code, "message": message, "Message": message}), status=status,
                    headers={"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code,
                             "x-amzn-RequestId": rid})


FAULT_ERRORS = {
    "unavailable": ("ServiceUnavailable", "Service unavailable (injected fault)", 503),
    "internal": ("InternalFailure", "Internal error (injected fault)", 500),
    "throttle": ("ThrottlingException", "Rate exceeded (injected fault)", 400),
}


RACE_RE = re.compile(r"(changed size|mutated) during iteration")
RACE_RETRIES = 3
READ_ACTIONS = ("Describe", "Get", "List", "Query", "Scan", "BatchGet", "Head")


def is_read(call: ApiCall) -> bool:
    """A call that changes nothing: safe to send again."""
    return call.method in ("GET", "HEAD") or call.action.startswith(READ_ACTIONS)


def parse_call(region: str, environ: dict) -> ApiCall:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = CRED_RE.search(auth)
    signing_region, service = (m.group(1), m.group(2)) if m else (region, "s3")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    params: dict[str, str] = {}
    action = ""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        action = target.split(".")[-1]
    elif "/operation/" in path:
        action = path.rsplit("/", 1)[-1]
    elif service in QUERY or body.startswith(b"Action="):
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        action = params.get("Action", "")
    else:
        action = f"{method} {path}"
    return ApiCall(region, service, signing_region, action, method, path, params, body, environ)


class RegionGateway:
    def __init__(self, region: str, moto_app: Callable, faults: Faults) -> None:
        self.region = region
        self.moto_app = moto_app
        self.faults = faults
        self.interceptors: list[Interceptor] = []
        self.post: list[Callable[[ApiCall, Response], Response]] = []
        self.calls = 0
        self.rejected = 0
        self.race_retries = 0
        # Terraform's AWS provider reaches a DynamoDB replica's region through the provider's one
        # custom endpoint; with peers set, a call signed for another lab region is handed to that
        # region's gateway (its faults apply), as the provider would have reached its regional endpoint.
        self.peers: dict[str, RegionGateway] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        self.calls += 1
        call = parse_call(self.region, environ)
        peer = self.peers.get(call.signing_region) if call.service not in GLOBAL_SERVICES else None
        if peer is not None and peer is not self:
            self.calls -= 1
            return peer(call.environ, start_response)
        resp = self._gate(call) or self._intercept(call) or self._forward(call)
        for hook in self.post:
            resp = hook(call, resp)
        return resp(environ, start_response)

    def _gate(self, call: ApiCall) -> Response | None:
        home = GLOBAL_HOME if call.service in GLOBAL_SERVICES else self.region
        if call.service not in GLOBAL_SERVICES and call.signing_region != self.region:
            self.rejected += 1
            return aws_error(call.service, "InvalidClientTokenId",
                             f"request signed for {call.signing_region} sent to the {self.region} endpoint",
                             400)
        rf = self.faults.region(home)
        if home != self.region and rf.mode == "unreachable":
            self.rejected += 1
            return aws_error(call.service, "ServiceUnavailable",
                             f"{call.service} control plane in {home} is unreachable", 503)
        if rf.mode == "latency" and rf.latency_ms:
            time.sleep(rf.latency_ms / 1000.0)
        kind = {"error": "internal", "throttle": "throttle"}.get(rf.mode)
        if not kind and call.service != "fis":  # FIS is never its own target: it must stay stoppable
            kind = rf.api_errors.get(call.service) or rf.api_errors.get("*")
        if kind:
            self.rejected += 1
            code, msg, status = FAULT_ERRORS[kind]
            return aws_error(call.service, code, msg, status)
        return None

    def _intercept(self, call: ApiCall) -> Response | None:
        for icpt in self.interceptors:
            out = icpt(call)
            if out is not None:
                return out
        return None

    def _forward(self, call: ApiCall) -> Response:
        """To moto. Its stores are plain dicts served from many threads: a read iterating one while a
        write lands raises (DescribeTable counting items during a PutItem: a 500 AWS never gives).
        A read that lost that race is asked again; a write never is (it may have half happened)."""
        for attempt in range(RACE_RETRIES + 1):
            try:
                return self.forward(call.environ)
            except RuntimeError as exc:
                if attempt == RACE_RETRIES or not is_read(call) or not RACE_RE.search(str(exc)):
                    raise
                self.race_retries += 1
                call.environ["wsgi.input"] = io.BytesIO(call.body)
        raise AssertionError("unreachable")

    def forward(self, environ: dict) -> Response:
        app_iter, status, headers = run_wsgi_app(self.moto_app, environ, buffered=True)
        body = b"".join(app_iter)
        if hasattr(app_iter, "close"):
            app_iter.close()
        return Response(body, status=status, headers=headers)


def moto_call(moto_app: Callable, region: str, service: str, method: str = "POST", path: str = "/",
              data: bytes | str = b"", headers: dict[str, str] | None = None) -> Response:
    """Call moto in-process as a signed request of `region`/`service` would arrive."""
    hdrs = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=lab/20260101/{region}/{service}/aws4_request, "
                         "SignedHeaders=host, Signature=0",
        "Host": f"{service}.{region}.amazonaws.com",
        **(headers or {}),
    }
    if isinstance(data, str):
        data = data.encode()
    if data and "Content-Type" not in hdrs:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    env = EnvironBuilder(path=path, method=method, headers=hdrs, data=data).get_environ()
    app_iter, status, rh = run_wsgi_app(moto_app, env, buffered=True)
    return Response(b"".join(app_iter), status=status, headers=rh)
