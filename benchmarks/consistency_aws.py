"""Benchmark: DynamoDB and S3 consistency checks against the lab (moto behind the region gateways).

Run by hand against a running lab (``DRHARNESS_LAB_STATE`` selects it):

    .venv/bin/python benchmarks/consistency_aws.py --items 10000 --objects 1000
    .venv/bin/python benchmarks/consistency_aws.py --items 1 --objects 0 --no-load  # bench what is there

Loads items/objects into the primary region, waits for the lab's replicators to copy them, then
times the check in its own process (time + peak RSS): once consistent, once with 3 planted
differences (replication paused, 3 writes). moto is one single-threaded Python server, so these
figures measure moto as much as the checker; on AWS the scan is bounded by read capacity instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from consistency_common import dump, machine, measure  # noqa: E402

CHECK = """
import json, sys
from drharness.target import from_lab
from drharness.consistency import check_dynamodb, check_s3
store, settle = sys.argv[1], float(sys.argv[2])
fn = check_dynamodb if store == "dynamodb" else check_s3
r = fn(from_lab(), settle_s=settle)
print(json.dumps({"status": r.status, "compared": r.compared, "diffs": r.diffs, "keys": r.diff_keys,
                  "seconds_inside": r.extra.get("seconds")}))
"""


def _control(path: str, body: dict[str, Any]) -> Any:
    from drharness.lab.manager import control
    from drharness.lab.state import read_state, state_path

    return control(read_state(state_path()).control_url, path, body)


def load_items(t: Any, n: int) -> float:
    p = t.primary_region
    ddb = t.client("dynamodb", p, read_timeout=60)
    table = t.regions[p].table
    run = uuid.uuid4().hex[:6]

    def batch(start: int) -> None:
        reqs = [{"PutRequest": {"Item": {"pk": {"S": f"bench-{run}-{i}"}, "n": {"N": str(i)},
                                         "doc": {"M": {"sku": {"S": f"sku-{i % 97}"}, "qty": {"N": str(i % 7)}}}}}}
                for i in range(start, min(n, start + 25))]
        req: dict[str, Any] = {table: reqs}
        while req:
            req = ddb.batch_write_item(RequestItems=req).get("UnprocessedItems") or {}

    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(batch, range(0, n, 25)))
    return time.monotonic() - t0


def load_objects(t: Any, n: int) -> float:
    p = t.primary_region
    s3 = t.client("s3", p, read_timeout=60)
    bucket = t.regions[p].bucket
    run = uuid.uuid4().hex[:6]
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"bench/{run}/{i}.json",
                                              Body=json.dumps({"i": i}).encode()), range(n)))
    return time.monotonic() - t0


def wait_consistent(store: str, timeout_s: float) -> float:
    from drharness.consistency import check_dynamodb, check_s3
    from drharness.target import from_lab

    fn = check_dynamodb if store == "dynamodb" else check_s3
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if fn(from_lab(), settle_s=0).ok:
            return time.monotonic() - t0
        time.sleep(2)
    raise SystemExit(f"{store} did not converge within {timeout_s} s")


def bench(store: str, t: Any, repeat: int) -> list[dict[str, Any]]:
    py = sys.executable
    out: list[dict[str, Any]] = []
    for i in range(repeat):
        r = measure(f"{store} consistent", [py, "-c", CHECK, store, "5"])
        out.append({"case": f"{store} consistent", "try": i + 1, "seconds": round(r.seconds, 2),
                    "peak_rss_mb": round(r.peak_rss_mb, 1), **json.loads(r.stdout.strip().splitlines()[-1])})
        print(dump(out[-1]), file=sys.stderr)
    p = t.primary_region
    kind, name = ("dynamodb", t.regions[p].table) if store == "dynamodb" else ("s3", t.regions[p].bucket)
    _control("/pause", {"kind": kind, "name": name, "paused": True})
    try:
        planted = [f"planted-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
        for k in planted:
            if store == "dynamodb":
                t.client("dynamodb", p).put_item(TableName=name, Item={"pk": {"S": k}})
            else:
                t.client("s3", p).put_object(Bucket=name, Key=k, Body=b"x")
        r = measure(f"{store} 3 planted", [py, "-c", CHECK, store, "1"])
        doc = json.loads(r.stdout.strip().splitlines()[-1])
        out.append({"case": f"{store} 3 planted (settle 1 s)", "seconds": round(r.seconds, 2),
                    "peak_rss_mb": round(r.peak_rss_mb, 1), "found_planted": sorted(doc["keys"]) == sorted(planted),
                    **doc})
        print(dump(out[-1]), file=sys.stderr)
    finally:
        _control("/pause", {"kind": kind, "name": name, "paused": False})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--objects", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--converge-timeout", type=float, default=1800)
    ap.add_argument("--no-load", action="store_true",
                    help="load nothing: bench the stores as they are (e.g. after an earlier load)")
    a = ap.parse_args()
    from drharness.target import from_lab

    t = from_lab()
    doc: dict[str, Any] = {"machine": machine(), "items": a.items, "objects": a.objects, "runs": []}
    if a.items:
        if not a.no_load:
            doc["dynamodb_load_s"] = round(load_items(t, a.items), 1)
        doc["dynamodb_replicated_after_s"] = round(wait_consistent("dynamodb", a.converge_timeout), 1)
        doc["runs"] += bench("dynamodb", t, a.repeat)
    if a.objects:
        if not a.no_load:
            doc["s3_load_s"] = round(load_objects(t, a.objects), 1)
        doc["s3_replicated_after_s"] = round(wait_consistent("s3", a.converge_timeout), 1)
        doc["runs"] += bench("s3", t, a.repeat)
    print(dump(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
