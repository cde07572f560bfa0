"""CloudFront-like edge with an origin group, as AWS documents origin failover.

Per request, the primary origin is tried first; only GET, HEAD and OPTIONS fail over, and only on
the configured status codes, a connection failure or a timeout.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

FAILOVER_METHODS = {"GET", "HEAD", "OPTIONS"}
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class EdgeProxy:
    def __init__(self, origins: list[str], status_codes: set[int] | None = None,
                 timeout_s: float = 3.0) -> None:
        self.origins = origins
        self.status_codes = status_codes or {500, 502, 503, 504}
        self.timeout_s = timeout_s
        self.failovers = 0

    def _fetch(self, origin: str, req: Request, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        u = urlsplit(origin)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=self.timeout_s)
        try:
            headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP}
            path = req.full_path if req.query_string else req.path
            conn.request(req.method, path, body=body or None, headers=headers)
            r = conn.getresponse()
            return r.status, [(k, v) for k, v in r.getheaders() if k.lower() not in HOP], r.read()
        finally:
            conn.close()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        req = Request(environ)
        body = req.get_data()
        can_fail_over = req.method in FAILOVER_METHODS
        last: Response | None = None
        for i, origin in enumerate(self.origins):
            try:
                status, headers, data = self._fetch(origin, req, body)
            except (OSError, http.client.HTTPException):
                last = Response(b'{"message": "origin unreachable"}', status=502)
                if can_fail_over and i + 1 < len(self.origins):
                    self.failovers += 1
                    continue
                break
            resp = Response(data, status=status, headers=headers)
            resp.headers["X-Cache"] = "Miss from drharness-edge"
            resp.headers["X-Edge-Origin"] = str(i)
            if status in self.status_codes and can_fail_over and i + 1 < len(self.origins):
                self.failovers += 1
                last = resp
                continue
            return resp(environ, start_response)
        assert last is not None
        return last(environ, start_response)
