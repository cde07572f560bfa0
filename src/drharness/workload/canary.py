"""Canary writer: sequence-numbered records to Aurora, DynamoDB and S3, each acknowledgement logged.

It writes to the region the failover name currently points at (as the app's clients would),
one process per store so the history pairs each write with its own completion.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from drharness.history import NULL_HISTORY, BaseHistory
from drharness.target import Target
from drharness.workload.dnsclient import TtlResolver
from drharness.workload.load_config import refused

STORES = ("aurora", "dynamodb", "s3")


def canary_key(run_id: str, seq: int) -> str:
    return f"canary-{run_id}-{seq:06d}"


class StoreWriter:
    """Writes one store in whichever region it is told; reconnects after failures."""

    def __init__(self, target: Target, store: str) -> None:
        self.target = target
        self.store = store
        self._pg: dict[str, psycopg.Connection] = {}
        self._clients: dict[str, Any] = {}

    def _client(self, region: str) -> Any:
        svc = "dynamodb" if self.store == "dynamodb" else "s3"
        if region not in self._clients:
            self._clients[region] = self.target.client(svc, region, connect_timeout=1, read_timeout=2, attempts=1)
        return self._clients[region]

    def write(self, region: str, key: str, seq: int) -> None:
        t = self.target.regions[region]
        if self.store == "aurora":
            conn = self._pg.get(region)
            if conn is None or conn.closed or conn.broken:
                try:
                    conn = self.target.pg(region, timeout=1)
                except psycopg.Error as exc:  # nothing was sent: a certain failure
                    raise NotSent(f"{type(exc).__name__}: {exc}") from exc
                self._pg[region] = conn
            try:
                conn.execute("INSERT INTO orders (id, payload, region) VALUES (%s, %s, %s)",
                             (key, f'{{"seq": {seq}}}', region))
            except psycopg.Error:
                conn.close()
                raise
        elif self.store == "dynamodb":
            self._client(region).put_item(TableName=t.table, Item={
                "pk": {"S": key}, "seq": {"N": str(seq)}, "region": {"S": region}})
        else:
            self._client(region).put_object(Bucket=t.bucket, Key=f"canary/{key}", Body=str(seq).encode())

    def close(self) -> None:
        for c in self._pg.values():
            c.close()


class NotSent(Exception):
    """The write never reached the store (no connection could be made): a certain failure."""


_PG_CERTAIN = ("23", "25", "42", "22", "40")  # constraint, read-only transaction, syntax/permission, data, rollback


def _outcome(exc: BaseException) -> str:
    """Jepsen's rule: ``fail`` only when the write certainly did not happen, ``info`` (unknown) otherwise.

    Certain: no connection was made (refused, unreachable, connect timeout), or the store answered
    with a refusal (PostgreSQL error with a SQLSTATE such as 25006 read-only transaction; an AWS 4xx).
    Unknown: the connection broke or timed out after the request was sent, a PostgreSQL error
    without a SQLSTATE or of class 08 (connection) / 57 (shutdown), an AWS 5xx: the write may have
    committed (a write logged ``fail`` and then found is what the RPO checker rejects).
    """
    if isinstance(exc, NotSent | EndpointConnectionError | ConnectTimeoutError):
        return "fail"
    if isinstance(exc, psycopg.Error):
        state = getattr(exc, "sqlstate", None) or ""
        return "fail" if state[:2] in _PG_CERTAIN else "info"
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return "fail" if 400 <= int(status) < 500 else "info"
    return "fail" if refused(exc) else "info"


class Canary:
    def __init__(self, target: Target, history: BaseHistory = NULL_HISTORY, interval_s: float = 0.2,
                 max_seconds: float = 1800.0, stores: tuple[str, ...] = STORES, run_id: str | None = None,
                 resolver: TtlResolver | None = None) -> None:
        self.target = target
        self.history = history
        self.interval_s = interval_s
        self.max_seconds = max_seconds
        self.stores = stores
        self.run_id = run_id or time.strftime("%H%M%S")
        self.resolver = resolver or TtlResolver.for_target(target)
        self.seq = 0
        self.acked: dict[str, int] = dict.fromkeys(stores, 0)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(s,), name=f"canary-{s}", daemon=True)
                         for s in stores]
        self._tick = threading.Condition()

    def start(self) -> Canary:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)

    def _loop(self, store: str) -> None:
        writer = StoreWriter(self.target, store)
        t0 = time.monotonic()
        seq = 0
        max_count = int(self.max_seconds / max(self.interval_s, 0.01)) + 1
        try:
            while not self._stop.is_set() and seq < max_count and time.monotonic() - t0 < self.max_seconds:
                seq += 1
                started = time.monotonic()
                self.write_once(writer, store, seq)
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
        finally:
            writer.close()

    def write_once(self, writer: StoreWriter, store: str, seq: int) -> str:
        region = self.resolver.current_region() or self.target.primary_region
        key = canary_key(self.run_id, seq)
        h = self.history.invoke(f"canary:{store}", "write", {"store": store, "key": key, "seq": seq}, region)
        try:
            writer.write(region, key, seq)
        except (NotSent, psycopg.Error, ClientError, BotoCoreError, OSError) as exc:
            kind = _outcome(exc)
            self.history.complete(h, kind, {"store": store, "key": key, "seq": seq,
                                            "error": f"{type(exc).__name__}: {str(exc)[:160]}"}, region)
            return kind
        self.acked[store] += 1
        self.history.complete(h, "ok", None, region)
        return "ok"


def read_back(target: Target, history: BaseHistory, region: str, run_id: str,
              stores: tuple[str, ...] = STORES, extra_prefixes: dict[str, tuple[str, ...]] | None = None
              ) -> dict[str, set[str]]:
    """Verifier: which canary keys of this run the given region holds, per store.

    ``extra_prefixes`` adds other acknowledged writers' keys per store (e.g. Locust's ``load-`` orders)."""
    found: dict[str, set[str]] = {}
    for store in stores:
        prefixes = (f"canary-{run_id}-", *((extra_prefixes or {}).get(store, ())))
        h = history.invoke("verifier", "read-all", {"store": store, "region": region}, region)
        try:
            keys: set[str] = set()
            for prefix in prefixes:
                keys |= _read_store(target, region, store, prefix)
        except (psycopg.Error, ClientError, BotoCoreError, OSError) as exc:
            history.complete(h, "fail", {"store": store, "region": region, "error": str(exc)[:200]}, region)
            continue
        found[store] = keys
        history.complete(h, "ok", {"store": store, "region": region, "keys": sorted(keys)}, region)
    return found


def _read_store(target: Target, region: str, store: str, prefix: str) -> set[str]:
    t = target.regions[region]
    if store == "aurora":  # canary rows and the app's orders share the orders table
        with target.pg(region, timeout=3) as c:
            return {r[0] for r in c.execute("SELECT id FROM orders WHERE id LIKE %s", (prefix + "%",))}
    if store == "dynamodb":
        ddb = target.client("dynamodb", region)
        keys: set[str] = set()
        for page in ddb.get_paginator("scan").paginate(
                TableName=t.table, ConsistentRead=True, ProjectionExpression="pk",
                FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": {"S": prefix}}):
            keys |= {i["pk"]["S"] for i in page.get("Items", [])}
        return keys
    s3 = target.client("s3", region)
    keys = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=t.bucket, Prefix=f"canary/{prefix}"):
        keys |= {o["Key"].split("/", 1)[1] for o in page.get("Contents", [])}
    return keys
