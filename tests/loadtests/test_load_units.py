"""Load settings, shapes, outcome classification, stats parsing and the after-flip helper.

Pure tests: no lab, no Locust import (importing Locust would gevent-patch the pytest process).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from drharness.errors import BadInput
from drharness.history import MemoryHistory
from drharness.target import Target
from drharness.workload import load
from drharness.workload.load_config import (
    DnsUnavailable,
    LoadSettings,
    ShapeParams,
    classify,
    target_from_json,
    target_to_json,
)

E, W = "us-east-1", "us-west-2"


# ------------------------------------------------------------------------------------------- shapes


def test_steady_shape_holds_users_then_stops() -> None:
    s = ShapeParams.build("steady", users=5, seconds=10, spawn_rate=2)
    assert s.tick(0) == (5, 2.0) and s.tick(9.9) == (5, 2.0)
    assert s.tick(10) is None


def test_ramp_shape_is_linear_to_peak_then_holds() -> None:
    s = ShapeParams.build("ramp", users=100, seconds=20, ramp_s=10, start_users=10)
    assert [s.users_at(t) for t in (0, 5, 10, 19)] == [10, 55, 100, 100]
    assert s.users_at(20) is None


def test_drill_shape_warms_up_surges_and_stops() -> None:
    s = ShapeParams.build("drill", users=10, seconds=30, warmup_s=5, surge_at_s=12, surge_s=3, surge_users=40)
    assert s.users_at(0) == 1 and s.users_at(2.5) == 5
    assert s.users_at(11.9) == 10 and s.users_at(12) == 40 and s.users_at(14.9) == 40 and s.users_at(15) == 10
    assert s.users_at(30) is None and s.peak_users == 40


def test_shape_env_round_trip() -> None:
    s = ShapeParams.build("drill", users=3, seconds=8, warmup_s=1, surge_at_s=2, surge_s=1, surge_users=6)
    assert ShapeParams.from_env(s.to_env()) == s


@pytest.mark.parametrize(("env", "needle"), [
    ({"DRHARNESS_SHAPE": "sawtooth"}, "not a known shape"),
    ({"DRHARNESS_SHAPE": "steady", "DRHARNESS_SHAPE_USERS": "0"}, "DRHARNESS_SHAPE_USERS"),
    ({"DRHARNESS_SHAPE": "steady", "DRHARNESS_SHAPE_USERS": "ten"}, "DRHARNESS_SHAPE_USERS"),
    ({"DRHARNESS_SHAPE": "steady", "DRHARNESS_SHAPE_SECONDS": "-5"}, "DRHARNESS_SHAPE_SECONDS"),
    ({"DRHARNESS_SHAPE": "steady", "DRHARNESS_SHAPE_SECONDS": "inf"}, "DRHARNESS_SHAPE_SECONDS"),
    ({"DRHARNESS_SHAPE": "steady", "DRHARNESS_SHAPE_SPAWN_RATE": "0"}, "DRHARNESS_SHAPE_SPAWN_RATE"),
    ({"DRHARNESS_SHAPE": "steady", "DRHARNESS_SHAPE_RAMP_S": "5"}, "does not apply to shape 'steady'"),
    ({"DRHARNESS_SHAPE": "ramp", "DRHARNESS_SHAPE_SECONDS": "10", "DRHARNESS_SHAPE_RAMP_S": "20"}, "RAMP_S"),
    ({"DRHARNESS_SHAPE": "ramp", "DRHARNESS_SHAPE_USERS": "5", "DRHARNESS_SHAPE_START_USERS": "9"}, "START_USERS"),
    ({"DRHARNESS_SHAPE": "drill", "DRHARNESS_SHAPE_SECONDS": "10", "DRHARNESS_SHAPE_SURGE_AT_S": "8",
      "DRHARNESS_SHAPE_SURGE_S": "5"}, "SURGE_S"),
    ({"DRHARNESS_SHAPE": "drill", "DRHARNESS_SHAPE_SURGE_S": "5"}, "SURGE_AT_S"),
    ({"DRHARNESS_SHAPE": "drill", "DRHARNESS_SHAPE_SURGE_USERS": "5"}, "SURGE_AT_S"),
    ({"DRHARNESS_SHAPE_USERS": "5"}, "DRHARNESS_SHAPE is not"),
    ({"DRHARNESS_SHAPE": "steady", "DRHARNESS_SHAPE_USER": "5"}, "unknown setting"),
])
def test_invalid_shape_parameters_are_refused_naming_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(BadInput, match=needle):
        ShapeParams.from_env(env)


def test_no_shape_means_plain_users_and_run_time() -> None:
    assert ShapeParams.from_env({}) is None


def test_shape_build_refuses_parameters_of_another_shape() -> None:
    with pytest.raises(BadInput, match="takes no parameter"):
        ShapeParams.build("steady", users=1, seconds=5, ramp_s=2)


# ----------------------------------------------------------------------------------------- settings


def test_settings_defaults_and_parsing() -> None:
    s = LoadSettings.from_env({})
    assert (s.region, s.mode, s.keepalive, s.write_role, s.history) == (W, "regional", True, "load", None)
    s = LoadSettings.from_env({"DRHARNESS_LOAD_KEEPALIVE": "0", "DRHARNESS_LOAD_WAIT": "0,0",
                               "DRHARNESS_LOAD_WRITE_ROLE": "canary", "DRHARNESS_LOAD_HISTORY": "/tmp/h.jsonl"})
    assert (s.keepalive, s.wait, s.write_role, s.history) == (False, (0.0, 0.0), "canary", Path("/tmp/h.jsonl"))


@pytest.mark.parametrize(("env", "needle"), [
    ({"DRHARNESS_LOAD_KEEPALIVE": "maybe"}, "DRHARNESS_LOAD_KEEPALIVE"),
    ({"DRHARNESS_LOAD_WRITE_ROLE": "prober"}, "DRHARNESS_LOAD_WRITE_ROLE"),
    ({"DRHARNESS_LOAD_MIX": "mostly-reads"}, "DRHARNESS_LOAD_MIX"),
    ({"DRHARNESS_LOAD_WAIT": "2,1"}, "DRHARNESS_LOAD_WAIT"),
    ({"DRHARNESS_LOAD_TIMEOUT_S": "0"}, "DRHARNESS_LOAD_TIMEOUT_S"),
    ({"DRHARNESS_LOAD_MODE": "edge"}, "DRHARNESS_LOAD_MODE"),
    ({"DRHARNESS_LOAD_KEEP_ALIVE": "1"}, "unknown setting"),
])
def test_invalid_load_settings_are_refused(env: dict[str, str], needle: str) -> None:
    with pytest.raises(BadInput, match=needle):
        LoadSettings.from_env(env)


def test_target_serialisation_round_trips_without_credentials(fake_target: Callable[..., Target]) -> None:
    t = fake_target()
    t.credentials = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}
    text = target_to_json(t)
    assert '"s"' not in text
    back = target_from_json(text)
    assert back.regions[W].app_url == t.regions[W].app_url and back.dns == t.dns and back.credentials is None
    with pytest.raises(BadInput, match="not a serialised"):
        target_from_json('{"regions": 1}')


# ----------------------------------------------------------------------------------------- outcomes


@pytest.mark.parametrize(("f", "status", "exc", "body", "want"), [
    ("write", 201, None, None, "ok"),
    ("read", 200, None, None, "ok"),
    ("read", 404, None, None, "fail"),
    ("read", 503, None, None, "fail"),
    ("write", 429, None, None, "fail"),
    ("write", 503, None, {"stores": {"aurora": "error: ReadOnlySqlTransaction"}}, "fail"),
    ("write", 503, None, {"stores": {"aurora": "ok", "dynamodb": "error: x"}}, "info"),  # Aurora committed
    ("write", 502, None, {"message": "Internal server error"}, "info"),
    ("write", None, ConnectionRefusedError(errno.ECONNREFUSED, "refused"), None, "fail"),
    ("write", None, DnsUnavailable("cannot resolve"), None, "fail"),
    ("write", None, ConnectionResetError(errno.ECONNRESET, "reset"), None, "info"),
    ("write", None, TimeoutError("timed out"), None, "info"),
])
def test_outcomes_claim_failure_only_when_certain(f: str, status: int | None, exc: BaseException | None,
                                                  body: object, want: str) -> None:
    assert classify(f, status, exc, body) == want


# ------------------------------------------------------------------------------------- stats parsing

HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
          "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
          "99.99%,100%\n")


def test_parse_stats_csv_reads_the_aggregated_row(tmp_path: Path) -> None:
    p = tmp_path / "r_stats.csv"
    p.write_text(HEADER
                 + "GET,/health,10,1,12,14.5,3,40,80,5.0,0.5,12,13,14,15,20,30,40,40,40,40,40\n"
                 + ",Aggregated,10,1,12,14.5,3,40,80,5.0,0.5,12,13,14,15,20,30,40,40,40,40,40\n")
    s = load.parse_stats_csv(p)
    assert (s["requests"], s["failures"], s["rps"], s["p50_ms"], s["p95_ms"]) == (10, 1, 5.0, 12.0, 30.0)
    assert s["per_name"]["GET /health"]["requests"] == 10


def test_parse_stats_csv_without_requests_has_no_percentiles(tmp_path: Path) -> None:
    p = tmp_path / "r_stats.csv"
    p.write_text(HEADER + ",Aggregated,0,0,0,0,0,0,0,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\n")
    s = load.parse_stats_csv(p)
    assert s["requests"] == 0 and s["p50_ms"] is None and s["p95_ms"] is None


def test_parse_stats_csv_missing_file_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(load.EnvironmentProblem, match="no stats file"):
        load.parse_stats_csv(tmp_path / "none_stats.csv")


# ---------------------------------------------------------------------------------------- after flip


def _flip_history() -> MemoryHistory:
    """Two load users; the DNS answer flips E→W at t=10; one user stays pinned on E (503s)."""
    t = {"now": 0.0}
    h = MemoryHistory(clock=lambda: t["now"])

    def at(x: float) -> None:
        t["now"] = x

    at(1)
    h.append("load:a-1", "ok", "dns", {"name": "app", "answer": "127.0.1.1", "ttl": 1, "region": E})
    h.append("load:a-2", "ok", "dns", {"name": "app", "answer": "127.0.1.1", "ttl": 1, "region": E})
    for i in range(5):  # before: all fine
        at(2 + i)
        for u in ("load:a-1", "load:a-2"):
            op = h.invoke(u, "read", {"name": "GET /health"}, region=E)
            h.complete(op, "ok", {"status": 200}, region=E)
    at(8)
    h.invoke("nemesis", "fault", {"fault": "region-isolation", "target_region": E})
    at(10)
    h.append("load:a-2", "ok", "dns", {"name": "app", "answer": "127.0.2.1", "ttl": 1, "region": W})
    for i in range(4):
        at(11 + i)
        op = h.invoke("load:a-1", "read", {"name": "GET /health"}, region=E)  # pinned to E
        h.complete(op, "fail", {"status": 503, "pinned": True}, region=E)
        op = h.invoke("load:a-2", "read", {"name": "GET /health"}, region=W)
        h.complete(op, "ok", {"status": 200, "pinned": False}, region=W)
    op = h.invoke("canary:load-a-2", "write", {"store": "aurora", "key": "k", "seq": 1}, region=W)
    h.complete(op, "ok", {"store": "aurora", "key": "k", "seq": 1, "status": 201}, region=W)
    op = h.invoke("prober:1", "probe", {"name": "app"})  # not load: ignored
    h.complete(op, "fail", {"status": 503})
    return h


def test_error_rate_after_flip_from_history() -> None:
    r = load.error_rate_after_flip(_flip_history().events)
    assert (r.flip_t, r.old_region, r.new_region) == (10, E, W)
    assert (r.requests, r.errors, r.pinned, r.old_region_after) == (9, 4, 4, 4)
    assert r.error_rate == pytest.approx(4 / 9)
    assert r.before == {"requests": 10, "errors": 0, "error_rate": 0.0}
    assert r.per_region == {E: {"requests": 4, "errors": 4}, W: {"requests": 5, "errors": 0}}


def test_error_rate_after_flip_grace_skips_the_ttl_window() -> None:
    r = load.error_rate_after_flip(_flip_history().events, grace_s=3.5)
    assert r.requests == 3 and r.errors == 1  # t=14 pair (+ the write at 14)


def test_error_rate_after_flip_without_flip_is_unknown() -> None:
    h = MemoryHistory()
    h.append("load:a-1", "ok", "dns", {"name": "app", "answer": "127.0.1.1", "ttl": 1, "region": E})
    r = load.error_rate_after_flip(h.events)
    assert r.flip_t is None and r.error_rate is None and "unknown" in r.detail


# --------------------------------------------------------------------------------- input before spawn


@pytest.mark.parametrize(("kw", "needle"), [
    ({"host_region": "eu-west-9"}, "unknown region 'eu-west-9'"),
    ({"mode": "edge"}, "unknown load mode"),
    ({"users": 0}, "users must be"),
    ({"spawn_rate": 0}, "spawn_rate must be"),
    ({"seconds": 0.5}, "seconds must be"),
    ({"shape": "sawtooth"}, "unknown shape"),
    ({"shape": "steady", "shape_params": {"ramp_s": 3}}, "takes no parameter"),
    ({"shape_params": {"ramp_s": 3}}, "without a shape"),
    ({"mix": "mostly"}, "unknown mix"),
    ({"write_role": "prober"}, "unknown write role"),
    ({"workers": -1}, "workers must be"),
])
def test_run_headless_refuses_bad_input_before_starting_locust(kw: dict, needle: str, tmp_path: Path,
                                                              fake_target: Callable[..., Target]) -> None:
    args = {"users": 2, "spawn_rate": 1.0, "seconds": 3.0, "csv_prefix": tmp_path / "x", **kw}
    with pytest.raises(BadInput, match=needle):
        load.run_headless(fake_target(), **args)
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


def test_ui_refuses_remote_bind_without_login_and_login_without_password(
        monkeypatch: pytest.MonkeyPatch, fake_target: Callable[..., Target]) -> None:
    monkeypatch.delenv("DRHARNESS_LOAD_UI_PASSWORD", raising=False)
    with pytest.raises(BadInput, match="without --web-login"):
        load.start_ui(fake_target(), host="0.0.0.0")
    with pytest.raises(BadInput, match="needs a password"):
        load.start_ui(fake_target(), web_login=True)
    with pytest.raises(BadInput, match="unknown region"):
        load.start_ui(fake_target(), region="mars-1")


def test_cli_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert load.main(["run", "--shape", "sawtooth"]) == 2
    assert load.main(["run", "--target", "moon"]) == 2
    assert "unknown target 'moon'" in capsys.readouterr().err
