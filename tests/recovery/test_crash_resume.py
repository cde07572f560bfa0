"""kill -9 of the orchestrator at each step, then a re-run with the same id: it converges."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from drharness.orchestrator import FAILOVER_STEPS

pytestmark = pytest.mark.lab


def drharness(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "drharness", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, cwd=cwd)


def test_crash_at_each_failover_step_then_rerun_converges(clean_lab, tmp_path):
    """One failover killed at every step in turn: each re-run (same run id) resumes where the dead one
    stopped (finished steps keep their records and are not redone) and the last converges."""
    run_id = "crash-chain"
    state = tmp_path / ".drharness" / "orchestrator" / f"failover-{run_id}.json"
    done: dict[str, float] = {}  # step -> when it ended, as first recorded
    for step in FAILOVER_STEPS:
        res = drharness("failover", "--mode", "planned", "--yes", "--run-id", run_id,
                        env={"DRHARNESS_CRASH_AT": step}, cwd=tmp_path)
        assert res.returncode == -9, f"not killed at {step}: {res.stderr[-1500:]}"
        steps = json.loads(state.read_text())["steps"] if state.exists() else {}
        before = FAILOVER_STEPS[:FAILOVER_STEPS.index(step)]
        for name in before:
            assert steps[name]["status"] in ("ok", "skipped"), (step, name, steps[name])
            assert done.setdefault(name, steps[name]["ended"]) == steps[name]["ended"], f"{name} was redone"
        assert all(steps.get(n, {}).get("status", "pending") == "pending" for n in FAILOVER_STEPS
                   if n not in before), (step, steps)
    again = drharness("failover", "--mode", "planned", "--yes", "--run-id", run_id, "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert all(s["status"] in ("ok", "skipped") for s in summary["steps"]), summary["steps"]
    t = clean_lab.target
    with t.pg("us-west-2") as c:
        assert c.execute("SELECT NOT pg_is_in_recovery()").fetchone()[0]


def test_refuses_live_target_without_yes(tmp_path):
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "terraform-outputs.json").write_text("{}")
    res = drharness("failover", "--target", "aws", "--env", str(env_dir))
    assert res.returncode == 2
    assert "drharness_target" in res.stderr or "--yes" in res.stderr
    assert "Traceback" not in res.stderr


def test_failback_needs_approval(clean_lab, tmp_path):
    res = drharness("failback", cwd=tmp_path)
    assert res.returncode == 2
    assert "--yes" in res.stderr
    assert "Traceback" not in res.stderr
