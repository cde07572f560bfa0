"""DynamoDB global tables: each region's stream applied to the other, last writer wins.

moto creates no replica and replicates nothing; this does, from the real streams. Every record
carries a tag (write time, origin region). Per key the highest tag wins; a region whose latest
stream record does not carry the winner's tag receives the winner's image. Our own writes come
back on the target's stream as echoes and are recognised, so nothing ping-pongs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from werkzeug.wrappers import Response

from drharness.lab.faults import Faults
from drharness.lab.gateway import ApiCall

log = logging.getLogger(__name__)

WRITE_ACTIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
                           "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"})

Tag = tuple[float, str]


def _ts(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _norm(v: Any) -> Any:
    """DynamoDB JSON in a canonical form: set members sorted, numbers normalised, so an item we
    wrote is recognised when it comes back on the target's stream however moto renders it."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ("SS", "BS") and isinstance(x, list):
                out[k] = sorted(x)
            elif k == "NS" and isinstance(x, list):
                out[k] = sorted(_num(n) for n in x)
            elif k == "N":
                out[k] = _num(x)
            else:
                out[k] = _norm(x)
        return out
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def _num(n: Any) -> str:
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(str(n)).normalize()
    except InvalidOperation:
        return str(n)
    return format(d, "f") if d == d.to_integral() else str(d)


def _h(image: dict | None) -> str:
    return json.dumps(_norm(image), sort_keys=True, default=str) if image is not None else "<deleted>"


@dataclass
class _KeyState:
    winner: Tag = (0.0, "")
    image: dict | None = None
    origin: str = ""
    seen_at: float = 0.0  # when the replicator first saw the winning write
    region_tag: dict[str, Tag] = field(default_factory=dict)


