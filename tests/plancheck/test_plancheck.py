"""drharness plan check: budgets + lint from Terraform config alone (fast, no lab, no terraform binary)."""

from __future__ import annotations

import argparse
import json
import shutil
import textwrap
from pathlib import Path

import pytest

from drharness.errors import BadInput
from drharness.orchestrator.core import BUDGETS
from drharness.plancheck import check_env
from drharness.plancheck.budget import schedule_period_seconds
from drharness.plancheck.cli import add_cli

REPO = Path(__file__).resolve().parents[2]
PROD = REPO / "infra" / "environments" / "prod-us-west-2"

MODULE_VARS = """
variable "health_check_request_interval" { default = 10 }
variable "health_check_failure_threshold" { default = 3 }
variable "dns_ttl" { default = 30 }
variable "aggregator_schedule_expression" { default = "rate(1 minute)" }
variable "rto_target_seconds" { default = 900 }
variable "rpo_target_seconds" { default = 60 }
variable "aurora_replica_lag_alarm_threshold_ms" { default = 2000 }
variable "s3_replication_latency_alarm_threshold_s" { default = 30 }
"""

ENV_MAIN = """
provider "aws" {
  alias  = "primary"
  region = "us-east-1"
}
provider "aws" {
  alias  = "secondary"
  region = "us-west-2"
}
variable "aggregator_schedule_expression" {
  type    = string
  default = "rate(1 minute)"
}
module "dr" {
  source = "../mod"
  providers = {
    aws.primary   = aws.primary
    aws.secondary = aws.secondary
  }
  aggregator_schedule_expression = var.aggregator_schedule_expression
}
"""


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    p = argparse.ArgumentParser()
    add_cli(p.add_subparsers(dest="cmd"))
    a = p.parse_args(argv)
    rc = a.fn(a)
    return rc, capsys.readouterr().out


@pytest.fixture
def sibling(tmp_path: Path) -> Path:
    """env/ (no tfvars) calling ../mod whose variable defaults carry every value."""
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "variables.tf").write_text(MODULE_VARS)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "main.tf").write_text(ENV_MAIN)
    return tmp_path / "env"


def _term(doc: dict, section: str, name: str) -> dict:
    return next(t for t in doc[section]["terms"] if t["name"] == name)


