"""Interrupted drills: detect one (its marker survived a kill -9), set its files aside, restore the
target to a known state, and record it as a failed, incomplete drill — never a pass.

Known state = no FIS experiment of the dead run running (their faults reverted), the writer in the
primary region, the primary's app not fenced, both regions healthy.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drharness.errors import EnvironmentProblem
from drharness.safety import audit

__all__ = ["MARKER", "clear_marker", "recover", "set_aside_interrupted", "write_marker"]

log = logging.getLogger(__name__)
MARKER = "drill-in-progress.json"
RUN_FILES = ("history.jsonl", "audit.jsonl", "orchestrator", "drill-report.json", "drill-report.md",
             "timeline.png", "lag.png", MARKER)
TERMINAL = ("completed", "stopped", "failed")


def _alive_here(doc: dict[str, Any]) -> bool:
    if doc.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(doc.get("pid", 0)), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return int(doc.get("pid", 0)) > 0


def write_marker(report_dir: Path, doc: dict[str, Any]) -> None:
    """Written when a drill starts; removed when it ends in any way Python sees (kill -9 leaves it)."""
    path = Path(report_dir) / MARKER
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**doc, "pid": os.getpid(), "host": socket.gethostname()}, indent=2))
    os.replace(tmp, path)


def clear_marker(report_dir: Path) -> None:
    (Path(report_dir) / MARKER).unlink(missing_ok=True)


def set_aside_interrupted(report_dir: Path) -> Path | None:
    """If the report dir holds an interrupted drill, move its files to ``interrupted-<run id>/`` and
    write a failing report there. Local file moves only; ``recover`` then repairs the target."""
    report_dir = Path(report_dir)
    marker = report_dir / MARKER
    if not marker.exists():
        return None
    try:
        doc = json.loads(marker.read_text())
    except ValueError:
        doc = {"run_id": f"unknown-{int(marker.stat().st_mtime)}"}
    if _alive_here(doc):
        raise EnvironmentProblem(f"drill run {doc.get('run_id')} (pid {doc.get('pid')}) is still running in "
                                 f"{report_dir}: use another --report-dir")
    dest = report_dir / f"interrupted-{doc.get('run_id', 'unknown')}"
    dest.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        src = report_dir / name
        if src.exists():
            shutil.move(str(src), str(dest / name))
    _write_incomplete_report(dest, doc)
    log.warning("drill run %s was interrupted; its files are in %s", doc.get("run_id"), dest)
    return dest


def _write_incomplete_report(dest: Path, doc: dict[str, Any], recovered: dict[str, Any] | None = None) -> None:
    from drharness.history import load_history

    events = 0
    try:
        events = len(load_history(dest / "history.jsonl", allow_torn_tail=True))
    except Exception:  # noqa: BLE001 - a missing/torn history is exactly what we report
        pass
    report = {
        "schema": "drharness.drill/1", "scenario": doc.get("scenario"), "target": doc.get("target"),
        "profile": doc.get("profile"), "started_at": doc.get("started"), "finished_at": None,
        "verdict": "fail", "interrupted": True, "run_id": doc.get("run_id"),
        "checks": [{"name": "harness", "verdict": "unknown",
                    "detail": f"drill interrupted (runner pid {doc.get('pid')} died); history incomplete "
                              f"({events} events, no drill end): no verdict can be a pass"}],
        "recovery": recovered, "history_file": str(dest / "history.jsonl"),
    }
    (dest / "drill-report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (dest / "drill-report.md").write_text(
        f"# {doc.get('scenario')}: FAIL (interrupted)\n\nThe drill runner died mid-drill; its history is "
        f"incomplete ({events} events), so this run has no passing verdict.\n\nRecovery: "
        f"{json.dumps(recovered, default=str) if recovered else 'pending'}\n")


def _started_experiments(dead: Path) -> list[tuple[str, str]]:
    out = []
    for e in audit.read_audit(dead / "audit.jsonl"):
        if e.get("what") == "fis.StartExperiment" and (e.get("detail") or {}).get("experiment_id"):
            out.append((e.get("region") or "", e["detail"]["experiment_id"]))
    return out


def _fenced_functions(dead: Path) -> list[tuple[str, str]]:
    out = []
    for e in audit.read_audit(dead / "audit.jsonl"):
        p = (e.get("detail") or {}).get("params") or {}
        if e.get("what") == "lambda.PutFunctionConcurrency" and p.get("ReservedConcurrentExecutions") == 0:
            out.append((e.get("region") or "", p.get("FunctionName", "")))
    return out


def stop_experiments(target: Any, dead: Path, since: float) -> list[str]:
    """Stop the dead run's experiments: those its audit log names, and any running experiment tagged
    by drharness that started after it (it may have died between the call and the audit line)."""
    stopped = []
    named = _started_experiments(dead)
    for region in target.regions:
        fis = target.client("fis", region, attempts=2)
        ids = {i for r, i in named if r == region}
        for exp in fis.list_experiments().get("experiments", []):
            created = exp.get("creationTime")
            ts = created.timestamp() if hasattr(created, "timestamp") else 0.0
            if "drharness:scenario" in (exp.get("tags") or {}) and ts >= since - 1:
                ids.add(exp["id"])
        for exp_id in sorted(ids):
            state = fis.get_experiment(id=exp_id)["experiment"]["state"]["status"]
            if state not in TERMINAL:
                fis.stop_experiment(id=exp_id)
                deadline = time.monotonic() + 30
                while state not in TERMINAL and time.monotonic() < deadline:
                    time.sleep(0.1)
                    state = fis.get_experiment(id=exp_id)["experiment"]["state"]["status"]
                stopped.append(f"{region}:{exp_id} -> {state}")
    return stopped


def _writer(target: Any) -> tuple[str | None, Any]:
    rds = target.client("rds", target.secondary_region, attempts=2)
    gc = rds.describe_global_clusters(GlobalClusterIdentifier=target.global_cluster_id)["GlobalClusters"][0]
    arn = next((m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"]), None)
    return (target.cluster_region(arn) if arn else None), gc.get("FailoverState")


def recover(target: Any, dead: Path, progress: Callable[[str], None] | None = None,
            timeout_s: float = 300.0) -> dict[str, Any]:
    """Bring the target back to the known state after an interrupted drill; returns what was done."""

    say = progress or (lambda m: log.info("%s", m))
    doc: dict[str, Any] = {}
    if (dead / MARKER).exists():
        try:
            doc = json.loads((dead / MARKER).read_text())
        except ValueError:
            doc = {}
    since = float(doc.get("started") or 0.0)
    done: dict[str, Any] = {"interrupted_run": doc.get("run_id"), "stopped_experiments": [], "failback": None,
                            "unfenced": []}
    audit.record("recovery.start", interrupted_run=doc.get("run_id"), dir=str(dead))
    say(f"recovering from interrupted drill {doc.get('run_id')}: stopping its FIS experiments")
    done["stopped_experiments"] = stop_experiments(target, dead, since)
    done.update(restore_known_state(target, dead / "recovery", dead / "orchestrator", say, timeout_s,
                                    fenced=_fenced_functions(dead)))
    _write_incomplete_report(dead, doc, done)
    audit.record("recovery.done", interrupted_run=doc.get("run_id"), stopped=done["stopped_experiments"],
                 failback=bool(done["failback"]), unfenced=done["unfenced"])
    return done


def restore_known_state(target: Any, state_dir: Path, fence_record_dir: Path, say: Callable[[str], None],
                        timeout_s: float = 300.0, fenced: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Writer back in the primary region, its app unfenced (to the concurrency it had), both regions
    healthy: after a dead run (``recover``) and after a halted one (``drharness halt``). The faults
    must already be stopped. ``fenced``: (region, function) fences to undo when no failback is needed
    (default: the primary's app, if it is fenced)."""
    from drharness.orchestrator import Orchestrator, OrchestratorConfig

    done: dict[str, Any] = {"failback": None, "unfenced": []}
    deadline = time.monotonic() + timeout_s
    writer, state = _writer(target)
    while state and time.monotonic() < deadline:  # a failover/switchover under way: let it finish
        time.sleep(0.2)
        writer, state = _writer(target)

    def cfg() -> OrchestratorConfig:
        return OrchestratorConfig(mode="planned", decision="manual", confirmed=True, state_dir=str(state_dir),
                                  fence_record_dir=str(fence_record_dir))

    if writer != target.primary_region:
        say(f"recovery: writer is in {writer}: failing back to {target.primary_region}")
        orch = Orchestrator(target, cfg(), from_region=target.secondary_region)
        orch.failback()
        done["failback"] = orch.summary()
    else:
        # The failover recorded the concurrency it fenced away: unfence() puts that back.
        todo = fenced if fenced is not None else [(target.primary_region, target.regions[target.primary_region].function)]
        for region, fn in todo:
            outcome = Orchestrator(target, cfg(), from_region=target.other(region)).unfence()
            done["unfenced"].append(f"{region}:{fn}: {outcome}")
    _wait_healthy(target, deadline)
    done["known_state"] = f"no drill experiment running; writer in {target.primary_region}; both regions healthy"
    return done


def _wait_healthy(target: Any, deadline: float) -> None:
    from drharness.aggregator import Aggregator

    agg = Aggregator(target)
    while True:
        verdicts = agg.evaluate()
        if all(v.healthy for v in verdicts.values()):
            return
        if time.monotonic() > deadline:
            bad = "; ".join(v.root_cause or r for r, v in verdicts.items() if not v.healthy)
            raise EnvironmentProblem(f"recovery could not restore a healthy target: {bad}")
        time.sleep(0.5)
