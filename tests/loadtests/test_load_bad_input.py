"""Bad input to the locustfile itself: one clear line, exit 2 (bad input) or 3 (environment).

No lab needed: each case must be refused before any request. One case per way of failing
(settings, target, lab, UI login; an unreachable app through ``run_headless`` below): the
validators behind them are covered case by case in test_load_units.py without paying a Locust
start each.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from drharness.errors import EnvironmentProblem
from drharness.target import Target
from drharness.workload import load
from drharness.workload.load_config import target_to_json

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "loadtests" / "locustfile.py"


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def _dead_target_file(tmp: Path, make: Callable[..., Target]) -> Path:
    path = tmp / "dead-target.json"
    path.write_text(target_to_json(make(f"http://127.0.0.1:{_dead_port()}")))
    return path


CASES: dict[str, tuple[dict[str, str], list[str], int, str]] = {
    # name: (env, extra args, exit code, message)
    "invalid shape users": ({"DRHARNESS_SHAPE": "steady", "DRHARNESS_SHAPE_USERS": "0"}, [], 2,
                            "DRHARNESS_SHAPE_USERS must be a whole number"),
    "unknown target": ({"DRHARNESS_TARGET": "moon"}, [], 2, "unknown target 'moon'"),
    "lab not running": ({"DRHARNESS_TARGET": "local", "DRHARNESS_LAB_STATE": "/nonexistent/lab.json"}, [], 3,
                        "no running lab"),
    "web login without password": ({"@target": "dead"}, ["--web-login"], 2, "--web-login needs DRHARNESS_LOAD_UI_PASSWORD"),
}


def _run(name: str, tmp: Path, make: Callable[..., Target]) -> subprocess.CompletedProcess[str]:
    env_add, extra, _, _ = CASES[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRHARNESS_LOAD_", "DRHARNESS_SHAPE"))}
    env.pop("DRHARNESS_TARGET", None)
    env.update({k: v for k, v in env_add.items() if not k.startswith("@")})
    if env_add.get("@target") == "dead":
        env["DRHARNESS_LOAD_TARGET_FILE"] = str(_dead_target_file(tmp / name.replace(" ", "-"), make))
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "1", "-r", "1", "-t", "2s", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=REPO)


@pytest.mark.parametrize("name", list(CASES))
def test_locustfile_refuses_bad_input_with_one_line_and_exit_code(
        name: str, tmp_path: Path, fake_target: Callable[..., Target]) -> None:
    _, _, code, message = CASES[name]
    (tmp_path / name.replace(" ", "-")).mkdir()
    res = _run(name, tmp_path, fake_target)
    assert res.returncode == code, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("drharness load:")]
    assert lines and message in lines[-1], res.stderr[-2000:]
    assert "Traceback" not in res.stderr


def test_run_headless_turns_an_unreachable_app_into_an_environment_problem(
        tmp_path: Path, fake_target: Callable[..., Target]) -> None:
    t = fake_target(f"http://127.0.0.1:{_dead_port()}")
    with pytest.raises(EnvironmentProblem, match="us-west-2 app at http://127.0.0.1:.* is not reachable"):
        load.run_headless(t, users=1, spawn_rate=1, seconds=2, csv_prefix=tmp_path / "x")
    assert not list(tmp_path.glob("x.target-*.json"))  # the serialised target is cleaned up
