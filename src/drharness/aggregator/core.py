"""Checks and the dependency graph behind a region verdict.

Graph: region -> app -> {aurora, dynamodb, s3}; lambda and edge are observed, not required.
A region is unhealthy when its app is; the root cause is the deepest failing dependency
("us-east-1 unhealthy: Aurora writer unreachable"), so an operator sees why, not only that.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psycopg

from drharness.history import NULL_HISTORY, BaseHistory
from drharness.target import Target

GRAPH = {"app": ["aurora", "dynamodb", "s3"]}
LABELS = {"app": "app /health", "aurora": "Aurora", "dynamodb": "DynamoDB", "s3": "S3", "lambda": "Lambda",
          "edge": "CloudFront origin"}


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RegionVerdict:
    region: str
    healthy: bool
    root_cause: str | None
    checks: dict[str, CheckResult]
    t: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "healthy": self.healthy, "root_cause": self.root_cause,
                "checks": {k: asdict(v) for k, v in self.checks.items()}, "t": self.t}


def http_get(url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
    u = urlsplit(url)
    cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    conn = cls(u.hostname or "", u.port, timeout=timeout)
    try:
        conn.request("GET", u.path or "/")
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address already resolved (through the failover name, honouring its TTL), with
    SNI and certificate verification for the *name*: what a browser does after its DNS lookup."""

    def __init__(self, address: str, server_name: str, port: int = 443, timeout: float = 3.0,
                 context: ssl.SSLContext | None = None) -> None:
        super().__init__(server_name, port, timeout=timeout, context=context or ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class CertificateProblem(RuntimeError):
    """The server's TLS certificate does not verify for the name: a configuration error, not a blip."""


def connection_to(address: str, url: str, server_name: str, timeout: float = 3.0) -> http.client.HTTPConnection:
    """A connection to ``address`` for a request to ``server_name``, over the scheme and port of
    ``url`` (https: certificate verified for ``server_name``)."""
    u = urlsplit(url)
    if u.scheme == "https":
        return PinnedHTTPSConnection(address, server_name, u.port or 443, timeout)
    return http.client.HTTPConnection(address, u.port or 80, timeout=timeout)


def request(conn: http.client.HTTPConnection, method: str, path: str, body: str | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request; the answer's headers match case-insensitively (API Gateway may lower-case
    them); certificate failures become :class:`CertificateProblem` with the reason."""
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    except ssl.SSLCertVerificationError as exc:
        raise CertificateProblem(f"TLS certificate of {getattr(conn, 'host', '?')} does not verify: "
                                 f"{exc.verify_message or exc}") from None


class Aggregator:
    def __init__(self, target: Target, history: BaseHistory = NULL_HISTORY, timeout_s: float = 2.0,
                 lag_threshold_ms: float = 1000.0) -> None:
        self.target = target
        self.history = history
        self.timeout_s = timeout_s
        self.lag_threshold_ms = lag_threshold_ms
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="aggregator")
        self._pg: dict[str, psycopg.Connection] = {}
        self._pg_locks: dict[str, threading.Lock] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        """One boto3 client per service and region, reused (creating one costs more than the check)."""
        key = (service, region)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = self.target.client(service, region, connect_timeout=self.timeout_s, attempts=1)
            return self._clients[key]

    # ---- checks ----------------------------------------------------------------------------------
    def check_app(self, region: str) -> CheckResult:
        try:
            status, headers, body = http_get(self.target.regions[region].app_url + "/health", self.timeout_s)
        except (OSError, http.client.HTTPException) as exc:
            return CheckResult("app", False, f"unreachable ({type(exc).__name__})")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        if status != 200:
            bad = {k: v for k, v in (doc.get("checks") or {}).items() if v != "ok" and k != "aurora_role"}
            return CheckResult("app", False, f"HTTP {status}" + (f" ({bad})" if bad else ""), {"checks": bad})
        return CheckResult("app", True, "ok", {"served_by": headers.get("X-Region")})

    def _pg_session(self, region: str) -> psycopg.Connection:
        """A kept session per region (a scheduled aggregator runs every period: a new PostgreSQL
        backend per check costs more than the check). A broken or closed one is replaced."""
        conn = self._pg.get(region)
        if conn is None or conn.closed or conn.broken:
            conn = self._pg[region] = self.target.pg(region, timeout=self.timeout_s)
        return conn

    def check_aurora(self, region: str) -> CheckResult:
        lock = self._pg_locks.setdefault(region, threading.Lock())
        try:
            with lock:
                c = self._pg_session(region)
                try:
                    ro = c.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                    lag_ms = None
                    if ro:
                        row = c.execute(
                            "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
                            "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000 END").fetchone()
                        lag_ms = float(row[0]) if row and row[0] is not None else None
                except psycopg.Error:
                    c.close()  # never reuse a session that failed: the next check reconnects
                    raise
        except psycopg.Error as exc:
            kind = "writer" if region == self.target.primary_region else "cluster"
            return CheckResult("aurora", False, f"Aurora {kind} unreachable ({type(exc).__name__})")
        role = "reader" if ro else "writer"
        if ro and lag_ms is not None and lag_ms > self.lag_threshold_ms:
            return CheckResult("aurora", False, f"Aurora reader lag {lag_ms:.0f} ms > {self.lag_threshold_ms:.0f} ms",
                               {"role": role, "lag_ms": lag_ms})
        return CheckResult("aurora", True, f"{role} ok", {"role": role, "lag_ms": lag_ms})

    def check_dynamodb(self, region: str) -> CheckResult:
        t = self.target.regions[region]
        try:
            d = self.client("dynamodb", region)
            st = d.describe_table(TableName=t.table)["Table"]["TableStatus"]
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check with its reason
            return CheckResult("dynamodb", False, f"DynamoDB unreachable ({type(exc).__name__})")
        return CheckResult("dynamodb", st == "ACTIVE", f"table {st}")

    def check_s3(self, region: str) -> CheckResult:
        t = self.target.regions[region]
        try:
            self.client("s3", region).head_bucket(Bucket=t.bucket)
        except Exception as exc:  # noqa: BLE001
            return CheckResult("s3", False, f"S3 unreachable ({type(exc).__name__})")
        return CheckResult("s3", True, "bucket ok")

    def check_lambda(self, region: str) -> CheckResult:
        t = self.target.regions[region]
        try:
            fn = self.client("lambda", region).get_function(
                FunctionName=t.function)["Configuration"]
        except Exception as exc:  # noqa: BLE001
            return CheckResult("lambda", False, f"Lambda API unreachable ({type(exc).__name__})")
        return CheckResult("lambda", fn.get("State", "Active") == "Active", f"state {fn.get('State', 'Active')}")

    def evaluate_region(self, region: str) -> RegionVerdict:
        futs = {name: self._pool.submit(getattr(self, f"check_{name}"), region)
                for name in ("app", "aurora", "dynamodb", "s3", "lambda")}
        checks = {name: f.result() for name, f in futs.items()}
        app = checks["app"]
        root = None
        if not app.ok:
            failing = [d for d in GRAPH["app"] if not checks[d].ok]
            root = f"{region} unhealthy: " + (checks[failing[0]].detail if failing else f"app {app.detail}")
        verdict = RegionVerdict(region, app.ok, root, checks)
        self.history.append("aggregator", "ok", "verdict", {"region": region, "healthy": verdict.healthy,
                                                            "root_cause": root}, region)
        return verdict

    def evaluate(self) -> dict[str, RegionVerdict]:
        futs = {r: self._pool.submit(self.evaluate_region, r) for r in self.target.regions}
        return {r: f.result() for r, f in futs.items()}

    def publish(self, verdicts: dict[str, RegionVerdict], regions: list[str] | None = None) -> dict[str, str]:
        """drharness/RegionHealthy for every region, into the CloudWatch of ``regions`` (default: every
        region it can reach; a scheduled function publishes into its own region only)."""
        out = {}
        data = [{"MetricName": "RegionHealthy", "Value": 1.0 if v.healthy else 0.0,
                 "Dimensions": [{"Name": "Region", "Value": r}]} for r, v in verdicts.items()]
        for region in regions or list(self.target.regions):
            try:
                self.client("cloudwatch", region).put_metric_data(Namespace="drharness", MetricData=data)
                out[region] = "published"
            except Exception as exc:  # noqa: BLE001 - a region down cannot take metrics; others still do
                out[region] = f"failed: {type(exc).__name__}"
        return out
