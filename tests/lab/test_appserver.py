"""The regional app in its own process: keep-alive HTTP, pooled PostgreSQL, and every fault still felt.

Each guard has a planted fault it must catch: a fault or fence set in labd must reach the app
process before the call that set it returns, including on connections opened before it.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from pathlib import Path

import psycopg
import pytest

from drharness.lab.appserver import AppGate, NotifyingFaults
from drharness.lab.faults import RegionFault
from drharness.lab.httpserve import serve
from drharness.refapp.handler import ConnectionPool, OrdersApp

E, W = "us-east-1", "us-west-2"


# ---- units: no lab ------------------------------------------------------------------------------
def test_gate_carries_faults_and_fence_from_labd_to_the_app(tmp_path: Path) -> None:
    labd_side = AppGate(tmp_path / "g", create=True)
    app_side = AppGate(tmp_path / "g")
    assert not app_side.dropped() and not app_side.fenced() and app_side.fault().mode == "none"
    labd_side.publish(RegionFault(mode="latency", latency_ms=250, lambda_error=True, lambda_delay_ms=7), fenced=True)
    f = app_side.fault()
    assert (f.mode, f.latency_ms, f.lambda_error, f.lambda_delay_ms) == ("latency", 250, True, 7)
    assert app_side.fenced() and not app_side.dropped()
    labd_side.publish(RegionFault(data_plane_down=True), fenced=False)
    assert app_side.dropped() and not app_side.fenced()
    labd_side.publish(RegionFault(mode="unreachable"), fenced=False)
    assert app_side.dropped()
    app_side.report(5, 2)
    assert labd_side.app_block()[1:3] == (5, 2)


def test_fault_changes_notify_the_gates_synchronously() -> None:
    faults = NotifyingFaults((E, W))
    seen: list[bool] = []
    faults.listeners.append(lambda: seen.append(faults.data_plane_down(W)))
    faults.set(W, data_plane_down=True)
    faults.clear(W)
    assert seen == [True, False]


def _echo_app(environ: dict, start_response) -> list[bytes]:  # noqa: ANN001
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"port": environ["REMOTE_PORT"], "body": body.decode(),
                        "te": environ.get("HTTP_TRANSFER_ENCODING")}).encode()]


@pytest.fixture
def echo_server():  # noqa: ANN201
    down = threading.Event()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve("127.0.0.1", port, _echo_app, "echo", drop_gate=down.is_set)
    yield port, down
    server.shutdown()


def test_connections_are_kept_alive_and_bodies_framed(echo_server) -> None:  # noqa: ANN001
    port, _ = echo_server
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    answers = []
    for body in ("one", "two"):
        c.request("POST", "/x", body=body)
        r = c.getresponse()
        assert r.getheader("Connection") != "close"
        answers.append(json.loads(r.read()))
    # chunked request body, on the same connection
    c.request("POST", "/x", body=iter([b"thr", b"ee"]), encode_chunked=True)
    answers.append(json.loads(c.getresponse().read()))
    assert [a["body"] for a in answers] == ["one", "two", "three"]
    assert len({a["port"] for a in answers}) == 1, "one TCP connection for all three requests"
    assert answers[2]["te"] is None


def test_a_fault_resets_a_connection_opened_before_it(echo_server) -> None:  # noqa: ANN001
    port, down = echo_server
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/")
    c.getresponse().read()
    down.set()
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        c.request("GET", "/")
        c.getresponse().read()


@pytest.mark.lab
def test_pool_reuses_sessions_and_drops_a_broken_one(lab) -> None:  # noqa: ANN001
    dsn = lab.target.regions[E].pg_dsn
    pool = ConnectionPool(dsn, max_size=2)
    with pool.connection() as c1:
        pid1 = c1.execute("SELECT pg_backend_pid()").fetchone()[0]
    with pool.connection() as c2:
        assert c2.execute("SELECT pg_backend_pid()").fetchone()[0] == pid1
    with pytest.raises(psycopg.OperationalError), pool.connection() as c3:
        c3.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    with pool.connection() as c4:
        assert c4.execute("SELECT pg_backend_pid()").fetchone()[0] != pid1
    pool.close()


@pytest.mark.lab
def test_a_session_dropped_while_idle_is_replaced_not_reported(lab) -> None:  # noqa: ANN001
    """After a database restart every pooled session is dead; the next request must not fail for it."""
    dsn = lab.target.regions[E].pg_dsn
    app = OrdersApp({"REGION": E, "DB_DSN": dsn, "TABLE_NAME": "t", "BUCKET_PREFIX": "b"})
    pid = app._sql("SELECT pg_backend_pid()")[0][0]
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert app._sql("SELECT pg_backend_pid()")[0][0] != pid
    app.pool.close()


# ---- the lab's app process ----------------------------------------------------------------------


def _conn(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


@pytest.mark.lab
def test_app_runs_in_its_own_process(lab) -> None:  # noqa: ANN001
    apps = lab.status()["apps"]
    labd = lab.status()["pid"]
    for r in (E, W):
        assert apps[r]["alive"] and apps[r]["pid"] != labd
        ppid = int(Path(f"/proc/{apps[r]['pid']}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert ppid == labd


@pytest.mark.lab
def test_isolating_the_region_cuts_an_open_keep_alive_connection(clean_lab) -> None:  # noqa: ANN001
    c = _conn(clean_lab.target.regions[W].app_url)
    c.request("GET", "/health")
    assert c.getresponse().read()
    clean_lab.fault(W, data_plane_down=True)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        c.request("GET", "/health")
        c.getresponse().read()
    clean_lab.clear()
    c = _conn(clean_lab.target.regions[W].app_url)
    c.request("GET", "/health")
    assert c.getresponse().status == 200


@pytest.mark.lab
def test_fence_reaches_the_app_as_soon_as_the_call_returns(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    fn = t.regions[E].function
    c = _conn(t.regions[E].app_url)
    c.request("GET", "/health")
    assert c.getresponse().read()
    lam = t.client("lambda", E, attempts=1)
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    try:
        c.request("GET", "/health")  # same keep-alive connection, no waiting
        r = c.getresponse()
        r.read()
        assert r.status == 429
    finally:
        lam.delete_function_concurrency(FunctionName=fn)
    c.request("GET", "/health")
    r = c.getresponse()
    r.read()
    assert r.status == 200


@pytest.mark.lab
def test_app_errors_and_throttle_faults_still_apply(clean_lab) -> None:  # noqa: ANN001
    c = _conn(clean_lab.target.regions[W].app_url)
    for fault, status in (({"lambda_error": True}, 502), ({"mode": "throttle"}, 429), ({"mode": "error"}, 503)):
        clean_lab.fault(W, **fault)
        c.request("GET", "/health")
        r = c.getresponse()
        r.read()
        assert r.status == status, fault
        clean_lab.clear()
