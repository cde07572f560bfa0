"""The chaoslib runner's bookkeeping, without a lab: unknown scenarios are refused, and repeated runs
record each outcome so that a failed or crashed run refutes the success rate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drharness.chaos import runner
from drharness.checkers import success_rate
from drharness.errors import BadInput
from drharness.history import load_history, ops_for


def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(BadInput, match="no experiment for scenario 'nope'.*region-outage"):
        runner.experiment_path("nope")


def fake_runs(monkeypatch: pytest.MonkeyPatch, outcomes: list[str]) -> list[str]:
    """Replace the chaoslib run by canned outcomes: "pass", "fail", or "crash" (an exception)."""
    calls: list[str] = []

    def run(scenario: str, report_dir: Path, *args: Any) -> dict[str, Any]:
        outcome = outcomes[len(calls)]
        calls.append(outcome)
        if outcome == "crash":
            raise RuntimeError("lab went away")
        return {"verdict": outcome, "rto": {"seconds": 2.0}, "failback": {"seconds": 9.0},
                "checks": [{"name": "rto", "verdict": outcome}]}

    monkeypatch.setattr(runner, "run_experiment", run)
    return calls


def test_each_outcome_is_recorded_and_a_failed_run_refutes_95_percent(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    calls = fake_runs(monkeypatch, ["pass", "fail", "pass"])
    resets: list[int] = []
    path = runner.repeat_experiment("region-outage", 3, tmp_path, between=lambda: resets.append(1))
    assert len(calls) == 3 and len(resets) == 3
    history = load_history(path)
    assert [op.type for op in ops_for(history, "harness", "run")] == ["ok", "fail", "ok"]
    r = success_rate.check(history, {"min_runs": 3})
    assert r.valid is False and r.figures["failed_runs"][0]["run"] == 2


def test_a_crashed_run_is_unknown_and_not_a_success(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    fake_runs(monkeypatch, ["pass", "crash", "pass"])
    history = load_history(runner.repeat_experiment("region-outage", 3, tmp_path))
    runs = ops_for(history, "harness", "run")
    assert runs[1].type == "info" and "lab went away" in runs[1].value["error"]
    assert success_rate.check(history, {"min_runs": 3}).valid is False


def test_all_runs_passing_is_consistent_but_not_demonstrated(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    fake_runs(monkeypatch, ["pass"] * 3)
    r = success_rate.check(load_history(runner.repeat_experiment("region-outage", 3, tmp_path)), {"min_runs": 3})
    assert r.verdict == "unknown" and r.figures["successes"] == 3


def _earlier_run(tmp_path: Path, name: str, verdict: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "drill-report.json").write_text(json.dumps({
        "verdict": verdict, "rto": {"seconds": 3.0}, "failback": {"seconds": 8.0},
        "checks": [{"name": "rto", "verdict": verdict}]}))
    return d


def test_earlier_runs_count_first_as_judged_and_only_the_rest_are_run(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    calls = fake_runs(monkeypatch, ["pass"])
    earlier = _earlier_run(tmp_path, "shared", "fail")  # planted: the shared run had failed
    history = load_history(runner.repeat_experiment("region-outage", 2, tmp_path / "out", prior=[earlier]))
    runs = ops_for(history, "harness", "run")
    assert len(calls) == 1 and [op.type for op in runs] == ["fail", "ok"]
    assert runs[0].value["earlier"] is True and runs[0].value["report"] == str(earlier / "drill-report.json")
    assert success_rate.check(history, {"min_runs": 2}).valid is False


def test_an_unreadable_earlier_run_is_unknown_and_too_many_earlier_runs_are_refused(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    fake_runs(monkeypatch, ["pass"])
    history = load_history(runner.repeat_experiment("region-outage", 2, tmp_path / "out", prior=[tmp_path / "gone"]))
    assert ops_for(history, "harness", "run")[0].type == "info"
    with pytest.raises(BadInput, match="2 earlier runs given for 1 runs"):
        runner.repeat_experiment("region-outage", 1, tmp_path / "o2", prior=[tmp_path, tmp_path])
