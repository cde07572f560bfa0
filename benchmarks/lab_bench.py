"""Lab benchmarks (run by hand; results go to benchmarks/RESULTS.md with machine and date).

- `lab up` seconds (goal < 10 s on 2 cores), over N cold starts
- idle replication lag p50/p99 for PostgreSQL (heartbeat), DynamoDB and S3 (marker write -> visible)
- orchestrator overhead per step and RTO/floor ratio over a few region-outage drills

Usage: .venv/bin/python benchmarks/lab_bench.py [--ups 3] [--lag-seconds 30] [--drills 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))], 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ups", type=int, default=3)
    ap.add_argument("--lag-seconds", type=float, default=30)
    ap.add_argument("--drills", type=int, default=3)
    a = ap.parse_args()
    os.environ["DRHARNESS_LAB_STATE"] = str(Path(tempfile.mkdtemp(prefix="drh-bench-")) / "lab.json")
    from drharness.lab.manager import control, lab_down, lab_up
    from drharness.target import from_lab

    ups = []
    for _ in range(a.ups):
        t0 = time.perf_counter()
        lab_up("fast")
        ups.append(time.perf_counter() - t0)
        lab_down()
    st = lab_up("fast")
    t = from_lab()
    ddb_ms, s3_ms = [], []
    end = time.time() + a.lag_seconds
    e, w = t.primary_region, t.secondary_region
    ddb_e, ddb_w = t.client("dynamodb", e), t.client("dynamodb", w)
    s3_e, s3_w = t.client("s3", e), t.client("s3", w)
    i = 0
    while time.time() < end:
        i += 1
        key = {"pk": {"S": f"bench-{i}"}}
        t0 = time.perf_counter()
        ddb_e.put_item(TableName=t.regions[e].table, Item=key)
        while not ddb_w.get_item(TableName=t.regions[w].table, Key=key).get("Item"):
            time.sleep(0.002)
        ddb_ms.append((time.perf_counter() - t0) * 1000)
        k = f"bench/{i}"
        t0 = time.perf_counter()
        s3_e.put_object(Bucket=t.regions[e].bucket, Key=k, Body=b"x")
        while True:
            try:
                s3_w.head_object(Bucket=t.regions[w].bucket, Key=k)
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.002)
        s3_ms.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.3)
    status = control(st.control_url, "/status")
    pg = status["replication_lag_ms"]["aurora"]
    drills = []
    if a.drills:
        from drharness.drill import Drill, DrillConfig

        for n in range(a.drills):
            control(st.control_url, "/reset", {"timeout": 60})
            r = Drill(t, DrillConfig(report_dir=Path(tempfile.mkdtemp(prefix=f"drh-drill-{n}-")))).run()
            steps = {s["name"]: s["seconds"] for run in r["orchestrator"] if run["kind"] == "failover"
                     for s in run["steps"]}
            drills.append({"verdict": r["verdict"], "rto_s": r["rto"]["seconds"],
                           "floor_s": r["rto"]["floor_seconds"], "ratio": r["rto"].get("ratio"),
                           "failback_s": (r["failback"] or {}).get("seconds"), "steps": steps})
    lab_down()
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "lab_up_s": {"runs": [round(x, 2) for x in ups], "median": round(statistics.median(ups), 2)},
        "idle_lag_ms": {"aurora_heartbeat": pg,
                        "dynamodb": {"n": len(ddb_ms), "p50": pct(ddb_ms, 50), "p99": pct(ddb_ms, 99)},
                        "s3": {"n": len(s3_ms), "p50": pct(s3_ms, 50), "p99": pct(s3_ms, 99)}},
        "drills": drills,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
