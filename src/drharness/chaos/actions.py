"""Actions: the orchestrator's failover and failback, and halt."""

from __future__ import annotations

from typing import Any

from drharness.chaos import target_from
from drharness.orchestrator import Orchestrator, OrchestratorConfig

__all__ = ["failback", "failover", "halt", "load_during_failover"]


def failover(mode: str = "unplanned", decision: str = "auto", force: bool = False,
             configuration: dict | None = None, secrets: dict | None = None) -> dict[str, Any]:
    """Run the failover plan (automatic decision waits for the aggregator to see the primary unhealthy)."""
    t = target_from(configuration)
    cfg = OrchestratorConfig(mode=mode, decision=decision, force=force, confirmed=True,
                             state_dir=".drharness/orchestrator")
    return Orchestrator(t, cfg, from_region=t.primary_region).failover().summary()


def failback(configuration: dict | None = None, secrets: dict | None = None) -> dict[str, Any]:
    """Run the failback plan back to the primary region (approval is the experiment itself)."""
    t = target_from(configuration)
    cfg = OrchestratorConfig(mode="planned", confirmed=True, state_dir=".drharness/orchestrator")
    return Orchestrator(t, cfg, from_region=t.secondary_region).failback().summary()


def halt(configuration: dict | None = None, secrets: dict | None = None) -> list[str]:
    """Stop every running FIS experiment in both regions (their faults are reverted)."""
    t = target_from(configuration)
    stopped = []
    for region in t.regions:
        fis = t.client("fis", region)
        for exp in fis.list_experiments().get("experiments", []):
            if exp["state"]["status"] in ("pending", "initiating", "running"):
                fis.stop_experiment(id=exp["id"])
                stopped.append(exp["id"])
    return stopped


def load_during_failover(users: int = 10, seconds: float = 60.0, configuration: dict | None = None,
                         secrets: dict | None = None) -> dict[str, Any]:
    """Locust load through the failover DNS name for `seconds` (run it in the background)."""
    from pathlib import Path

    from drharness.workload import load

    t = target_from(configuration)
    out = Path(".drharness/chaos-load")
    out.mkdir(parents=True, exist_ok=True)
    res = load.run_headless(t, users=users, spawn_rate=users, seconds=seconds, shape="steady",
                            history_path=out / "history.jsonl", csv_prefix=str(out / "locust"),
                            html_path=out / "locust.html", mode="failover-dns")
    return res if isinstance(res, dict) else getattr(res, "__dict__", {"result": str(res)})
