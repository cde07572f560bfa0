"""Benchmark: the DynamoDB and S3 consistency checks at scale (100 k items, 10 k objects), with planted diffs.

Run by hand against a lab of your own (``DRHARNESS_LAB_STATE`` selects it):

    .venv/bin/python benchmarks/consistency_scale.py --items 100000 --objects 10000

Why not through the lab's replicators (``consistency_aws.py`` does that): they copy ~30-40 items/s
under load, so 100 k items would take the better part of an hour before the check even starts.
Here the converged state is written directly: a table (and a versioned bucket) of its own in each
region, through the regions' gateways, the same items (objects) in both, then a few planted
differences the check must find exactly. Loading uses ``batch_write_item`` (25 items a call) from
a few threads per region; the labd and loader CPU used while loading says where that time goes.

The check runs in a child process (wall time, peak RSS from ``ru_maxrss``), and once more with
``tracemalloc`` on for the peak of Python heap it allocated (tracemalloc slows it, so its time is
not the figure). The bench tables and buckets are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from consistency_common import dump, machine, measure  # noqa: E402

CHECK = """
import json, sys, time, tracemalloc
from drharness.target import from_lab
from drharness.consistency.ddb import DdbSide, compare_ddb
from drharness.consistency.s3 import S3Side, compare_buckets
store, name_a, name_b, trace = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
t = from_lab()
p, s = t.primary_region, t.secondary_region
if trace:
    tracemalloc.start()
t0 = time.monotonic()
if store == "dynamodb":
    side = lambda r, n: DdbSide(t.client("dynamodb", r, read_timeout=120, attempts=3), n, r)
    r = compare_ddb(side(p, name_a), side(s, name_b), settle_s=1.0, max_keys=50)
else:
    side = lambda r, n: S3Side(t.client("s3", r, read_timeout=120, attempts=3), n, r)
    r = compare_buckets(side(p, name_a), side(s, name_b), settle_s=1.0, max_keys=50)
inside = time.monotonic() - t0
peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
print(json.dumps({"status": r.status, "compared": r.compared, "diffs": r.diffs, "keys": sorted(map(str, r.diff_keys)),
                  "seconds_inside": round(inside, 2), "tracemalloc_peak_mb": peak and round(peak, 1),
                  "classes": r.extra.get("classes")}))
