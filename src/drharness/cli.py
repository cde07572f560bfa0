"""``drharness`` command line: a thin wrapper over library calls (DESIGN §7).

Exit codes: 0 pass, 1 an SLO or check failed, 2 bad input, 3 environment problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

from drharness.errors import DrHarnessError

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2 (never a usage dump + traceback)
        console.print(f"drharness: {message} (see 'drharness --help')", style="red", markup=False,
                      highlight=False)
        raise SystemExit(2)


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


# ---- lab ---------------------------------------------------------------------------------------
def cmd_lab_up(a: argparse.Namespace) -> int:
    from drharness.lab.manager import lab_up

    with console.status(f"starting the local lab (profile {a.profile}) ..."):
        st = lab_up(a.profile, dns_port=a.dns_port, edge_port=a.edge_port, provision=a.provision)
    console.print(f"[green]lab up[/green] in {st.extra['up_seconds']} s  profile={st.profile['name']}  "
                  f"dns={st.dns['host']}:{st.dns['port']} ({st.dns['name']})  edge={st.edge_url}")
    for r, info in st.regions.items():
        console.print(f"  {r}: api={info['aws_endpoint']} app={info['app_url']}")
    return 0


def cmd_lab_status(a: argparse.Namespace) -> int:
    from drharness.lab.manager import lab_status

    st = lab_status()
    if a.json:
        _print_json(st)
        return 0 if st["running"] else 3
    out.print(f"profile: {st['profile']}   running: {st['running']}")
    for r, info in st["regions"].items():
        out.print(f"  {r}: healthy={info['healthy']} fault={info['fault']} app={info['app_url']}")
    out.print(f"  dns: {st['dns']['host']}:{st['dns']['port']} {st['dns']['name']}   edge: {st['edge_url']}")
    if st.get("aurora"):
        out.print(f"  aurora writer: {st['aurora']['writer_region']}  lag: {st['aurora']['lag_ms_last']} ms")
    return 0 if st["running"] else 3


def cmd_lab_down(a: argparse.Namespace) -> int:
    from drharness.lab.manager import lab_down

    done = lab_down()
    console.print("lab down: " + (", ".join(done) if done else "nothing was running"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="drharness", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="debug logs (secrets masked); -vv adds botocore/urllib3 wire logs")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    lab = sub.add_parser("lab", help="the local two-region lab").add_subparsers(dest="lab_cmd", required=True,
                                                                                 parser_class=_Parser)
    up = lab.add_parser("up", help="start the lab")
    up.add_argument("--profile", default="fast", help="fast (CI) or realistic (values from the tfvars)")
    up.add_argument("--dns-port", type=int, default=None)
    up.add_argument("--edge-port", type=int, default=None)
    up.add_argument("--provision", choices=("fast", "terraform"), default="fast",
                    help="fast (Python, default) or terraform (apply infra/environments/lab, minutes)")
    up.set_defaults(fn=cmd_lab_up)
    st = lab.add_parser("status", help="show the running lab")
    st.add_argument("--json", action="store_true")
    st.set_defaults(fn=cmd_lab_status)
    lab.add_parser("down", help="stop the lab and everything it started").set_defaults(fn=cmd_lab_down)

    from drharness import commands
    from drharness.plancheck.cli import add_cli as plan_cli
    from drharness.report.cli import add_cli as report_cli

    commands.register(sub)
    plan_cli(sub)
    report_cli(sub)
    return p


WIRE_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def setup_logging(verbose: int) -> None:
    """-v: DEBUG for drharness, INFO for the AWS SDK, whose DEBUG logs print request headers (session
    token, signature) and response bodies; -vv: those too. Either way every handler masks secrets
    (docs/SECURITY.md §4)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.NOTSET)
    from drharness.safety.redact import install_log_redaction

    install_log_redaction("")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    setup_logging(a.verbose)
    fn: Callable[[argparse.Namespace], int] = a.fn
    try:
        return fn(a)
    except DrHarnessError as exc:
        console.print(f"drharness: {exc}", style="red", markup=False, highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
