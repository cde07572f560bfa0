"""Timeline and lag charts from a small synthetic history (no lab)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drharness.history import History, HistoryError, load_history
from drharness.report.cli import main as report_main
from drharness.report.timeline import lag_series, render_lag_chart, render_timeline

T0 = 1_764_000_000.0
PNG = b"\x89PNG\r\n\x1a\n"


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def synthetic_history(path: Path, *, complete: bool = True) -> Path:
    clock = Clock()
    h = History(path, clock=clock)

    def at(s: float) -> None:
        clock.t = T0 + s

    at(0)
    drill = h.drill_start({"scenario": "region-outage"})
    h.append("prober", "ok", "dns", {"name": "app", "answer": "127.0.1.1", "ttl": 1, "region": "us-east-1"})
    fault = None
    step = None
    for i in range(40):
        at(0.25 * i)
        if i == 8:
            fault = h.invoke("nemesis", "fault", {"fault": "region-isolation", "target_region": "us-east-1",
                                                  "experiment_id": "EXP1"})
        if i == 12:
            step = h.invoke("orchestrator", "step", {"step": "fence"})
        if i == 16:
            assert step is not None
            h.complete(step, "ok")
            step = h.invoke("orchestrator", "step", {"step": "aurora_promotion"})
        if i == 20:
            assert step is not None
            h.complete(step, "ok")
            step = h.invoke("orchestrator", "step", {"step": "dns"})
            h.append("prober", "ok", "dns", {"name": "app", "answer": "127.0.2.1", "ttl": 1,
                                             "region": "us-west-2"})
        if i == 22:
            assert step is not None
            h.complete(step, "ok")
        probe = h.invoke("prober:0", "probe", {"name": f"p{i}"})
        down = 8 <= i < 22
        region = "us-east-1" if i < 8 else "us-west-2"
        h.complete(probe, "fail" if down else "ok", {"name": f"p{i}", "ip": "x", "status": 503 if down else 201,
                                                     "latency_ms": 3.0}, region=region)
        for store in ("aurora", "dynamodb"):
            h.append("lag", "ok", "lag", {"store": store, "lag_ms": None if i == 10 else 20.0 + i})
    at(9)
    assert fault is not None
    h.complete(fault, "ok")
    at(10)
    if complete:
        h.drill_end(drill)
    h.close()
    return path


def _png(p: Path) -> None:
    assert p.is_file() and p.stat().st_size > 2000
    assert p.read_bytes()[:8] == PNG


def test_render_timeline(tmp_path: Path) -> None:
    hist = synthetic_history(tmp_path / "history.jsonl")
    out = render_timeline(hist, tmp_path / "charts" / "timeline.png")
    assert out == tmp_path / "charts" / "timeline.png"
    _png(out)


def test_render_lag_chart(tmp_path: Path) -> None:
    hist = synthetic_history(tmp_path / "history.jsonl")
    series = lag_series(load_history(hist))
    assert set(series) == {"aurora", "dynamodb"} and len(series["aurora"]) == 40
    assert series["aurora"][10][1] != series["aurora"][10][1]  # null lag → NaN gap
    _png(render_lag_chart(hist, tmp_path / "lag.png"))


def test_torn_and_incomplete_history_still_renders(tmp_path: Path) -> None:
    hist = synthetic_history(tmp_path / "history.jsonl", complete=False)
    with hist.open("a") as fh:
        fh.write('{"t": 1764000011, "process": "prob')  # writer crashed mid-line
    _png(render_timeline(hist, tmp_path / "t.png"))
    _png(render_lag_chart(hist, tmp_path / "l.png"))


def test_empty_history_and_no_lag(tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    hist.write_text("")
    assert render_timeline(hist, tmp_path / "t.png").stat().st_size > 0
    assert render_lag_chart(hist, tmp_path / "l.png").stat().st_size > 0


def test_missing_history_raises(tmp_path: Path) -> None:
    with pytest.raises(HistoryError):
        render_timeline(tmp_path / "nope.jsonl", tmp_path / "t.png")


def test_report_cli_renders_drill_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "latest"
    synthetic_history(d / "history.jsonl")
    report = {"schema": "drharness.drill/1", "scenario": "region-outage", "target": "local", "profile": "fast",
              "started_at": T0, "finished_at": T0 + 10, "verdict": "fail", "slo": {"rto_s": 900.0},
              "rto": {"seconds": 5.5, "floor_seconds": 4.0, "phases": {}}, "checks": [],
              "history_file": str(d / "history.jsonl")}
    (d / "drill-report.json").write_text(json.dumps(report))
    assert report_main(["report", "--dir", str(d), "--json"]) == 1  # the drill failed
    out = json.loads(capsys.readouterr().out)
    assert out["warnings"] == []
    _png(Path(out["timeline_png"]))
    _png(Path(out["lag_png"]))
    assert (d / "drill-report.md").read_text().startswith("# Drill report: region-outage")


def test_report_cli_missing_drill_dir_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main(["report", "--dir", str(tmp_path / "none")]) == 2
    assert "no drill report" in capsys.readouterr().err
