"""CloudWatch alarm evaluation in the lab (lab/alarms.py): the knobs CloudWatch uses, on moto's data.

Unit cases run the pure evaluator; one test proves moto itself never evaluates (so the lab must);
one runs in the session lab through the region gateway.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import boto3
import pytest
from moto import mock_aws

from drharness.lab.alarms import (
    ALARM,
    INSUFFICIENT,
    OK,
    AlarmEvaluator,
    AlarmSpec,
    Sample,
    evaluate,
    statistic,
)

NOW = 1_000_000.5  # half way through a 1 s period (periods are clock-aligned)


def spec(**kw: object) -> AlarmSpec:
    base: dict = dict(name="a", namespace="ns", metric="m", dimensions=(), statistic="Minimum", period_s=1.0,
                      evaluation_periods=1, datapoints_to_alarm=1, comparison="LessThanThreshold",
                      threshold=1.0, treat_missing="missing")
    base.update(kw)
    return AlarmSpec(**base)


def pts(*values: float | None, now: float = NOW, period: float = 1.0) -> list[Sample]:
    """One sample per period, the last one in the open period; None = no data in that period."""
    out = []
    for i, v in enumerate(reversed(values)):
        if v is not None:
            out.append(Sample(now - 0.1 - i * period, value=v))
    return out


# (description, spec, samples, current state, expected state)
CASES: list[tuple[str, AlarmSpec, list[Sample], str, str]] = [
    ("breach in the open period", spec(), pts(0.0), OK, ALARM),
    ("healthy value", spec(), pts(1.0), ALARM, OK),
    ("no data, missing -> INSUFFICIENT_DATA", spec(), [], OK, INSUFFICIENT),
    ("no data, notBreaching -> OK", spec(treat_missing="notBreaching"), [], ALARM, OK),
    ("no data, breaching -> ALARM", spec(treat_missing="breaching"), [], OK, ALARM),
    ("no data, ignore keeps ALARM", spec(treat_missing="ignore"), [], ALARM, ALARM),
    ("Minimum sees one bad value among good ones", spec(), [Sample(NOW - 0.1, 1.0), Sample(NOW - 0.2, 0.0)], OK,
     ALARM),
    ("Maximum ignores one bad value among good ones", spec(statistic="Maximum"),
     [Sample(NOW - 0.1, 1.0), Sample(NOW - 0.2, 0.0)], OK, OK),
    ("Average over the period", spec(statistic="Average", comparison="GreaterThanThreshold", threshold=5.0),
     [Sample(NOW - 0.1, 4.0), Sample(NOW - 0.2, 8.0)], OK, ALARM),
    ("Sum", spec(statistic="Sum", comparison="GreaterThanOrEqualToThreshold", threshold=10.0),
     [Sample(NOW - 0.1, 4.0), Sample(NOW - 0.2, 6.0)], OK, ALARM),
    ("SampleCount", spec(statistic="SampleCount", comparison="LessThanOrEqualToThreshold", threshold=1.0),
     [Sample(NOW - 0.1, 4.0), Sample(NOW - 0.2, 6.0)], ALARM, OK),
    ("3 of 3 needed, only 2 breach", spec(evaluation_periods=3, datapoints_to_alarm=3), pts(0.0, 1.0, 0.0), OK, OK),
    ("3 of 3 breach", spec(evaluation_periods=3, datapoints_to_alarm=3), pts(0.0, 0.0, 0.0), OK, ALARM),
    ("M of N: 2 of 3", spec(evaluation_periods=3, datapoints_to_alarm=2), pts(0.0, 1.0, 0.0), OK, ALARM),
    ("missing periods count as breaching", spec(evaluation_periods=3, datapoints_to_alarm=3,
                                                treat_missing="breaching"), pts(None, 0.0, None), OK, ALARM),
    ("missing periods are skipped with missing", spec(evaluation_periods=3, datapoints_to_alarm=2),
     pts(None, 0.0, None), OK, OK),
    ("data older than the range is not evaluated", spec(evaluation_periods=2), pts(0.0, None, None, None), OK,
     INSUFFICIENT),
    ("the Period is honoured (60 s)", spec(period_s=60.0), [Sample(NOW - 30.0, 0.0)], OK, ALARM),
    ("a 60 s period does not reach two periods back", spec(period_s=60.0), [Sample(NOW - 130.0, 0.0)], OK,
     INSUFFICIENT),
    ("an empty open period falls back to the last closed one", spec(), pts(0.0, None), OK, ALARM),
    ("future datapoints are ignored", spec(), [Sample(NOW + 5, 0.0)], OK, INSUFFICIENT),
    ("statistic sets (PutMetricData StatisticValues)", spec(),
     [Sample(NOW - 0.1, minimum=0.0, maximum=1.0, total=3.0, count=4.0)], OK, ALARM),
]


def failing_cases(evaluator: Callable[[AlarmSpec, list[Sample], float, str], str]) -> list[str]:
    return [f"{desc}: got {got}, want {want}" for desc, sp, samples, cur, want in CASES
            if (got := evaluator(sp, samples, NOW, cur)) != want]


def real(sp: AlarmSpec, samples: list[Sample], now: float, current: str) -> str:
    return evaluate(sp, samples, now, current).state


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_evaluation_follows_cloudwatch_semantics(case):
    desc, sp, samples, current, want = case
    ev = evaluate(sp, samples, NOW, current)
    assert ev.state == want, f"{desc}: {ev.reason}"
    assert ev.reason


def test_planted_evaluator_that_never_leaves_ok_fails_the_cases():
    """A test that cannot fail is a defect: an evaluator stuck at OK (what moto does) must be caught."""
    assert failing_cases(real) == []
    stuck = failing_cases(lambda sp, samples, now, current: OK)
    assert len(stuck) >= 8, stuck
    inverted = failing_cases(lambda sp, samples, now, current: ALARM if real(sp, samples, now, current) == OK
                             else real(sp, samples, now, current))
    assert inverted


def test_percentile_statistic():
    assert statistic([Sample(0, float(v)) for v in range(1, 101)], "p99") == 99.0
    assert statistic([], "Average") is None


def test_moto_stores_alarms_but_never_evaluates_them_and_the_evaluator_does():
    """Verified against moto itself: a breaching datapoint leaves the alarm OK until the lab evaluates."""
    from moto.cloudwatch.models import cloudwatch_backends

    with mock_aws():
        cw = boto3.client("cloudwatch", region_name="us-west-2")
        cw.put_metric_alarm(AlarmName="verdict", Namespace="drharness", MetricName="RegionHealthy",
                            Dimensions=[{"Name": "Region", "Value": "us-east-1"}], Statistic="Minimum", Period=60,
                            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="LessThanThreshold",
                            TreatMissingData="missing")
        cw.put_metric_data(Namespace="drharness", MetricData=[{
            "MetricName": "RegionHealthy", "Value": 0.0, "Dimensions": [{"Name": "Region", "Value": "us-east-1"}]}])
        time.sleep(0.2)
        assert cw.describe_alarms(AlarmNames=["verdict"])["MetricAlarms"][0]["StateValue"] == OK  # moto: unevaluated
        ev = AlarmEvaluator(lambda: {"us-west-2": cloudwatch_backends["123456789012"]["us-west-2"]})
        assert ev.run_once() == 1
        alarm = cw.describe_alarms(AlarmNames=["verdict"])["MetricAlarms"][0]
        assert alarm["StateValue"] == ALARM and "Threshold Crossed" in alarm["StateReason"]
        # Edge-triggered: a state planted with SetAlarmState holds until the evaluated state changes.
        cw.set_alarm_state(AlarmName="verdict", StateValue=OK, StateReason="planted by a test")
        ev.run_once()
        assert cw.describe_alarms(AlarmNames=["verdict"])["MetricAlarms"][0]["StateValue"] == OK
        ev.resync()
        ev.run_once()
        assert cw.describe_alarms(AlarmNames=["verdict"])["MetricAlarms"][0]["StateValue"] == ALARM
        ev.frozen = True  # the planted fault switch: nothing evaluates while frozen (run_once is the loop's body)
        assert ev.status()["frozen"] is True


@pytest.mark.lab
def test_lab_alarms_follow_data_put_through_the_gateway(lab):
    """In the running lab: an alarm goes to ALARM on breaching data and back to OK, evaluated by labd."""
    t = lab.target
    region = t.secondary_region
    cw = t.client("cloudwatch", region)
    name = f"test-alarm-{time.time_ns()}"
    dims = [{"Name": "Case", "Value": name}]
    cw.put_metric_alarm(AlarmName=name, Namespace="drharness/test", MetricName="Value", Dimensions=dims,
                        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=10.0,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")

    def wait_for(state: str, value: float | None) -> str:
        deadline = time.monotonic() + 20
        got = ""
        while time.monotonic() < deadline:
            if value is not None:
                cw.put_metric_data(Namespace="drharness/test", MetricData=[
                    {"MetricName": "Value", "Value": value, "Dimensions": dims}])
            got = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
            if got == state:
                return got
            time.sleep(0.2)
        return got

    try:
        assert wait_for(ALARM, 50.0) == ALARM
        assert wait_for(OK, None) == OK  # no data any more: notBreaching
    finally:
        cw.delete_alarms(AlarmNames=[name])


def test_a_new_breaching_alarm_does_not_fire_for_the_time_before_it_existed():
    """A fresh alarm with missing data = breaching used to start in ALARM for the periods before it
    existed, so a drill started right after `lab up` was refused by its own preflight."""
    sp = spec(evaluation_periods=3, datapoints_to_alarm=3, treat_missing="breaching")
    assert evaluate(sp, [], NOW, OK).state == ALARM  # without a creation time: every period counts
    young = evaluate(sp, [], NOW, OK, since=NOW - 0.2)
    assert young.state != ALARM, young.reason
    # Once it has lived through its evaluation periods without data, breaching applies again.
    assert evaluate(sp, [], NOW, OK, since=NOW - 3.5).state == ALARM
    # And data that arrives is evaluated as usual.
    assert evaluate(sp, pts(1.0), NOW, OK, since=NOW - 0.2).state == OK
