"""SNS summary of a scheduled drill: verdict, RTO/RPO/failback against objectives, and the trend.

Run by ``infra/drill-runner/buildspec.yml`` after the drill, whether it passed, failed or never
produced a report (then the summary says so, with the drill's exit code): the on-call reads this
message, not the build log. ``--topic-arn ''`` prints instead of publishing (manual runs, tests).

Exit 0 published/printed, 2 bad input, 3 publish failed (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("drill-summary")
EXIT_MEANING = {0: "pass", 1: "an SLO or check failed", 2: "bad input (refused)", 3: "environment problem"}
SUBJECT_MAX = 100  # SNS limit


def _load(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    return doc if isinstance(doc, dict) else None


def _s(v: Any) -> str:
    return "n/a" if v is None else f"{v:.1f} s" if isinstance(v, int | float) else str(v)


def render(report: dict[str, Any] | None, trend: dict[str, Any] | None, exit_code: int,
           build: str = "") -> tuple[str, str]:
    """(subject, message) for SNS."""
    meaning = EXIT_MEANING.get(exit_code, f"exit code {exit_code}")
    if report is None:
        subject = f"DR drill: NO REPORT ({meaning})"
        lines = [f"The scheduled drill produced no drill-report.json (exit code {exit_code}: {meaning}).",
                 "Read the build log; run `drharness halt` if a fault may still be active."]
    else:
        slo = report.get("slo") or {}
        rto, rpo, fb = report.get("rto") or {}, report.get("rpo") or {}, report.get("failback") or {}
        verdict = str(report.get("verdict", "fail")).upper()
        subject = f"DR drill {report.get('scenario')}: {verdict} (target {report.get('target')})"
        lines = [f"Scenario {report.get('scenario')} on {report.get('target')} (profile {report.get('profile')}): "
                 f"{verdict}, exit code {exit_code} ({meaning}).",
                 f"RTO {_s(rto.get('seconds'))} (objective < {_s(slo.get('rto_s'))})",
                 f"RPO {_s(rpo.get('seconds'))} (objective < {_s(slo.get('rpo_s'))})",
                 f"Failback {_s(fb.get('seconds'))} (objective < {_s(slo.get('failback_s'))})"]
        bad = [c for c in report.get("checks", []) if c.get("verdict") != "pass"]
        lines += [f"Check {c.get('name')}: {c.get('verdict')} - {str(c.get('detail', ''))[:200]}" for c in bad]
        lines += [f"Harness error: {e}" for e in report.get("errors") or []]
    if trend:
        rt, ok = trend.get("rto") or {}, trend.get("success") or {}
        rate = ok.get("rate")
        lines += ["", f"Trend over {trend.get('runs')} drills: RTO p50 {_s(rt.get('p50_s'))}, "
                      f"p99 {_s(rt.get('p99_s'))}; automated success "
                      f"{'n/a' if rate is None else f'{rate * 100:.1f} %'}; objectives "
                      f"{'met' if trend.get('objectives_met') else 'NOT met'}."]
    if build:
        lines += ["", f"Build: {build}"]
    return subject[:SUBJECT_MAX], "\n".join(lines) + "\n"


def publish(topic_arn: str, subject: str, message: str) -> str:
    import boto3

    region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else None
    return boto3.client("sns", region_name=region).publish(TopicArn=topic_arn, Subject=subject,
                                                          Message=message)["MessageId"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--report-dir", required=True)
    p.add_argument("--trend", default=None, help="JSON of `drharness report --history --json`")
    p.add_argument("--exit-code", default="0", help="the drill's exit code")
    p.add_argument("--topic-arn", default="", help="SNS topic; empty = print the summary")
    p.add_argument("--build", default="", help="build id or URL to quote (CodeBuild: $CODEBUILD_BUILD_ID)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        code = int(a.exit_code)
    except ValueError:
        sys.stderr.write(f"drill-summary: --exit-code must be an integer, not {a.exit_code!r}\n")
        return 2
    report = _load(Path(a.report_dir) / "drill-report.json")
    subject, message = render(report, _load(Path(a.trend)) if a.trend else None, code, a.build)
    if not a.topic_arn:
        sys.stdout.write(f"{subject}\n\n{message}")
        return 0
    try:
        log.info("published %s to %s", publish(a.topic_arn, subject, message), a.topic_arn)
    except Exception as exc:  # noqa: BLE001 - one clear line, the build log has the rest
        sys.stderr.write(f"drill-summary: could not publish to {a.topic_arn}: {type(exc).__name__}: {exc}\n")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
