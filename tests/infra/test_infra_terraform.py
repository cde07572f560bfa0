"""Terraform-level checks, all offline and without AWS credentials:

* infra/scripts/validate.sh (fmt -check, init -backend=false, validate) passes for every environment;
* every variable validation rejects bad values: variables.tf alone in a scratch root module, then
  `terraform plan` (a root module without resources plans offline);
* the module applied against mocked providers (`terraform test`, mock_provider) yields the aws
  Target contract `drharness_target` with exactly the documented keys, in every toggle combination.

Skipped, with the reason shown, when terraform (or the provider mirror) is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pytest runs with --import-mode=importlib
from infra_tf_helpers import (  # noqa: E402
    INFRA,
    MODULE,
    low_priority,
    providers_or_skip,
    run_tf,
    terraform_env,
    terraform_or_skip,
)

# ---------------------------------------------------------------------------------------------
# validate.sh
# ---------------------------------------------------------------------------------------------


def test_validate_script_passes_for_every_environment():
    terraform_or_skip()
    providers_or_skip()
    res = subprocess.run(
        ["bash", str(INFRA / "scripts" / "validate.sh")],
        env=terraform_env(),
        preexec_fn=low_priority,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "all checks passed (3 environments)" in out
    assert out.count("Success! The configuration is valid.") == 3


# ---------------------------------------------------------------------------------------------
# Variable validations
# ---------------------------------------------------------------------------------------------

GOOD_TFVARS = """
domain_name        = "drharness.example.com"
record_name        = "app.drharness.example.com"
lambda_app_zip     = "build/app.zip"
lambda_harness_zip = "build/harness.zip"
drill_source_location = "https://example.com/drharness.git"
"""

BAD_VALUES = [
    ("health_check_request_interval", "20"),
    ("health_check_request_interval", "60"),
    ("health_check_failure_threshold", "0"),
    ("health_check_failure_threshold", "11"),
    ("health_check_failure_threshold", "2.5"),
    ("dns_ttl", "10"),
    ("dns_ttl", "300"),
    ("primary_region", '"US-EAST-1"'),
    ("primary_region", '"useast1"'),
    ("secondary_region", '"us-west"'),
    ("secondary_region", '"us-east-1"'),  # same as primary_region
    ("rto_target_seconds", "0"),
    ("rpo_target_seconds", "-60"),
    ("failback_target_seconds", "0"),
    ("rpo_target_seconds", "0.5"),
    ("name_prefix", '"Bad_Prefix"'),
    ("name_prefix", '"a-very-long-prefix-over-20"'),
    ("aurora_instances_per_region", "0"),
    ("aurora_instances_per_region", "17"),
    ("aurora_instance_class", '"r6g.large"'),
    ("aurora_replica_lag_alarm_threshold_ms", "0"),
    ("dynamodb_replication_latency_alarm_threshold_ms", "-1"),
    ("s3_replication_latency_alarm_threshold_s", "0"),
    ("allowed_account_ids", '["12345"]'),
    ("aggregator_schedule_expression", '"every minute"'),
    ("drill_schedule_expression", '"monthly"'),
    ("fis_experiment_duration", '"10 minutes"'),
    ("fis_experiment_duration", '"PT13H"'),
    ("lambda_app_zip", '"app.tar.gz"'),
    ("lambda_harness_zip", '"harness"'),
    ("lambda_app_timeout_s", "60"),
    ("log_retention_days", "42"),
    ("domain_name", '"Example.COM."'),
    ("record_name", '"app.elsewhere.org"'),  # not inside domain_name
    ("health_check_regions", '["us-east-1"]'),
    ("hosted_zone_id", '"not-a-zone"'),
    ("create_hosted_zone", "false"),  # ... without hosted_zone_id
    ("drill_source_location", "null"),  # create_drill_scheduler defaults to true
    ("drill_scenario", '"chaos"'),
]

GOOD_VALUES = [
    {},  # the defaults plus GOOD_TFVARS
    {"health_check_request_interval": "10", "health_check_failure_threshold": "1", "dns_ttl": "30"},
    {"health_check_request_interval": "30", "health_check_failure_threshold": "10", "dns_ttl": "60"},
    {"allowed_account_ids": '["123456789012"]', "primary_region": '"eu-west-1"',
     "secondary_region": '"eu-central-1"'},
    {"create_hosted_zone": "false", "hosted_zone_id": '"Z0123456789ABCDEFGHIJ"'},
    {"create_drill_scheduler": "false", "drill_source_location": "null"},
]


def _case_key(overrides: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(overrides.items()))


def _plan(root: Path, index: int, overrides: dict[str, str]):
    """Plan with HCL-valued overrides (a -var-file, so that strings, lists and null parse as HCL)."""
    case = root / f"case-{index}.tfvars"
    case.write_text("".join(f"{name} = {value}\n" for name, value in overrides.items()))
    args = ["plan", "-input=false", "-refresh=false", "-lock=false", "-no-color", f"-var-file={case.name}"]
    return run_tf(args, root, timeout=120)


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """Every good and bad case planned once, in parallel, against a root module holding only the
    module's variables.tf (no provider, no resource: plans offline in about a second)."""
    terraform_or_skip()
    root = tmp_path_factory.mktemp("tf-variables")
    shutil.copy(MODULE / "variables.tf", root / "variables.tf")
    (root / "terraform.tfvars").write_text(GOOD_TFVARS)
    res = run_tf(["init", "-input=false", "-no-color"], root, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    cases = GOOD_VALUES + [{name: value} for name, value in BAD_VALUES]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda ic: _plan(root, *ic), enumerate(cases)))
    return {_case_key(case): res for case, res in zip(cases, results, strict=True)}


