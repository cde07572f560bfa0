"""kill -9 of `drharness drill run` mid-drill, then a re-run in the same report dir.

The re-run must detect the interrupted drill (its marker survived), restore the lab to a known state
by itself (stop the dead run's FIS experiment, fail back if the writer moved, unfence), record the
dead run as failed and incomplete, and then run its own drill to the end. The lab is *not* reset
between the kill and the re-run: only the harness's recovery can have repaired it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab


def drill(report_dir, scenario: str, crash_at: str | None = None) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if k != "DRHARNESS_CRASH_AT"}
    if crash_at:
        env["DRHARNESS_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "drharness", "drill", "run", "--scenario", scenario,
                           "--report-dir", str(report_dir), "--history-dir", "", "--json"],
                          capture_output=True, text=True, timeout=400, env=env)


def writer(lab) -> str:  # noqa: ANN001
    """The lab's ground truth: the region whose PostgreSQL is the writer."""
    return lab.status()["aurora"]["writer_region"]


def running_experiments(t) -> list[dict]:  # noqa: ANN001
    return [e for r in t.regions for e in t.client("fis", r).list_experiments()["experiments"]
            if e["state"]["status"] in ("pending", "initiating", "running")]


def fenced(t) -> bool:  # noqa: ANN001
    lam = t.client("lambda", t.primary_region)
    conc = lam.get_function_concurrency(FunctionName=t.regions[t.primary_region].function)
    return conc.get("ReservedConcurrentExecutions") == 0


def test_kill9_at_each_phase_then_rerun_recovers_each_and_never_passes_a_dead_run(clean_lab, tmp_path):
    """Three kills in a row in one report dir (a lab cycle costs seconds; one chain covers every phase),
    each run recovering the one before it: killed with the FIS region-outage on before any failover
    (`fault`); mid-failover with Aurora promoted in us-west-2 and the us-east-1 app fenced (`dns`);
    mid-failback with the fault healed but the writer still in us-west-2 and the fence on (`drain`).
    A last run recovers that and completes its own drill."""
    t = clean_lab.target
    report_dir = tmp_path / "r"
    seen: set[str] = set()
    dead_dirs: list[Path] = []
    exps: list[list[dict]] = []
    for phase in ("fault", "dns", "drain"):
        res = drill(report_dir, "region-outage", crash_at=phase)
        assert res.returncode == -9, f"not killed at {phase}: {res.stderr[-2000:]}"
        assert (report_dir / "drill-in-progress.json").exists()
        new = {p.name for p in report_dir.iterdir() if p.name.startswith("interrupted-")} - seen
        assert len(new) == (0 if not exps else 1), new  # this run moved the previous dead run aside
        dead_dirs += [report_dir / n for n in new]
        seen |= new
        running = running_experiments(t)
        earlier = {e["id"] for run in exps for e in run}
        assert {e["id"] for e in running}.isdisjoint(earlier), "this run must have stopped the dead run's experiment"
        if phase == "fault":
            assert running, "the killed drill left its fault on (nothing to recover: the test would prove nothing)"
            assert writer(clean_lab) == t.primary_region
        elif phase == "dns":
            assert running and writer(clean_lab) == t.secondary_region
        else:  # the drill healed its fault and began the failback: writer still away, app fenced
            assert not running and writer(clean_lab) == t.secondary_region and fenced(t)
        exps.append(running)

    again = drill(report_dir, "planned-switchover")
    report = json.loads(again.stdout) if again.stdout.strip() else {}
    # The re-run got past its preflight (both regions healthy) and completed its own drill. Its timing
    # checks (DNS staleness, RTO) are judged by the drill tests, not here: on a loaded machine they vary.
    assert again.returncode in (0, 1) and report.get("verdict") in ("pass", "fail"), again.stderr[-1500:]
    assert not [c for c in report["checks"] if c["name"] == "harness"], report["checks"]
    assert report["rpo"]["per_store"]["aurora"]["lost"] == 0
    dead_dirs += [report_dir / n for n in {p.name for p in report_dir.iterdir()
                                           if p.name.startswith("interrupted-")} - seen]
    assert len(dead_dirs) == 3, dead_dirs

    # Each dead run: a fail report marked interrupted, and the recovery its successor made.
    for d, phase, started in zip(dead_dirs, ("fault", "dns", "drain"), exps, strict=True):
        assert '"what":"fis.StartExperiment"' in (d / "audit.jsonl").read_text()
        dead_report = json.loads((d / "drill-report.json").read_text())
        assert dead_report["verdict"] == "fail" and dead_report["interrupted"] is True, phase
        assert dead_report["checks"][0]["verdict"] == "unknown", phase
        rec = dead_report["recovery"]
        assert all(any(e["id"] in s for s in rec["stopped_experiments"]) for e in started), (phase, rec)
        assert bool(rec["failback"]) == (phase != "fault"), (phase, rec)
    # Known state, checked by us (no lab reset happened): no experiment running, writer home, app not fenced.
    assert not running_experiments(t)
    assert writer(clean_lab) == t.primary_region
    assert not fenced(t)
    # The audit logs tell the story: each run's recovery stopped the experiments the run before it
    # left running. Run k+1's log moved aside with it (dead_dirs[k + 1]); the last run's is in place.
    audits = [[json.loads(x) for x in (d / "audit.jsonl").read_text().splitlines()] for d in dead_dirs[1:]]
    audits.append([json.loads(x) for x in (report_dir / "audit.jsonl").read_text().splitlines()])
    for log, started in zip(audits, exps, strict=True):
        assert [e for e in log if e["what"] == "recovery.start"]
        stopped_ids = {e["detail"]["params"].get("id") for e in log if e["what"] == "fis.StopExperiment"}
        assert {e["id"] for e in started} <= stopped_ids, (started, stopped_ids)