def test_prod_rto_within_budget_and_terms_cite_variables(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(["plan", "check", str(PROD), "--json"], capsys)
    doc = json.loads(out)
    rto = doc["rto"]
    assert rto["target_seconds"] == 900 and rto["ok"]
    assert [t["name"] for t in rto["terms"]] == ["detection.route53_health_check", "detection.aggregator_period",
                                                  "decision", "dns.ttl", "aurora_promotion", "warmup", "validation"]
    hc = _term(doc, "rto", "detection.route53_health_check")
    assert hc["seconds"] == 90
    assert "var.health_check_request_interval = 30 (terraform.tfvars:" in hc["source"]
    assert "var.health_check_failure_threshold = 3 (terraform.tfvars:" in hc["source"]
    assert "var.dns_ttl = 60 (terraform.tfvars:" in _term(doc, "rto", "dns.ttl")["source"]
    assert _term(doc, "rto", "detection.aggregator_period")["seconds"] == 60
    assert _term(doc, "rto", "aurora_promotion")["seconds"] == BUDGETS["aurora_promotion"]
    assert "BUDGETS['decision']" in _term(doc, "rto", "decision")["source"]
    assert rto["worst_case_seconds"] == sum(t["seconds"] for t in rto["terms"])
    assert not doc["unresolved"]
    # Every lag alarm fires inside the 60 s RPO (S3 alerts at 60 s, well before RTC's 15 min SLA).
    assert _term(doc, "rpo", "aurora.replica_lag_alarm")["seconds"] == 5
    assert _term(doc, "rpo", "s3.replication_latency_alarm")["seconds"] == 60
    assert doc["rpo"]["ok"] is True and rc == 0


def test_prod_fails_when_the_s3_alarm_is_at_the_rtc_sla(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Planted: an S3 lag alarm at RTC's 900 s lets 15 min of writes go unnoticed: over the RPO."""
    shutil.copytree(REPO / "infra" / "modules", tmp_path / "modules")
    env = tmp_path / "environments" / "prod"
    shutil.copytree(PROD, env)
    (env / "zz.auto.tfvars").write_text("s3_replication_latency_alarm_threshold_s = 900\n")
    rc, out = _run(["plan", "check", str(env)], capsys)
    assert rc == 1, out
    assert "zz.auto.tfvars:1" in out


def test_sibling_module_defaults_used_without_tfvars(sibling: Path) -> None:
    rep = check_env(sibling)
    doc = rep.to_dict()
    hc = _term(doc, "rto", "detection.route53_health_check")
    assert hc["seconds"] == 30
    assert "var.health_check_request_interval default = 10 (" in hc["source"] and "mod/variables.tf:" in hc["source"]
    assert _term(doc, "rto", "dns.ttl")["seconds"] == 30
    agg = _term(doc, "rto", "detection.aggregator_period")
    assert agg["seconds"] == 60 and "module.dr input aggregator_schedule_expression" in agg["source"]
    assert doc["rpo"]["worst_case_seconds"] == 30
    assert not doc["unresolved"] and rep.exit_code() == 0


def test_over_budget_aggregator_rate_exits_1(sibling: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (sibling / "terraform.tfvars").write_text('aggregator_schedule_expression = "rate(30 minutes)"\n')
    rc, out = _run(["plan", "check", str(sibling), "--json"], capsys)
    doc = json.loads(out)
    assert rc == 1 and doc["rto"]["ok"] is False
    agg = _term(doc, "rto", "detection.aggregator_period")
    assert agg["seconds"] == 1800 and "terraform.tfvars:1" in agg["source"]


def test_unresolvable_value_reported_and_worst_case_assumed(sibling: Path) -> None:
    main = sibling / "main.tf"
    main.write_text(main.read_text().replace(
        "aggregator_schedule_expression = var.aggregator_schedule_expression",
        "aggregator_schedule_expression = var.aggregator_schedule_expression\n  dns_ttl = local.ttl"))
    doc = check_env(sibling).to_dict()
    ttl = _term(doc, "rto", "dns.ttl")
    assert ttl["assumed"] is True and ttl["seconds"] == 300
    assert "UNRESOLVED" in ttl["source"] and "local.ttl" in ttl["source"]
    assert any(u.startswith("dns.ttl:") for u in doc["unresolved"])


def test_undeclared_values_fall_back_to_worst_route53_values(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_route53_health_check" "a" {\n  fqdn = "x.example.com"\n}\n')
    doc = check_env(tmp_path).to_dict()
    hc = _term(doc, "rto", "detection.route53_health_check")
    assert hc["seconds"] == 300 and hc["assumed"]  # 30 s x 10 (Route 53 maxima)
    assert doc["rto"]["target_seconds"] == 900


def test_planted_route53_grant_to_orchestrator_is_reported(sibling: Path) -> None:
    mod = sibling.parent / "mod"
    (mod / "iam.tf").write_text(textwrap.dedent("""\
        resource "aws_iam_role" "orchestrator" {
          name               = "x-failover-orchestrator"
          assume_role_policy = "{}"
        }

        resource "aws_iam_role_policy" "orchestrator" {
          role = aws_iam_role.orchestrator.id
          policy = jsonencode({
            Version = "2012-10-17"
            Statement = [{
              Effect   = "Allow"
              Action   = ["route53:ChangeResourceRecordSets", "route53:GetChange"]
              Resource = "*"
            }]
          })
        }

        resource "aws_iam_role" "reporting" {
          name = "x-reporting"
          assume_role_policy = "{}"
        }

        resource "aws_iam_role_policy" "reporting" {
          role   = aws_iam_role.reporting.id
          policy = jsonencode({ Statement = [{ Action = ["route53:ChangeResourceRecordSets"] }] })
        }

        resource "aws_route53_record" "secondary" {
          zone_id = "Z1"
          name    = "app.example.com"
          type    = "CNAME"
          ttl     = 60
          failover_routing_policy {
            type = "SECONDARY"
          }
        }
        """))
    rep = check_env(sibling)
    found = [(f.file, f.line, f.rule) for f in rep.lint]
    iam = str((mod / "iam.tf").resolve())
    assert (iam, 12, "control-plane-action") in found
    assert any("ChangeResourceRecordSets" in f.finding and "aws_iam_role_policy.orchestrator" in f.finding
               for f in rep.lint)
    assert not any("reporting" in f.finding for f in rep.lint)  # not in the failover path
    assert (iam, 28, "failover-record-without-health-check") in found
    assert rep.exit_code() == 0  # findings are reported, not failing ...
    assert check_env(sibling, strict=True).exit_code() == 1  # ... unless --strict


def test_alarm_only_in_us_east_1_needed_by_secondary(sibling: Path) -> None:
    (sibling.parent / "mod" / "alarms.tf").write_text(textwrap.dedent("""\
        resource "aws_cloudwatch_metric_alarm" "peer" {
          provider   = aws.primary
          alarm_name = "peer"
        }

        resource "aws_cloudwatch_event_rule" "wake_orchestrator" {
          provider      = aws.secondary
          event_pattern = jsonencode({ AlarmName = [aws_cloudwatch_metric_alarm.peer.alarm_name] })
        }
        """))
    rep = check_env(sibling)
    assert [(f.line, f.rule) for f in rep.lint] == [(8, "alarm-only-in-us-east-1")]


def test_missing_dir_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        check_env(tmp_path / "nope")


def test_broken_hcl_is_bad_input(sibling: Path) -> None:
    (sibling / "broken.tf").write_text('resource "aws_x" "y" {\n  a = \n')
    with pytest.raises(BadInput, match=r"cannot parse .*broken\.tf as HCL"):
        check_env(sibling)


def test_broken_module_hcl_and_missing_module_dir(sibling: Path) -> None:
    (sibling.parent / "mod" / "bad.tf").write_text("variable {{{\n")
    with pytest.raises(BadInput, match=r"bad\.tf"):
        check_env(sibling)
    shutil.rmtree(sibling.parent / "mod")
    with pytest.raises(BadInput, match="is not a directory"):
        check_env(sibling)


@pytest.mark.parametrize(("expr", "seconds"), [("rate(1 minute)", 60), ("rate(30 minutes)", 1800),
                                               ("rate(2 hours)", 7200), ("cron(*/5 * * * ? *)", 300),
                                               ("cron(0,30 * * * ? *)", 1800), ("cron(0 10 * * ? *)", 86400)])
def test_schedule_period(expr: str, seconds: int) -> None:
    assert schedule_period_seconds(expr) == seconds
