"""The monthly drill runner: the buildspec parses, runs what docs/MONTHLY_DRILL.md names, gets the
environment it uses from the Terraform project, and its SNS summary says what happened.

Static (no CodeBuild here): the checks are plain functions so the planted tests can show each fails.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from drharness.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
BUILDSPEC = ROOT / "infra" / "drill-runner" / "buildspec.yml"
DOC = ROOT / "docs" / "MONTHLY_DRILL.md"
TF = ROOT / "infra" / "modules" / "multi-region" / "drill-scheduler.tf"
PHASES = ["install", "pre_build", "build", "post_build"]
KEY_TOOLS = ("drharness ", "aws ", "summary.py", "terraform ")


def commands(spec: dict[str, Any]) -> list[str]:
    return [c for ph in PHASES for c in (spec.get("phases", {}).get(ph, {}) or {}).get("commands", [])]


def doc_commands(doc: str) -> list[str]:
    """Lines of the first ```bash block under '## The commands the runner runs' (comments dropped)."""
    section = doc.split("## The commands the runner runs", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "no bash block in the section"
    return [ln.strip() for ln in block.group(1).splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def drift(spec: dict[str, Any], doc: str) -> list[str]:
    """Problems: a documented command the buildspec does not run, or a drharness/aws/terraform/summary
    command the buildspec runs that the doc does not name."""
    cmds = [" ".join(c.split()) for c in commands(spec)]
    named = [" ".join(d.split()) for d in doc_commands(doc)]
    problems = [f"documented but not run: {d}" for d in named if not any(d in c for c in cmds)]
    problems += [f"run but not documented: {c}" for c in cmds
                 if any(t in c for t in KEY_TOOLS) and not any(d in c for d in named)]
    return problems


def env_problems(spec: dict[str, Any], tf: str) -> list[str]:
    """Every $VAR the buildspec reads is set by the CodeBuild project, the buildspec or CodeBuild itself."""
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", "\n".join(commands(spec))))
    provided = set(re.findall(r'name\s*=\s*"([A-Z][A-Z0-9_]*)"', tf)) | set((spec.get("env") or {}).get("variables", {}))
    builtin = {"CODEBUILD_BUILD_ID", "HOME", "PATH"}
    return [f"${v} is not set by the CodeBuild project" for v in sorted(used - provided - builtin)]


def _spec() -> dict[str, Any]:
    return yaml.safe_load(BUILDSPEC.read_text())


def test_buildspec_parses_as_codebuild_0_2() -> None:
    spec = _spec()
    assert str(spec["version"]) == "0.2"
    assert set(spec["phases"]) == set(PHASES)
    assert all(isinstance(c, str) for c in commands(spec))
    assert spec["artifacts"]["base-directory"] == "reports/drill"
    assert 'drill_report_dir   = "reports/drill"' in TF.read_text()  # REPORT_DIR of the project


def test_buildspec_runs_the_commands_the_doc_names() -> None:
    assert drift(_spec(), DOC.read_text()) == []


def test_terraform_runs_this_buildspec_with_its_environment() -> None:
    tf = TF.read_text()
    path = re.search(r'drill_buildspec_path\s*=\s*"([^"]+)"', tf)
    assert path and (ROOT / path.group(1)) == BUILDSPEC
    assert "buildspec       = local.drill_buildspec_path" in tf
    assert env_problems(_spec(), tf) == []


def test_the_drill_is_live_and_confirmed_and_its_flags_exist() -> None:
    drill = next(c for c in commands(_spec()) if "drharness drill run" in c)
    argv = shlex.split(drill[drill.index("drharness drill run"):].split("||")[0])[1:]
    ns = build_parser().parse_args([a if not a.startswith("$") else "x" for a in argv])
    assert ns.target == "aws" and ns.yes is True
    report = next(c for c in commands(_spec()) if "drharness report" in c)
    argv = shlex.split(report[report.index("drharness report"):].split(">")[0])[1:]
    assert build_parser().parse_args([a if not a.startswith("$") else "x" for a in argv]).history is True


def test_a_failed_drill_is_still_uploaded_and_announced_before_the_build_fails() -> None:
    post = _spec()["phases"]["post_build"]["commands"]
    build = _spec()["phases"]["build"]["commands"]
    assert any("|| rc=$?" in c and "drill.rc" in c for c in build)  # the drill's failure does not stop the build
    assert post[-1] == 'exit "$(cat drill.rc)"'
    assert any("aws s3 sync" in c for c in post[:-1]) and any("summary.py" in c for c in post[:-1])


def test_planted_drift_is_caught() -> None:
    spec, doc = _spec(), DOC.read_text()
    no_yes = yaml.safe_load(BUILDSPEC.read_text().replace(" --yes", ""))
    assert any("documented but not run: drharness drill run" in p for p in drift(no_yes, doc))
    extra = yaml.safe_load(BUILDSPEC.read_text())
    extra["phases"]["build"]["commands"].append("drharness failover --mode unplanned --yes")
    assert drift(extra, doc) == ["run but not documented: drharness failover --mode unplanned --yes"]
    assert env_problems(spec, TF.read_text().replace('"DRILL_SNS_TOPIC_ARN"', '"OTHER"')) == [
        "$DRILL_SNS_TOPIC_ARN is not set by the CodeBuild project"]


# ---- the SNS summary -------------------------------------------------------------------------------
def _summary() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drill_summary", ROOT / "infra" / "drill-runner" / "summary.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


REPORT = {"scenario": "region-outage", "target": "aws", "profile": "terraform", "verdict": "fail",
          "slo": {"rto_s": 900.0, "rpo_s": 60.0, "failback_s": 1800.0},
          "rto": {"seconds": 1012.5}, "rpo": {"seconds": 12.0}, "failback": {"seconds": 640.0},
          "checks": [{"name": "rto", "verdict": "fail", "detail": "RTO 1012.5s > SLO 900s"},
                     {"name": "rpo", "verdict": "pass", "detail": "ok"}], "errors": []}


def test_summary_names_verdict_failed_checks_and_trend() -> None:
    subject, message = _summary().render(REPORT, {"runs": 7, "rto": {"p50_s": 410.0, "p99_s": 1012.5},
                                                  "success": {"rate": 6 / 7}, "objectives_met": False}, 1, "b:1")
    assert subject == "DR drill region-outage: FAIL (target aws)"
    assert "RTO 1012.5 s (objective < 900.0 s)" in message
    assert "Check rto: fail - RTO 1012.5s > SLO 900s" in message and "Check rpo" not in message
    assert "Trend over 7 drills" in message and "85.7 %" in message and "NOT met" in message
    assert "Build: b:1" in message


def test_summary_without_a_report_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _summary().main(["--report-dir", str(tmp_path), "--exit-code", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("DR drill: NO REPORT (environment problem)") and "drharness halt" in out


def test_summary_publishes_to_sns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from moto import mock_aws

    for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS"):
        monkeypatch.delenv(k, raising=False)
    (tmp_path / "drill-report.json").write_text(json.dumps(REPORT))
    mod = _summary()
    with mock_aws():
        import boto3

        arn = boto3.client("sns", region_name="us-west-2").create_topic(Name="dr-events")["TopicArn"]
        assert mod.main(["--report-dir", str(tmp_path), "--exit-code", "1", "--topic-arn", arn]) == 0
        missing = arn.replace("dr-events", "nope")
        assert mod.main(["--report-dir", str(tmp_path), "--exit-code", "1", "--topic-arn", missing]) == 3
    err = capsys.readouterr().err
    assert err.startswith("drill-summary: could not publish to") and err.count("\n") == 1
    assert mod.main(["--report-dir", str(tmp_path), "--exit-code", "one"]) == 2
