"""Least privilege: the AWS calls each component makes (derived from its source) against its IAM policy.

Derivation is static, over the AST of each component's modules: every ``<x>.<method>(...)`` whose
method is an operation of a service the module creates a client for (``client("<svc>", ...)``), and
``get_paginator("<op>")``. That over-approximates a little (a method of another object with an AWS
operation's name), never under-approximates a literal call. Operations map to IAM actions (S3 and
Lambda name some differently). Each policy must grant every derived action, and grant nothing that
no call needs, except the justified actions listed below (what AWS itself calls with the role).
"""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
import hcl2
import pytest
from botocore import xform_name

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "drharness"
IAM_TF = REPO / "infra" / "modules" / "multi-region" / "iam.tf"
FIS_TF = REPO / "infra" / "modules" / "multi-region" / "fis-experiments.tf"

_session = botocore.session.get_session()
_ops: dict[str, dict[str, str]] = {}

# API operation -> IAM action(s), where they differ from "<service>:<Operation>".
IAM_NAME = {
    "s3:HeadBucket": ["s3:ListBucket"], "s3:ListObjectsV2": ["s3:ListBucket"],
    "s3:ListObjectVersions": ["s3:ListBucketVersions"], "s3:HeadObject": ["s3:GetObject"],
    "s3:GetBucketReplication": ["s3:GetReplicationConfiguration"], "lambda:Invoke": ["lambda:InvokeFunction"],
    "sts:GetCallerIdentity": [],  # needs no permission
}
VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:HeadObject": "s3:GetObjectVersion",
             "s3:GetObjectTagging": "s3:GetObjectVersionTagging", "s3:DeleteObject": "s3:DeleteObjectVersion"}
NOT_CLIENTS = ("history", "self.h", "h")  # receivers that are never boto3 clients (History.invoke, ...)

# What AWS calls with the role itself, or what the role's job needs outside Python: never "unused".
RUNTIME = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
           "kms:Decrypt", "kms:GenerateDataKey"}
JUSTIFIED = {
    "orchestrator": RUNTIME,
    "aggregator": RUNTIME | {"sns:Publish"},  # the function's dead-letter topic: Lambda publishes with this role
    "drill_runner": RUNTIME | {
        "fis:TagResource",  # StartExperiment with tags (the drill tags each experiment) needs it
        "secretsmanager:GetSecretValue",  # the CodeBuild buildspec fetches the DB password for libpq
        "s3:PutObject", "s3:GetObject", "s3:ListBucket",  # report upload and `terraform output` state read
    },
}
# FIS role: the permissions each action of the templates needs (AWS FIS actions reference).
FIS_ACTION_NEEDS = {
    "aws:rds:failover-db-cluster": {"rds:FailoverDBCluster", "rds:DescribeDBClusters", "tag:GetResources"},
    "aws:dynamodb:global-table-pause-replication": {
        "dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy", "dynamodb:GetResourcePolicy",
        "dynamodb:DescribeTable", "tag:GetResources"},
    "aws:s3:bucket-pause-replication": {"s3:PutReplicationConfiguration", "s3:GetReplicationConfiguration",
                                        "s3:PauseReplication", "s3:ListAllMyBuckets", "tag:GetResources",
                                        "iam:PassRole"},
    "aws:fis:inject-api-unavailable-error": {"fis:InjectApiUnavailableError"},
    "aws:network:disrupt-connectivity": set(),  # AWSFaultInjectionSimulatorNetworkAccess (attached)
    "aws:network:route-table-disrupt-cross-region-connectivity": set(),
}
FIS_JUSTIFIED = {"dynamodb:InjectError"}  # pause of multi-Region strongly consistent tables

COMPONENTS = {
    # the Lambda runs the orchestrator, which evaluates regions with the aggregator
    "orchestrator": ["orchestrator/*.py", "aggregator/*.py"],
    "aggregator": ["aggregator/*.py"],
    # the drill runner (CodeBuild) runs the CLI: everything but the lab, the app and pure modules
    "drill_runner": ["*.py", "nemesis/*.py", "orchestrator/*.py", "aggregator/*.py", "workload/*.py",
                     "consistency/*.py", "safety/*.py", "chaos/*.py"],
}


