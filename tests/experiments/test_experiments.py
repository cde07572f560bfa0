"""Chaos Toolkit experiments: every one validates; one runs end to end with plain `chaos run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drharness.commands import chaos_environment

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


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_validates(lab, path):
    env = {**os.environ, **chaos_environment("local", None)}
    res = subprocess.run([chaos_bin(), "--no-log-file", "validate", str(path)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_dynamodb_pause_experiment_runs_end_to_end_with_plain_chaos_run(clean_lab, tmp_path):
    env = {**os.environ, **chaos_environment("local", None)}
    journal = tmp_path / "journal.json"
    res = subprocess.run([chaos_bin(), "--no-log-file", "run", "--journal-path", str(journal),
                          str(ROOT / "experiments" / "dynamodb-replication-pause.json")],
                         capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    doc = json.loads(journal.read_text())
    assert res.returncode == 0, res.stderr[-2000:]
    assert doc["status"] == "completed" and not doc["deviated"]
    marker = next(r for r in doc["run"] if r["activity"]["name"] == "marker-replicates-within-60s")
    assert 0 <= marker["output"] < 60
    # The FIS experiment really ran in the lab and was stopped (its pause reverted).
    st = clean_lab.status()
    assert any(s["status"] in ("stopped", "completed") for s in st["experiments"].values())
    assert st["faults"]["paused_tables"] == []
