"""DynamoDB conflict-resolution test: conflicting writes to the same keys in both regions.

Why: "last writer wins" is the global table's promise during a split (both regions writable);
this drives it and leaves the evidence in a history, so ``lww.check`` (pure) can judge it and the
verdict can be recomputed later. Each key gets rounds of *concurrent* writes (one per region,
released together by a barrier: either may win) and *sequential* writes (one region after the
other, a gap apart: the later must win). Then both regions are polled until they agree (bounded)
and the final values are logged as reads.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from drharness.checkers.base import Result
from drharness.consistency import lww
from drharness.consistency.aws import raise_clear
from drharness.history import DRILL, HARNESS, BaseHistory, Event, MemoryHistory

__all__ = ["KEY_PREFIX", "run_conflict_test"]

KEY_PREFIX = "drharness-lww#"
VALUE_ATTR = "drharness_lww_value"


class _Tee(MemoryHistory):
    """Keeps the events for the checker and copies them to the drill's history (but not this run's
    own drill start/end: the drill has its own)."""

    def __init__(self, other: BaseHistory | None) -> None:
        super().__init__()
        self.other = other

    def _write(self, event: Event, line: str) -> Event:
        if self.other is not None and not (event.process == HARNESS and event.f == DRILL):
            self.other.append(event.process, event.type, event.f, event.value, event.region, t=event.t)
        return super()._write(event, line)


def _hash_key(client: Any, table: str, region: str) -> tuple[str, list[tuple[str, str]]]:
    try:
        desc = client.describe_table(TableName=table)["Table"]
    except Exception as exc:  # noqa: BLE001
        raise_clear(exc, f"DynamoDB table {table!r}", region)
    types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
    ks = sorted(desc["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
    hash_name = ks[0]["AttributeName"]
    return hash_name, [(k["AttributeName"], types[k["AttributeName"]]) for k in ks[1:]]


def run_conflict_test(target: Any, *, keys: int = 5, rounds: int = 3, history: BaseHistory | None = None,
                      converge_timeout_s: float = 30.0, quiet_s: float = 2.0, gap_s: float = 0.05,
                      cleanup: bool = True,
                      opts: lww.LwwOpts | dict[str, Any] | None = None) -> Result:
    """Write conflicting values to ``keys`` keys in both regions; return ``lww.check`` of what happened.

    Converged = both regions hold the same value for every key, unchanged for ``quiet_s`` (a
    replicator can show a momentary agreement before the newer write lands). Events also go to
    ``history`` (the drill's) when given. The run is wrapped in its own drill
    start/end only in the private history used for the verdict.
    """
    regions: Sequence[str] = (target.primary_region, target.secondary_region)
    clients = {r: target.client("dynamodb", r, attempts=1) for r in regions}
    tables = {r: target.regions[r].table for r in regions}
    hash_name, range_keys = _hash_key(clients[regions[0]], tables[regions[0]], regions[0])
    run = uuid.uuid4().hex[:8]
    names = [f"{KEY_PREFIX}{run}-{i}" for i in range(keys)]
    h = _Tee(history)
    drill = h.drill_start({"test": "dynamodb-lww", "keys": keys, "rounds": rounds})

    def item_key(name: str) -> dict[str, Any]:
        k: dict[str, Any] = {hash_name: {"S": name}}
        for attr, typ in range_keys:
            k[attr] = {typ: b"0" if typ == "B" else "0"}
        return k

    def write(region: str, name: str, rnd: int, barrier: threading.Barrier | None) -> None:
        value = f"{region}:{rnd}:{uuid.uuid4().hex[:8]}"
        if barrier is not None:
            barrier.wait(timeout=10)
        op = h.invoke(f"{lww.WRITER}:{region}:{name}", "write", {"key": name, "value": value}, region)
        try:
            clients[region].put_item(TableName=tables[region], Item={**item_key(name), VALUE_ATTR: {"S": value}})
        except Exception as exc:  # noqa: BLE001 - outcome unknown (a timeout may still have written)
            h.complete(op, "info", {"key": name, "value": value, "error": f"{type(exc).__name__}: {exc}"[:200]})
            return
        h.complete(op, "ok")

    for rnd in range(rounds):
        # Half the keys get concurrent writes this round, half sequential, alternating per round, so
        # the final state of some keys is decided by a race and of others by real-time order.
        concurrent = [n for i, n in enumerate(names) if (i + rnd) % 2 == 0]
        sequential = [n for i, n in enumerate(names) if (i + rnd) % 2 == 1]
        threads: list[threading.Thread] = []
        for name in concurrent:
            barrier = threading.Barrier(len(regions))
            threads += [threading.Thread(target=write, args=(r, name, rnd, barrier)) for r in regions]
        for t in threads:
            t.start()
        order = list(regions) if rnd % 4 < 2 else list(reversed(regions))
        for r in order:  # the second region writes strictly after the first completed
            for name in sequential:
                write(r, name, rnd, None)
            time.sleep(gap_s)
        for t in threads:
            t.join()
        time.sleep(gap_s)

    final = _converged(clients, tables, regions, [item_key(n) for n in names], converge_timeout_s, quiet_s)
    i_of = {n: i for i, n in enumerate(names)}
    for name in names:
        for r in regions:
            h.append(lww.READER, "ok", "read", {"key": name, "value": final[i_of[name]][r]}, r)
    h.drill_end(drill)
    if cleanup:
        for name in names:
            try:
                clients[regions[0]].delete_item(TableName=tables[regions[0]], Key=item_key(name))
            except Exception:  # noqa: BLE001 - best effort
                pass
    return lww.check(h.events, opts)


def _converged(clients: dict[str, Any], tables: dict[str, str], regions: Sequence[str],
               keys: list[dict[str, Any]], timeout_s: float, quiet_s: float) -> list[dict[str, str | None]]:
    """Poll until all keys agree across regions and stay unchanged for ``quiet_s`` (or time out)."""
    deadline = time.monotonic() + timeout_s
    stable_since: float | None = None
    last: list[dict[str, str | None]] | None = None
    while True:
        now = [{r: _read(clients[r], tables[r], k, r) for r in regions} for k in keys]
        agreed = all(len(set(v.values())) == 1 for v in now)
        if agreed and now == last and stable_since is not None:
            if time.monotonic() - stable_since >= quiet_s:
                return now
        else:
            stable_since = time.monotonic() if agreed else None
        last = now
        if time.monotonic() >= deadline:
            return now
        time.sleep(0.1)


def _read(client: Any, table: str, key: dict[str, Any], region: str) -> str | None:
    try:
        item = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    except Exception as exc:  # noqa: BLE001
        raise_clear(exc, f"DynamoDB table {table!r}", region)
    if not item:
        return None
    return str(item.get(VALUE_ATTR, {}).get("S"))
