"""The success-rate checker on archived drills (`drharness report --history`): a planted failed drill must
refute "> 95 %", few clean drills are "not demonstrated", enough clean drills demonstrate it."""

from __future__ import annotations

import json
from pathlib import Path

from drharness.checkers import success_rate
from drharness.report.history_trend import history_trend

T0 = 1_764_000_000.0


def archive(tmp_path: Path, verdicts: list[str]) -> Path:
    """An archive laid out as `archive()` writes it: one directory per drill with its report."""
    hdir = tmp_path / "history"
    for i, verdict in enumerate(verdicts):
        d = hdir / f"2026{i:04d}-region-outage"
        d.mkdir(parents=True)
        (d / "drill-report.json").write_text(json.dumps({
            "scenario": "region-outage", "verdict": verdict, "started_at": T0 + 3600 * i,
            "rto": {"seconds": 3.0}, "rpo": {"seconds": 1.0}, "failback": {"seconds": 9.0},
            "availability": {"downtime_s": 4.0}}))
    return hdir


def test_a_planted_failed_drill_refutes_the_objective(tmp_path: Path) -> None:
    s = history_trend(archive(tmp_path, ["pass", "pass", "fail", "pass"]), plot=False)["success"]
    assert s["verdict"] == "fail" and s["passed"] == 3 and s["runs"] == 4, s


def test_few_clean_drills_are_not_a_demonstration(tmp_path: Path) -> None:
    s = history_trend(archive(tmp_path, ["pass"] * 5), plot=False)["success"]
    assert s["verdict"] == "unknown" and not s["demonstrated"] and s["runs_needed"] == 52, s
    assert s["holds"] is True  # the observed-rate figure alone would have said "met"


def test_enough_clean_drills_demonstrate_it_and_one_failure_undoes_it(tmp_path: Path) -> None:
    s = history_trend(archive(tmp_path / "a", ["pass"] * 52), plot=False)["success"]
    assert s["verdict"] == "pass" and s["lower_bound_95"] > 0.95, s
    s = history_trend(archive(tmp_path / "b", ["pass"] * 51 + ["fail"]), plot=False)["success"]
    assert s["verdict"] != "pass", s


def test_archive_and_history_judgements_agree(tmp_path: Path) -> None:
    verdicts = ["pass"] * 20 + ["fail"]
    s = history_trend(archive(tmp_path, verdicts), plot=False)["success"]
    r = success_rate.judge(verdicts.count("pass"), len(verdicts), {"min_runs": 1})
    assert (s["verdict"], s["detail"]) == (r.verdict, r.detail)
