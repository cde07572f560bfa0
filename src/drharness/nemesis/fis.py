"""Faults through AWS FIS: the same calls on the lab (its gateways run the experiments) and on AWS."""

from __future__ import annotations

import time
from typing import Any

from drharness.errors import BadInput, CheckFailed
from drharness.history import NULL_HISTORY, BaseHistory
from drharness.safety.crash import crash_point
from drharness.target import Target

__all__ = ["FisNemesis", "experiment_state", "start_scenario", "stop_experiment"]

TERMINAL = ("completed", "stopped", "failed")


class FisNemesis:
    """Start a scenario's FIS template in a region; stop it (and wait until its faults are reverted)."""

    def __init__(self, target: Target, history: BaseHistory = NULL_HISTORY) -> None:
        self.target = target
        self.history = history
        self.running: list[tuple[str, str, Any]] = []  # (region, experiment id, history handle)

    def template_id(self, scenario: str, region: str) -> str:
        tpls = self.target.regions[region].fis_templates
        if scenario not in tpls:
            raise BadInput(f"no FIS template for scenario {scenario!r} in {region} "
                           f"(known: {', '.join(sorted(tpls)) or 'none'})")
        return tpls[scenario]

    def start(self, scenario: str, region: str, fault: str | None = None, wait_running: float = 30) -> str:
        fis = self.target.client("fis", region)
        tid = self.template_id(scenario, region)
        h = self.history.invoke("nemesis", "fault", {"fault": fault or scenario, "target_region": region,
                                                     "template_id": tid}, region)
        exp = fis.start_experiment(experimentTemplateId=tid, tags={"drharness:scenario": scenario})["experiment"]
        exp_id = exp["id"]
        deadline = time.monotonic() + wait_running
        while True:
            state = fis.get_experiment(id=exp_id)["experiment"]["state"]
            # "completed" seen first: an instant action (e.g. an RDS failover) ran between two polls.
            if state["status"] in ("running", "completed"):
                break
            if state["status"] in TERMINAL or time.monotonic() > deadline:
                self.history.complete(h, "fail", {"fault": fault or scenario, "target_region": region,
                                                  "experiment_id": exp_id, "state": state}, region)
                raise CheckFailed(f"FIS experiment {exp_id} ({scenario}) did not run: "
                                  f"{state['status']}: {state.get('reason')}")
            time.sleep(0.05)
        self.history.append("nemesis", "info", "fault-running", {"experiment_id": exp_id, "scenario": scenario},
                            region)
        self.running.append((region, exp_id, h))
        crash_point("fault")  # DRHARNESS_CRASH_AT=fault: kill -9 while the fault is on (recovery tests)
        return exp_id

    def stop(self, timeout: float = 30) -> None:
        """Stop every experiment this nemesis started; each heals when FIS reports it stopped."""
        while self.running:
            region, exp_id, h = self.running.pop()
            fis = self.target.client("fis", region)
            state = fis.get_experiment(id=exp_id)["experiment"]["state"]
            if state["status"] not in TERMINAL:
                fis.stop_experiment(id=exp_id)
            deadline = time.monotonic() + timeout
            while state["status"] not in TERMINAL and time.monotonic() < deadline:
                time.sleep(0.05)
                state = fis.get_experiment(id=exp_id)["experiment"]["state"]
            self.history.complete(h, "ok", {"experiment_id": exp_id, "state": state}, region)

    teardown = stop


# ---- Chaos Toolkit-style activities -------------------------------------------------------------
def start_scenario(scenario: str, region: str, configuration: dict | None = None,
                   secrets: dict | None = None) -> str:
    from drharness.target import resolve_target

    cfg = configuration or {}
    target = resolve_target(cfg.get("drharness_target", "local"), cfg.get("drharness_env"))
    return FisNemesis(target).start(scenario, region)


def experiment_state(experiment_id: str, region: str, configuration: dict | None = None,
                     secrets: dict | None = None) -> dict:
    from drharness.target import resolve_target

    cfg = configuration or {}
    target = resolve_target(cfg.get("drharness_target", "local"), cfg.get("drharness_env"))
    return target.client("fis", region).get_experiment(id=experiment_id)["experiment"]["state"]


def stop_experiment(experiment_id: str, region: str, configuration: dict | None = None,
                    secrets: dict | None = None) -> dict:
    from drharness.target import resolve_target

    cfg = configuration or {}
    target = resolve_target(cfg.get("drharness_target", "local"), cfg.get("drharness_env"))
    fis = target.client("fis", region)
    fis.stop_experiment(id=experiment_id)
    return fis.get_experiment(id=experiment_id)["experiment"]["state"]