@pytest.mark.parametrize("overrides", GOOD_VALUES, ids=lambda o: ",".join(o) or "defaults")
def test_good_variable_values_are_accepted(plans, overrides):
    res = plans[_case_key(overrides)]
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(("name", "value"), BAD_VALUES, ids=[f"{n}={v}" for n, v in BAD_VALUES])
def test_bad_variable_value_is_rejected(plans, name, value):
    res = plans[_case_key({name: value})]
    out = res.stdout + res.stderr
    assert res.returncode != 0, f"{name}={value} was accepted:\n{out}"
    assert "Invalid value for variable" in out, out
    assert f"var.{name}" in out or f'variable "{name}"' in out, out


# ---------------------------------------------------------------------------------------------
# Contract: terraform test with mocked providers
# ---------------------------------------------------------------------------------------------

SCENARIOS = [
    "region-outage", "aurora-writer-failure", "dynamodb-replication-pause", "s3-replication-pause",
    "control-plane-impairment",
]
TOP_KEYS = ["schema", "primary_region", "secondary_region", "account_id", "dns", "global_cluster_id",
            "edge_url", "aggregator_period_s", "regions"]
DNS_KEYS = ["zone_id", "zone_name", "record_name", "ttl", "health_check_request_interval",
            "health_check_failure_threshold", "alarm_period_s", "alarm_datapoints_to_alarm"]
REGION_KEYS = ["app_url", "health_check_id", "dns_answer", "aurora", "dynamodb_table", "s3_bucket",
               "lambda_function_name", "sns_topic_arn", "fis_template_ids", "alarm_names"]
AURORA_KEYS = ["cluster_id", "cluster_arn", "writer_endpoint", "reader_endpoint", "port", "database", "username",
               "secret_arn"]
ALARM_KEYS = ["aurora_lag", "dynamodb_latency", "s3_latency", "region_health", "dns_health"]
# Read by the aws Target but deliberately not outputs: the resolver is the client's (env overrides).
TARGET_OPTIONAL = {"resolver_host", "resolver_port"}
# Which contract object each variable of drharness.target.from_target_doc holds.
TARGET_VARS = {"t": TOP_KEYS, "dns": DNS_KEYS, "info": REGION_KEYS, "a": AURORA_KEYS}


