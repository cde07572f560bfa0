"""Lambda handler of the regional orders app (API Gateway proxy integration, payload v1).

Configuration comes from the Lambda environment: ``REGION``, ``DB_DSN``, ``TABLE_NAME``,
``BUCKET_PREFIX`` (bucket = prefix-region, so every region runs identical settings) and optionally ``AWS_ENDPOINT_URL`` (the lab's region gateway).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
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
        self.table = env["TABLE_NAME"]
        self.bucket = env.get("BUCKET_NAME") or f"{env['BUCKET_PREFIX']}-{self.region}"
        cfg = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1})
        kw: dict[str, Any] = {"region_name": self.region, "config": cfg}
        if env.get("AWS_ENDPOINT_URL"):
            kw["endpoint_url"] = env["AWS_ENDPOINT_URL"]
        self.ddb = boto3.client("dynamodb", **kw)
        self.s3 = boto3.client("s3", **kw)
        # The Route 53 failover role of this region's record. A SECONDARY region is healthy as a
        # replica (ready to be promoted); any other region is healthy only while it holds the writer,
        # so DNS leaves a region that lost the writer (fenced, or switched over).
        self.failover_role = env.get("FAILOVER_ROLE", "PRIMARY").upper()
        self._local = threading.local()

    # ---- storage -----------------------------------------------------------------------------
    def _db(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2,
                                   options="-c statement_timeout=3000")
            self._local.conn = conn
        return conn

    def _sql(self, sql: str, *args: Any) -> list[tuple]:
        try:
            cur = self._db().execute(sql, args or None)
            return cur.fetchall() if cur.description else []
        except psycopg.OperationalError:
            self._local.conn = None
            raise

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
            self.ddb.describe_table(TableName=self.table)
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
