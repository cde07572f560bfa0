"""CLI hook: ``drharness plan check [ENV_DIR] [--json] [--strict]``.

The lead wires ``add_cli(sub)`` into ``drharness.cli``. The handler returns the exit code: 0 within
budget, 1 worst-case RTO or RPO over target (or, with ``--strict``, any lint finding); BadInput (2)
propagates to the CLI's one-line error handler (missing directory, unparsable HCL).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["DEFAULT_ENV_DIR", "add_cli", "cmd_plan_check", "render_text"]

DEFAULT_ENV_DIR = "infra/environments/prod-us-west-2"


def add_cli(subparsers: Any) -> None:
    """Register ``plan check`` on the CLI's subparsers."""
    parser_class = getattr(subparsers, "_parser_class", argparse.ArgumentParser)
    plan = subparsers.add_parser("plan", help="static checks of a Terraform environment")
    psub = plan.add_subparsers(dest="plan_cmd", required=True, parser_class=parser_class)
    chk = psub.add_parser("check", help="worst-case RTO/RPO budget from the Terraform config + static-stability "
                                        "lint")
    chk.add_argument("env_dir", nargs="?", default=DEFAULT_ENV_DIR,
                     help=f"Terraform environment directory (default {DEFAULT_ENV_DIR})")
    chk.add_argument("--json", action="store_true", help="print the report as JSON")
    chk.add_argument("--strict", action="store_true", help="lint findings fail the check too (exit 1)")
    chk.set_defaults(fn=cmd_plan_check)


def render_text(doc: dict[str, Any]) -> str:
    out = [f"plan check {doc['env_dir']}"]
    for key in ("rto", "rpo"):
        d = doc[key]
        verdict = "OK" if d["ok"] else "OVER BUDGET"
        agg = "sum" if key == "rto" else "max"
        out.append(f"{key.upper()} worst case {d['worst_case_seconds']:g} s ({agg}) vs target "
                   f"{d['target_seconds']:g} s: {verdict}")
        for t in d["terms"]:
            out.append(f"  {t['name']:<36} {t['seconds']:>7g} s  {'ASSUMED ' if t['assumed'] else ''}{t['source']}")
        out.append(f"  target: {d['target_source']}")
    out.append(f"lint: {len(doc['lint'])} finding(s){' (fail: --strict)' if doc['lint_fails'] else ' (reported)'}")
    for f in doc["lint"]:
        out.append(f"  {f['file']}:{f['line']}: {f['finding']}")
    for n in doc["notes"]:
        out.append(f"note: {n}")
    return "\n".join(out) + "\n"


def cmd_plan_check(a: argparse.Namespace) -> int:
    from drharness.plancheck.check import check_env

    rep = check_env(getattr(a, "env_dir", None) or DEFAULT_ENV_DIR, strict=bool(getattr(a, "strict", False)))
    doc = rep.to_dict()
    if getattr(a, "json", False):
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(doc))
    return rep.exit_code()
