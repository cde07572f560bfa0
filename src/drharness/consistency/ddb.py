"""DynamoDB global table consistency: both replicas scanned in parallel segments, items hashed.

Why this shape: DynamoDB cannot checksum server side, so every item is read once per region; what
is kept is only a 16-byte digest per key (canonical form: attribute order, number spelling and set
order do not matter; the legacy global tables' ``aws:rep:*`` bookkeeping attributes are ignored).
Differing keys are then re-read with strongly consistent reads until they agree or the settle
time runs out, so a write still replicating does not show up as a diff, while a key that still
differs afterwards is named.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from drharness.consistency.aws import raise_clear
from drharness.consistency.result import StoreResult
from drharness.errors import BadInput

__all__ = ["LAG_MARKER_PREFIX", "DdbSide", "check_dynamodb", "compare_ddb", "item_digest", "key_of"]

LAG_MARKER_PREFIX = "drharness-lag#"  # the lag sampler's own marker items: not data, never compared
REP_ATTR_PREFIX = "aws:rep:"
Key = tuple[Any, ...]
READ_TIMEOUT_S = 60  # a scan page of a big table can take seconds (moto: much longer)


@dataclass(frozen=True)
class DdbSide:
    """One replica: a boto3 DynamoDB client of its region and the table name there."""

    client: Any
    table: str
    region: str

    @property
    def what(self) -> str:
        return f"DynamoDB table {self.table!r}"


# ----------------------------------------------------------------------------------------- hashing
def _num(s: str) -> str:
    try:
        d = Decimal(s)
    except InvalidOperation:
        return s
    return "0" if d == 0 else str(d.normalize())  # 10, 10.0 and 1E+1 are the same DynamoDB number


def _b(v: Any) -> str:
    return base64.b64encode(v if isinstance(v, bytes | bytearray) else str(v).encode()).decode()


def _canon(av: dict[str, Any]) -> Any:
    ((t, v),) = av.items()
    if t == "N":
        return ["N", _num(v)]
    if t == "NS":
        return ["NS", sorted(_num(x) for x in v)]
    if t == "SS":
        return ["SS", sorted(v)]
    if t == "B":
        return ["B", _b(v)]
    if t == "BS":
        return ["BS", sorted(_b(x) for x in v)]
    if t == "M":
        return ["M", {k: _canon(x) for k, x in v.items()}]
    if t == "L":
        return ["L", [_canon(x) for x in v]]
    return [t, v]  # S, BOOL, NULL


def item_digest(item: dict[str, Any]) -> bytes:
    """Order-independent 16-byte digest of an item in DynamoDB JSON (low-level client form)."""
    canon = {k: _canon(v) for k, v in item.items() if not k.startswith(REP_ATTR_PREFIX)}
    text = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def key_of(item: dict[str, Any], key_names: Sequence[str]) -> Key:
    """A hashable key: (type, canonical value) per key attribute."""
    out: list[Any] = []
    for name in key_names:
        c = _canon(item[name])
        out.append((c[0], c[1]))
    return tuple(out)


def _display(key: Key) -> Any:
    vals = [v for _, v in key]
    return vals[0] if len(vals) == 1 else vals


def _low_level_key(key: Key, key_names: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (t, v) in zip(key_names, key, strict=True):
        out[name] = {t: base64.b64decode(v) if t == "B" else v}
    return out


# ----------------------------------------------------------------------------------------- reading
def key_schema(side: DdbSide) -> list[str]:
    try:
        desc = side.client.describe_table(TableName=side.table)["Table"]
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
        raise_clear(exc, side.what, side.region)
    ks = sorted(desc["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
    return [k["AttributeName"] for k in ks]


def _scan_segment(side: DdbSide, key_names: Sequence[str], segment: int, total: int,
                  out: dict[Key, bytes], lock: threading.Lock) -> int:
    kw: dict[str, Any] = {"TableName": side.table, "Segment": segment, "TotalSegments": total,
                          "ConsistentRead": True}
    pages = 0
    while True:
        try:
            page = side.client.scan(**kw)
        except Exception as exc:  # noqa: BLE001
            raise_clear(exc, side.what, side.region)
        pages += 1
        local = {}
        for item in page.get("Items", []):
            key = key_of(item, key_names)
            if _is_marker(key):
                continue
            local[key] = item_digest(item)
        with lock:
            out.update(local)
        if "LastEvaluatedKey" not in page:
            return pages
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _is_marker(key: Key) -> bool:
    return bool(key) and key[0][0] == "S" and str(key[0][1]).startswith(LAG_MARKER_PREFIX)


def scan_digests(sides: Sequence[tuple[DdbSide, Sequence[str]]], segments: int, pool: ThreadPoolExecutor
                 ) -> list[dict[Key, bytes]]:
    """Parallel scan of every side at once (``segments`` workers each) into key -> digest maps."""
    outs: list[dict[Key, bytes]] = [{} for _ in sides]
    locks = [threading.Lock() for _ in sides]
    futs = [pool.submit(_scan_segment, side, names, i, segments, outs[n], locks[n])
            for n, (side, names) in enumerate(sides) for i in range(segments)]
    for f in futs:
        f.result()
    return outs


def _reread(side: DdbSide, keys: Iterable[Key], key_names: Sequence[str]) -> dict[Key, bytes | None]:
    """Strongly consistent re-read of some keys (None = absent)."""
    keys = list(keys)
    found: dict[Key, bytes | None] = dict.fromkeys(keys)
    for i in range(0, len(keys), 100):
        request: dict[str, Any] = {side.table: {"Keys": [_low_level_key(k, key_names) for k in keys[i:i + 100]],
                                                "ConsistentRead": True}}
        for _ in range(20):
            try:
                out = side.client.batch_get_item(RequestItems=request)
            except Exception as exc:  # noqa: BLE001
                raise_clear(exc, side.what, side.region)
            for item in out.get("Responses", {}).get(side.table, []):
                found[key_of(item, key_names)] = item_digest(item)
            request = out.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05)
    return found


# ----------------------------------------------------------------------------------------- compare
def compare_ddb(a: DdbSide, b: DdbSide, *, segments: int = 4, settle_s: float = 5.0, max_keys: int = 20
                ) -> StoreResult:
    """Compare two replicas of a global table; ``settle_s`` bounds the wait for in-flight writes."""
    t0 = time.monotonic()
    ka, kb = key_schema(a), key_schema(b)
    if ka != kb:
        raise BadInput(f"{a.what} in {a.region} and {b.what} in {b.region} have different keys: {ka} vs {kb}")
    with ThreadPoolExecutor(max_workers=2 * max(1, segments), thread_name_prefix="drh-ddbdiff") as pool:
        da, db = scan_digests([(a, ka), (b, kb)], segments, pool)
    scanned = time.monotonic() - t0
    candidates = {k for k in da.keys() | db.keys() if da.get(k) != db.get(k)}
    compared = len(da.keys() | db.keys())
    initial = len(candidates)
    deadline = time.monotonic() + settle_s
    now_a: dict[Key, bytes | None] = {}
    now_b: dict[Key, bytes | None] = {}
    rounds = 0
    while candidates:
        rounds += 1
        now_a, now_b = _reread(a, candidates, ka), _reread(b, candidates, kb)
        candidates = {k for k in candidates if now_a[k] != now_b[k]}
        if not candidates or time.monotonic() >= deadline:
            break
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
    kinds: dict[str, int] = {}
    details: list[dict[str, Any]] = []
    for k in sorted(candidates, key=repr):
        kind = "changed" if now_a.get(k) and now_b.get(k) else (
            f"only_in_{a.region}" if now_a.get(k) else f"only_in_{b.region}")
        kinds[kind] = kinds.get(kind, 0) + 1
        if len(details) < max_keys:
            details.append({"key": _display(k), "kind": kind})
    diffs = len(candidates)
    extra = {"table": a.table, "regions": [a.region, b.region], "kinds": kinds, "diff_details": details,
             "settled": initial - diffs, "settle_rounds": rounds, "segments": segments,
             "seconds": round(time.monotonic() - t0, 3), "scan_seconds": round(scanned, 3)}
    if diffs:
        detail = (f"dynamodb: {diffs} of {compared} items differ between {a.region} and {b.region} after "
                  f"{settle_s:g} s settle ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})")
        return StoreResult("dynamodb", False, compared, diffs, [d["key"] for d in details], "diff", detail, extra)
    return StoreResult("dynamodb", True, compared, 0, [], "consistent",
                       f"dynamodb: {compared} items equal in {a.region} and {b.region}", extra)


def check_dynamodb(target: Any, *, segments: int = 4, settle_s: float = 5.0, max_keys: int = 20) -> StoreResult:
    """The global table's primary-region replica vs its secondary-region replica."""
    p, s = target.primary_region, target.secondary_region

    def side(r: str) -> DdbSide:
        return DdbSide(target.client("dynamodb", r, read_timeout=READ_TIMEOUT_S, attempts=3), target.regions[r].table, r)

    return compare_ddb(side(p), side(s), segments=segments, settle_s=settle_s, max_keys=max_keys)