"""


def _cpu(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except psutil.NoSuchProcess:
        return 0.0


class Loader:
    """Writes through the gateways; records wall time and the CPU labd and this process spent."""

    def __init__(self, t: Any, labd_pid: int) -> None:
        self.t = t
        self.labd_pid = labd_pid
        self.figures: dict[str, Any] = {}

    def timed(self, what: str, fn: Any, *args: Any) -> Any:
        me = psutil.Process()
        c0, l0, w0 = _cpu(self.labd_pid), sum(me.cpu_times()[:2]), time.monotonic()
        out = fn(*args)
        wall = time.monotonic() - w0
        self.figures[what] = {"wall_s": round(wall, 1), "labd_cpu_s": round(_cpu(self.labd_pid) - c0, 1),
                              "loader_cpu_s": round(sum(me.cpu_times()[:2]) - l0, 1)}
        print(f"{what}: {self.figures[what]}", file=sys.stderr, flush=True)
        return out


def item(i: int, run: str) -> dict[str, Any]:
    return {"pk": {"S": f"bench-{run}-{i:06d}"}, "n": {"N": str(i)},
            "doc": {"M": {"sku": {"S": f"sku-{i % 97}"}, "qty": {"N": str(i % 7)}, "note": {"S": "x" * 40}}}}


def load_table(t: Any, region: str, table: str, n: int, run: str, threads: int) -> None:
    ddb = t.client("dynamodb", region, read_timeout=120)

    def batch(start: int) -> None:
        req: dict[str, Any] = {table: [{"PutRequest": {"Item": item(i, run)}} for i in range(start, min(n, start + 25))]}
        while req:
            req = ddb.batch_write_item(RequestItems=req).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(batch, range(0, n, 25)))


def load_bucket(t: Any, region: str, bucket: str, n: int, threads: int) -> None:
    s3 = t.client("s3", region, read_timeout=120)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"bench/{i:06d}.json",
                                              Body=json.dumps({"i": i, "pad": "x" * 40}).encode()), range(n)))


def bench_ddb(t: Any, ld: Loader, n: int, threads: int, repeat: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    name = f"drh-bench-{run}"
    p, s = t.primary_region, t.secondary_region
    clients = {r: t.client("dynamodb", r, read_timeout=120) for r in (p, s)}
    for c in clients.values():
        c.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    out: dict[str, Any] = {"table": name, "items": n}
    try:
        for r in (p, s):
            ld.timed(f"dynamodb load {n} items into {r}", load_table, t, r, name, n, run, threads)
        # Planted: 2 changed in the secondary, 2 missing there, 1 only there.
        b = clients[s]
        changed = [item(7, run), item(n // 2, run)]
        for it in changed:
            b.put_item(TableName=name, Item={**it, "n": {"N": "-1"}})
        missing = [item(11, run)["pk"], item(n - 1, run)["pk"]]
        for k in missing:
            b.delete_item(TableName=name, Key={"pk": k})
        extra = {"pk": {"S": f"bench-{run}-extra"}, "n": {"N": "0"}}
        b.put_item(TableName=name, Item=extra)
        planted = sorted(x["pk"]["S"] for x in (*changed, *[{"pk": k} for k in missing], extra))
        out["planted"] = planted
        out["runs"] = _check_runs("dynamodb", name, name, planted, repeat, ld.labd_pid)
    finally:
        for c in clients.values():
            c.delete_table(TableName=name)
    return out


def bench_s3(t: Any, ld: Loader, n: int, threads: int, repeat: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    p, s = t.primary_region, t.secondary_region
    names = {r: f"drh-bench-{run}-{r}" for r in (p, s)}
    clients = {r: t.client("s3", r, read_timeout=120) for r in (p, s)}
    for r, c in clients.items():
        c.create_bucket(Bucket=names[r], **({} if r == "us-east-1" else
                                             {"CreateBucketConfiguration": {"LocationConstraint": r}}))
        c.put_bucket_versioning(Bucket=names[r], VersioningConfiguration={"Status": "Enabled"})
    out: dict[str, Any] = {"buckets": names, "objects": n}
    try:
        for r in (p, s):
            ld.timed(f"s3 load {n} objects into {r}", load_bucket, t, r, names[r], n, threads)
        b, bn = clients[s], names[s]
        # Planted: 2 overwritten in the secondary, 1 deleted there (delete marker), 1 only there.
        for i in (5, n // 2):
            b.put_object(Bucket=bn, Key=f"bench/{i:06d}.json", Body=b'{"changed": true}')
        b.delete_object(Bucket=bn, Key=f"bench/{n - 1:06d}.json")
        b.put_object(Bucket=bn, Key="bench/extra.json", Body=b"{}")
        planted = sorted([f"bench/{5:06d}.json", f"bench/{n // 2:06d}.json", f"bench/{n - 1:06d}.json",
                          "bench/extra.json"])
        out["planted"] = planted
        out["runs"] = _check_runs("s3", names[p], names[s], planted, repeat, ld.labd_pid)
    finally:
        for r, c in clients.items():
            _empty_and_delete(c, names[r])
    return out


def _empty_and_delete(c: Any, bucket: str) -> None:
    """List every version first, then delete (deleting while paging shifts the markers)."""
    try:
        objs = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for page in c.get_paginator("list_object_versions").paginate(Bucket=bucket)
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for i in range(0, len(objs), 1000):
            c.delete_objects(Bucket=bucket, Delete={"Objects": objs[i:i + 1000], "Quiet": True})
        c.delete_bucket(Bucket=bucket)
    except Exception as exc:  # noqa: BLE001 - the figures matter more than the clean-up
        print(f"warning: could not delete bench bucket {bucket}: {exc}", file=sys.stderr)


def _check_runs(store: str, a: str, b: str, planted: list[str], repeat: int, labd_pid: int) -> list[dict[str, Any]]:
    runs = []
    for i in range(repeat + 1):
        trace = i == repeat  # the last run only measures the Python heap peak
        c0 = _cpu(labd_pid)
        r = measure(f"{store} check", [sys.executable, "-c", CHECK, store, a, b, "1" if trace else "0"])
        labd_cpu = round(_cpu(labd_pid) - c0, 1)  # moto answering the scans/lists, in labd
        if r.returncode != 0:
            raise SystemExit(f"{store} check failed:\n{r.stderr[-2000:]}")
        doc = json.loads(r.stdout.strip().splitlines()[-1])
        runs.append({"try": i + 1, "tracemalloc": trace, "seconds": round(r.seconds, 2), "labd_cpu_s": labd_cpu,
                     "peak_rss_mb": round(r.peak_rss_mb, 1), "found_exactly_planted": doc["keys"] == planted, **doc})
        print(dump(runs[-1]), file=sys.stderr, flush=True)
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2, help="timed checks per store (plus one under tracemalloc)")
    ap.add_argument("--threads", type=int, default=4, help="loader threads per region")
    ap.add_argument("--json", default=None, help="also write the figures here")
    a = ap.parse_args()
    if a.items < 100 and a.items != 0 or a.objects < 10 and a.objects != 0:
        raise SystemExit("--items must be 0 or >= 100 and --objects 0 or >= 10 (the planted keys need room)")
    state = os.environ.get("DRHARNESS_LAB_STATE")
    if not state or not Path(state).is_file():
        raise SystemExit("set DRHARNESS_LAB_STATE to your own running lab's state file")
    from drharness.target import from_lab

    t = from_lab()
    ld = Loader(t, int(json.loads(Path(state).read_text())["pids"]["labd"]))
    doc: dict[str, Any] = {"machine": machine()}
    if a.items:
        doc["dynamodb"] = bench_ddb(t, ld, a.items, a.threads, a.repeat)
    if a.objects:
        doc["s3"] = bench_s3(t, ld, a.objects, a.threads, a.repeat)
    doc["load"] = ld.figures
    doc["loadavg_at_end"] = Path("/proc/loadavg").read_text().strip()
    print(dump(doc))
    if a.json:
        Path(a.json).write_text(dump(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
