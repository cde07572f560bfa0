"""Lambda handler of the regional orders app (API Gateway proxy integration, payload v1).

Configuration comes from the Lambda environment: ``REGION``, ``DB_DSN``, ``TABLE_NAME``,
``BUCKET_PREFIX`` (bucket = prefix-region, so every region runs identical settings) and optionally ``AWS_ENDPOINT_URL`` (the lab's region gateway)
and ``DB_POOL_SIZE`` (PostgreSQL connections kept open per app process, default 8).

Connections are pooled, as in a warm Lambda: one PostgreSQL session per request (and a TCP
handshake per AWS call) would cost more than the request itself.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import psycopg
from botocore.config import Config

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS orders (
    id text PRIMARY KEY,
    payload jsonb NOT NULL,
    region text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""

STORES = ("aurora", "dynamodb", "s3")
HEALTH_KEY = "__health__"  # read by /health; never written


def db_conninfo(env: Mapping[str, str]) -> str:
    """The PostgreSQL connection string, credentials included: the one place that decides them.
    The password comes from the Secrets Manager secret ``DB_SECRET_ARN`` names (cached; see
    refapp/secrets.py); it is called for every new pooled connection."""
    from drharness.refapp.secrets import conninfo_with_secret

    return conninfo_with_secret(env)


class ConnectionLost(psycopg.OperationalError):
    """A pooled session the server had dropped (psycopg's ``broken``)."""


class ConnectionPool:
    """A small bounded pool of autocommit connections (psycopg_pool is not a dependency).

    A connection that failed is dropped, not returned, so a cut link or a promoted standby is
    seen by the next request rather than hidden behind a stale session.
    """

    def __init__(self, conninfo: Any, max_size: int = 8, timeout_s: float = 3.0) -> None:
        self.conninfo = conninfo  # str, or a callable returning one (fresh credentials per connect)
        self.max_size = max_size
        self.timeout_s = timeout_s
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max_size)

    def _connect(self) -> psycopg.Connection:
        info = self.conninfo() if callable(self.conninfo) else self.conninfo
        return psycopg.connect(info, autocommit=True, connect_timeout=2, options="-c statement_timeout=3000")

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self._slots.acquire(timeout=self.timeout_s):
            raise psycopg.OperationalError(f"no free connection in the pool after {self.timeout_s} s")
        conn: psycopg.Connection | None = None
        try:
            while conn is None:
                try:
                    conn = self._idle.get_nowait()
                except queue.Empty:
                    conn = self._connect()
                    break
                if conn.closed or conn.broken:
                    conn = None
            yield conn
        except BaseException as exc:
            # A query error (a constraint, a read-only standby) leaves an autocommit session usable.
            if conn is not None and conn.broken:
                # The server dropped the session (restart, promotion, cut link): the idle ones are
                # gone too.
                conn.close()
                conn = None
                self.close()
                raise ConnectionLost(str(exc)) from exc
            if conn is not None and (not isinstance(exc, psycopg.Error) or isinstance(exc, psycopg.OperationalError)):
                conn.close()
                conn = None
            raise
        finally:
            if conn is not None:
                self._idle.put(conn)
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _resp(status: int, body: Any, region: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "X-Region": region},
        "body": json.dumps(body),
    }


