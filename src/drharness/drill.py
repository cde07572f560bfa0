"""``drharness drill run``: one scenario end to end — workload, nemesis, orchestrator, checks, report.

Runs the same code on the local lab and on AWS; only the Target differs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drharness import checkers
from drharness.aggregator import Aggregator
from drharness.checkers import windows
from drharness.errors import BadInput, EnvironmentProblem
from drharness.history import History, load_history
from drharness.nemesis.fis import FisNemesis
from drharness.orchestrator import Orchestrator, OrchestratorConfig
from drharness.report.drill_report import SCHEMA, result_sections, write_reports
from drharness.target import Target
from drharness.workload.canary import Canary, read_back
from drharness.workload.prober import Prober

log = logging.getLogger(__name__)

SCENARIOS = {
    "region-outage": "unplanned: us-east-1 data plane down and isolated (FIS), automated detection and failover, "
                     "then failback",
    "planned-switchover": "planned switchover to us-west-2 with zero data loss, then switch back",
    "aurora-writer-failure": "the Aurora writer instance fails (FIS aws:rds:failover-db-cluster); no region failover",
    "failback": "region outage and failover, then a measured failback to us-east-1 (< 30 min)",
    "control-plane-impairment": "us-east-1 APIs fail (FIS) during a region outage: failover must still work",
    "load-during-failover": "Locust loads the failover DNS name during a region outage and failover; no "
                            "acknowledged write may be lost and errors after the DNS flip must stop",
}
LOAD_ERROR_RATE_AFTER_FLIP = 0.05  # after flip + TTL, at most this share of load requests may fail


class Halted(BaseException):  # noqa: N818 - what happened, not an error kind
    """`drharness halt` asked this drill to stop (SIGTERM): workload and faults stop, the target goes
    back to its known state, and the drill is reported failed and incomplete. A BaseException, like
    KeyboardInterrupt: no ``except Exception`` on the way (a retry loop, an orchestrator step) may
    swallow it and carry on with the drill."""


@dataclass
class _HaltSignal:
    """Raises ``Halted`` in the main thread only while armed (the fault and failover part of the run):
    a SIGTERM during the clean-up is remembered, never raised into it."""

    received: bool = False
    armed: bool = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.received = True
        if self.armed:
            self.armed = False
            raise Halted("halted by `drharness halt` (SIGTERM)")

    def arm(self) -> None:
        self.armed = True
        if self.received:  # it came before: halt now
            self.armed = False
            raise Halted("halted by `drharness halt` (SIGTERM)")


@dataclass
class DrillConfig:
    scenario: str = "region-outage"
    report_dir: Path = Path("reports/latest")
    rto_s: float = 900.0
    rpo_s: float = 60.0
    failback_s: float = 1800.0
    confirmed: bool = False
    require_confirmation: bool = False
    allowed_accounts: list[str] = field(default_factory=list)
    allowed_regions: list[str] = field(default_factory=list)
    probe_interval_s: float = 0.2
    max_seconds: float = 1800.0
    warm_seconds: float = 2.0
    recovered_probes: int = 5
    history_dir: Path | None = None
    load_users: int = 5
    load_seconds: float = 40.0  # archive each finished drill here for `drharness report --history`
    force_unlock: bool = False  # remove a drill lock left by a runner that is gone (safety/lock.py)


Progress = Callable[[str], None]
DNS_GRACE_S = 1.0  # clients may use an answer this long past its TTL (resolver and clock slack)


class Drill:
    def __init__(self, target: Target, cfg: DrillConfig, progress: Progress | None = None) -> None:
        if cfg.scenario not in SCENARIOS:
            raise BadInput(f"unknown scenario {cfg.scenario!r}: choose one of {', '.join(SCENARIOS)}")
        self.t = target
        self.cfg = cfg
        self.progress = progress or (lambda msg: log.info("%s", msg))
        cfg.report_dir.mkdir(parents=True, exist_ok=True)
        self.history_file = cfg.report_dir / "history.jsonl"
        from drharness.safety.recovery import set_aside_interrupted

        self.interrupted = set_aside_interrupted(cfg.report_dir)  # a kill -9'd run: recovered in run()
        self.history_file.unlink(missing_ok=True)
        (cfg.report_dir / "audit.jsonl").unlink(missing_ok=True)
        self.h = History(self.history_file)
        self.primary, self.secondary = target.primary_region, target.secondary_region
        self.orchestrations: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.failback: dict[str, Any] | None = None
        self.planned = cfg.scenario == "planned-switchover"
        self.load: dict[str, Any] | None = None
        self.load_flip: dict[str, Any] | None = None
        self.extra_read_prefixes: dict[str, tuple[str, ...]] = {}
        self.consistency: dict[str, Any] = {}
        self._halt_signal = _HaltSignal()
        self.halted: dict[str, Any] | None = None  # what restoring the known state did after a halt

    # ---- helpers ---------------------------------------------------------------------------------
    def _orch_cfg(self, mode: str, decision: str) -> OrchestratorConfig:
        return OrchestratorConfig(mode=mode, decision=decision, confirmed=True,
                                  require_confirmation=self.cfg.require_confirmation,
                                  allowed_accounts=self.cfg.allowed_accounts,
                                  allowed_regions=self.cfg.allowed_regions,
                                  state_dir=str(self.cfg.report_dir / "orchestrator"))

    def _wait_recovered(self, prober: Prober, region: str, timeout: float) -> bool:
        return prober.wait_served_by(region, timeout, self.cfg.recovered_probes)

    def _preflight(self) -> None:
        verdicts = Aggregator(self.t).evaluate()
        if not verdicts[self.primary].healthy:
            raise EnvironmentProblem(f"cannot start a drill: {verdicts[self.primary].root_cause}")
        sec = verdicts[self.secondary].checks
        bad = [f"{k}: {c.detail}" for k, c in sec.items() if k in ("aurora", "dynamodb", "s3") and not c.ok]
        if bad:
            raise EnvironmentProblem(f"cannot start a drill: secondary {self.secondary} not ready ({'; '.join(bad)})")

    # ---- the run ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Under the safety session: audit log, drill lock, recovery, preflight guards (safety/)."""
        from drharness.safety.session import DrillSafety

        with DrillSafety(self.t, self.cfg.report_dir, self.cfg.scenario, self.interrupted, self.progress,
                         force_unlock=self.cfg.force_unlock):
            if threading.current_thread() is not threading.main_thread():
                return self._run()  # signals reach the main thread only: no halt handler here
            previous = signal.signal(signal.SIGTERM, self._halt_signal)
            try:
                return self._run()
            finally:
                signal.signal(signal.SIGTERM, previous)

    def _run(self) -> dict[str, Any]:
        started = self.started = time.time()
        self._preflight()
        drill = self.h.drill_start({"scenario": self.cfg.scenario, "target": self.t.name, "profile": self.t.profile})
        prober = Prober(self.t, self.h, interval_s=self.cfg.probe_interval_s, max_seconds=self.cfg.max_seconds).start()
        canary = Canary(self.t, self.h, interval_s=self.cfg.probe_interval_s, max_seconds=self.cfg.max_seconds,
                        resolver=prober.resolver).start()
        nemesis = FisNemesis(self.t, self.h)
        lag = self._lag_monitor()
        completed = False
        try:
            self._halt_signal.arm()
            self.progress(f"warming up workload for {self.cfg.warm_seconds:.0f} s")
            time.sleep(self.cfg.warm_seconds)
            getattr(self, "_scenario_" + self.cfg.scenario.replace("-", "_"))(prober, canary, nemesis)
            completed = True
        except Halted as exc:
            self.errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - a harness error is reported, never a pass
            self.errors.append(f"{type(exc).__name__}: {exc}")
            log.debug("drill error\n%s", traceback.format_exc())
        finally:
            self._halt_signal.armed = False
            canary.stop()
            try:
                nemesis.stop()
            except Exception as exc:  # noqa: BLE001
                self.errors.append(f"nemesis stop failed: {exc}")
            if lag is not None:
                try:
                    lag.stop()
                except Exception as exc:  # noqa: BLE001
                    self.errors.append(f"lag monitor: {exc}")
            prober.stop()
            if completed:
                self._consistency()  # with every writer stopped: in-flight writes are not diffs
            if self._halt_signal.received:
                self._restore_after_halt()
            if completed:
                self.h.drill_end(drill, {"errors": self.errors})
            self.h.close()
        return self._report(started, completed)

    def _restore_after_halt(self) -> None:
        """Faults are stopped (by halt, and by the nemesis above): put the writer back home, undo the
        fence, wait for both regions healthy. What was done goes into the report."""
        from drharness.safety import audit
        from drharness.safety.recovery import restore_known_state

        self.progress("halted: restoring the known state (writer home, app unfenced, both regions healthy)")
        try:
            self.halted = restore_known_state(self.t, self.cfg.report_dir / "halt-recovery",
                                              self.cfg.report_dir / "orchestrator", self.progress)
        except Exception as exc:  # noqa: BLE001 - reported: the operator must act
            self.halted = {"error": f"{type(exc).__name__}: {exc}"}
            self.errors.append(f"restoring the known state after the halt failed: {exc}")
        audit.record("drill.halted", restored=self.halted)

    def _lag_monitor(self) -> Any:
        """Replication lag of the three stores sampled through the drill (marker write -> visible)."""
        try:
            from drharness.consistency.lag import LagMonitor

            return LagMonitor(self.t, self.h, interval_s=1.0, max_seconds=self.cfg.max_seconds).start()
        except Exception as exc:  # noqa: BLE001 - the drill still runs; the lag section says unknown
            self.errors.append(f"lag monitor did not start: {exc}")
            return None

    def _consistency(self) -> None:
        """Primary vs secondary after catch-up, once the drill is back to its starting state."""
        from drharness import consistency

        self.progress("consistency: comparing the two regions after catch-up")
        try:
            results = consistency.check(self.t, capture_errors=True, catchup_timeout_s=30, settle_s=20)
            self.consistency = consistency.report_section(results)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"consistency check failed to run: {exc}")

    def _failover(self, mode: str, decision: str, prober: Prober, canary: Canary) -> None:
        orch = Orchestrator(self.t, self._orch_cfg(mode, decision), self.h, from_region=self.primary)
        self.progress(f"orchestrator: {mode} failover {self.primary} -> {self.secondary} ({decision} decision)")
        try:
            orch.failover()
        finally:
            self.orchestrations.append(orch.summary())
        self.progress("waiting for clients to see healthy writes in the new region")
        if not self._wait_recovered(prober, self.secondary, timeout=self.cfg.rto_s):
            raise RuntimeError(f"prober never saw {self.cfg.recovered_probes} healthy writes in {self.secondary}")
        # Keep probing past TTL + grace so the stale-DNS checker has evidence either way.
        time.sleep(self.t.dns.ttl + DNS_GRACE_S + 0.5)
        canary.stop()
        self.progress(f"reading back acknowledged writes from {self.secondary}")
        read_back(self.t, self.h, self.secondary, canary.run_id, extra_prefixes=self.extra_read_prefixes)

    def _failback(self, prober: Prober) -> None:
        self.progress(f"failback {self.secondary} -> {self.primary}")
        cfg = self._orch_cfg("planned", "manual")
        cfg.drain_window_s = time.time() - self.started + 5  # only this drill's writes can be pending
        orch = Orchestrator(self.t, cfg, self.h, from_region=self.secondary)
        t0 = time.time()
        try:
            orch.failback()
            ok = self._wait_recovered(prober, self.primary, timeout=self.cfg.failback_s)
        finally:
            self.orchestrations.append(orch.summary())
        secs = time.time() - t0
        self.failback = {"seconds": round(secs, 2), "verdict": "pass" if ok and secs < self.cfg.failback_s else "fail"}

    def _scenario_region_outage(self, prober: Prober, canary: Canary, nemesis: FisNemesis) -> None:
        self.progress(f"fault: FIS region-outage on {self.primary}")
        nemesis.start("region-outage", self.primary, fault="region-isolation")
        self._failover("unplanned", "auto", prober, canary)
        self.progress("healing the fault (stopping the FIS experiment)")
        nemesis.stop()
        self._failback(prober)

    _scenario_failback = _scenario_region_outage

    def _scenario_control_plane_impairment(self, prober: Prober, canary: Canary, nemesis: FisNemesis) -> None:
        self.progress(f"fault: {self.primary} APIs unavailable (FIS), then its data plane goes down")
        nemesis.start("control-plane-impairment", self.primary, fault="api-unavailable")
        nemesis.start("region-outage", self.primary, fault="region-isolation")
        self._failover("unplanned", "auto", prober, canary)
        nemesis.stop()
        self._failback(prober)

    def _scenario_load_during_failover(self, prober: Prober, canary: Canary, nemesis: FisNemesis) -> None:
        from drharness.workload import load

        d = self.cfg.report_dir
        self.progress(f"load: {self.cfg.load_users} Locust users on the failover DNS name")
        run = load.start_headless(self.t, users=self.cfg.load_users, spawn_rate=float(self.cfg.load_users),
                                  seconds=self.cfg.load_seconds, shape="steady", history_path=self.history_file,
                                  csv_prefix=d / "locust", html_path=d / "locust.html", mode="failover-dns",
                                  keepalive=False, write_role="canary")
        self.extra_read_prefixes = {"aurora": ("load-",)}
        try:
            time.sleep(3.0)
            self.progress(f"fault: FIS region-outage on {self.primary} under load")
            nemesis.start("region-outage", self.primary, fault="region-isolation")
            self._failover("unplanned", "auto", prober, canary)
        finally:
            result = run.wait()
        self.load = {**result.report(), "requests": result.requests, "failures": result.failures,
                     "per_region": result.per_region, "pinned_after_flip": result.pinned_after_flip}
        self.load_flip = load.error_rate_after_flip(self.history_file, grace_s=float(self.t.dns.ttl)).to_dict()
        nemesis.stop()
        self._failback(prober)

    def _scenario_planned_switchover(self, prober: Prober, canary: Canary, nemesis: FisNemesis) -> None:
        self._failover("planned", "manual", prober, canary)
        self._failback(prober)

    def _scenario_aurora_writer_failure(self, prober: Prober, canary: Canary, nemesis: FisNemesis) -> None:
        self.progress(f"fault: Aurora writer failure in {self.primary} (FIS)")
        nemesis.start("aurora-writer-failure", self.primary, fault="writer-failure")
        if not self._wait_recovered(prober, self.primary, timeout=self.cfg.rto_s):
            raise RuntimeError("writes never recovered in the primary region")
        canary.stop()
        read_back(self.t, self.h, self.primary, canary.run_id)

    # ---- checks and report -----------------------------------------------------------------------
    def floor(self) -> dict[str, float]:
        tm = self.t.timing
        # Detection: Route 53's HTTP check, or the aggregated verdict (aggregator schedule + the DNS
        # alarm's evaluation), whichever is later: the failover follows the verdict, DNS both.
        verdict = float(tm.get("aggregator_period_s", 0)) + float(tm.get("alarm_period_s", 0)) * int(
            tm.get("alarm_datapoints", 1))
        terms = {"detection": max(float(tm["health_interval_s"]) * int(tm["failure_threshold"]), verdict),
                 "dns_ttl": float(tm["dns_ttl"])}
        for run in self.orchestrations:
            for s in run["steps"]:
                if s["name"] == "aurora_promotion" and s.get("seconds") is not None:
                    terms["aurora_promotion"] = s["seconds"]
        return terms

    def _report(self, started: float, completed: bool) -> dict[str, Any]:
        hist = load_history(self.history_file, allow_torn_tail=True)
        failover = self.cfg.scenario != "aurora-writer-failure"
        new_region = self.secondary if failover else self.primary
        floor_terms = self.floor()
        opts: dict[str, Any] = {
            "rto": {"slo_s": self.cfg.rto_s, "floor_seconds": round(sum(floor_terms.values()), 3),
                    "new_region": new_region, "min_probes": 3},
            "rpo": {"slo_s": self.cfg.rpo_s, "zero_loss": self.planned, "read_region": new_region},
            "availability": {},
            "replication_lag": {"stores": ["aurora", "dynamodb", "s3"]},
        }
        if failover:
            opts["dns"] = {"new_region": self.secondary, "old_region": self.primary, "ttl_s": self.t.dns.ttl,
                           "grace_s": DNS_GRACE_S,
                           "old_ips": [self.t.regions[self.primary].host]}
        results = checkers.check_all(hist, opts, only=[k for k in opts if k not in ("rto", "dns", "replication_lag")])
        # Replication lag is judged in steady state: outside the fault window and the recovery that follows
        # it (a cut link makes lag grow by design; that is the RPO checker's business).
        fault_t = next((e.t for e in hist if e.process == "nemesis" and e.type == "invoke"), None)
        steps_end = max((e.t for e in hist if e.process == "orchestrator"), default=None)
        results.update(checkers.check_all(windows.lag_outside(hist, fault_t, steps_end), opts,
                                          only=["replication_lag"]))
        # RTO and stale-DNS judge the failover only: the failback's own flip back is not a regression.
        window = windows.before_failback(hist, windows.failback_start(hist))
        results.update(checkers.check_all(window, opts, only=[k for k in opts if k in ("rto", "dns")]))
        if self.failback:
            results["failback"] = checkers.Result(
                name="failback", valid=self.failback["verdict"] == "pass",
                figures=self.failback, detail=f"{self.failback['seconds']} s (objective < {self.cfg.failback_s} s)")
        if self.load_flip is not None:
            rate = self.load_flip.get("error_rate")
            results["load_after_flip"] = checkers.Result(
                name="load_after_flip", valid=rate is not None and rate <= LOAD_ERROR_RATE_AFTER_FLIP,
                figures=self.load_flip,
                detail=f"error rate after the DNS flip (+TTL) {rate if rate is None else round(rate, 4)} "
                       f"(threshold {LOAD_ERROR_RATE_AFTER_FLIP}); {self.load_flip.get('detail', '')}")
        if self.errors or not completed:
            results["harness"] = checkers.Result(name="harness", valid=checkers.UNKNOWN,
                                                 detail="; ".join(self.errors) or "drill did not complete")
        if self.consistency:
            bad = {s: v for s, v in self.consistency.items() if not v.get("ok")}
            results["consistency"] = checkers.Result(
                name="consistency", valid=not bad, figures=self.consistency,
                detail="both regions hold the same data after catch-up" if not bad else
                "; ".join(f"{s}: {v.get('status')} {v.get('diffs')} diff(s) {v.get('diff_keys', [])[:3]}"
                          for s, v in bad.items()))
        verdict_valid = checkers.compose(list(results.values())).valid
        report = {
            "schema": SCHEMA,
            "scenario": self.cfg.scenario,
            "target": self.t.name,
            "profile": self.t.profile,
            "profile_source": self.t.timing.get("source"),
            "timing": self.t.timing,
            "started_at": started,
            "finished_at": time.time(),
            "verdict": "pass" if verdict_valid is True else "fail",
            "zero_loss": self.planned,
            "slo": {"rto_s": self.cfg.rto_s, "rpo_s": self.cfg.rpo_s, "failback_s": self.cfg.failback_s},
            "consistency": self.consistency,
            "failback": self.failback,
            "load": self.load,
            "orchestrator": self.orchestrations,
            "errors": self.errors,
            "halted": self.halted,
            "history_file": str(self.history_file),
            **result_sections(results, floor_terms),
        }
        from drharness.safety.redact import redact

        report = redact(report)  # no credential, DSN password or token in a report (docs/SECURITY.md)
        write_reports(report, self.cfg.report_dir)
        self._charts()
        if self.cfg.history_dir:
            from drharness.report.history_trend import archive

            report["archived_to"] = str(archive(self.cfg.report_dir, self.cfg.history_dir))
        return report

    def _charts(self) -> None:
        """Timeline and lag pictures beside the report (reports decide nothing; a failure is logged)."""
        try:
            from drharness.report.timeline import render_lag_chart, render_timeline

            render_timeline(self.history_file, self.cfg.report_dir / "timeline.png")
            render_lag_chart(self.history_file, self.cfg.report_dir / "lag.png")
        except Exception as exc:  # noqa: BLE001
            log.warning("could not draw the charts: %s", exc)
