"""Static checks of infra/ (no terraform needed): every .tf parses, module conventions hold, the
environments are wired as the rest of the project expects, the FIS/IAM rules are kept."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pytest runs with --import-mode=importlib
from infra_tf_helpers import (  # noqa: E402
    ENV_NAMES,
    ENVIRONMENTS,
    INFRA,
    MODULE,
    attr,
    blocks,
    load_tf,
    module_variables,
    strip_interp,
    sub_blocks,
    tf_files,
    tfvars,
)

# Names the rest of the project reads (brief of issue 8): must exist exactly so.
CONTRACT_VARIABLES = [
    "primary_region", "secondary_region", "name_prefix", "health_check_request_interval",
    "health_check_failure_threshold", "dns_ttl", "aggregator_schedule_expression",
    "aurora_replica_lag_alarm_threshold_ms", "dynamodb_replication_latency_alarm_threshold_ms",
    "s3_replication_latency_alarm_threshold_s", "aurora_instance_class", "aurora_instances_per_region",
    "rto_target_seconds", "rpo_target_seconds", "failback_target_seconds", "drill_schedule_expression",
    "allowed_account_ids", "lambda_app_zip", "lambda_harness_zip", "domain_name", "record_name",
    "create_dynamodb_replica",
]

# Variables whose values AWS (or the contract) limits: each must carry a validation block.
VALIDATED_VARIABLES = [
    "health_check_request_interval", "health_check_failure_threshold", "dns_ttl", "primary_region",
    "secondary_region", "rto_target_seconds", "rpo_target_seconds", "failback_target_seconds",
    "name_prefix", "aurora_instances_per_region", "aurora_instance_class", "allowed_account_ids",
    "aggregator_schedule_expression", "drill_schedule_expression", "fis_experiment_duration",
    "log_retention_days", "lambda_app_zip", "lambda_harness_zip", "domain_name", "record_name",
]

MODULE_FILES = [
    "versions.tf", "variables.tf", "outputs.tf", "aurora-global.tf", "dynamodb-global.tf",
    "s3-replication.tf", "route53-failover.tf", "lambda-replication.tf", "cloudfront-failover.tf",
    "fis-experiments.tf", "drill-scheduler.tf", "monitoring.tf", "iam.tf", "README.md",
]

ENV_FILES = ["main.tf", "terraform.tfvars", "backend.tf", "outputs.tf", "versions.tf"]

SCENARIOS = [
    "region-outage", "aurora-writer-failure", "dynamodb-replication-pause", "s3-replication-pause",
    "control-plane-impairment",
]


def _rel(path):
    return str(path.relative_to(INFRA))


@pytest.mark.parametrize("path", tf_files(), ids=_rel)
def test_every_tf_file_parses_with_python_hcl2(path):
    doc = load_tf(path)
    assert isinstance(doc, dict)


def test_tfvars_files_parse_with_python_hcl2():
    for env in ENV_NAMES:
        values = tfvars(ENVIRONMENTS / env / "terraform.tfvars")
        assert values, f"{env}/terraform.tfvars is empty"


def test_module_has_the_expected_files():
    missing = [f for f in MODULE_FILES if not (MODULE / f).is_file()]
    assert not missing, f"infra/modules/multi-region is missing {missing}"


def test_module_requires_both_provider_aliases():
    doc = load_tf(MODULE / "versions.tf")
    (terraform,) = doc["terraform"]
    (providers,) = sub_blocks(terraform, "required_providers")
    aws = attr(providers, "aws")
    aliases = [strip_interp(a) for a in aws["configuration_aliases"]]
    assert aliases == ["aws.primary", "aws.secondary"]
    assert aws["source"] == "hashicorp/aws"


def test_every_module_variable_is_described_and_typed():
    problems = []
    for name, body in module_variables().items():
        if not attr(body, "description"):
            problems.append(f"{name}: no description")
        if attr(body, "type") is None:
            problems.append(f"{name}: no type")
    assert not problems, problems


@pytest.mark.parametrize("name", CONTRACT_VARIABLES)
def test_contract_variable_exists(name):
    assert name in module_variables(), f"variable {name!r} is read by the rest of the project"


@pytest.mark.parametrize("name", VALIDATED_VARIABLES)
def test_limited_variable_has_a_validation(name):
    body = module_variables()[name]
    validations = sub_blocks(body, "validation")
    assert validations, f"variable {name} has no validation block"
    for v in validations:
        assert attr(v, "condition") and attr(v, "error_message")


def test_objective_defaults_match_the_slo():
    variables = module_variables()
    assert attr(variables["rto_target_seconds"], "default") == 900
    assert attr(variables["rpo_target_seconds"], "default") == 60
    assert attr(variables["failback_target_seconds"], "default") == 1800


def test_every_output_is_described():
    for path in [MODULE / "outputs.tf", *(ENVIRONMENTS / e / "outputs.tf" for e in ENV_NAMES)]:
        for name, body in blocks(load_tf(path), "output").items():
            assert attr(body, "description"), f"{_rel(path)}: output {name} has no description"


def test_resources_are_grouped_under_banners():
    for path in sorted(MODULE.glob("*.tf")):
        if path.name in {"versions.tf"}:
            continue
        text = path.read_text()
        assert re.search(r"^#{10,}$", text, re.M), f"{path.name} has no #### banner comment"


# ---------------------------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENV_NAMES)
def test_environment_has_its_files(env):
    missing = [f for f in ENV_FILES if not (ENVIRONMENTS / env / f).is_file()]
    assert not missing, f"infra/environments/{env} is missing {missing}"


@pytest.mark.parametrize("env", ENV_NAMES)
def test_environment_uses_the_module_with_both_providers(env):
    doc = load_tf(ENVIRONMENTS / env / "main.tf")
    modules = blocks(doc, "module")
    assert list(modules) == ["multi_region"]
    body = modules["multi_region"]
    assert attr(body, "source") == "../../modules/multi-region"
    providers = attr(body, "providers")
    assert {strip_interp(k): strip_interp(v) for k, v in providers.items()} == {
        "aws.primary": "aws.primary",
        "aws.secondary": "aws.secondary",
    }
    # Two `provider "aws"` blocks: each parser keeps them as separate {label: body} entries.
    aliases = sorted(attr(body, "alias") for entry in doc["provider"] for body in entry.values())
    assert aliases == ["primary", "secondary"]


@pytest.mark.parametrize("env", ENV_NAMES)
def test_environment_passes_only_module_variables(env):
    doc = load_tf(ENVIRONMENTS / env / "main.tf")
    body = blocks(doc, "module")["multi_region"]
    passed = set(body) - {"source", "providers"}
    unknown = passed - set(module_variables())
    assert not unknown, f"{env} passes variables the module does not declare: {sorted(unknown)}"


@pytest.mark.parametrize("env", ENV_NAMES)
def test_tfvars_set_only_declared_variables(env):
    declared = set(blocks(load_tf(ENVIRONMENTS / env / "variables.tf"), "variable"))
    declared |= set(blocks(load_tf(ENVIRONMENTS / env / "main.tf"), "variable"))
    unknown = set(tfvars(ENVIRONMENTS / env / "terraform.tfvars")) - declared
    assert not unknown, f"{env}/terraform.tfvars sets undeclared variables {sorted(unknown)}"


@pytest.mark.parametrize("env", ENV_NAMES)
def test_tfvars_hold_realistic_dns_timings(env):
    values = tfvars(ENVIRONMENTS / env / "terraform.tfvars")
    assert values["health_check_request_interval"] == 30
    assert values["health_check_failure_threshold"] == 3
    assert values["dns_ttl"] == 60
    assert values["primary_region"] == "us-east-1"
    assert values["secondary_region"] == "us-west-2"


def test_prod_tfvars_are_readable_line_by_line():
    """src/drharness/lab/config.py reads `name = value` lines of the prod tfvars with a regex."""
    text = (ENVIRONMENTS / "prod-us-west-2" / "terraform.tfvars").read_text()
    for key, value in [("health_check_request_interval", "30"), ("health_check_failure_threshold", "3"),
                       ("dns_ttl", "60")]:
        assert re.search(rf"^{key}\s*=\s*{value}\s*$", text, re.M), f"{key} = {value} is not on a line of its own"


@pytest.mark.parametrize("env", ["prod-us-west-2", "staging"])
def test_remote_state_is_s3_with_dynamodb_lock_in_the_dr_region(env):
    (terraform,) = load_tf(ENVIRONMENTS / env / "backend.tf")["terraform"]
    (backend,) = sub_blocks(terraform, "backend")
    s3 = attr(backend, "s3")
    assert s3 is not None, f"{env} must use the s3 backend"
    assert attr(s3, "dynamodb_table"), f"{env}: state locking needs dynamodb_table"
    assert attr(s3, "encrypt") is True
    assert attr(s3, "region") == "us-west-2", "state must stay reachable when us-east-1 is down"


def test_lab_points_both_providers_at_the_lab_gateways():
    doc = load_tf(ENVIRONMENTS / "lab" / "main.tf")
    (terraform,) = load_tf(ENVIRONMENTS / "lab" / "backend.tf")["terraform"]
    (backend,) = sub_blocks(terraform, "backend")
    assert attr(backend, "local") is not None
    variables = blocks(doc, "variable")
    assert {"lab_endpoint_us_east_1", "lab_endpoint_us_west_2"} <= set(variables)
    text = (ENVIRONMENTS / "lab" / "main.tf").read_text()
    for setting in ["skip_credentials_validation", "skip_requesting_account_id", "s3_use_path_style"]:
        assert len(re.findall(rf"^\s*{setting}\s*=\s*true\s*$", text, re.M)) == 2, setting
    assert text.count("endpoints {") == 2
    # Global services through the us-east-1 gateway in BOTH providers, as in AWS.
    for service in ["iam", "route53", "cloudfront"]:
        assert len(re.findall(rf"^\s*{service}\s*=\s*local\.lab_global\s*$", text, re.M)) == 2, service


# ---------------------------------------------------------------------------------------------
# FIS, IAM and checkov hygiene
# ---------------------------------------------------------------------------------------------


def test_fis_covers_every_scenario_and_selects_targets_by_tags_only():
    text = (MODULE / "fis-experiments.tf").read_text()
    for scenario in SCENARIOS:
        assert f'"{scenario}"' in text, f"no FIS template for {scenario}"
    for action in ["aws:network:route-table-disrupt-cross-region-connectivity", "aws:rds:failover-db-cluster",
                   "aws:dynamodb:global-table-pause-replication", "aws:s3:bucket-pause-replication",
                   "aws:fis:inject-api-unavailable-error"]:
        assert action in text
    assert "resource_arns" not in text, "FIS targets must be selected by tags, never by ARN"
    assert text.count("resource_tag {") >= 4
    assert text.count('source = "aws:cloudwatch:alarm"') == 2, "every template needs an alarm stop condition"
    assert 'empty_target_resolution_mode = "fail"' in text


def test_no_wildcard_actions_in_iam_policies():
    """No Allow of Action "*" or "<service>:*", except the KMS key policy's root statement (a key
    policy must name the account root; IAM policies then scope each role)."""
    offenders = []
    for path in sorted(MODULE.glob("*.tf")):
        for chunk in path.read_text().split("statement {")[1:]:
            chunk = chunk.split("statement {")[0]
            actions_line = next((ln for ln in chunk.splitlines() if ln.strip().startswith("actions")), "")
            wildcards = re.findall(r'"([a-z0-9-]*:?\*)"', actions_line)
            if not wildcards or re.search(r'effect\s*=\s*"Deny"', chunk):
                continue
            sid = re.search(r'sid\s*=\s*"([^"]+)"', chunk)
            if path.name == "main.tf" and wildcards == ["kms:*"] and sid and sid.group(1) == "AccountAdministersKeyThroughIAM":
                continue
            offenders.append(f"{path.name}: {sid.group(1) if sid else '?'}: {wildcards}")
    assert not offenders, offenders


def test_every_checkov_skip_is_justified():
    bad = []
    for path in tf_files():
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" not in line:
                continue
            m = re.search(r"#checkov:skip=(CKV2?_AWS_\d+):(.+)$", line)
            if not m or len(m.group(2).strip()) < 25:
                bad.append(f"{_rel(path)}:{lineno}")
    assert not bad, f"checkov skips need `#checkov:skip=CKV_...:<justification>`: {bad}"


def test_lambda_handlers_exist_for_the_harness_functions():
    text = (MODULE / "lambda-replication.tf").read_text()
    for module_name in ["failover_orchestrator", "health_check_aggregator"]:
        assert f'handler                        = "{module_name}.handler"' in text
        assert (INFRA / "lambda" / f"{module_name}.py").is_file()
    assert "hashicorp/archive" not in "".join(p.read_text() for p in tf_files())


def test_module_readme_lists_every_input_and_output():
    readme = (MODULE / "README.md").read_text()
    outputs = blocks(load_tf(MODULE / "outputs.tf"), "output")
    missing = [f"input {n}" for n in module_variables() if f"| `{n}` |" not in readme]
    missing += [f"output {n}" for n in outputs if f"| `{n}` |" not in readme]
    assert not missing, f"infra/modules/multi-region/README.md does not list {missing}"