def target_reads(source: str) -> dict[str, set[str]]:
    """Keys from_target_doc reads, per variable: ``var["key"]`` and ``var.get("key", ...)``."""
    import ast

    fn = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)
              and n.name == "from_target_doc")
    reads: dict[str, set[str]] = {v: set() for v in TARGET_VARS}
    for node in ast.walk(fn):
        var = key = None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            var, key = node.value.id, node.slice.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Name) and node.args and isinstance(node.args[0], ast.Constant):
            var, key = node.func.value.id, node.args[0].value
        if var in reads and isinstance(key, str):
            reads[var].add(key)
    return reads


def contract_gaps(source: str) -> list[str]:
    return sorted(f"{var}[{key!r}]" for var, keys in target_reads(source).items() for key in keys
                  if key not in TARGET_VARS[var] and key not in TARGET_OPTIONAL)


def test_outputs_cover_every_field_the_aws_target_reads():
    """Every key drharness.target.from_target_doc reads is in the contract this file asserts the
    module outputs (TOP/DNS/REGION/AURORA_KEYS), so an aws Target never finds a field missing."""
    source = (Path(__file__).resolve().parents[2] / "src" / "drharness" / "target.py").read_text()
    reads = target_reads(source)
    assert {"dns_answer", "health_check_id", "app_url"} <= reads["info"], reads  # the parser sees the reads
    assert contract_gaps(source) == []
    # Planted: a Target that reads a field the module does not output is caught.
    planted = source.replace('host=info.get("dns_answer", ""))', 'host=info.get("dns_answer", ""), x=info["ip"])')
    assert planted != source and contract_gaps(planted) == ["info['ip']"]

ACCOUNT = "123456789012"

# Mocked values that pass the provider's own validation (ARNs, JSON policies, URLs).
MOCK_DEFAULTS = {
    "data": {
        "aws_iam_policy_document": {"json": '{"Version":"2012-10-17","Statement":[]}'},
        "aws_caller_identity": {"account_id": ACCOUNT},
        "aws_partition": {"partition": "aws"},
    },
    "resource": {
        "aws_kms_key": {"arn": "arn:aws:kms:{r}:%s:key/00000000-0000-0000-0000-000000000000" % ACCOUNT},
        "aws_iam_role": {"arn": "arn:aws:iam::%s:role/mock" % ACCOUNT},
        "aws_cloudwatch_log_group": {"arn": "arn:aws:logs:{r}:%s:log-group:mock" % ACCOUNT},
        "aws_sns_topic": {"arn": "arn:aws:sns:{r}:%s:mock" % ACCOUNT},
        "aws_lambda_function": {
            "arn": "arn:aws:lambda:{r}:%s:function:mock" % ACCOUNT,
            "invoke_arn": "arn:aws:apigateway:{r}:lambda:path/2015-03-31/functions/"
                          "arn:aws:lambda:{r}:%s:function:mock/invocations" % ACCOUNT,
        },
        "aws_lambda_layer_version": {"arn": "arn:aws:lambda:{r}:%s:layer:mock:1" % ACCOUNT},
        "aws_cloudwatch_metric_alarm": {"arn": "arn:aws:cloudwatch:{r}:%s:alarm:mock" % ACCOUNT},
        "aws_s3_bucket": {"arn": "arn:aws:s3:::mock"},
        "aws_secretsmanager_secret": {"arn": "arn:aws:secretsmanager:{r}:%s:secret:mock-AbCdEf" % ACCOUNT},
        "aws_acm_certificate": {"arn": "arn:aws:acm:{r}:%s:certificate/mock" % ACCOUNT},
        "aws_rds_cluster": {"arn": "arn:aws:rds:{r}:%s:cluster:mock" % ACCOUNT},
        "aws_codebuild_project": {"arn": "arn:aws:codebuild:{r}:%s:project/mock" % ACCOUNT},
        "aws_apigatewayv2_api": {
            "api_endpoint": "https://mock.execute-api.{r}.amazonaws.com",
            "execution_arn": "arn:aws:execute-api:{r}:%s:mock" % ACCOUNT,
        },
        "aws_cloudfront_distribution": {"domain_name": "d111111abcdef8.cloudfront.net"},
        "aws_route53_zone": {"zone_id": "Z0MOCKZONE0001"},
    },
}