class DynamoDBReplicator:
    def __init__(self, endpoint: str, regions: tuple[str, ...], table: str, faults: Faults,
                 poll_s: float = 0.1, idle_poll_s: float = 3.0) -> None:
        self.table = table
        self.regions = regions
        self.faults = faults
        self.poll_s = poll_s
        # Polling streams every poll_s while nothing happens was the largest idle cost of labd (two
        # GetRecords calls through moto ten times a second). Writes through a gateway wake the
        # replicator (``wake``), so an idle lab polls every idle_poll_s only, to catch writes that
        # did not come through a gateway, and a busy one (records seen, keys diverged, replication
        # held back by a fault) keeps polling every poll_s.
        self.idle_poll_s = idle_poll_s
        self._wake = threading.Event()
        self.rounds = 0
        kw: dict[str, Any] = {"endpoint_url": endpoint, "aws_access_key_id": "lab",
                              "aws_secret_access_key": "lab"}
        self.ddb = {r: boto3.client("dynamodb", region_name=r, **kw) for r in regions}
        self.streams = {r: boto3.client("dynamodbstreams", region_name=r, **kw) for r in regions}
        self.iterators: dict[str, list[str]] = {}
        self.keys: dict[str, _KeyState] = {}
        self.echoes: dict[tuple[str, str, str], Tag] = {}
        self.echo_keys: dict[tuple[str, str], int] = {}  # (region, key) -> echoes still to come back
        self.echo_time: dict[tuple[str, str, str], float] = {}
        self.diverged: set[str] = set()  # keys whose regions do not all carry the winner's tag
        self.latencies_ms: list[tuple[float, str, float]] = []  # (t, receiving region, ms)
        self.applied = 0
        self.errors = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=f"ddb-repl-{table}", daemon=True)

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> DynamoDBReplicator:
        for r in self.regions:
            self._open_iterators(r)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=3)

    def _open_iterators(self, region: str) -> None:
        arn = self.ddb[region].describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        shards = self.streams[region].describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self.iterators[region] = [
            self.streams[region].get_shard_iterator(
                StreamArn=arn, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for s in shards
        ]

    def wake(self) -> None:
        """A write landed in some region: replicate now rather than at the next idle poll."""
        self._wake.set()

    def _loop(self) -> None:
        busy = True
        while not self._stop.is_set():
            if busy:
                self._stop.wait(self.poll_s)
            else:
                self._wake.wait(self.idle_poll_s)
            self._wake.clear()  # before the round: a write during it wakes the next one
            if self._stop.is_set():
                return
            try:
                busy = self.step()
            except Exception:  # noqa: BLE001 - keep replicating; count it
                busy = True
                self.errors += 1
                log.exception("dynamodb replicator step failed")

    # ---- one replication round -------------------------------------------------------------------
    def step(self) -> bool:
        """One round; True when there is more to do soon (records seen, or some left behind)."""
        with self._lock:
            self.rounds += 1
            touched: set[str] = set()
            skipped = False
            for r in self.regions:
                if self.faults.data_plane_down(r):
                    skipped = True
                    continue  # the region's replication engine is down with it
                touched |= self._read(r)
            self._expire_echoes()
            for key in list(touched | self.diverged):
                try:
                    self._converge(key)
                except Exception:  # noqa: BLE001 - one key must not stall the table; retried next round
                    self.errors += 1
                    log.warning("dynamodb replication of %s failed", key, exc_info=True)
                if self._diverged(self.keys[key]):
                    self.diverged.add(key)
                else:
                    self.diverged.discard(key)
            return bool(touched or self.diverged or skipped)

    def _expire_echoes(self, max_age_s: float = 30.0) -> None:
        now = time.time()
        for ident, t in list(self.echo_time.items()):
            if now - t > max_age_s:
                self.echo_time.pop(ident, None)
                if self.echoes.pop(ident, None) is not None:
                    left = self.echo_keys.get(ident[:2], 1) - 1
                    if left > 0:
                        self.echo_keys[ident[:2]] = left
                    else:
                        self.echo_keys.pop(ident[:2], None)

    def _read(self, region: str) -> set[str]:
        touched: set[str] = set()
        new_iters = []
        for it in self.iterators.get(region, []):
            out = self.streams[region].get_records(ShardIterator=it, Limit=1000)
            for rec in out.get("Records", []):
                touched.add(self._observe(region, rec))
            new_iters.append(out.get("NextShardIterator") or it)
        self.iterators[region] = new_iters
        return touched

    def _observe(self, region: str, rec: dict) -> str:
        d = rec["dynamodb"]
        key = json.dumps(d["Keys"], sort_keys=True)
        image = d.get("NewImage") if rec["eventName"] != "REMOVE" else None
        echo = self.echoes.pop((region, key, _h(image)), None)
        self.echo_time.pop((region, key, _h(image)), None)
        if echo is not None:
            left = self.echo_keys.get((region, key), 1) - 1
            if left > 0:
                self.echo_keys[(region, key)] = left
            else:
                self.echo_keys.pop((region, key), None)
        tag: Tag = echo if echo else (_ts(d.get("ApproximateCreationDateTime", time.time())), region)
        st = self.keys.setdefault(key, _KeyState())
        st.region_tag[region] = tag
        if tag > st.winner:
            st.winner, st.image, st.origin, st.seen_at = tag, image, region, time.time()
        return key

    def _diverged(self, st: _KeyState) -> bool:
        return any(st.region_tag.get(r) != st.winner for r in self.regions)

    def _converge(self, key: str) -> None:
        st = self.keys[key]
        for r in self.regions:
            if st.region_tag.get(r) == st.winner:
                continue
            if self.table in self.faults.paused_tables or self.faults.link_cut(st.origin, r):
                continue
            keys = json.loads(key)
            if st.image is None:
                self.ddb[r].delete_item(TableName=self.table, Key=keys)
            else:
                self.ddb[r].put_item(TableName=self.table, Item=st.image)
            self.echoes[(r, key, _h(st.image))] = st.winner
            self.echo_keys[(r, key)] = self.echo_keys.get((r, key), 0) + 1
            self.echo_time[(r, key, _h(st.image))] = time.time()
            # The write succeeded, so r holds the winner now. Its echo may never come (deleting an
            # item that is already gone writes no stream record): don't wait for it to say so.
            st.region_tag[r] = st.winner
            self.applied += 1
            self.latencies_ms.append((time.time(), r, (time.time() - st.winner[0]) * 1000.0))
            del self.latencies_ms[:-5000]

    # ---- monitoring ------------------------------------------------------------------------------
    def pending(self) -> int:
        with self._lock:
            return len(self.diverged)

    def status(self) -> dict[str, Any]:
        recent = [ms for _, _, ms in self.latencies_ms[-200:]]
        return {
            "table": self.table,
            "paused": self.table in self.faults.paused_tables,
            "applied": self.applied,
            "pending": self.pending(),
            "errors": self.errors,
            "latency_ms_last": recent[-1] if recent else None,
        }


def ddb_write_hook(repl: DynamoDBReplicator) -> Callable[[ApiCall, Response], Response]:
    """Gateway post-hook: a DynamoDB write that succeeded wakes the replicator."""

    def hook(call: ApiCall, resp: Response) -> Response:
        if call.service == "dynamodb" and call.action in WRITE_ACTIONS and resp.status_code < 300:
            repl.wake()
        return resp

    return hook
