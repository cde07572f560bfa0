"""One short drill with planted secrets: none appears in any artifact, and its audit log covers its actions.

Planted: an AWS secret key, a session token and a notification token in the environment; a DSN
password in the lab's config (a copy of lab.json the drill reads); a token in the app Lambda's
environment (the orchestrator's drift check reads it). The drill runs as a subprocess; its log
(stderr) is an artifact too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drharness.orchestrator import FAILBACK_STEPS, FAILOVER_STEPS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/leakcheck.py (--import-mode=importlib)
from leakcheck import (  # noqa: E402
    DSN_PASSWORD,
    PLANTED_ENV,
    all_planted,
    lab_state_with_dsn_password,
    planted_lambda_env,
    scan,
)

pytestmark = pytest.mark.lab


def test_scanner_finds_a_planted_secret(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"x": f"a {PLANTED_ENV['AWS_SESSION_TOKEN']}"}))
    (tmp_path / "b.bin").write_bytes(b"\x00" + DSN_PASSWORD.encode())
    n, hits = scan([tmp_path, tmp_path / "missing"], all_planted())
    assert n == 2 and len(hits) == 2, hits


@pytest.fixture
def planted_lambda(clean_lab):
    with planted_lambda_env(clean_lab.target):
        yield clean_lab


def test_drill_artifacts_hold_no_secret_and_the_audit_log_covers_every_action(planted_lambda, tmp_path):
    lab = planted_lambda
    config = lab_state_with_dsn_password(lab.state_file, tmp_path / "config" / "lab.json")
    report_dir = tmp_path / "report"
    env = {**os.environ, **PLANTED_ENV, "DRHARNESS_LAB_STATE": str(config)}
    res = subprocess.run([sys.executable, "-m", "drharness", "drill", "run", "--scenario",
                          "planned-switchover", "--report-dir", str(report_dir), "--history-dir",
                          str(tmp_path / "archive"), "--json"],
                         capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    # The drill ran to its end (its timing checks are the drill tests' business; on a loaded machine they vary).
    report = json.loads(res.stdout or "{}")
    assert res.returncode in (0, 1) and report.get("verdict") in ("pass", "fail"), res.stderr[-2000:]
    assert not [c for c in report["checks"] if c["name"] == "harness"], report["checks"]
    # The drill runner's planned switchover loses no acknowledged write in any store (the chaoslib path's
    # verdict, timing included, is judged by features/planned_switchover.feature).
    for store, s in report["rpo"]["per_store"].items():
        assert s["acknowledged"] > 0, store
        assert s["lost"] == 0, (store, s["lost_keys"])
    (tmp_path / "stdout.txt").write_text(res.stdout)
    (tmp_path / "stderr-log.txt").write_text(res.stderr)
    secrets = all_planted()
    artifacts = [report_dir, tmp_path / "archive", tmp_path / "stdout.txt", tmp_path / "stderr-log.txt",
                 lab.state_file.parent / "labd.log", lab.state_file]
    n, hits = scan([p for p in artifacts if p.exists()], secrets)
    assert n >= 8 and not hits, hits
    # The drift check did read the planted token: the report shows it masked, not absent.
    assert "[REDACTED]" in (report_dir / "drill-report.json").read_text()

    entries = [json.loads(x) for x in (report_dir / "audit.jsonl").read_text().splitlines()]
    assert all({"t", "who", "what", "target", "result"} <= set(e) for e in entries)
    assert all("user/moto" in e["who"] for e in entries)  # the STS caller identity
    whats = [e["what"] for e in entries]
    for step in FAILOVER_STEPS:
        assert f"orchestrator.failover.{step}" in whats, step
    for step in FAILBACK_STEPS:
        assert f"orchestrator.failback.{step}" in whats, step
    assert whats.count("rds.SwitchoverGlobalCluster") == 2  # switchover and switch back, via the botocore hook
    assert {"drill.start", "lock.acquire", "preflight", "sns.Publish", "drill.end", "lock.release"} <= set(whats)
    # Every orchestrator step in the history has its audit line.
    hist = [json.loads(x) for x in (report_dir / "history.jsonl").read_text().splitlines()]
    steps = {(e["value"]["kind"], e["value"]["step"]) for e in hist
             if e["process"] == "orchestrator" and e["type"] == "invoke"}
    assert steps and all(f"orchestrator.{k}.{s}" in whats for k, s in steps)


# The lab's Target signs with fixed dummy keys; on AWS the default chain signs with the environment's
# credentials, session token included. This runs the CLI the AWS way against the lab.
DEFAULT_CHAIN = """
import sys
import drharness.target as t
lab = t.from_lab
def from_lab(*a, **k):
    target = lab(*a, **k)
    target.credentials = None
    return target
t.from_lab = from_lab
from drharness.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_verbose_logs_hold_no_secret(lab, tmp_path):
    """`drharness -v` is safe to share: the SDK's wire logs stay off, and with -vv (on) the request
    headers, signing strings and signatures are masked along with every planted value."""
    env = {**os.environ, **PLANTED_ENV, "AWS_ACCESS_KEY_ID": "AKIDPLANTEDEXAMPLE"}
    runs = {}
    for flag in ("-v", "-vv"):
        res = subprocess.run([sys.executable, "-c", DEFAULT_CHAIN, flag, "health", "--json"], capture_output=True,
                             text=True, timeout=120, env=env, cwd=tmp_path)
        assert res.returncode in (0, 1) and json.loads(res.stdout)["regions"], res.stderr[-2000:]
        runs[flag] = res.stderr
        (tmp_path / f"stderr{flag}.txt").write_text(res.stderr)
    assert "DEBUG botocore" not in runs["-v"] and "DEBUG botocore" in runs["-vv"]
    # -vv: the wire logs are there (the planted token was sent), masked
    assert "X-Amz-Security-Token': b'[REDACTED]'" in runs["-vv"] and "Signature=[REDACTED]" in runs["-vv"]
    n, hits = scan([tmp_path], all_planted())
    assert n == 2 and not hits, hits