def _service_ops(svc: str) -> dict[str, str]:
    if svc not in _ops:
        _ops[svc] = {xform_name(o): o for o in _session.get_service_model(svc).operation_names}
    return _ops[svc]


def derive(files: list[Path]) -> dict[str, set[str]]:
    """IAM action -> where it is called."""
    out: dict[str, set[str]] = {}
    for f in files:
        tree = ast.parse(f.read_text())
        svcs = {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call)
                and (getattr(n.func, "attr", None) or getattr(n.func, "id", None)) == "client"
                and n.args and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)}
        for n in ast.walk(tree):
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
                continue
            if ast.unparse(n.func.value).split(".")[-1] in NOT_CLIENTS or ast.unparse(n.func.value) in NOT_CLIENTS:
                continue
            m = n.func.attr
            if m == "get_paginator" and n.args and isinstance(n.args[0], ast.Constant):
                m = n.args[0].value
            kws = {k.arg for k in n.keywords}
            for s in svcs:
                op = _service_ops(s).get(m)
                if not op:
                    continue
                api = f"{s}:{op}"
                actions = IAM_NAME.get(api, [api])
                if "VersionId" in kws and api in VERSIONED:
                    actions = [VERSIONED[api]]
                for a in actions:
                    out.setdefault(a, set()).add(f"{f.relative_to(SRC)}:{n.lineno}")
    return out


def component_calls(name: str) -> dict[str, set[str]]:
    files = sorted({f for pat in COMPONENTS[name] for f in SRC.glob(pat)})
    return derive(files)


def _unq(v: object) -> object:
    """python-hcl2 >= 5 keeps HCL string quotes in keys and values: drop them."""
    if isinstance(v, dict):
        return {str(_unq(k)): _unq(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_unq(x) for x in v]
    return v[1:-1] if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"' else v


def policy_actions(doc_name: str) -> set[str]:
    with IAM_TF.open() as fh:
        tf = _unq(hcl2.load(fh))
    for block in tf.get("data", []):
        doc = (block.get("aws_iam_policy_document") or {}).get(doc_name)
        if doc is None:
            continue
        stmts = list(doc.get("statement", []))
        for dyn in doc.get("dynamic", []):
            for content in (dyn.get("statement") or {}).get("content", []):
                stmts.append(content)
        return {a for st in stmts for a in st.get("actions", [])}
    raise AssertionError(f"no aws_iam_policy_document {doc_name} in {IAM_TF}")


def test_derivation_sees_the_calls_it_must():
    """Planted: known calls of the orchestrator must be derived (a blind deriver passes everything)."""
    calls = component_calls("orchestrator")
    assert {"rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster", "lambda:PutFunctionConcurrency",
            "sns:Publish", "s3:ListBucket"} <= set(calls)
    assert "lambda:InvokeFunction" not in calls  # History.invoke is not Lambda
    assert "dynamodb:DeleteItem" in component_calls("drill_runner")  # the drill lock's release


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_policy_grants_every_call_and_nothing_unused(component):
    calls = component_calls(component)
    granted = policy_actions(component)
    missing = {a: sorted(w)[:3] for a, w in calls.items() if a not in granted}
    unused = granted - set(calls) - JUSTIFIED[component]
    assert not missing, f"{component}: calls not granted by iam.tf: {missing}"
    assert not unused, f"{component}: granted but nothing calls them: {sorted(unused)}"


def test_fis_role_grants_exactly_what_the_template_actions_need():
    text = FIS_TF.read_text()
    used = {a for a in FIS_ACTION_NEEDS if f'"{a}"' in text}
    assert used == set(FIS_ACTION_NEEDS), f"template actions changed: {used ^ set(FIS_ACTION_NEEDS)}"
    needed = set().union(*(FIS_ACTION_NEEDS[a] for a in used))
    granted = policy_actions("fis")
    assert not needed - granted, f"FIS role lacks {sorted(needed - granted)}"
    assert not granted - needed - FIS_JUSTIFIED, f"FIS role grants unused {sorted(granted - needed - FIS_JUSTIFIED)}"
    assert "AWSFaultInjectionSimulatorNetworkAccess" in IAM_TF.read_text()  # the network actions' permissions
