"""Locust throughput per generator core against the lab's us-west-2 app, and where the bottleneck is.

Run by hand against a lab of your own (not the shared .drharness/ one):

    DRHARNESS_LAB_STATE=/tmp/locust-lab/lab.json .venv/bin/drharness lab up
    DRHARNESS_LAB_STATE=/tmp/locust-lab/lab.json .venv/bin/python benchmarks/locust_bench.py
    DRHARNESS_LAB_STATE=/tmp/locust-lab/lab.json .venv/bin/drharness lab down

What it measures, per (mix, region, users): requests/s, p50/p95 (Locust's stats CSV), and the CPU used
over the steady part of the run by the Locust process, the region's app process (API Gateway emulation +
the Lambda handler, its own process since issue #7), the lab daemon (region gateways + moto + replicators,
one Python process) and the PostgreSQL processes (psutil). Mixes: ``health`` (GET /health), ``read``
(GET /orders/<id>), ``read-heavy`` and ``write-heavy`` (see load_config.MIXES); write mixes run against
the writer region's app (us-east-1), since the us-west-2 replica refuses writes until promoted. ``rps / locust_cpu_cores`` is requests/s per
generator core: what one Locust core can drive when it is not waiting on the app. A stub HTTP server
(fixed answer, its own process) gives the generator's ceiling when the app is not the bottleneck.
Think time is 0 (each user sends its next request as soon as the answer arrives).

Prints a Markdown table (paste into benchmarks/RESULTS.md) and, with --json, the raw figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from drharness.target import Target, resolve_target  # noqa: E402
from drharness.workload.load import HeadlessRun, start_headless  # noqa: E402

STUB = textwrap.dedent('''
    import asyncio, sys
    BODY = b'{"id":"x","region":"us-west-2","stores":{"aurora":{},"dynamodb":{},"s3":{}}}'
    def answer(status):
        return (b"HTTP/1.1 " + status + b"\\r\\nContent-Type: application/json\\r\\nX-Region: us-west-2\\r\\n"
                b"Content-Length: " + str(len(BODY)).encode() + b"\\r\\n\\r\\n" + BODY)
    OK, CREATED = answer(b"200 OK"), answer(b"201 Created")
    async def handle(r, w):
        try:
            while True:
                head = await r.readuntil(b"\\r\\n\\r\\n")
                n = 0
                for line in head.split(b"\\r\\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                if n:
                    await r.readexactly(n)
                w.write(CREATED if head.startswith(b"POST") else OK)
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()
    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
        print("ready", flush=True)
        async with srv:
            await srv.serve_forever()
    asyncio.run(main())
''')


def lab_pids(state_file: Path) -> dict[str, int]:
    """The lab daemon and PostgreSQL postmasters of *this* lab, from its state file (read as JSON:
    benchmarks do not import the lab)."""
    pids = json.loads(state_file.read_text())["pids"]
    return {k: int(v) for k, v in pids.items() if v}


def cpu_seconds(pid: int, children: bool) -> float:
    if pid <= 0:
        return 0.0
    try:
        p = psutil.Process(pid)
        procs = [p, *(p.children(recursive=True) if children else [])]
        total = 0.0
        for q in procs:
            try:
                t = q.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


def pg_cpu(pids: dict[str, int]) -> float:
    return sum(cpu_seconds(pid, children=True) for name, pid in pids.items() if name.startswith("postgres"))


def app_pids(state_file: Path) -> dict[str, int]:
    """The regional app processes (children of labd), from the lab's control API."""
    import urllib.request

    url = json.loads(state_file.read_text())["control_url"] + "/status"
    with urllib.request.urlopen(url, timeout=10) as r:
        apps = json.loads(r.read()).get("apps", {})
    return {f"app-{r}": int(a["pid"]) for r, a in apps.items() if a.get("pid")}


def measure(target: Target, mix: str, users: int, seconds: float, warmup: float, pids: dict[str, int],
            history: Path | None = None, extra_env: dict[str, str] | None = None,
            region: str = "us-west-2", state_file: Path | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="locust-bench-"))
    run: HeadlessRun = start_headless(target, users=users, spawn_rate=max(1, users), seconds=seconds,
                                      csv_prefix=tmp / "b", mix=mix, think_time_s=(0.0, 0.0),
                                      history_path=history, extra_env=extra_env, host_region=region)

    def sample() -> dict[str, float]:
        return {"locust": cpu_seconds(run.master.pid, True), "app": cpu_seconds(pids.get(f"app-{region}", 0), False),
                "labd": cpu_seconds(pids.get("labd", 0), False), "postgres": pg_cpu(pids),
                "stub": cpu_seconds(pids.get("stub", 0), False)}

    # The steady window starts once the app has started serving (on a loaded machine Locust's
    # imports alone can take seconds) plus the warm-up, and ends a second early. Requests in the
    # window are counted by the app itself; against the stub, Locust's own average is used.
    started = time.monotonic()
    first = app_requests(state_file, region)
    while first is not None and time.monotonic() - started < seconds / 2 \
            and (app_requests(state_file, region) or 0) <= first:
        time.sleep(0.2)
    time.sleep(warmup)
    t0 = time.monotonic()
    c0, n0 = sample(), app_requests(state_file, region)
    time.sleep(max(1.0, seconds - (t0 - started) - 1.5))
    dt = time.monotonic() - t0
    c1, n1 = sample(), app_requests(state_file, region)
    res = run.wait()
    cores = {k: round((c1[k] - c0[k]) / dt, 3) for k in c0}
    steady_rps = round((n1 - n0) / dt, 1) if n0 is not None and n1 is not None else round(res.rps, 1)
    return {
        "mix": mix, "region": region, "users": users, "seconds": seconds, "rps": round(res.rps, 1),
        "p50_ms": res.p50_ms,
        "p95_ms": res.p95_ms, "requests": res.requests, "failures": res.failures,
        "cpu_cores": cores,
        "steady_rps": steady_rps, "steady_window_s": round(dt, 1),
        "rps_per_locust_core": round((steady_rps or 0) / cores["locust"], 1) if cores["locust"] > 0.01 else None,
        "history": history is not None,
    }


