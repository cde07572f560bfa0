"""FIS experiments run for real in the lab: effects applied, reverted on stop, bad actions fail."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.lab

E = "us-east-1"
ACCOUNT = "123456789012"


def wait_state(fis, exp_id: str, states: set[str], timeout: float = 10) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        st = fis.get_experiment(id=exp_id)["experiment"]["state"]
        if st["status"] in states or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def template(t, actions: dict, targets: dict | None = None) -> str:  # noqa: ANN001
    fis = t.client("fis", E)
    return fis.create_experiment_template(
        clientToken=str(time.time_ns()), description="test", roleArn=f"arn:aws:iam::{ACCOUNT}:role/drharness-fis",
        stopConditions=[{"source": "none"}], targets=targets or {}, actions=actions)["experimentTemplate"]["id"]


def test_region_outage_experiment_applies_and_reverts_on_stop(clean_lab):
    t = clean_lab.target
    fis = t.client("fis", E)
    exp = fis.start_experiment(experimentTemplateId=t.regions[E].fis_templates["region-outage"])["experiment"]
    assert wait_state(fis, exp["id"], {"running"})["status"] == "running"
    rf = clean_lab.status()["faults"]["regions"][E]
    assert rf["data_plane_down"] and rf["isolated"]
    fis.stop_experiment(id=exp["id"])
    assert wait_state(fis, exp["id"], {"stopped"})["status"] == "stopped"
    rf = clean_lab.status()["faults"]["regions"][E]
    assert not rf["data_plane_down"] and not rf["isolated"]


def test_actions_honour_duration_and_start_after(clean_lab):
    t = clean_lab.target
    fis = t.client("fis", E)
    tid = template(t, {
        "wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT0.5S"}},
        "api": {"actionId": "aws:fis:inject-api-throttle-error",
                "parameters": {"duration": "PT1S", "service": "dynamodb"}, "startAfter": ["wait"]},
    })
    exp_id = fis.start_experiment(experimentTemplateId=tid)["experiment"]["id"]
    wait_state(fis, exp_id, {"running"})
    time.sleep(0.2)
    assert clean_lab.status()["faults"]["regions"][E]["api_errors"] == {}  # not before `wait` ends
    deadline = time.monotonic() + 3
    while clean_lab.status()["faults"]["regions"][E]["api_errors"] != {"dynamodb": "throttle"}:
        assert time.monotonic() < deadline, "the throttle action never started"
        time.sleep(0.05)
    assert wait_state(fis, exp_id, {"completed"})["status"] == "completed"
    assert clean_lab.status()["faults"]["regions"][E]["api_errors"] == {}


def test_unsupported_action_fails_with_a_reason(clean_lab):
    t = clean_lab.target
    fis = t.client("fis", E)
    tid = template(t, {"x": {"actionId": "aws:ec2:reboot-instances", "parameters": {}}})
    exp_id = fis.start_experiment(experimentTemplateId=tid)["experiment"]["id"]
    st = wait_state(fis, exp_id, {"failed"})
    assert st["status"] == "failed" and "not supported" in st["reason"]


def test_assert_alarm_state_fails_the_experiment_when_the_alarm_is_not_as_expected(clean_lab):
    t = clean_lab.target
    alarm = t.regions[E].alarms["region_health"]
    fis = t.client("fis", E)
    with clean_lab.planted_alarm_state(E, alarm, "ALARM"):
        tid = template(t, {"assert": {"actionId": "aws:cloudwatch:assert-alarm-state", "parameters": {
            "alarmArns": f"arn:aws:cloudwatch:{E}:{ACCOUNT}:alarm:{alarm}", "alarmStates": "OK"}}})
        exp_id = fis.start_experiment(experimentTemplateId=tid)["experiment"]["id"]
        st = wait_state(fis, exp_id, {"failed", "completed"})
    assert st["status"] == "failed" and "ALARM" in st["reason"]


def test_stop_condition_alarm_stops_the_experiment_and_reverts_its_faults(clean_lab):
    t = clean_lab.target
    w = t.secondary_region
    fis = t.client("fis", E)
    exp_id = fis.start_experiment(experimentTemplateId=t.regions[E].fis_templates["region-outage"])["experiment"]["id"]
    assert wait_state(fis, exp_id, {"running"})["status"] == "running"
    alarm = t.regions[w].alarms["region_health"]  # the template's stop condition
    with clean_lab.planted_alarm_state(w, alarm, "ALARM"):
        st = wait_state(fis, exp_id, {"stopped", "failed", "completed"})
    assert st["status"] == "stopped" and "stop condition" in st["reason"]
    assert not clean_lab.status()["faults"]["regions"][E]["data_plane_down"]
