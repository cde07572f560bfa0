"""``drharness report [--history] [--dir DIR] [--json]`` (DESIGN §7).

- ``report [--dir reports/latest]``: re-render one drill's ``drill-report.md`` from its
  ``drill-report.json`` and draw ``timeline.png`` / ``lag.png`` from its ``history.jsonl``.
  Exit 0 drill passed, 1 failed, 2 no/corrupt report.
- ``report --history [--dir reports/history]``: trend over all archived drills (``trend.md``,
  ``trend.png``). Exit 0 every objective met, 1 an objective missed, 2 missing/empty dir or no
  readable report.

Register with ``add_cli(subparsers)``; the handler (``cmd_report``) returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from drharness.errors import BadInput, DrHarnessError

DEFAULT_LATEST_DIR = Path("reports/latest")


def _err(msg: str) -> None:
    sys.stderr.write(f"drharness: {msg}\n")


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def _history_cmd(a: argparse.Namespace) -> int:
    from drharness.report.history_trend import DEFAULT_HISTORY_DIR, history_trend

    s = history_trend(Path(a.dir) if a.dir else DEFAULT_HISTORY_DIR)
    for w in s["warnings"]:
        _err(f"warning: {w}")
    if a.json:
        _print_json(s)
    else:
        rto, ok, fb, rpo = s["rto"], s["success"], s["failback"], s["rpo"]
        w = sys.stdout.write
        w(f"{s['runs']} drills in {s['history_dir']} ({s['first']} .. {s['last']})\n")
        w(f"  {rto['statement']}\n")
        w(f"  RTO p50 {rto['p50_s']} s  p99 {rto['p99_s']} s  (objective < {rto['objective_s']:.0f} s)\n")
        w(f"  RPO p50 {rpo['p50_s']} s  max {rpo['max_s']} s\n")
        w(f"  failback p50 {fb['p50_s']} s  max {fb['max_s']} s\n")
        rate = "n/a" if ok["rate"] is None else f"{ok['rate'] * 100:.1f} %"
        w(f"  automated success {ok['passed']}/{ok['runs']} = {rate} (objective > {ok['objective']:.0%}): "
          f"{'met' if ok['holds'] else 'NOT met'}\n")
        for m, v in s["error_budget"]["months"].items():
            w(f"  error budget {m}: {v['downtime_s']} s of {v['budget_s']:.0f} s ({v['used'] * 100:.1f} %)\n")
        w(f"  trend: {s['trend_md']}" + (f"  plot: {s['trend_png']}" if s["trend_png"] else "") + "\n")
        if s["warnings"]:
            w(f"  {len(s['warnings'])} skipped/warning(s), see above\n")
    return 0 if s["objectives_met"] else 1


def render_drill_dir(report_dir: Path) -> dict[str, Any]:
    """Re-render one drill dir: markdown from the JSON, timeline and lag charts from the history."""
    from drharness.history import HistoryError
    from drharness.report.drill_report import render_markdown

    jpath = report_dir / "drill-report.json"
    try:
        report = json.loads(jpath.read_text())
    except FileNotFoundError:
        raise BadInput(f"no drill report at {jpath} (run 'drharness drill run' first, or pass --dir)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read {jpath}: {exc}") from None
    if not isinstance(report, dict) or report.get("verdict") not in ("pass", "fail"):
        raise BadInput(f"{jpath} is not a drill report (no pass/fail verdict)")
    warnings: list[str] = []
    out: dict[str, Any] = {"report": str(jpath), "scenario": report.get("scenario"), "verdict": report["verdict"],
                           "markdown": None, "timeline_png": None, "lag_png": None, "warnings": warnings}
    try:
        md = report_dir / "drill-report.md"
        md.write_text(render_markdown(report))
        out["markdown"] = str(md)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        warnings.append(f"markdown not rendered: {type(exc).__name__}: {exc}")
    hist = report_dir / "history.jsonl"
    if not hist.is_file() and isinstance(report.get("history_file"), str):
        hist = Path(report["history_file"])
    if hist.is_file():
        try:
            from drharness.report.timeline import render_lag_chart, render_timeline

            out["timeline_png"] = str(render_timeline(hist, report_dir / "timeline.png"))
            out["lag_png"] = str(render_lag_chart(hist, report_dir / "lag.png"))
        except ImportError as exc:
            warnings.append(f"charts skipped: {exc} (pip install 'matplotlib>=3.7')")
        except HistoryError as exc:
            warnings.append(f"charts skipped: {exc}")
    else:
        warnings.append(f"charts skipped: no history at {hist}")
    return out


def _drill_cmd(a: argparse.Namespace) -> int:
    out = render_drill_dir(Path(a.dir) if a.dir else DEFAULT_LATEST_DIR)
    for w in out["warnings"]:
        _err(f"warning: {w}")
    if a.json:
        _print_json(out)
    else:
        sys.stdout.write(f"{out['scenario']}: {out['verdict'].upper()}\n")
        for k in ("markdown", "timeline_png", "lag_png"):
            if out[k]:
                sys.stdout.write(f"  {k}: {out[k]}\n")
    return 0 if out["verdict"] == "pass" else 1


def cmd_report(a: argparse.Namespace) -> int:
    """Handler of ``drharness report``: returns the exit code (0/1/2), prints errors itself."""
    try:
        return _history_cmd(a) if a.history else _drill_cmd(a)
    except DrHarnessError as exc:
        _err(str(exc))
        return exc.exit_code


def add_cli(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``report [--history] [--dir DIR] [--json]`` on the top-level subparsers."""
    p = subparsers.add_parser("report", help="render a drill's reports, or the trend over past drills")
    p.add_argument("--history", action="store_true",
                   help="trend over archived drills (reports/history/<UTC timestamp>-<scenario>/)")
    p.add_argument("--dir", default=None,
                   help="drill dir (default reports/latest) or, with --history, history dir "
                        "(default reports/history)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(fn=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (tests, ``python -m drharness.report.cli``)."""
    parser = argparse.ArgumentParser(prog="drharness")
    add_cli(parser.add_subparsers(dest="cmd", required=True))
    a = parser.parse_args(argv)
    return int(a.fn(a))


if __name__ == "__main__":
    raise SystemExit(main())
