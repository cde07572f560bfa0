"""What one Chaos Toolkit run of a drharness experiment records: its history and its workload.

The ``drharness.chaos.control`` control opens a Session when an experiment starts; the workload
(prober, canary, lag monitor) runs while the method and the rollbacks play, FIS faults and
orchestrator steps go to the same ``history.jsonl``, and the session closes (drill end) when the
experiment ends. Activities find it with ``current()``: chaoslib runs one experiment per process
at a time, and so does this module (a second one is refused rather than mixed into the first).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from drharness.history import History, OpHandle
from drharness.target import Target
from drharness.workload.canary import Canary
from drharness.workload.prober import Prober

log = logging.getLogger(__name__)

__all__ = ["DNS_GRACE_S", "RECOVERED_PROBES", "Session", "current"]

RECOVERED_PROBES = 5  # healthy probes in a row served by a region: clients are back there
DNS_GRACE_S = 1.0  # clients may use an answer this long past its TTL (as the drill runner)
WARM_LAG_MAX_S = 15.0  # longest wait for a first lag sample of every store, before the fault and after healing
TERMINAL = ("completed", "stopped", "failed")

_lock = threading.Lock()
_current: Session | None = None


def current() -> Session | None:
    """The session of the experiment running in this process, if its control opened one."""
    return _current


class Session:
    """History + workload of one experiment run. Errors are recorded, never raised past chaoslib
    (which would swallow them): an error makes the history say so and the verdict unknown."""

    def __init__(self, target: Target, report_dir: Path, scenario: str, title: str = "",
                 probe_interval_s: float = 0.2, warm_s: float = 2.0, max_seconds: float = 1800.0) -> None:
        self.t = target
        self.report_dir = report_dir
        self.scenario = scenario
        self.title = title
        self.probe_interval_s = probe_interval_s
        self.warm_s = warm_s
        self.max_seconds = max_seconds
        self.started = time.time()
        report_dir.mkdir(parents=True, exist_ok=True)
        self.history_file = report_dir / "history.jsonl"
        self.history_file.unlink(missing_ok=True)
        self.h = History(self.history_file)
        self.drill: OpHandle | None = None
        self.prober: Prober | None = None
        self.canary: Canary | None = None
        self.lag: Any = None
        self.faults: list[dict[str, Any]] = []  # {"region", "experiment_id", "tags", "handle"}
        self.errors: list[str] = []
        self.method_done = threading.Event()
        self.disrupted = False  # a fault or an orchestrator run happened: sample steady lag again at the end
        self.failover_failed = False
        self.closed = False

    # ---- lifecycle -------------------------------------------------------------------------------
    def open(self) -> Session:
        global _current
        with _lock:
            if _current is not None and not _current.closed:
                raise RuntimeError(f"a drharness experiment is already running in this process "
                                   f"({_current.scenario}, history {_current.history_file})")
            _current = self
        tm = self.t.timing
        self.drill = self.h.drill_start({
            "scenario": self.scenario, "source": "chaostoolkit", "experiment": self.title,
            "target": self.t.name, "profile": self.t.profile, "primary": self.t.primary_region,
            "secondary": self.t.secondary_region, "dns_ttl_s": self.t.dns.ttl,
            "old_ips": [self.t.regions[self.t.primary_region].host],
            "timing": {k: tm.get(k) for k in ("health_interval_s", "failure_threshold", "dns_ttl", "source")},
        })
        return self

    def start_workload(self) -> None:
        """Prober + canary through the failover name, lag markers; then a short warm-up."""
        if self.prober is not None:
            return
        self.prober = Prober(self.t, self.h, interval_s=self.probe_interval_s, max_seconds=self.max_seconds).start()
        self.canary = Canary(self.t, self.h, interval_s=self.probe_interval_s, max_seconds=self.max_seconds,
                             resolver=self.prober.resolver).start()
        try:
            from drharness.consistency.lag import LagMonitor

            self.lag = LagMonitor(self.t, self.h, interval_s=1.0, max_seconds=self.max_seconds).start()
        except Exception as exc:  # noqa: BLE001 - the run goes on; the lag check says unknown
            self.error(f"lag monitor did not start: {exc}")
        time.sleep(self.warm_s)
        self.wait_lag_samples(since=0.0)

    def wait_lag_samples(self, since: float, timeout: float = WARM_LAG_MAX_S) -> None:
        """Until every store has a measured lag sample taken after ``since`` (bounded): on a loaded
        machine an S3 marker can take longer than the warm-up, and the steady-state lag check must not
        lack evidence before the fault or after the recovery."""
        lag = self.lag
        if lag is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with lag._lock:
                if all(any(x.lag_ms is not None and x.t > since for x in lag.samples[st]) for st in lag.stores):
                    return
            time.sleep(0.1)

    def error(self, message: str) -> None:
        log.warning("drharness chaos: %s", message)
        self.errors.append(message)
        self.h.append("harness", "info", "error", {"error": message})

    def close(self) -> None:
        """Heal what is left, stop the workload, write the drill end (the history is then complete)."""
        global _current
        if self.closed:
            return
        try:
            for fault in list(self.faults):
                self.error(f"FIS experiment {fault['experiment_id']} still running at the end: stopping it")
                self.stop_fault(fault)
            if self.canary is not None:
                self.canary.stop()
            if self.lag is not None and self.disrupted:
                self.wait_lag_samples(since=time.time())  # steady state again after the fault and the recovery
            if self.lag is not None:
                try:
                    self.lag.stop()
                except Exception as exc:  # noqa: BLE001
                    self.error(f"lag monitor: {exc}")
            if self.prober is not None:
                self.prober.stop()
            if self.drill is not None:
                self.h.drill_end(self.drill, {"errors": self.errors})
        finally:
            self.h.close()
            self.closed = True
            with _lock:
                if _current is self:
                    _current = None

    # ---- faults ----------------------------------------------------------------------------------
    def fault_started(self, region: str, name: str, template_id: str | None, t0: float) -> dict[str, Any]:
        """Record a FIS start as the nemesis fault invoke (before its call returned: conservative)."""
        self.disrupted = True
        h = self.h.invoke("nemesis", "fault", {"fault": name, "target_region": region, "template_id": template_id},
                          region)
        fault = {"region": region, "name": name, "handle": h, "experiment_id": None, "t0": t0}
        return fault

    def fault_running(self, fault: dict[str, Any], experiment_id: str, tags: dict[str, str]) -> None:
        fault.update(experiment_id=experiment_id, tags=tags)
        self.faults.append(fault)
        self.h.append("nemesis", "info", "fault-running", {"experiment_id": experiment_id, "scenario": fault["name"]},
                      fault["region"])

    def stop_fault(self, fault: dict[str, Any], timeout: float = 30.0) -> None:
        """Wait until FIS reports the experiment terminal (its faults reverted), then heal the op."""
        fis = self.t.client("fis", fault["region"])
        state: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        try:
            state = fis.get_experiment(id=fault["experiment_id"])["experiment"]["state"]
            if state["status"] not in TERMINAL:
                fis.stop_experiment(id=fault["experiment_id"])
            while state["status"] not in TERMINAL and time.monotonic() < deadline:
                time.sleep(0.05)
                state = fis.get_experiment(id=fault["experiment_id"])["experiment"]["state"]
        except Exception as exc:  # noqa: BLE001
            self.error(f"could not confirm FIS experiment {fault['experiment_id']} stopped: {exc}")
        if fault in self.faults:
            self.faults.remove(fault)
        kind = "ok" if state.get("status") in TERMINAL else "info"
        self.h.complete(fault["handle"], kind, {"experiment_id": fault["experiment_id"], "state": state},
                        fault["region"])

    # ---- client-side waits -----------------------------------------------------------------------
    def wait_recovered(self, region: str, timeout: float) -> bool:
        """RECOVERED_PROBES healthy probes in a row served by ``region`` (the checkers decide from the
        history; this only keeps the run going until there is evidence either way)."""
        prober = self.prober
        return prober is not None and prober.wait_served_by(region, timeout, RECOVERED_PROBES)