# The certificate's validation record (a set attribute: HCL, not a string).
ACM_DVO = (
    'domain_validation_options = [{ domain_name = "app.drharness.example.com", '
    'resource_record_name = "_x.app.drharness.example.com.", resource_record_type = "CNAME", '
    'resource_record_value = "_y.acm-validations.aws." }]'
)


def _mock_provider(alias: str, region: str) -> str:
    lines = ['mock_provider "aws" {', f'  alias = "{alias}"']
    for kind, types in MOCK_DEFAULTS.items():
        for rtype, attrs in types.items():
            body = [f"{k} = {json.dumps(v.replace('{r}', region))}" for k, v in attrs.items()]
            if rtype == "aws_acm_certificate":
                body.append(ACM_DVO)
            lines.append(f'  mock_{kind} "{rtype}" {{')
            lines.append(f"    defaults = {{ {', '.join(body)} }}")
            lines.append("  }")
    lines.append("}")
    return "\n".join(lines)


def _hcl_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _assert(condition: str, message: str) -> str:
    return f"  assert {{\n    condition     = {condition}\n    error_message = {json.dumps(message)}\n  }}\n"


def _contract_asserts(zone_id: str = "Z0MOCKZONE0001") -> str:
    t = "output.drharness_target"
    out = [
        _assert(f"toset(keys({t})) == toset({_hcl_list(TOP_KEYS)})", "top-level keys"),
        _assert(f'{t}.schema == "drharness.target/1"', "schema"),
        _assert(f'{t}.primary_region == "us-east-1" && {t}.secondary_region == "us-west-2"', "regions"),
        _assert(f'{t}.account_id == "{ACCOUNT}"', "account_id"),
        _assert(f'startswith({t}.edge_url, "https://")', "edge_url is https"),
        _assert(f"toset(keys({t}.dns)) == toset({_hcl_list(DNS_KEYS)})", "dns keys"),
        _assert(f'{t}.dns.zone_id == "{zone_id}"', "dns.zone_id"),
        _assert(f'{t}.dns.record_name == "app.drharness.example.com"', "dns.record_name"),
        _assert(f'{t}.dns.zone_name == "drharness.example.com"', "dns.zone_name"),
        _assert(f"{t}.dns.ttl == 60 && {t}.dns.health_check_request_interval == 30 && "
                f"{t}.dns.health_check_failure_threshold == 3", "dns timings"),
        _assert(f"{t}.dns.alarm_period_s == 60 && {t}.dns.alarm_datapoints_to_alarm == 1 && "
                f"{t}.aggregator_period_s == 60", "alarm and aggregator timings"),
        _assert(f'toset(keys({t}.regions)) == toset(["us-east-1", "us-west-2"])', "region keys"),
    ]
    for region in ["us-east-1", "us-west-2"]:
        r = f'{t}.regions["{region}"]'
        out += [
            _assert(f"toset(keys({r})) == toset({_hcl_list(REGION_KEYS)})", f"{region} keys"),
            _assert(f"toset(keys({r}.aurora)) == toset({_hcl_list(AURORA_KEYS)})", f"{region} aurora keys"),
            _assert(f"toset(keys({r}.alarm_names)) == toset({_hcl_list(ALARM_KEYS)})", f"{region} alarm keys"),
            _assert(f"toset(keys({r}.fis_template_ids)) == toset({_hcl_list(SCENARIOS)})", f"{region} FIS keys"),
            _assert(f'startswith({r}.app_url, "https://")', f"{region} app_url is https"),
            _assert(f'strcontains({r}.aurora.secret_arn, ":{region}:")', f"{region} secret is regional"),
            _assert(f"{r}.aurora.port == 5432", f"{region} aurora port"),
            _assert(f'{r}.aurora.database == "orders"', f"{region} database"),
            _assert(f'{r}.dynamodb_table == "drharness-orders"', f"{region} table"),
            _assert(f'{r}.lambda_function_name == "drharness-app"', f"{region} function"),
            _assert(f'endswith({r}.s3_bucket, "-{region}")', f"{region} bucket is regional"),
            _assert(f'{r}.alarm_names.region_health == "drharness-region-health-{region}"', f"{region} alarm"),
            _assert(f'{r}.alarm_names.dns_health == "drharness-dns-health-{region}"', f"{region} DNS alarm"),
            _assert(f'length({r}.dns_answer) > 0 && !startswith({r}.dns_answer, "https://")',
                    f"{region} dns_answer is a host name"),
            _assert(f'strcontains({r}.aurora.cluster_arn, ":{region}:")', f"{region} cluster_arn is regional"),
        ]
    return "".join(out)


