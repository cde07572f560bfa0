"""Static-stability lint: failover-path dependencies on us-east-1 control planes.

Rules (each finding is ``{file, line, finding}``):

* **control-plane-action** — an IAM policy of a failover-path identity (role, inline/managed policy or
  policy document whose name, or the role/Lambda it is attached to, matches ``FAILOVER_PATH``) allows a
  mutating Route 53 action (``route53:Change*/Create*/Delete*/Update*/...``, ``route53:*``), any
  ``iam:`` action but ``iam:PassRole``, a mutating CloudFront action, or ``*``. Those APIs are served
  from us-east-1 only; a failover that needs them does not survive losing us-east-1.
* **failover-record-without-health-check** — an ``aws_route53_record`` with ``failover_routing_policy``
  and no ``health_check_id``.
* **alarm-only-in-us-east-1** — a CloudWatch alarm created in us-east-1 that a resource outside
  us-east-1 (e.g. the secondary's orchestrator trigger) references, or whose actions target one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from drharness.plancheck.loader import Scope, TfFile, rel_path

__all__ = ["FAILOVER_PATH", "Finding", "lint"]

FAILOVER_PATH = re.compile(r"orchestr|failover|aggregat|promot|switchover|recover", re.I)
_CONTROL_PLANE = re.compile(
    r"^(\*|route53:(\*|(Change|Create|Delete|Update|Associate|Disassociate|Activate|Deactivate)\w*)"
    r"|iam:(?!PassRole$)[\w*]+|cloudfront:(\*|(Create|Update|Delete|Associate|Disassociate)\w*))$")
_ACTIONS_START = re.compile(r'(\b(not_)?actions\s*=|"?\bNot(Action)"?\s*[=:]|"?\bAction"?\s*[=:])')
_STR = re.compile(r'"([^"\\]*)"')
_HEADER = re.compile(r'^(resource|data)\s+"([^"]+)"\s+"([^"]+)"\s*\{')
_IAM_KINDS = {"aws_iam_role", "aws_iam_role_policy", "aws_iam_policy", "aws_iam_policy_document",
              "aws_iam_role_policy_attachment", "aws_lambda_function"}


@dataclass
class Finding:
    file: str
    line: int
    finding: str
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "finding": self.finding, "rule": self.rule}


@dataclass
class _Block:
    scope: Scope
    file: TfFile
    kind: str  # resource | data
    rtype: str
    label: str
    start: int  # 1-based header line
    lines: list[str]

    @property
    def ref(self) -> str:
        return (f"data.{self.rtype}.{self.label}" if self.kind == "data" else f"{self.rtype}.{self.label}")

    @property
    def body(self) -> str:
        return "\n".join(self.lines)


def _blocks(scope: Scope, f: TfFile) -> list[_Block]:
    out: list[_Block] = []
    lines = f.text.splitlines()
    heads = [(i, m) for i, ln in enumerate(lines) if (m := _HEADER.match(ln))]
    tops = [i for i, ln in enumerate(lines) if re.match(r"^[A-Za-z_]\w*(\s+\"[^\"]*\")*\s*\{", ln)]
    for i, m in heads:
        nxt = min([t for t in tops if t > i], default=len(lines))
        out.append(_Block(scope, f, m.group(1), m.group(2), m.group(3), i + 1, lines[i:nxt]))
    return out


def _action_strings(b: _Block) -> list[tuple[int, str]]:
    """(line, action) of every string inside an actions/Action list of the block."""
    out: list[tuple[int, str]] = []
    depth = 0
    for off, ln in enumerate(b.lines):
        code = re.sub(r'\s(#|//)[^"]*$', "", ln)
        m = _ACTIONS_START.search(code)
        seg = code[m.end():] if m else (code if depth > 0 else "")
        if m or depth > 0:
            out += [(b.start + off, s) for s in _STR.findall(seg)]
            depth += seg.count("[") - seg.count("]")
            depth = max(depth, 0)
    return out


def _refs(text: str, rtype: str, data: bool = False) -> set[str]:
    pre = r"data\." if data else r"(?<!data\.)\b"
    return set(re.findall(pre + re.escape(rtype) + r"\.([A-Za-z_][\w-]*)", text))


def _body_of(b: _Block) -> dict[str, Any]:
    for labels, body in b.file.blocks(b.kind):
        if labels == [b.rtype, b.label]:
            return body
    return {}


def _region(b: _Block) -> str | None:
    body = _body_of(b)
    if "region" in body:  # AWS provider v6 per-resource region
        r = b.scope.evaluate(body["region"])
        return str(r.value) if r.resolved else None
    key = str(body.get("provider", "aws")).strip("${}")
    r = b.scope.provider_region(key)
    return str(r.value) if r.resolved else None


def lint(root: Scope) -> list[Finding]:
    blocks: list[_Block] = []
    for s in root.walk():
        for f in s.files:
            blocks += _blocks(s, f)
    findings: list[Finding] = []

    # ---- failover-path IAM ----------------------------------------------------------------------
    for s in root.walk():
        mine = [b for b in blocks if b.scope is s and b.rtype in _IAM_KINDS]
        failover_roles = {b.label for b in mine if b.rtype == "aws_iam_role" and FAILOVER_PATH.search(
            b.label + " " + " ".join(re.findall(r'^\s*name\s*=\s*"([^"]*)"', b.body, re.M)))}
        for b in mine:
            if b.rtype == "aws_lambda_function" and FAILOVER_PATH.search(b.label):
                failover_roles |= _refs(b.body, "aws_iam_role")
        docs: set[str] = set()
        policies: set[str] = set()
        path: set[str] = set()
        for b in mine:
            if b.rtype in ("aws_iam_role_policy", "aws_iam_role_policy_attachment") and \
                    (_refs(b.body, "aws_iam_role") & failover_roles or FAILOVER_PATH.search(b.label)):
                path.add(b.ref)
                docs |= _refs(b.body, "aws_iam_policy_document", data=True)
                policies |= _refs(b.body, "aws_iam_policy")
            if b.rtype == "aws_iam_role" and b.label in failover_roles:
                path.add(b.ref)  # inline_policy blocks
                docs |= _refs(b.body, "aws_iam_policy_document", data=True)
                policies |= _refs(b.body, "aws_iam_policy")
        for b in mine:
            if (b.kind == "data" and b.rtype == "aws_iam_policy_document" and
                    (b.label in docs or FAILOVER_PATH.search(b.label))) or \
                    (b.rtype == "aws_iam_policy" and (b.label in policies or FAILOVER_PATH.search(b.label))):
                path.add(b.ref)
        for b in mine:
            if b.ref not in path or "assume" in b.label.lower():
                continue
            for line, action in _action_strings(b):
                if _CONTROL_PLANE.match(action):
                    findings.append(Finding(rel_path(b.file.path), line,
                                            f"{b.ref} (failover path) allows {action!r}: a us-east-1 control-plane "
                                            "API; a failover that needs it does not survive losing us-east-1",
                                            "control-plane-action"))

    # ---- failover records without health checks -------------------------------------------------
    for b in blocks:
        if b.rtype != "aws_route53_record" or b.kind != "resource":
            continue
        body = _body_of(b)
        if "failover_routing_policy" in body and not body.get("health_check_id"):
            pol = body["failover_routing_policy"]
            typ = pol[0].get("type", "?") if isinstance(pol, list) and pol else "?"
            findings.append(Finding(rel_path(b.file.path), b.start,
                                    f"{b.ref}: failover record ({str(typ).strip(chr(34))}) without health_check_id; "
                                    "Route 53 treats it as always healthy, so it never fails over on a regional "
                                    "outage", "failover-record-without-health-check"))

    # ---- alarms only in us-east-1 that something outside us-east-1 needs -------------------------
    regions = {id(b): _region(b) for b in blocks}
    for a in blocks:
        if a.rtype != "aws_cloudwatch_metric_alarm" or regions[id(a)] != "us-east-1":
            continue
        pat = re.compile(r"\baws_cloudwatch_metric_alarm\." + re.escape(a.label) + r"\b")
        for b in blocks:
            if b.scope is not a.scope or b is a or regions[id(b)] in (None, "us-east-1"):
                continue
            for off, ln in enumerate(b.lines):
                if pat.search(ln):
                    findings.append(Finding(rel_path(b.file.path), b.start + off,
                                            f"{b.ref} (in {regions[id(b)]}) depends on alarm {a.ref}, which lives "
                                            "only in us-east-1", "alarm-only-in-us-east-1"))
        body = _body_of(a)
        acts = " ".join(str(x) for k in ("alarm_actions", "ok_actions") for x in (body.get(k) or []))
        for b in blocks:
            if b.scope is a.scope and regions[id(b)] not in (None, "us-east-1") and \
                    re.search(r"\b" + re.escape(f"{b.rtype}.{b.label}") + r"\b", acts):
                findings.append(Finding(rel_path(a.file.path), a.start,
                                        f"{a.ref} lives only in us-east-1 but notifies {b.ref} in "
                                        f"{regions[id(b)]}", "alarm-only-in-us-east-1"))
    findings.sort(key=lambda x: (x.file, x.line))
    return findings
