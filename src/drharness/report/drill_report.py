"""drill-report.json (schema drharness.drill/1) and drill-report.md."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

SCHEMA = "drharness.drill/1"


def _ts(t: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else None


def result_sections(results: dict[str, Any], floor_terms: dict[str, float]) -> dict[str, Any]:
    """The checker-derived parts of drill-report.json (DESIGN §6), shared by the drill runner and the
    Chaos Toolkit judge so both write the same schema."""
    rto_f, rpo_f = results["rto"].figures, results["rpo"].figures
    av = results["availability"].figures
    return {
        "rto": {"seconds": rto_f.get("seconds"), "floor_seconds": rto_f.get("floor_seconds"),
                "ratio": rto_f.get("ratio"), "phases": rto_f.get("phases", {}), "floor_terms": floor_terms},
        "rpo": {"seconds": rpo_f.get("seconds"), "per_store": {
            s: {"acknowledged": v.get("acknowledged"), "lost": v.get("lost"), "lost_keys": v.get("lost_keys", [])}
            for s, v in (rpo_f.get("per_store") or {}).items()}},
        "replication_lag_ms": {
            st: {k: v.get(k) for k in ("p50", "p95", "p99", "max")}
            for st, v in (results["replication_lag"].figures.get("per_store") or {}).items()},
        "availability": {"requests": av.get("requests"), "errors": av.get("errors"),
                         "downtime_s": av.get("downtime_s"), "budget_consumed": av.get("budget_consumed")},
        "checks": [{"name": n, "verdict": r.verdict, "detail": r.detail} for n, r in results.items()],
    }


def write_reports(report: dict[str, Any], report_dir: Path) -> tuple[Path, Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    jpath = report_dir / "drill-report.json"
    jpath.write_text(json.dumps(report, indent=2, default=str) + "\n")
    mpath = report_dir / "drill-report.md"
    mpath.write_text(render_markdown(report))
    return jpath, mpath


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.2f}{unit}"
    return f"{v}{unit}"


def render_markdown(r: dict[str, Any]) -> str:
    slo = r.get("slo", {})
    rto = r.get("rto") or {}
    rpo = r.get("rpo") or {}
    fb = r.get("failback") or {}
    lines = [
        f"# Drill report: {r['scenario']} — **{r['verdict'].upper()}**",
        "",
        f"- Target: `{r['target']}`  Profile: `{r['profile']}`",
        f"- Started: {_ts(r.get('started_at'))}  Finished: {_ts(r.get('finished_at'))}",
        f"- History: `{r.get('history_file')}`",
        "",
        "## Objectives",
        "",
        "| measure | result | objective | verdict |",
        "|---|---|---|---|",
    ]
    checks = {c["name"]: c for c in r.get("checks", [])}
    if rto:
        lines.append(f"| RTO | {_fmt(rto.get('seconds'), ' s')} (floor {_fmt(rto.get('floor_seconds'), ' s')}) "
                     f"| < {slo.get('rto_s')} s | {checks.get('rto', {}).get('verdict', 'n/a')} |")
    if rpo:
        lines.append(f"| RPO | {_fmt(rpo.get('seconds'), ' s')} | "
                     f"{'0 (planned)' if r.get('zero_loss') else '< ' + str(slo.get('rpo_s')) + ' s'} "
                     f"| {checks.get('rpo', {}).get('verdict', 'n/a')} |")
    if fb:
        lines.append(f"| Failback | {_fmt(fb.get('seconds'), ' s')} | < {slo.get('failback_s')} s "
                     f"| {fb.get('verdict', 'n/a')} |")
    if rto.get("phases"):
        lines += ["", "## RTO phases", "", "| phase | seconds |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in rto["phases"].items()]
        if rto.get("floor_terms"):
            lines += ["", "Floor = " + " + ".join(f"{k} {_fmt(v)} s" for k, v in rto["floor_terms"].items())
                      + f" (profile `{r['profile']}`: {r.get('profile_source', '')})"]
    if rpo.get("per_store"):
        lines += ["", "## Writes (acknowledged vs lost)", "", "| store | acknowledged | lost | lost keys (first 5) |",
                  "|---|---|---|---|"]
        for store, s in rpo["per_store"].items():
            lines.append(f"| {store} | {s.get('acknowledged')} | {s.get('lost')} | "
                         f"{', '.join(s.get('lost_keys', [])[:5])} |")
    if r.get("replication_lag_ms"):
        lines += ["", "## Replication lag (ms)", "", "| store | p50 | p95 | p99 | max |", "|---|---|---|---|---|"]
        for store, s in r["replication_lag_ms"].items():
            lines.append(f"| {store} | {_fmt(s.get('p50'))} | {_fmt(s.get('p95'))} | {_fmt(s.get('p99'))} "
                         f"| {_fmt(s.get('max'))} |")
    if r.get("consistency"):
        lines += ["", "## Consistency after catch-up", "", "| store | ok | compared | diffs |", "|---|---|---|---|"]
        for store, s in r["consistency"].items():
            lines.append(f"| {store} | {s.get('ok')} | {s.get('compared')} | {s.get('diffs')} |")
    av = r.get("availability") or {}
    if av:
        lines += ["", "## Availability", "",
                  f"{av.get('requests')} probe requests, {av.get('errors')} errors, "
                  f"{_fmt(av.get('downtime_s'), ' s')} downtime"
                  + (f", {av['budget_consumed'] * 100:.2f} % of the monthly 99.95 % error budget"
                     if av.get("budget_consumed") is not None else "") + "."]
    if r.get("load"):
        ld = r["load"]
        lines += ["", "## Load", "", f"{_fmt(ld.get('rps'))} req/s, p95 {_fmt(ld.get('p95_ms'), ' ms')}"]
    lines += ["", "## Checks", "", "| check | verdict | detail |", "|---|---|---|"]
    for c in r.get("checks", []):
        lines.append(f"| {c['name']} | {c['verdict']} | {str(c.get('detail', '')).replace('|', '/')[:200]} |")
    if r.get("orchestrator"):
        lines += ["", "## Orchestrator steps", "", "| run | step | status | seconds | detail |", "|---|---|---|---|---|"]
        for run in r["orchestrator"]:
            for s in run.get("steps", []):
                lines.append(f"| {run['kind']} | {s['name']} | {s['status']} | {_fmt(s.get('seconds'))} "
                             f"| {str(s.get('detail', '')).replace('|', '/')[:120]} |")
    if r.get("errors"):
        lines += ["", "## Harness errors", ""] + [f"- {e}" for e in r["errors"]]
    return "\n".join(lines) + "\n"