def _tftest() -> str:
    parts = [
        _mock_provider("primary", "us-east-1"),
        _mock_provider("secondary", "us-west-2"),
        """
variables {
  domain_name           = "drharness.example.com"
  record_name           = "app.drharness.example.com"
  lambda_app_zip        = "mock-app.zip"
  lambda_harness_zip    = "mock-harness.zip"
  drill_source_location = "https://example.com/drharness.git"
}
""",
        'run "contract_full_stack" {\n  command = apply\n' + _contract_asserts() + "}\n",
        """run "contract_lab_shape" {
  command = apply
  variables {
    create_app_custom_domain     = false
    create_dynamodb_replica      = false
    create_drill_scheduler       = false
    s3_bidirectional_replication = false
    aurora_instances_per_region  = 1
  }
""" + _contract_asserts() + "}\n",
        """run "contract_existing_zone" {
  command = apply
  variables {
    create_hosted_zone = false
    hosted_zone_id     = "Z0EXISTINGZONE1"
  }
""" + _contract_asserts(zone_id="Z0EXISTINGZONE1") + "}\n",
        """run "route53_metric_alarms_need_us_east_1" {
  command = plan
  variables {
    primary_region = "eu-west-1"
  }
  expect_failures = [aws_cloudwatch_metric_alarm.route53_health_primary]
}
""",
    ]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def mocked_module(tmp_path_factory):
    """A copy of the module as a root module, ready for `terraform test` with mocked providers.

    Mock providers cannot serve ephemeral resources (Terraform 1.11), so the copy replaces the one
    ephemeral value (the generated master password) with a literal. Nothing else is changed.
    """
    terraform_or_skip()
    providers_or_skip()
    root = tmp_path_factory.mktemp("tf-contract") / "multi-region"
    shutil.copytree(MODULE, root, ignore=shutil.ignore_patterns(".terraform*"))
    aurora = root / "aurora-global.tf"
    text, n = re.subn(
        r'ephemeral "aws_secretsmanager_random_password" "aurora_master" \{.*?\n\}\n', "", aurora.read_text(),
        flags=re.S,
    )
    assert n == 1, "the ephemeral password resource moved: update this fixture"
    text = text.replace(
        "ephemeral.aws_secretsmanager_random_password.aurora_master.random_password", '"mock-password"'
    )
    aurora.write_text(text)
    (root / "mock-app.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (root / "mock-harness.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (root / "tests").mkdir()
    (root / "tests" / "contract.tftest.hcl").write_text(_tftest())
    res = run_tf(["init", "-backend=false", "-input=false", "-no-color"], root, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return root


def test_drharness_target_contract_with_mocked_providers(mocked_module):
    res = run_tf(["test", "-no-color"], mocked_module, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "Success! 4 passed, 0 failed." in out, out