class OrdersApp:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.region = env["REGION"]
        self.dsn = env["DB_DSN"]
        self.pool = ConnectionPool(lambda: db_conninfo(env), int(env.get("DB_POOL_SIZE") or 8))
        self.table = env["TABLE_NAME"]
        self.bucket = env.get("BUCKET_NAME") or f"{env['BUCKET_PREFIX']}-{self.region}"
        cfg = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1}, max_pool_connections=64)
        kw: dict[str, Any] = {"region_name": self.region, "config": cfg}
        if env.get("AWS_ENDPOINT_URL"):
            kw["endpoint_url"] = env["AWS_ENDPOINT_URL"]
        self.ddb = boto3.client("dynamodb", **kw)
        self.s3 = boto3.client("s3", **kw)
        # The Route 53 failover role of this region's record. A SECONDARY region is healthy as a
        # replica (ready to be promoted); any other region is healthy only while it holds the writer,
        # so DNS leaves a region that lost the writer (fenced, or switched over).
        self.failover_role = env.get("FAILOVER_ROLE", "PRIMARY").upper()

    # ---- storage -----------------------------------------------------------------------------
    def _sql(self, sql: str, *args: Any) -> list[tuple]:
        for attempt in (1, 2):
            try:
                with self.pool.connection() as conn:
                    cur = conn.execute(sql, args or None)
                    return cur.fetchall() if cur.description else []
            except ConnectionLost:
                # A pooled session the server dropped while idle (restart, promotion): one retry on
                # a new session, so the pool never turns a database that is back into an error. Every
                # statement here is idempotent (reads, upserts by id).
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _write(self, store: str, order_id: str, payload: dict) -> None:
        doc = json.dumps({"id": order_id, "region": self.region, **payload}, sort_keys=True)
        if store == "aurora":
            self._sql("INSERT INTO orders (id, payload, region) VALUES (%s, %s, %s) "
                      "ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload, region = EXCLUDED.region",
                      order_id, doc, self.region)
        elif store == "dynamodb":
            self.ddb.put_item(TableName=self.table, Item={
                "pk": {"S": order_id}, "doc": {"S": doc}, "region": {"S": self.region}})
        else:
            self.s3.put_object(Bucket=self.bucket, Key=f"orders/{order_id}.json", Body=doc.encode(),
                               ContentType="application/json")

    def _read(self, store: str, order_id: str) -> dict | None:
        if store == "aurora":
            rows = self._sql("SELECT payload FROM orders WHERE id = %s", order_id)
            return rows[0][0] if rows else None
        if store == "dynamodb":
            item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": order_id}},
                                     ConsistentRead=True).get("Item")
            return json.loads(item["doc"]["S"]) if item else None
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=f"orders/{order_id}.json")
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(obj["Body"].read())

    # ---- routes ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        checks: dict[str, str] = {}
        try:
            ro = self._sql("SELECT pg_is_in_recovery()")[0][0]
            if not ro:
                checks["aurora"] = "ok"
            elif self.failover_role == "SECONDARY":
                checks["aurora"] = "ok"
                checks["aurora_role"] = "replica"
            else:
                checks["aurora"] = "read-only: not the writer"
        except Exception as exc:  # noqa: BLE001
            checks["aurora"] = f"unreachable: {type(exc).__name__}"
        try:
            # A data-plane read, not DescribeTable: a health check must not lean on a control plane
            # (static stability), and it is the path orders take. A missing table still fails it.
            self.ddb.get_item(TableName=self.table, Key={"pk": {"S": HEALTH_KEY}})
            checks["dynamodb"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["dynamodb"] = f"error: {type(exc).__name__}"
        try:
            self.s3.head_bucket(Bucket=self.bucket)
            checks["s3"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["s3"] = f"error: {type(exc).__name__}"
        healthy = all(checks[s] == "ok" for s in STORES)
        return _resp(200 if healthy else 503, {"healthy": healthy, "region": self.region,
                                               "checks": checks}, self.region)

    def create(self, body: str | None) -> dict[str, Any]:
        try:
            data = json.loads(body or "{}")
            order_id = str(data["id"])
        except (ValueError, KeyError, TypeError):
            return _resp(400, {"error": "body must be JSON with an 'id'"}, self.region)
        payload = {k: v for k, v in data.items() if k != "id"}
        stores: dict[str, str] = {}
        # Aurora first: a secondary region refuses writes until promoted, and then nothing else is
        # written either, so an order is never half-stored in a region that cannot take it.
        for store in STORES:
            try:
                self._write(store, order_id, payload)
                stores[store] = "ok"
            except Exception as exc:  # noqa: BLE001
                stores[store] = f"error: {type(exc).__name__}: {str(exc)[:120]}"
                if store == "aurora":
                    break
        ok = all(stores.get(s) == "ok" for s in STORES)
        return _resp(201 if ok else 503, {"id": order_id, "region": self.region, "stores": stores,
                                          "t": time.time()}, self.region)

    def get(self, order_id: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for store in STORES:
            try:
                found[store] = self._read(store, order_id)
            except Exception as exc:  # noqa: BLE001
                found[store] = {"error": type(exc).__name__}
        if all(v is None for v in found.values()):
            return _resp(404, {"id": order_id, "region": self.region}, self.region)
        return _resp(200, {"id": order_id, "region": self.region, "stores": found}, self.region)

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        method = event.get("httpMethod", "GET")
        path = event.get("path", "/")
        if path == "/health":
            return self.health()
        if path == "/orders" and method == "POST":
            return self.create(event.get("body"))
        if path.startswith("/orders/") and method in ("GET", "HEAD"):
            return self.get(path.split("/", 2)[2])
        return _resp(404, {"error": f"no route {method} {path}"}, self.region)


_APP: OrdersApp | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _APP
    if _APP is None:
        _APP = OrdersApp(os.environ)
    return _APP.handle(event, context)
