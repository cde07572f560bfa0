"""``drharness report --history``: trend figures over synthetic archived drills (no lab)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from drharness.report import history_trend as ht
from drharness.report.cli import main as report_main

T0 = 1_764_000_000.0  # 2025-11-24


def drill_report(rto: float | None, *, verdict: str = "pass", started: float = T0, rpo: float | None = 0.4,
                 failback: float | None = 30.0, downtime: float | None = 10.0,
                 scenario: str = "region-outage") -> dict[str, Any]:
    """Same shape as drill.py ``Drill._report`` (schema drharness.drill/1)."""
    return {
        "schema": "drharness.drill/1", "scenario": scenario, "target": "local", "profile": "fast",
        "profile_source": "fast", "timing": {"health_interval_s": 1, "failure_threshold": 3, "dns_ttl": 1},
        "started_at": started, "finished_at": started + 120, "verdict": verdict, "zero_loss": False,
        "slo": {"rto_s": 900.0, "rpo_s": 60.0, "failback_s": 1800.0},
        "rto": {"seconds": rto, "floor_seconds": 5.0, "ratio": None, "phases": {"detection": 3.0},
                "floor_terms": {"detection": 3.0, "dns_ttl": 1.0}},
        "rpo": {"seconds": rpo, "per_store": {"aurora": {"acknowledged": 50, "lost": 0, "lost_keys": []}}},
        "replication_lag_ms": {}, "consistency": {},
        "failback": None if failback is None else {"seconds": failback, "verdict": "pass"},
        "availability": {"requests": 600, "errors": 12, "downtime_s": downtime, "budget_consumed": 0.01},
        "checks": [{"name": "rto", "verdict": verdict, "detail": ""}],
        "orchestrator": [], "errors": [], "history_file": "reports/latest/history.jsonl",
    }


def put(history: Path, report: dict[str, Any] | str, name: str | None = None) -> Path:
    name = name or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(report["started_at"])) + "-" + report["scenario"]  # type: ignore[index]
    d = history / name
    d.mkdir(parents=True)
    (d / "drill-report.json").write_text(report if isinstance(report, str) else json.dumps(report))
    return d


@pytest.fixture
def no_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI tests that do not look at the PNG skip drawing it (test_trend_figures draws one)."""
    monkeypatch.setattr(ht, "plot_trend", lambda drills, out: None)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    h = tmp_path / "history"
    # 10 drills, RTO 10..100 s; the 10th misses its verdict; one month
    for i in range(10):
        put(h, drill_report(10.0 * (i + 1), verdict="fail" if i == 9 else "pass", started=T0 + 3600 * i,
                            rpo=0.1 * i, failback=20.0 + i, downtime=6.0))
    return h


def test_percentile_linear_interpolation() -> None:
    xs = [10.0 * (i + 1) for i in range(10)]
    assert ht.percentile(xs, 50) == pytest.approx(55.0)
    assert ht.percentile(xs, 99) == pytest.approx(99.1)
    assert ht.percentile([7.0], 99) == 7.0
    assert ht.percentile([], 50) is None


def test_trend_figures(history: Path) -> None:
    s = ht.history_trend(history)
    assert s["runs"] == 10 and s["warnings"] == []
    assert s["rto"]["p50_s"] == pytest.approx(55.0)
    assert s["rto"]["p99_s"] == pytest.approx(99.1)
    assert s["rto"]["runs_under_objective"] == 10 and s["rto"]["share_under_objective"] == 1.0
    assert s["rto"]["holds"] is True
    assert s["rto"]["demonstrated"] is False  # 10 runs cannot show 99 % at 95 % confidence
    assert s["rto"]["runs_needed_to_demonstrate"] == 299
    assert "HOLDS on 10 runs" in s["rto"]["statement"]
    assert s["rpo"]["p50_s"] == pytest.approx(0.45) and s["rpo"]["max_s"] == pytest.approx(0.9)
    assert s["failback"]["p50_s"] == pytest.approx(24.5) and s["failback"]["max_s"] == 29.0
    assert s["success"]["passed"] == 9 and s["success"]["rate"] == 0.9
    assert s["success"]["holds"] is False  # 90 % is not > 95 %
    (month,) = s["error_budget"]["months"].values()
    assert month["downtime_s"] == 60.0 and month["budget_s"] == 1296.0 and month["within"] is True
    assert s["objectives_met"] is False
    png = Path(s["trend_png"])
    assert png.is_file() and png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = Path(s["trend_md"]).read_text()
    assert "p50" in md and "9/10" in md and "trend.png" in md


