"""Chaos Toolkit experiments: every one validates and records its history through the drharness control;
one runs end to end with plain `chaos run`, and its judged report fails when a fault is planted in it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drharness.chaos.control import scenario_of
from drharness.chaos.judge import judge
from drharness.commands import chaos_environment
from drharness.history import load_history

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/leakcheck.py (--import-mode=importlib)
from leakcheck import (  # noqa: E402
    PLANTED_ENV,
    all_planted,
    lab_state_with_dsn_password,
    planted_lambda_env,
    scan,
)

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.json"))
SCENARIOS = {"region-outage", "planned-switchover", "aurora-writer-failure", "dynamodb-replication-pause",
             "s3-replication-pause", "dns-failover", "control-plane-impairment", "failback", "load-during-failover"}


def chaos_bin() -> str:
    exe = Path(sys.executable).with_name("chaos")
    return str(exe) if exe.exists() else (shutil.which("chaos") or "chaos")


def test_one_experiment_per_scenario():
    assert {p.stem for p in EXPERIMENTS} == SCENARIOS


def test_no_template_id_is_hard_coded():
    for p in EXPERIMENTS:
        for _, v in json.loads(p.read_text())["configuration"].items():
            assert not isinstance(v, str) or v.startswith("${"), f"{p.name}: hard-coded configuration {v!r}"


def test_every_experiment_records_its_history_and_names_its_scenario():
    for p in EXPERIMENTS:
        doc = json.loads(p.read_text())
        modules = [c["provider"]["module"] for c in doc.get("controls", [])]
        assert modules == ["drharness.chaos.control"], f"{p.name}: controls {modules}"
        assert scenario_of(doc) == p.stem, p.name
        assert doc["configuration"]["drharness_report_dir"]["key"] == "DRHARNESS_REPORT_DIR"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_validates(lab, path):
    env = {**os.environ, **chaos_environment("local", None)}
    res = subprocess.run([chaos_bin(), "--no-log-file", "validate", str(path)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_dynamodb_pause_experiment_runs_end_to_end_with_plain_chaos_run(clean_lab, tmp_path):
    """Also the secrets scan of a Chaos Toolkit run (docs/SECURITY.md §4): secrets planted in the
    environment (chaostoolkit-aws signs with them), the lab config's DSNs and the app Lambda's
    environment appear in none of journal, history, reports, chaostoolkit.log (debug) or the output."""
    config = lab_state_with_dsn_password(clean_lab.state_file, tmp_path / "config" / "lab.json")
    env = {**os.environ, **chaos_environment("local", None), **PLANTED_ENV, "DRHARNESS_LAB_STATE": str(config),
           "DRHARNESS_REPORT_DIR": str(tmp_path / "report")}
    journal = tmp_path / "journal.json"
    with planted_lambda_env(clean_lab.target):
        res = subprocess.run([chaos_bin(), "--log-file", str(tmp_path / "chaostoolkit.log"), "--log-file-level",
                              "debug", "run", "--journal-path", str(journal),
                              str(ROOT / "experiments" / "dynamodb-replication-pause.json")],
                             capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    doc = json.loads(journal.read_text())
    assert res.returncode == 0, res.stderr[-2000:]
    (tmp_path / "output.txt").write_text(res.stdout + res.stderr)
    n, hits = scan([journal, tmp_path / "report", tmp_path / "chaostoolkit.log", tmp_path / "output.txt",
                    clean_lab.state_file.parent / "labd.log"], all_planted())
    assert n >= 6 and not hits, hits
    assert doc["status"] == "completed" and not doc["deviated"]
    marker = next(r for r in doc["run"] if r["activity"]["name"] == "marker-replicates-within-60s")
    assert 0 <= marker["output"] < 60
    # The FIS experiment really ran in the lab and was stopped (its pause reverted).
    st = clean_lab.status()
    assert any(s["status"] in ("stopped", "completed") for s in st["experiments"].values())
    assert st["faults"]["paused_tables"] == []

    # The control wrote a complete history beside the journal, and the checkers judged it.
    report = json.loads((tmp_path / "report" / "drill-report.json").read_text())
    assert report["verdict"] == "pass", report["checks"]
    assert report["rpo"]["per_store"]["dynamodb"]["acknowledged"] > 0
    history = load_history(tmp_path / "report" / "history.jsonl")
    faults = [e for e in history if e.process == "nemesis" and e.f == "fault"]
    assert [e.type for e in faults] == ["invoke", "ok"] and faults[0].value["target_region"] == "us-east-1"
    assert judge(history, doc)["verdict"] == "pass"
    # Planted faults: each must turn the verdict.
    deviated = {**doc, "deviated": True}
    assert judge(history, deviated)["verdict"] == "fail"
    no_read_back = [e for e in history if e.process != "verifier"]
    assert next(c for c in judge(no_read_back, doc)["checks"] if c["name"] == "rpo")["verdict"] == "unknown"
    read = next(e for e in history if e.process == "verifier" and e.type == "ok" and e.value["store"] == "dynamodb")
    lost = [e if e is not read else type(e)(e.t, e.process, e.type, e.f, {**e.value, "keys": e.value["keys"][1:]},
                                            e.region, e.index) for e in history]
    rpo = next(c for c in judge(lost, doc)["checks"] if c["name"] == "rpo")
    assert rpo["verdict"] == "fail" and "lost" in rpo["detail"], rpo  # no failover: nothing may be lost
    harness_error = [*history[:-1], type(read)(read.t, "harness", "info", "error", {"error": "planted"}), history[-1]]
    assert judge(harness_error, doc)["verdict"] == "fail"
