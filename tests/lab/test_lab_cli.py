"""`drharness lab` from the command line: bad input gets one clear message, `down` leaves nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from drharness.lab.state import pid_alive


def run(*args: str, state: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    e = {**os.environ, "DRHARNESS_LAB_STATE": str(state), **(env or {})}
    return subprocess.run([sys.executable, "-m", "drharness", *args], capture_output=True, text=True, env=e,
                          timeout=timeout)


def one_clear_error(res: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in res.stderr, res.stderr


def test_unknown_profile(tmp_path):
    one_clear_error(run("lab", "up", "--profile", "turbo", state=tmp_path / "lab.json"), 2, "unknown profile")
    assert not (tmp_path / "lab.json").exists()


def test_missing_postgresql_says_how_to_get_it(tmp_path):
    res = run("lab", "up", state=tmp_path / "lab.json", env={"DRHARNESS_PG_BIN": "/nonexistent"})
    one_clear_error(res, 3, "PostgreSQL", "apt-get install postgresql")
    assert not (tmp_path / "lab.json").exists()


def test_busy_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        one_clear_error(run("lab", "up", "--edge-port", str(port), state=tmp_path / "lab.json"), 2, "busy")
    assert not (tmp_path / "lab.json").exists()


def test_corrupt_state_file(tmp_path):
    state = tmp_path / "lab.json"
    state.write_text("{not json")
    one_clear_error(run("lab", "status", state=state), 2, "corrupt")
    one_clear_error(run("lab", "up", state=state), 2, "corrupt")
    assert run("lab", "down", state=state).returncode == 0
    assert not state.exists()


def test_status_without_a_lab(tmp_path):
    one_clear_error(run("lab", "status", state=tmp_path / "lab.json"), 3, "no lab is running")


@pytest.mark.lab
def test_second_lab_up_while_one_runs_is_refused(lab):
    res = run("lab", "up", state=lab.state_file)
    one_clear_error(res, 2, "already running")
    assert lab.status()["ready"]


@pytest.mark.lab
def test_status_json_contract(lab):
    res = run("lab", "status", "--json", state=lab.state_file)
    assert res.returncode == 0, res.stderr
    st = json.loads(res.stdout)
    for key in ("profile", "regions", "dns", "edge_url", "components"):
        assert key in st
    for r in ("us-east-1", "us-west-2"):
        assert {"aws_endpoint", "app_url", "pg_dsn", "healthy", "fault"} <= set(st["regions"][r])
    assert {"host", "port", "name"} <= set(st["dns"])
    assert all({"pid", "healthy"} <= set(c) for c in st["components"].values())


def test_up_cleans_a_crashed_lab_and_down_leaves_no_process_and_no_port(tmp_path):
    """One lab lifecycle for both (a lab up costs seconds): kill -9 of labd, then `up` cleans the
    crashed lab's state and PostgreSQL data, then `down` leaves no process, no port and no files."""
    state = tmp_path / "lab.json"
    assert run("lab", "up", state=state).returncode == 0
    crashed = json.loads(state.read_text())
    os.kill(crashed["pids"]["labd"], 9)  # crash
    up = run("lab", "up", state=state)
    assert up.returncode == 0, up.stderr
    st = json.loads(state.read_text())
    assert st["pids"]["labd"] != crashed["pids"]["labd"]
    assert not Path(crashed["pg"]["base"]).exists(), "the crashed lab's PostgreSQL data must be cleaned"
    assert not any(pid_alive(p) for n, p in crashed["pids"].items() if p and n != "labd"), \
        "the crashed lab's processes must be stopped"

    pids = [p for p in st["pids"].values() if p]
    ports = [(h, p) for h, p, _ in st["ports"]]
    base = Path(st["pg"]["base"])
    assert all(pid_alive(p) for p in pids)
    down = run("lab", "down", state=state)
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(p) for p in pids)
    for host, port in ports:
        with socket.socket() as s:
            s.settimeout(0.3)
            assert s.connect_ex((host, port)) != 0, f"{host}:{port} still answers"
    assert not base.exists()
    assert not state.exists()
    # Every listener was on loopback (127.0.0.0/8).
    assert all(h.startswith("127.") for h, _ in ports)
