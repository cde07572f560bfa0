"""Actions: the orchestrator's failover and failback, and halt.

Inside a run recorded by ``drharness.chaos.control``, the orchestrator's steps (and the aggregator's
verdicts behind an automatic decision) go to that run's history and its state to the report dir.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from drharness.chaos import session as sessions
from drharness.chaos import target_from
from drharness.history import NULL_HISTORY, BaseHistory
from drharness.orchestrator import Orchestrator, OrchestratorConfig

FAILBACK_CLIENTS_S = 1800.0  # failback objective: clients must be back in the primary within it


def _recorded() -> tuple[BaseHistory, str, sessions.Session | None]:
    s = sessions.current()
    if s is None:
        return NULL_HISTORY, ".drharness/orchestrator", None
    s.disrupted = True  # steady-state lag is sampled again once the run is over
    return s.h, str(Path(s.report_dir) / "orchestrator"), s

__all__ = ["failback", "failover", "halt", "load_during_failover"]


def failover(mode: str = "unplanned", decision: str = "auto", force: bool = False,
             configuration: dict | None = None, secrets: dict | None = None) -> dict[str, Any]:
    """Run the failover plan (automatic decision waits for the aggregator to see the primary unhealthy)."""
    t = target_from(configuration)
    history, state_dir, s = _recorded()
    cfg = OrchestratorConfig(mode=mode, decision=decision, force=force, confirmed=True, state_dir=state_dir)
    try:
        return Orchestrator(t, cfg, history, from_region=t.primary_region).failover().summary()
    except Exception as exc:
        if s is not None:
            s.error(f"failover failed: {exc}")
            s.failover_failed = True  # the read-back must not wait the whole RTO for clients that cannot recover
        raise


def failback(configuration: dict | None = None, secrets: dict | None = None) -> dict[str, Any]:
    """Run the failback plan back to the primary region (approval is the experiment itself).

    In a recorded run it returns once clients see healthy writes in the primary again (the failback
    checker measures that from the history), and only this run's S3 writes must have drained."""
    t = target_from(configuration)
    history, state_dir, s = _recorded()
    cfg = OrchestratorConfig(mode="planned", confirmed=True, state_dir=state_dir)
    if s is not None:
        cfg.drain_window_s = time.time() - s.started + 5
    out = Orchestrator(t, cfg, history, from_region=t.secondary_region).failback().summary()
    if s is not None:
        out["clients_back"] = s.wait_recovered(t.primary_region, FAILBACK_CLIENTS_S)
    return out


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
