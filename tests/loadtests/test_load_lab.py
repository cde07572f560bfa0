"""Locust against the local lab: headless runs, history ops, DNS pinning, distributed mode, the UI.

Short runs (4-7 s, a few users). Each test stands alone (no shared module fixture): under xdist
the tests of a module may land on different workers, each with its own lab.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from drharness.checkers import rpo
from drharness.history import History, load_history, pair_ops
from drharness.workload import load

pytestmark = pytest.mark.lab

E, W = "us-east-1", "us-west-2"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ------------------------------------------------------------------------------------------ regional


def test_regional_run_reports_stats_and_serving_region_and_every_request_is_an_op(
        lab: Any, tmp_path: Path) -> None:
    # HTTP and SQL users side by side: both protocols' clients fire the same request event
    a = load.run_headless(lab.target, users=4, spawn_rate=4, seconds=4, history_path=tmp_path / "a.jsonl",
                          csv_prefix=tmp_path / "a", html_path=tmp_path / "a.html",
                          user_classes=["RegionalReadHeavy", "RegionalPostgresReader"])
    assert a.requests > 0 and a.rps > 0 and a.p50_ms is not None and a.p95_ms is not None
    assert a.per_region == {W: a.requests}  # every answer said X-Region: us-west-2
    assert a.pinned_after_flip == 0
    assert Path(a.stats_csv or "").is_file() and Path(a.html or "").read_text().lstrip().startswith("<")
    assert "GET /orders/[id]" in a.per_name and a.per_name["SQL select order"]["failures"] == 0
    assert a.report() == {"rps": round(a.rps, 2), "p95_ms": a.p95_ms}

    ops = [op for op in pair_ops(load_history(tmp_path / "a.jsonl")) if op.role == "load"]
    reads = [op for op in ops if op.f == "read" and op.invoke is not None]
    assert reads and all(op.region == W for op in reads if op.completion is not None)
    done = [op for op in reads if op.type == "ok"]
    assert done and all(op.value["status"] == 200 and op.value["latency_ms"] >= 0 for op in done)
    # writes to the read replica are refused: logged 'fail' (certainly not done), never 'ok'
    writes = [op for op in ops if op.f == "write" and "seed" not in op.process and op.completion is not None]
    assert all(op.type == "fail" and op.value["status"] == 503 for op in writes)
    completed = sum(1 for op in ops if op.completion is not None and "seed" not in op.process)
    assert completed == a.requests  # Locust's count and the history agree


def test_canary_role_writes_are_counted_by_the_rpo_checker(lab: Any, tmp_path: Path) -> None:
    """A write-heavy run on the writer region, inside a drill (start, writes, verifier read-back,
    end): with write_role="canary" the RPO checker counts the load's acknowledged writes."""
    t = lab.target
    path = tmp_path / "b.jsonl"
    with History(path) as h:
        drill = h.drill_start({"scenario": "load-unit"})
        b = load.run_headless(t, users=3, spawn_rate=3, seconds=4, history_path=path, csv_prefix=tmp_path / "b",
                              host_region=E, mix="write-heavy", write_role="canary")
        read = h.invoke("verifier:aurora", "read-all", {"store": "aurora", "region": E})
        with t.pg(E) as c:
            keys = [r[0] for r in c.execute("SELECT id FROM orders WHERE id LIKE 'load-%'").fetchall()]
        h.complete(read, "ok", {"store": "aurora", "region": E, "keys": keys})
        h.drill_end(drill)

    assert b.requests > 0 and b.per_region == {E: b.requests}
    history = load_history(path)
    writes = [op for op in pair_ops(history) if op.process.startswith("canary:load-") and op.f == "write"]
    acked = [op for op in writes if op.type == "ok"]
    assert not [op for op in writes if op.type == "fail"]  # the writer region refused nothing
    assert acked and all(op.invoke_value["store"] == "aurora" and op.invoke_value["key"].startswith("load-")
                         for op in acked)
    res = rpo.check(history, {"stores": ["aurora"], "zero_loss": True})
    assert res.valid is True, res.detail
    assert res.figures["per_store"]["aurora"]["acknowledged"] == len(acked)
    assert res.figures["lost"] == 0


# ------------------------------------------------------------------------------------------ failover


