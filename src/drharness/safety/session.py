"""What wraps every drill run: audit log, drill lock, recovery of an interrupted run, preflight
guards, and the in-progress marker — in that order, the same on the lab and on AWS."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from drharness.safety import audit, redact
from drharness.safety.crash import disarmed
from drharness.safety.lock import DrillLock
from drharness.safety.preflight import preflight
from drharness.safety.recovery import clear_marker, recover, write_marker

__all__ = ["DrillSafety", "register_target_secrets"]

log = logging.getLogger(__name__)


def register_target_secrets(target: Any) -> None:
    """The target's credentials and DSN passwords are secrets every writer must mask."""
    creds = getattr(target, "credentials", None) or {}
    redact.register(creds.get("aws_secret_access_key"), creds.get("aws_session_token"))
    for rt in target.regions.values():
        redact.register(*redact.dsn_passwords(rt.pg_dsn))


class DrillSafety:
    """Context manager around ``Drill.run``. A kill -9 skips ``__exit__``: the marker and the lock stay,
    and the next run in the same report dir recovers (``set_aside_interrupted`` + ``recover``)."""

    def __init__(self, target: Any, report_dir: Path, scenario: str, interrupted: Path | None = None,
                 progress: Callable[[str], None] | None = None, force_unlock: bool = False,
                 lock_ttl_s: float = 2400.0, lag_threshold_ms: float = 1000.0) -> None:
        self.t = target
        self.report_dir = Path(report_dir)
        self.scenario = scenario
        self.interrupted = interrupted
        self.progress = progress or (lambda m: log.info("%s", m))
        self.force_unlock = force_unlock
        self.lock_ttl_s = lock_ttl_s
        self.lag_threshold_ms = lag_threshold_ms
        self.run_id = uuid.uuid4().hex[:10]
        self.recovery: dict[str, Any] | None = None
        self.preflight: list[str] = []
        self._stack = ExitStack()

    def __enter__(self) -> DrillSafety:
        register_target_secrets(self.t)
        who = audit.caller_identity(self.t)
        log_ = audit.AuditLog(self.report_dir / "audit.jsonl", who, self.run_id, target=self.t.name)
        self._stack.enter_context(audit.activate(log_))
        try:
            audit.record("drill.start", scenario=self.scenario, report_dir=str(self.report_dir))
            lock = DrillLock(self.t, who, self.run_id, self.scenario, ttl_s=self.lock_ttl_s).take(self.force_unlock)
            self._stack.callback(lock.release)
            if self.interrupted is not None:
                with disarmed():  # DRHARNESS_CRASH_AT aims at this run's drill, not at the repair before it
                    self.recovery = recover(self.t, self.interrupted, self.progress)
            self.progress("preflight: stop-condition alarms, template scope, secondary ready, Aurora lag")
            try:
                self.preflight = preflight(self.t, self.scenario, self.lag_threshold_ms)
            except Exception as exc:
                audit.record("preflight", result=f"refused: {exc}")
                raise
            audit.record("preflight", checked=self.preflight)
            write_marker(self.report_dir, {"run_id": self.run_id, "scenario": self.scenario, "target": self.t.name,
                                           "profile": self.t.profile, "started": time.time()})
            self._stack.callback(clear_marker, self.report_dir)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        audit.record("drill.end", result="ok" if et is None else f"error: {et.__name__}: {ev}")
        self._stack.close()
