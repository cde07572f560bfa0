"""Shared fixtures: one local lab per test session (started from code, stopped by PID).

Tests never reach real AWS: dummy credentials, and every endpoint is a lab gateway on loopback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


class LabHandle:
    """What tests need of a running lab: its state, its Target, and its control API."""

    def __init__(self, state_file: Path) -> None:
        from drharness.lab.state import read_state

        self.state_file = state_file
        self.state = read_state(state_file)

    @property
    def target(self):  # noqa: ANN201 - a drharness.target.Target
        from drharness.target import from_lab

        return from_lab(self.state_file)

    def control(self, path: str, body: dict | None = None, timeout: float = 90) -> dict:
        from drharness.lab.manager import control

        return control(self.state.control_url, path, body, timeout=timeout)

    def status(self) -> dict:
        return self.control("/status")

    def fault(self, region: str, **changes: object) -> dict:
        return self.control("/faults", {"region": region, **changes})

    def clear(self) -> dict:
        return self.control("/faults/clear", {})

    def writer_region(self) -> str | None:
        """The region moto's global cluster names as writer (asked through us-west-2)."""
        t = self.target
        gc = t.client("rds", t.secondary_region).describe_global_clusters(
            GlobalClusterIdentifier=t.global_cluster_id)["GlobalClusters"][0]
        return t.cluster_region(next(m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"]))

    def reset(self) -> dict:
        return self.control("/reset", {"timeout": 60})

    @contextmanager
    def planted_alarm_state(self, region: str, alarm: str, state: str = "ALARM") -> Iterator[None]:
        """SetAlarmState that holds: the lab evaluates alarms every second (fast profile) and would put
        a planted state back to what the data says before the code under test reads it; on AWS it holds
        until the next evaluation (60 s). Evaluation is frozen meanwhile and resumes afterwards."""
        cw = self.target.client("cloudwatch", region)
        self.control("/alarms", {"frozen": True})
        try:
            cw.set_alarm_state(AlarmName=alarm, StateValue=state, StateReason="planted by test")
            yield
        finally:
            self.control("/alarms", {"frozen": False})
            cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test done")


# Slowest files first (measured sums, benchmarks/RESULTS.md "Test-suite wall time again"), so that
# pytest-xdist's ``loadfile`` hands out the long ones while the other worker works through the many
# short ones, instead of one worker finishing a long file alone at the end (``--no-loadscope-reorder``
# in pytest.ini: xdist would otherwise order files by their number of tests). The success-rate feature
# comes late: it counts the region-outage runs of steps/test_features.py and tests/recovery/test_drills.py.
SLOW_FIRST = (
    "steps/test_features.py", "tests/infra/test_infra_terraform.py", "tests/loadtests/test_load_lab.py",
    "tests/safety/test_kill9_drill.py", "tests/recovery/test_drills.py", "tests/recovery/test_dns_follows_aggregator.py",
    "tests/infra/test_infra_checkov.py", "tests/lab/test_lab_cli.py", "tests/report/test_allure.py",
    "tests/safety/test_secrets_and_audit.py",
    "tests/experiments/test_experiments.py", "tests/safety/test_lock_preflight.py",
    "tests/consistency/test_aws_stores.py", "tests/infra/test_infra_static.py", "tests/recovery/test_crash_resume.py",
    "tests/lab/test_lab_parts.py", "steps/test_features_planned.py", "steps/test_features_success_rate.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    root = Path(str(config.rootpath))

    def key(item: pytest.Item) -> int:
        try:
            rel = Path(str(item.path)).relative_to(root).as_posix()
        except ValueError:
            return len(rank)
        return rank.get(rel, len(rank))

    items.sort(key=key)  # stable: the order inside a file, and of all other files, is kept


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    from drharness.lab.manager import lab_down, lab_up

    state_file = tmp_path_factory.mktemp("lab") / "lab.json"
    os.environ["DRHARNESS_LAB_STATE"] = str(state_file)
    try:
        lab_up("fast")
        yield LabHandle(state_file)
    finally:
        lab_down()


@pytest.fixture
def clean_lab(lab: LabHandle) -> Iterator[LabHandle]:
    """A lab in its known state before and after the test (faults cleared, writer in us-east-1)."""
    lab.reset()
    yield lab
    lab.reset()


DRILL_ALIASES = {"failback": "region-outage"}  # the region-outage drill already ends with a measured failback


def _shared_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dir per test session, shared by its xdist workers (their basetemps are popen-gwN under the
    session's); without xdist the session's own basetemp, never the user-wide pytest-of-<user> dir
    where another session's cache would be picked up."""
    base = tmp_path_factory.getbasetemp()
    d = (base.parent if base.name.startswith("popen-gw") else base) / "drill-cache"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="session")
def drill_cache() -> dict[str, dict]:
    return {}


def _locked_cache_runner(lab: LabHandle, drill_cache: dict[str, dict], tmp_path_factory: pytest.TempPathFactory,
                         prefix: str, execute: Any) -> Any:
    """One run per key per test session, shared by pytest-xdist workers through a locked file cache:
    features and tests assert on the same report, whichever worker ran it. The lab is reset around it."""
    import fcntl
    import json

    shared = _shared_cache_dir(tmp_path_factory)

    def run(scenario: str) -> dict:
        name = DRILL_ALIASES.get(scenario, scenario)
        key = prefix + name
        if key in drill_cache:
            return drill_cache[key]
        with open(shared / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = shared / f"{key}.json"
            if done.exists():
                drill_cache[key] = json.loads(done.read_text())
                return drill_cache[key]
            lab.reset()
            report_dir = tmp_path_factory.mktemp(key)
            report = execute(name, report_dir)
            report["_report_dir"] = str(report_dir)
            lab.reset()
            done.write_text(json.dumps(report, default=str))
            drill_cache[key] = report
        return report

    return run


@pytest.fixture(scope="session")
def run_drill_once(lab: LabHandle, drill_cache: dict[str, dict], tmp_path_factory: pytest.TempPathFactory):
    """The scenario's drill (drill runner), once per session."""
    from drharness.drill import Drill, DrillConfig

    return _locked_cache_runner(lab, drill_cache, tmp_path_factory, "drill-", lambda name, report_dir: Drill(
        lab.target, DrillConfig(scenario=name, report_dir=report_dir)).run())


@pytest.fixture(scope="session")
def run_experiment_once(lab: LabHandle, drill_cache: dict[str, dict], tmp_path_factory: pytest.TempPathFactory):
    """The scenario's Chaos Toolkit experiment run through chaoslib, once per session. The report is
    judged by the checkers from the run's history; journal, history and report stay in its dir."""
    from drharness.chaos.runner import run_experiment

    return _locked_cache_runner(lab, drill_cache, tmp_path_factory, "chaos-", run_experiment)