def test_failover_dns_keepalive_stays_pinned_and_fresh_connections_follow_the_flip(
        clean_lab: Any, tmp_path: Path) -> None:
    """The DNS flip is driven by us-east-1's health check failing (its app answers 503 but still
    accepts connections): keep-alive clients stay on us-east-1, per-TTL clients move to us-west-2."""
    t = clean_lab.target
    runs = {}
    for name, keepalive in (("pinned", True), ("fresh", False)):
        runs[name] = load.start_headless(
            t, users=3, spawn_rate=3, seconds=7, mode="failover-dns", keepalive=keepalive,
            history_path=tmp_path / f"{name}.jsonl", csv_prefix=tmp_path / name)

    def served_by_east() -> bool:
        paths = [tmp_path / f"{n}.jsonl" for n in runs]
        return all(p.exists() and '"type":"ok","f":"read"' in p.read_text() for p in paths)

    _wait(served_by_east, 15, "both runs to be served by us-east-1")
    clean_lab.fault(E, mode="error")
    pinned, fresh = runs["pinned"].wait(), runs["fresh"].wait()

    assert pinned.flip_t is not None and fresh.flip_t is not None  # both saw the answer change
    assert pinned.pinned_after_flip > 0 and pinned.pinned_users == 3
    assert set(pinned.per_region) == {E}  # never left us-east-1
    assert fresh.pinned_after_flip == 0 and fresh.per_region.get(W, 0) > 0

    ttl = t.dns.ttl
    p = load.error_rate_after_flip(tmp_path / "pinned.jsonl", grace_s=ttl)
    f = load.error_rate_after_flip(tmp_path / "fresh.jsonl", grace_s=ttl)
    assert (p.old_region, p.new_region, f.new_region) == (E, W, W)
    assert p.requests > 0 and p.error_rate == 1.0 and p.old_region_after == p.requests
    # pinned is judged at send time: a request sent just before its user's TTL refresh may complete
    # after the cut, at most one per user
    assert p.requests - 3 <= p.pinned <= p.requests
    assert f.requests > 0 and f.old_region_after == 0 and f.error_rate is not None and f.error_rate < 0.5
    assert f.before["requests"] > 0  # (before = until the flip, so it includes the fault→flip window)


# --------------------------------------------------------------------------------------- distributed


def test_distributed_master_and_two_workers_on_loopback_with_a_drill_shape(lab: Any, tmp_path: Path) -> None:
    res = load.run_headless(lab.target, users=4, spawn_rate=4, seconds=5, shape="drill", workers=2,
                            shape_params={"warmup_s": 1, "surge_at_s": 2, "surge_s": 2, "surge_users": 6},
                            history_path=tmp_path / "h.jsonl", csv_prefix=tmp_path / "d", mix="health")
    assert res.workers == 2 and res.shape == "drill" and res.users == 6
    assert res.requests > 0 and res.per_region == {W: res.requests} and res.failures == 0
    log = Path(res.log_file or "").read_text()
    assert "2 workers connected" in log
    procs = {op.process for op in pair_ops(load_history(tmp_path / "h.jsonl")) if op.f == "read"}
    assert any("w0-" in p for p in procs) and any("w1-" in p for p in procs)  # both workers sent load
    rows = [r.split(",") for r in (tmp_path / "d_stats_history.csv").read_text().splitlines()[1:]]
    users = [int(r[1]) for r in rows if r[3] == "Aggregated"]  # Timestamp,User Count,Type,Name,...
    assert max(users) == 6  # the surge reached the workers


# ------------------------------------------------------------------------------------------------ UI


def _get(url: str, opener: urllib.request.OpenerDirector | None = None) -> tuple[int, str, str]:
    op = opener or urllib.request.build_opener()
    with op.open(url, timeout=5) as r:
        return r.status, r.geturl(), r.read().decode()


def _post(url: str, form: dict[str, Any], opener: urllib.request.OpenerDirector | None = None) -> tuple[int, str]:
    op = opener or urllib.request.build_opener()
    data = urllib.parse.urlencode(form, doseq=True).encode()
    with op.open(urllib.request.Request(url, data=data, method="POST"), timeout=5) as r:
        return r.status, r.read().decode()


def test_ui_with_web_login_refuses_until_logged_in(lab: Any, tmp_path: Path) -> None:
    with load.start_ui(lab.target, port=_free_port(), web_login=True, ui_password="correct horse",
                       log_path=tmp_path / "ui.log").wait_ready() as ui:
        _, landed, _ = _get(ui.url + "/stats/requests")
        assert "/login" in landed  # redirected to the login page, no stats
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        _post(ui.url + "/login_submit", {"username": "drharness", "password": "wrong"}, opener)
        assert "/login" in _get(ui.url + "/stats/requests", opener)[1]
        _post(ui.url + "/login_submit", {"username": "drharness", "password": "correct horse"}, opener)
        status, landed, body = _get(ui.url + "/stats/requests", opener)
        assert status == 200 and landed.endswith("/stats/requests") and "stats" in json.loads(body)


def test_load_ui_command_serves_the_ui_runs_a_swarm_and_stops_on_sigterm(lab: Any) -> None:
    """What ``make load-ui`` runs once the lab is up: the UI answers, a run started through its HTTP
    API (POST /swarm) produces stats (GET /stats/requests), and SIGTERM stops it and its Locust."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "drharness.workload.load", "ui", "--port", str(port),
                             "--max-seconds", "60"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"Locust UI: {url}" in line and W in line, proc.stderr.read() if proc.stderr else ""
        status, _, page = _get(url + "/")
        assert status == 200 and "locust" in page.lower()
        host = lab.target.regions[W].app_url
        status, body = _post(url + "/swarm", {"user_count": 3, "spawn_rate": 3, "host": host})
        assert status == 200 and json.loads(body)["success"] is True

        def served() -> dict[str, Any] | None:
            stats = json.loads(_get(url + "/stats/requests")[2])
            total = next(s for s in stats["stats"] if s["name"] == "Aggregated")
            return stats if total["num_requests"] > 0 else None

        stats = _wait(served, 15, "requests in /stats/requests")
        assert stats["user_count"] == 3 and stats["state"] in ("running", "spawning")
        assert _post(url + "/stop", {})[0] == 200

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        with pytest.raises(urllib.error.URLError):
            _get(url + "/")  # the Locust child is gone too
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
