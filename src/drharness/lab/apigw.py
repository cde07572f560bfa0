"""API Gateway proxy emulation: turns HTTP requests into Lambda proxy events for a region's handler."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from drharness.lab.faults import RegionFault

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class FaultSource(Protocol):
    """Where the region's faults are read: labd's ``Faults`` or, in an app process, its gate."""

    def region(self, region: str) -> RegionFault: ...


class ApiGateway:
    def __init__(self, region: str, handler: Handler, faults: FaultSource,
                 fenced: Callable[[], bool] | None = None) -> None:
        self.region = region
        self.fenced = fenced or (lambda: False)
        self.handler = handler
        self.faults = faults
        self.requests = 0
        self.errors = 0

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        req = Request(environ)
        self.requests += 1
        rf = self.faults.region(self.region)
        if rf.mode == "latency" and rf.latency_ms:
            time.sleep(rf.latency_ms / 1000.0)
        if rf.mode == "error":
            return self._error(503, "Service Unavailable")(environ, start_response)
        if rf.mode == "throttle":
            return self._error(429, "Too Many Requests")(environ, start_response)
        if self.fenced():
            return self._error(429, "Rate Exceeded (reserved concurrency 0)")(environ, start_response)
        if rf.lambda_delay_ms:
            time.sleep(rf.lambda_delay_ms / 1000.0)
        if rf.lambda_error:
            return self._error(502, "Internal server error")(environ, start_response)
        body = req.get_data()
        event = {
            "resource": "/{proxy+}",
            "path": req.path,
            "httpMethod": req.method,
            "headers": dict(req.headers),
            "queryStringParameters": dict(req.args) or None,
            "body": body.decode("utf-8", "replace") if body else None,
            "isBase64Encoded": False,
            "requestContext": {"stage": "lab", "requestTimeEpoch": int(time.time() * 1000)},
        }
        try:
            out = self.handler(event, None)
        except Exception:  # noqa: BLE001 - a crashing Lambda is a 502 at API Gateway
            self.errors += 1
            return self._error(502, "Internal server error")(environ, start_response)
        data = out.get("body") or ""
        raw = base64.b64decode(data) if out.get("isBase64Encoded") else data.encode()
        headers = {"X-Region": self.region, **(out.get("headers") or {})}
        if out.get("statusCode", 200) >= 500:
            self.errors += 1
        return Response(raw, status=out.get("statusCode", 200), headers=headers)(environ, start_response)

    def _error(self, status: int, message: str) -> Response:
        self.errors += 1
        return Response(json.dumps({"message": message}), status=status,
                        headers={"Content-Type": "application/json", "X-Region": self.region})
