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

pytestmark = pytest.mark.lab

PLANTED = {
    "AWS_SECRET_ACCESS_KEY": "PLANTEDawsSecretKey0123456789abcdefghijkl",
    "AWS_SESSION_TOKEN": "PLANTEDsessionToken-FwoGZXIvYXdzEJr",
    "DRHARNESS_SLACK_TOKEN": "xoxb-PLANTED-slack-token-1234",
}
DSN_PASSWORD = "PLANTEDdsnPassw0rd"
LAMBDA_TOKEN = "PLANTEDlambdaApiToken42"


def scan(paths: list[Path], secrets: list[str]) -> tuple[int, list[str]]:
    """Files scanned and (file, secret) hits: every byte of every file, text or binary."""
    hits, n = [], 0
    for root in paths:
        for f in ([root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())):
            n += 1
            data = f.read_bytes()
            hits += [f"{f}: {s[:12]}..." for s in secrets if s.encode() in data]
    return n, hits


def test_scanner_finds_a_planted_secret(tmp_path):
    (tmp_path / "a.json").write_text('{"x": "PLANTEDawsSecretKey0123456789abcdefghijkl"}')
    assert scan([tmp_path], list(PLANTED.values()))[1]


@pytest.fixture
def planted_lambda_env(clean_lab):
    t = clean_lab.target
    saved = {}
    for r in t.regions:
        lam = t.client("lambda", r)
        env = lam.get_function_configuration(FunctionName=t.regions[r].function)["Environment"]["Variables"]
        saved[r] = env
        lam.update_function_configuration(FunctionName=t.regions[r].function,
                                          Environment={"Variables": {**env, "API_TOKEN": LAMBDA_TOKEN}})
    yield clean_lab
    for r, env in saved.items():
        t.client("lambda", r).update_function_configuration(FunctionName=t.regions[r].function,
                                                            Environment={"Variables": env})


def test_drill_artifacts_hold_no_secret_and_the_audit_log_covers_every_action(planted_lambda_env, tmp_path):
    lab = planted_lambda_env
    state = json.loads(lab.state_file.read_text())
    for info in state["regions"].values():
        info["pg_dsn"] += f" password={DSN_PASSWORD}"
    config = tmp_path / "config" / "lab.json"
    config.parent.mkdir()
    config.write_text(json.dumps(state))
    report_dir = tmp_path / "report"
    env = {**os.environ, **PLANTED, "DRHARNESS_LAB_STATE": str(config)}
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
    secrets = [*PLANTED.values(), DSN_PASSWORD, LAMBDA_TOKEN]
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
