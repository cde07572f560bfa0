"""Judge a Chaos Toolkit run of a drharness experiment: the checkers over the history it wrote.

Everything comes from ``history.jsonl`` (the drill start names the scenario, the regions, the TTL
and the profile's timing) plus, when given, the chaoslib journal (status, deviation, failed
activities). The result has the drill report's shape (schema ``drharness.drill/1``) so features,
``drharness report --history`` and humans read chaos runs and drills alike.

Zero loss is required of a planned switchover and of every scenario without a region failover (a
paused replication or an in-region writer failure must not lose an acknowledged write); an unplanned
region failover may lose less than the RPO. Windows are the drill runner's: RTO and stale DNS judge the failover only (up to the failback's
first step), replication lag is judged in steady state (outside fault or first step → last step or heal),
and the failback is the RTO checker again, started at the failback's first step, recovering in
the primary region, objective 30 min.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drharness import checkers
from drharness.checkers import windows
from drharness.checkers.timeline import step_name
from drharness.history import HARNESS, ORCHESTRATOR, Event, load_history, ops_for
from drharness.report.drill_report import SCHEMA, result_sections, write_reports
from drharness.safety.redact import redact

__all__ = ["FAILBACK_S", "RPO_S", "RTO_S", "judge", "judge_files"]

RTO_S, RPO_S, FAILBACK_S = 900.0, 60.0, 1800.0
NO_FAILOVER = ("aurora-writer-failure", "dynamodb-replication-pause", "s3-replication-pause")
PLANNED = ("planned-switchover",)


def _meta(history: Sequence[Event]) -> dict[str, Any]:
    start = next((op for op in ops_for(history, HARNESS, "drill") if op.invoke is not None), None)
    v = start.invoke_value if start is not None else None
    return v if isinstance(v, dict) else {}


def orchestrations(history: Sequence[Event]) -> list[dict[str, Any]]:
    """Orchestrator runs as the drill report lists them, rebuilt from the step ops."""
    runs: dict[str, dict[str, Any]] = {}
    for op in ops_for(history, ORCHESTRATOR, "step"):
        iv = op.invoke_value if isinstance(op.invoke_value, dict) else {}
        run = runs.setdefault(str(iv.get("run_id")), {"run_id": iv.get("run_id"), "kind": iv.get("kind"),
                                                      "to": op.region, "steps": []})
        done = op.value if isinstance(op.value, dict) else {}
        detail = str(done.get("detail") or "")
        status = {"ok": "skipped" if detail.startswith("skipped") else "ok", "fail": "failed"}.get(op.type, "running")
        run["steps"].append({"name": step_name(op), "status": status, "detail": detail,
                             "seconds": None if op.t_end is None else round(op.t_end - op.t, 3)})
    return list(runs.values())


def journal_problems(journal: dict[str, Any] | None) -> list[str]:
    """What in the chaoslib journal makes the run untrustworthy (status, deviation, failed activities)."""
    if journal is None:
        return []
    out = []
    if journal.get("status") != "completed":
        out.append(f"experiment status {journal.get('status')!r}")
    if journal.get("deviated"):
        out.append("steady state deviated after the method")
    for part in ("run", "rollbacks"):
        for r in journal.get(part) or []:
            if r.get("status") != "succeeded":
                name = (r.get("activity") or {}).get("name")
                out.append(f"{part} activity {name!r} {r.get('status')}: {str(r.get('exception') or '')[-200:]}")
    return out


def judge(history: Sequence[Event], journal: dict[str, Any] | None = None) -> dict[str, Any]:
    """The drill-report dict of one experiment run (pure: no lab, no AWS)."""
    meta = _meta(history)
    scenario = str(meta.get("scenario") or "chaos")
    primary, secondary = meta.get("primary"), meta.get("secondary")
    failover = scenario not in NO_FAILOVER
    zero_loss = scenario in PLANNED or not failover  # only an unplanned region failover may lose writes
    new_region = secondary if failover else primary
    timing = meta.get("timing") or {}
    steps = orchestrations(history)
    floor_terms: dict[str, float] = {}
    if timing.get("health_interval_s") is not None:
        floor_terms["detection"] = float(timing["health_interval_s"]) * int(timing["failure_threshold"])
        floor_terms["dns_ttl"] = float(timing["dns_ttl"])
    for run in steps:
        if run["kind"] == "failover":
            for s in run["steps"]:
                if s["name"] == "aurora_promotion" and s["seconds"] is not None:
                    floor_terms["aurora_promotion"] = s["seconds"]
    opts: dict[str, Any] = {
        "rto": {"slo_s": RTO_S, "floor_seconds": round(sum(floor_terms.values()), 3) or None,
                "new_region": new_region, "min_probes": 3},
        "rpo": {"slo_s": RPO_S, "zero_loss": zero_loss, "read_region": new_region},
        "availability": {},
        # A failover run samples every store before and after the fault; a short in-region run may not.
        "replication_lag": {"stores": ["aurora", "dynamodb", "s3"] if failover else None},
    }
    if failover:
        opts["dns"] = {"new_region": secondary, "old_region": primary, "ttl_s": meta.get("dns_ttl_s"),
                       "grace_s": 1.0, "old_ips": meta.get("old_ips") or []}
    results = checkers.check_all(history, opts, only=["rpo", "availability"])
    # the disruption starts at the fault, or (planned switchover) at the first orchestrator step
    fault_t = next((e.t for e in history if (e.process == "nemesis" and e.type == "invoke")
                    or e.process == "orchestrator"), None)
    steps_end = max((e.t for e in history if e.process == "orchestrator"
                     or (e.process == "nemesis" and e.type != "invoke")), default=None)
    results.update(checkers.check_all(windows.lag_outside(history, fault_t, steps_end), opts,
                                      only=["replication_lag"]))
    fb_start = windows.failback_start(history)
    window = windows.before_failback(history, fb_start)
    results.update(checkers.check_all(window, opts, only=[k for k in opts if k in ("rto", "dns")]))
    failback = None
    if fb_start is not None:
        after = [e for e in history if e.t >= fb_start or e.process == "harness"]
        fb = checkers.check_safe(checkers.rto.check, after, {"slo_s": FAILBACK_S, "new_region": primary,
                                                             "start": "orchestrator", "min_probes": 3},
                                 name="failback")
        fb.name = "failback"
        results["failback"] = fb
        secs = fb.figures.get("seconds")
        failback = {"seconds": None if secs is None else round(secs, 2), "verdict": fb.verdict}
    errors = [str((e.value or {}).get("error")) for e in history
              if e.process == "harness" and e.f == "error" and isinstance(e.value, dict)]
    errors += journal_problems(journal)
    if errors:
        results["harness"] = checkers.Result(name="harness", valid=checkers.UNKNOWN, detail="; ".join(errors))
    verdict = checkers.compose(list(results.values())).valid
    times = [e.t for e in history]
    return {
        "schema": SCHEMA,
        "scenario": scenario,
        "source": "chaostoolkit",
        "experiment": meta.get("experiment"),
        "target": meta.get("target"),
        "profile": meta.get("profile"),
        "profile_source": timing.get("source"),
        "timing": timing,
        "started_at": times[0] if times else None,
        "finished_at": times[-1] if times else None,
        "verdict": "pass" if verdict is True else "fail",
        "zero_loss": zero_loss,
        "slo": {"rto_s": RTO_S, "rpo_s": RPO_S, "failback_s": FAILBACK_S},
        "failback": failback,
        "orchestrator": steps,
        **result_sections(results, floor_terms),
        "errors": errors,
        "journal": None if journal is None else {"status": journal.get("status"), "deviated": journal.get("deviated"),
                                                 "duration": journal.get("duration")},
    }


def judge_files(report_dir: Path, journal: dict[str, Any] | Path | None = None) -> dict[str, Any]:
    """Judge ``report_dir/history.jsonl`` (+ the journal) and write drill-report.json / .md there
    (redacted; the returned report is the redacted one)."""
    if isinstance(journal, Path):
        journal = json.loads(journal.read_text()) if journal.exists() else None
    history_file = report_dir / "history.jsonl"
    report = judge(load_history(history_file, allow_torn_tail=True), journal)
    report["history_file"] = str(history_file)
    # As the drill runner: no credential, DSN password or token in a report, on disk or handed to the
    # features (whose failure messages end up in Allure results). docs/SECURITY.md §4.
    report = redact(report)
    write_reports(report, report_dir)
    return report
