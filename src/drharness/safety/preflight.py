"""Preflight guards of a drill, the same on every target (the lab exercises them on each run).

Refuse to start when a FIS template the scenario uses has no stop-condition alarm, names an alarm
that does not exist, or one already in ALARM (FIS would stop at once, or worse: not at all); when
the secondary is not ready as a replica; or when Aurora replication lag is above the threshold.
Templates that select targets by wildcard are refused too (blast radius).
"""

from __future__ import annotations

from typing import Any

from drharness.errors import EnvironmentProblem

__all__ = ["SCENARIO_TEMPLATES", "PreflightRefused", "check_stop_conditions", "check_template_scope", "preflight"]

# Which FIS templates (in the primary region) each drill scenario starts.
SCENARIO_TEMPLATES: dict[str, tuple[str, ...]] = {
    "region-outage": ("region-outage",),
    "failback": ("region-outage",),
    "load-during-failover": ("region-outage",),
    "control-plane-impairment": ("control-plane-impairment", "region-outage"),
    "aurora-writer-failure": ("aurora-writer-failure",),
    "planned-switchover": (),
}


class PreflightRefused(EnvironmentProblem):
    """A guard refused the drill: exit 3 with the reason."""


def _alarm_state(target: Any, arn: str) -> str | None:
    """State of the alarm an ARN names (None = no such alarm)."""
    parts = arn.split(":")
    region, name = (parts[3], parts[-1]) if len(parts) >= 7 else (target.primary_region, arn)
    if region not in target.regions:
        return None
    alarms = target.client("cloudwatch", region, attempts=2).describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0]["StateValue"] if alarms else None


def check_stop_conditions(target: Any, template: dict[str, Any]) -> list[str]:
    """Problems with a template's stop conditions (empty = fine)."""
    tid = template.get("id", "?")
    alarms = [sc.get("value", "") for sc in template.get("stopConditions", [])
              if sc.get("source") == "aws:cloudwatch:alarm"]
    if not alarms:
        return [f"FIS template {tid} has no stop-condition alarm"]
    problems = []
    for arn in alarms:
        state = _alarm_state(target, arn)
        if state is None:
            problems.append(f"stop-condition alarm {arn} of FIS template {tid} does not exist")
        elif state == "ALARM":
            problems.append(f"stop-condition alarm {arn.rsplit(':', 1)[-1]} is already in ALARM")
    return problems


def check_template_scope(template: dict[str, Any]) -> list[str]:
    """Targets must be named by ARN or tag; a wildcard ARN or a template-wide selection is refused."""
    problems = []
    for name, tg in (template.get("targets") or {}).items():
        arns = tg.get("resourceArns") or []
        if any("*" in a for a in arns):
            problems.append(f"FIS template {template.get('id')} target {name} selects by wildcard ARN")
        if not arns and not tg.get("resourceTags") and not tg.get("filters"):
            problems.append(f"FIS template {template.get('id')} target {name} selects every {tg.get('resourceType')}")
    return problems


def preflight(target: Any, scenario: str, lag_threshold_ms: float = 1000.0) -> list[str]:
    """Run every guard; raise PreflightRefused naming all problems, else return what was checked."""
    from drharness.aggregator import Aggregator

    problems: list[str] = []
    checked: list[str] = []
    primary = target.primary_region
    for key in SCENARIO_TEMPLATES.get(scenario, ()):
        tid = target.regions[primary].fis_templates.get(key)
        if not tid:
            problems.append(f"no FIS template for {key} in {primary}")
            continue
        try:
            tpl = target.client("fis", primary, attempts=2).get_experiment_template(id=tid)["experimentTemplate"]
        except Exception as exc:  # noqa: BLE001 - a template we cannot read is a refusal, not a crash
            problems.append(f"FIS template {tid} unreadable: {type(exc).__name__}: {exc}")
            continue
        problems += check_stop_conditions(target, tpl) + check_template_scope(tpl)
        checked.append(f"template {key} ({tid}) stop conditions and scope")
    sec = Aggregator(target, lag_threshold_ms=lag_threshold_ms).evaluate_region(target.secondary_region)
    problems += [f"secondary {target.secondary_region} {k}: {c.detail}" for k, c in sec.checks.items()
                 if k in ("aurora", "dynamodb", "s3") and not c.ok]
    lag = sec.checks["aurora"].metrics.get("lag_ms") if "aurora" in sec.checks else None
    if lag is not None and lag > lag_threshold_ms:
        problems.append(f"Aurora replication lag {lag:.0f} ms above the {lag_threshold_ms:.0f} ms threshold")
    checked.append(f"secondary {target.secondary_region} ready, Aurora lag {lag} ms <= {lag_threshold_ms:.0f} ms")
    if problems:
        raise PreflightRefused("preflight refused the drill: " + "; ".join(problems))
    return checked
