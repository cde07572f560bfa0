"""CLI hook: ``drharness consistency check`` and ``drharness lag watch|cloudwatch``.

The lead wires ``add_cli(sub)`` into ``drharness.cli``; handlers return the exit code (0 ok, 1 a
store differs / lag over threshold) and let BadInput (2) / EnvironmentProblem (3) propagate to the
CLI's one-line error handler.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from drharness.errors import BadInput

__all__ = ["add_cli", "cmd_consistency_check", "cmd_lag_cloudwatch", "cmd_lag_watch"]


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="local", choices=("local", "aws"),
                   help="local = the running lab; aws = terraform outputs of --env")
    p.add_argument("--env", default=None, help="Terraform environment directory (with --target aws)")


def _target(a: argparse.Namespace) -> Any:
    from drharness.target import resolve_target

    return resolve_target(a.target, a.env)


def add_cli(subparsers: Any) -> None:
    """Register ``consistency check`` and ``lag watch`` / ``lag cloudwatch`` on the CLI's subparsers."""
    parser_class = getattr(subparsers, "_parser_class", argparse.ArgumentParser)

    cons = subparsers.add_parser("consistency", help="compare primary and secondary region data")
    csub = cons.add_subparsers(dest="consistency_cmd", required=True, parser_class=parser_class)
    chk = csub.add_parser("check", help="checksum/bisect Aurora, scan DynamoDB, list S3 versions; name diffs")
    chk.add_argument("--json", action="store_true", help="print the per-store results as JSON")
    chk.add_argument("--stores", default="aurora,dynamodb,s3", help="comma list of aurora,dynamodb,s3")
    chk.add_argument("--tables", default=None,
                     help="Aurora tables (comma list, schema.name); default: every table with a primary key")
    chk.add_argument("--catchup-timeout", type=float, default=30.0,
                     help="seconds the Aurora reader may take to reach the writer's LSN (default 30)")
    chk.add_argument("--settle", type=float, default=5.0,
                     help="seconds DynamoDB/S3 differences may take to replicate before they count (default 5)")
    chk.add_argument("--max-keys", type=int, default=20, help="differing keys listed per store (default 20)")
    _target_args(chk)
    chk.set_defaults(fn=cmd_consistency_check)

    lag = subparsers.add_parser("lag", help="replication lag of Aurora, DynamoDB and S3")
    lsub = lag.add_subparsers(dest="lag_cmd", required=True, parser_class=parser_class)
    w = lsub.add_parser("watch", help="sample lag directly and show a live table")
    w.add_argument("--seconds", type=float, default=30.0)
    w.add_argument("--interval", type=float, default=1.0, help="seconds between markers per store")
    w.add_argument("--stores", default="aurora,dynamodb,s3")
    w.add_argument("--history", default=None, help="append the samples to this history file (JSONL)")
    w.add_argument("--json", action="store_true", help="print the final summary as JSON (no live table)")
    _target_args(w)
    w.set_defaults(fn=cmd_lag_watch)
    cw = lsub.add_parser("cloudwatch", help="lag percentiles as CloudWatch recorded them")
    cw.add_argument("--minutes", type=float, default=15.0, help="look back this many minutes (default 15)")
    cw.add_argument("--period", type=int, default=60, help="metric period in seconds (default 60)")
    cw.add_argument("--json", action="store_true")
    _target_args(cw)
    cw.set_defaults(fn=cmd_lag_cloudwatch)


def cmd_consistency_check(a: argparse.Namespace) -> int:
    from drharness.consistency import check, exit_code, parse_stores, report_section

    stores = parse_stores(a.stores)
    tables = [t.strip() for t in a.tables.split(",") if t.strip()] if a.tables else None
    if a.max_keys < 0 or a.catchup_timeout < 0 or a.settle < 0:
        raise BadInput("--max-keys, --catchup-timeout and --settle must not be negative")
    results = check(_target(a), stores, tables=tables, catchup_timeout_s=a.catchup_timeout, settle_s=a.settle,
                    max_keys=a.max_keys)
    code = exit_code(results)
    if a.json:
        sys.stdout.write(json.dumps({"ok": code == 0, "consistency": report_section(results)}, indent=2,
                                    default=str) + "\n")
        return code
    from rich.console import Console
    from rich.table import Table

    table = Table(title="consistency: primary vs secondary region")
    for col in ("store", "status", "compared", "diffs", "first differing keys"):
        table.add_column(col, justify="right" if col in ("compared", "diffs") else "left")
    for name, r in results.items():
        colour = "green" if r.ok else "red"
        keys = ", ".join(json.dumps(k, default=str) for k in r.diff_keys[:5])
        table.add_row(name, f"[{colour}]{r.status}[/{colour}]", str(r.compared),
                      "-" if r.diffs is None else str(r.diffs), keys)
    out = Console()
    out.print(table)
    for r in results.values():
        out.print(("[green]ok[/green] " if r.ok else "[red]not ok[/red] ") + r.detail, highlight=False)
    return code


def cmd_lag_watch(a: argparse.Namespace) -> int:
    from drharness.consistency.lag import watch
    from drharness.history import NULL_HISTORY, BaseHistory, History

    if a.seconds <= 0 or a.interval <= 0:
        raise BadInput("--seconds and --interval must be positive")
    from drharness.consistency import parse_stores

    stores = parse_stores(a.stores)
    target = _target(a)
    history: BaseHistory = History(a.history) if a.history else NULL_HISTORY
    try:
        if a.json:
            from drharness.consistency.lag import LagMonitor

            mon = LagMonitor(target, history, stores=stores, interval_s=a.interval, max_seconds=a.seconds + 5)
            mon.start()
            time.sleep(a.seconds)
            summary = mon.stop()
            sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        else:
            summary = watch(target, a.seconds, a.interval, stores=stores, history=history)
    finally:
        history.close()
    return 1 if any(s.get("breached") for s in summary.values()) else 0


def cmd_lag_cloudwatch(a: argparse.Namespace) -> int:
    from drharness.consistency.lag import cloudwatch_lag

    if a.minutes <= 0 or a.period <= 0:
        raise BadInput("--minutes and --period must be positive")
    end = time.time()
    out = cloudwatch_lag(_target(a), end - a.minutes * 60, end, a.period)
    if a.json:
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
        return 0
    from rich.console import Console

    from drharness.consistency.lag import render_table

    Console().print(render_table({k: v for k, v in out.items() if k != "errors"}))
    for k, v in out.get("errors", {}).items():
        Console(stderr=True).print(f"[yellow]{k}: {v}[/yellow]")
    return 0