def test_rto_miss_and_missing_rto_count_against_share(tmp_path: Path) -> None:
    h = tmp_path / "h"
    put(h, drill_report(120.0, started=T0))
    put(h, drill_report(1000.0, started=T0 + 10, verdict="fail"))
    put(h, drill_report(None, started=T0 + 20, verdict="fail"))
    s = ht.history_trend(h, plot=False)
    assert s["rto"]["measured_runs"] == 2 and s["rto"]["runs_under_objective"] == 1
    assert s["rto"]["share_under_objective"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["rto"]["holds"] is False and "DOES NOT HOLD on 3 runs" in s["rto"]["statement"]
    assert s["rto"]["p99_within_objective"] is False


def test_error_budget_per_month(tmp_path: Path) -> None:
    h = tmp_path / "h"
    put(h, drill_report(60.0, started=T0, downtime=1000.0))
    put(h, drill_report(60.0, started=T0 + 3600, downtime=400.0))  # same month: 1400 s > 1296 s
    put(h, drill_report(60.0, started=T0 + 40 * 86400, downtime=5.0))  # next month
    s = ht.history_trend(h, plot=False)
    months = s["error_budget"]["months"]
    assert [m["within"] for m in months.values()] == [False, True]
    assert s["error_budget"]["holds"] is False


def test_corrupt_report_is_skipped_with_warning(history: Path, capsys: pytest.CaptureFixture[str],
                                                no_plot: None) -> None:
    put(history, "{not json", name="20251125T000000Z-broken")
    put(history, json.dumps({"scenario": "x"}), name="20251125T000001Z-noverdict")
    (history / "20251125T000002Z-empty").mkdir()
    rc = report_main(["report", "--history", "--dir", str(history), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1  # success rate 90 % misses the objective
    assert out["runs"] == 10
    assert len(out["warnings"]) == 3
    assert any("broken" in w and "skipped" in w for w in out["warnings"])


def test_all_corrupt_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = tmp_path / "h"
    put(h, "garbage", name="a")
    assert report_main(["report", "--history", "--dir", str(h)]) == 2
    assert "no readable drill report" in capsys.readouterr().err


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_missing_or_empty_dir_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str) -> None:
    h = tmp_path / "h"
    if make == "empty":
        h.mkdir()
    assert report_main(["report", "--history", "--dir", str(h)]) == 2
    err = capsys.readouterr().err
    assert str(h) in err and ("no drill history" in err or "empty" in err)


def test_all_objectives_met_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_plot: None) -> None:
    h = tmp_path / "h"
    for i in range(3):
        put(h, drill_report(30.0 + i, started=T0 + i))
    assert report_main(["report", "--history", "--dir", str(h)]) == 0
    out = capsys.readouterr().out
    assert "3 drills" in out and "HOLDS on 3 runs" in out


def test_archive_copies_drill(tmp_path: Path) -> None:
    latest = tmp_path / "latest"
    latest.mkdir()
    rep = drill_report(42.0, scenario="planned-switchover")
    (latest / "drill-report.json").write_text(json.dumps(rep))
    (latest / "drill-report.md").write_text("# x\n")
    (latest / "history.jsonl").write_text("")
    h = tmp_path / "history"
    d1 = ht.archive(latest, h)
    d2 = ht.archive(latest, h)  # same second: a second dir, not an overwrite
    assert d1.name == time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(T0)) + "-planned-switchover"
    assert d2 != d1 and d2.is_dir()
    assert {p.name for p in d1.iterdir()} == {"drill-report.json", "drill-report.md", "history.jsonl"}
    assert json.loads((d1 / "drill-report.json").read_text())["history_file"] == str(d1 / "history.jsonl")
    drills, warnings = ht.load_drills(h)
    assert len(drills) == 2 and warnings == []


def test_archive_without_report_is_bad_input(tmp_path: Path) -> None:
    from drharness.errors import BadInput

    with pytest.raises(BadInput, match="nothing to archive"):
        ht.archive(tmp_path / "nope", tmp_path / "history")


def test_lower_confidence_bound() -> None:
    assert ht.lower_confidence_bound(299, 299) == pytest.approx(0.99, abs=1e-3)
    lcb = ht.lower_confidence_bound(95, 100)
    assert lcb is not None and 0.88 < lcb < 0.95
    assert ht.lower_confidence_bound(0, 5) == 0.0