def app_requests(state_file: Path | None, region: str) -> int | None:
    """Requests the region's app has served so far: its own counter, read straight from its gate
    file (``lab/appserver.py``: pid, requests, errors, heartbeat at offset 64), not through labd's
    control API, which answers late exactly when labd is busiest."""
    if state_file is None:
        return None
    try:
        gate = Path(json.loads(state_file.read_text())["pg"]["base"]) / f"app-{region}.gate"
        return int(struct.unpack_from("<QQQQ", gate.read_bytes(), 64)[1])
    except (OSError, KeyError, ValueError, struct.error):
        return None


def machine() -> dict[str, Any]:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": model, "free_h": free, "python": platform.python_version(),
            "loadavg_at_start": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--users", default="1,10,30", help="comma-separated user counts")
    ap.add_argument("--mixes", default="health,read,read-heavy,write-heavy",
                    help="comma-separated mixes (write mixes go to the writer region's app)")
    ap.add_argument("--stub-users", default="10,30")
    ap.add_argument("--only", choices=("all", "lab", "stub"), default="all")
    ap.add_argument("--json", default=None, help="also write the raw figures here")
    a = ap.parse_args()
    state = os.environ.get("DRHARNESS_LAB_STATE")
    if not state:
        sys.exit("set DRHARNESS_LAB_STATE to your own lab's state file (see the module docstring)")
    target = resolve_target("local")
    pids = {**lab_pids(Path(state)), **app_pids(Path(state))}
    info = machine()
    rows: list[dict[str, Any]] = []
    hist_dir = Path(tempfile.mkdtemp(prefix="locust-bench-h-"))
    if a.only in ("all", "lab"):
        u = max(int(x) for x in a.users.split(","))
        w = target.secondary_region
        # Write mixes last: the replicators then spend labd's CPU copying what they wrote for minutes.
        rows.append({"target": f"lab {w}", **measure(target, "health", u, a.seconds, a.warmup, pids,
                                                     history=hist_dir / "lab.jsonl", state_file=Path(state))})
        print(json.dumps(rows[-1]), flush=True)
        for mix in sorted(a.mixes.split(","), key=lambda m: m.startswith("write")):
            region = target.primary_region if mix.startswith("write") else target.secondary_region
            for u in (int(x) for x in a.users.split(",")):
                rows.append({"target": f"lab {region}", **measure(target, mix, u, a.seconds, a.warmup, pids,
                                                                  region=region, state_file=Path(state))})
                print(json.dumps(rows[-1]), flush=True)
    if a.only == "lab":
        return _print(rows, info, a.json)

    # Generator ceiling: a stub that answers at once, in its own process.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None and stub.stdout.readline().strip() == "ready"
        w = target.secondary_region
        stub_target = dataclasses.replace(target, regions={
            **target.regions, w: dataclasses.replace(target.regions[w], app_url=f"http://127.0.0.1:{port}")})
        stub_users = [int(x) for x in a.stub_users.split(",")]
        runs = [(u, None) for u in stub_users] + [(max(stub_users), hist_dir / "stub.jsonl")]
        for u, hist in runs:
            rows.append({"target": "stub", **measure(stub_target, "health", u, a.seconds, a.warmup,
                                                     {"stub": stub.pid}, history=hist,
                                                     extra_env={"DRHARNESS_LOAD_SEED": "0"})})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        stub.terminate()
        stub.wait(timeout=5)
    return _print(rows, info, a.json)


def _print(rows: list[dict[str, Any]], info: dict[str, Any], json_path: str | None) -> int:
    info["loadavg_at_end"] = os.getloadavg()
    print("\n| target | mix | users | history | req/s (steady) | p50 ms | p95 ms | failures | CPU locust | CPU app | "
          "CPU labd | CPU postgres | CPU stub | req/s per locust core |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c = r["cpu_cores"]
        print(f"| {r['target']} | {r['mix']} | {r['users']} | {'on' if r['history'] else 'off'} | {r['steady_rps']} | "
              f"{r['p50_ms']} | {r['p95_ms']} | {r['failures']} | {c['locust']:.2f} | {c['app']:.2f} | "
              f"{c['labd']:.2f} | {c['postgres']:.2f} | {c['stub']:.2f} | {r['rps_per_locust_core']} |")
    print("\n" + json.dumps(info, indent=1))
    if json_path:
        Path(json_path).write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
