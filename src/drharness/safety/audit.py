"""Audit log: every live action of a drill as one JSONL line (who, what, when, target, result).

Why a botocore hook and not only explicit calls: a mutating AWS call made by any module (FIS
start/stop, Aurora failover/switchover, Lambda fence, Route 53 or alarm changes, SNS) is recorded
even if its author forgot to log it. Explicit ``record`` calls add what is not an AWS call
(orchestrator steps, halt, the drill lock). Lines are redacted before they are written.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drharness.safety.redact import redact

__all__ = ["AUDITED_SERVICES", "AuditLog", "activate", "caller_identity", "current", "is_live_action",
           "read_audit", "record"]

log = logging.getLogger(__name__)

# Control-plane services whose mutating calls are live actions. DynamoDB/S3 writes are the workload's
# data plane (the canary): they go to the history, not the audit log.
AUDITED_SERVICES = {"fis", "rds", "route53", "lambda", "cloudwatch", "sns", "iam", "sts"}
READ_ONLY_PREFIXES = ("Describe", "Get", "List", "Head", "Test", "Query", "Scan", "BatchGet")
NOT_AUDITED = {("cloudwatch", "PutMetricData")}  # the aggregator's heartbeat metric, every period


def is_live_action(service: str, operation: str) -> bool:
    """A call that changes the target (so it must be audited)."""
    return (service in AUDITED_SERVICES and not operation.startswith(READ_ONLY_PREFIXES)
            and (service, operation) not in NOT_AUDITED)


def local_user() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def caller_identity(target: Any) -> str:
    """Who acts: the AWS principal (STS GetCallerIdentity, needs no permission) and the OS user."""
    try:
        arn = target.client("sts", target.primary_region, connect_timeout=1, read_timeout=2,
                            attempts=1).get_caller_identity()["Arn"]
    except Exception as exc:  # noqa: BLE001 - STS unreachable: the OS user still says who
        arn = f"unknown principal ({type(exc).__name__})"
    return f"{arn} ({local_user()})"


class AuditLog:
    """Append-only JSONL file; each line is one ``write`` on an O_APPEND descriptor."""

    def __init__(self, path: Path, who: str, run_id: str, target: str = "") -> None:
        self.path = Path(path)
        self.who = who
        self.run_id = run_id
        self.target = target
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, what: str, *, target: str | None = None, result: str = "ok", region: str | None = None,
               **detail: Any) -> dict[str, Any]:
        entry = {"t": time.time(), "who": self.who, "run_id": self.run_id, "pid": os.getpid(), "what": what,
                 "target": target or self.target, "region": region, "result": result, "detail": detail}
        line = json.dumps(redact(entry), default=str, separators=(",", ":")) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        return entry


_current: AuditLog | None = None
_hooked: set[int] = set()  # ids of the default sessions carrying the hook (chaos runs replace the session)
_hook_lock = threading.Lock()


def current() -> AuditLog | None:
    return _current


def record(what: str, **kw: Any) -> None:
    """Write to the active audit log, if any (library code may always call this)."""
    if _current is not None:
        try:
            _current.record(what, **kw)
        except OSError as exc:
            log.warning("audit log %s not writable: %s", _current.path, exc)


_ID_PARAMS = ("id", "experimentTemplateId", "GlobalClusterIdentifier", "TargetDbClusterIdentifier",
              "DBClusterIdentifier", "FunctionName", "ReservedConcurrentExecutions", "HealthCheckId",
              "HostedZoneId", "AlarmName", "AlarmNames", "StateValue", "TopicArn", "Subject", "AllowDataLoss")


def _before_call(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    """``before-parameter-build``: the API parameters as the caller passed them."""
    service, op = model.service_model.service_name, model.name
    if _current is not None and is_live_action(service, op):
        context["drharness_audit"] = (service, op, {k: params[k] for k in _ID_PARAMS if k in params})


def _after_call(context: dict[str, Any], parsed: dict[str, Any] | None = None,
                exception: BaseException | None = None, **_: Any) -> None:
    if _current is None or "drharness_audit" not in context:
        return
    service, op, params = context.pop("drharness_audit")
    if exception is not None:
        result = f"error: {type(exception).__name__}: {str(exception)[:200]}"
    else:
        err = (parsed or {}).get("Error")
        status = ((parsed or {}).get("ResponseMetadata") or {}).get("HTTPStatusCode")
        result = f"error: {err.get('Code')}" if err else ("ok" if status is None or status < 400 else f"http {status}")
    detail: dict[str, Any] = {"params": params}
    exp = (parsed or {}).get("experiment")
    if isinstance(exp, dict):  # FIS: keep the experiment id, recovery stops what a dead run started
        detail["experiment_id"] = exp.get("id")
    record(f"{service}.{op}", result=result, region=context.get("client_region"), **detail)


def _install_hook() -> None:
    """Register on boto3's default session once: every client created afterwards carries it."""
    import boto3

    with _hook_lock:
        session = boto3._get_default_session()  # noqa: SLF001 - the session boto3.client() uses
        if id(session) in _hooked:
            return
        events = session.events
        events.register("before-parameter-build", _before_call, unique_id="drharness-audit-before")
        events.register("after-call", _after_call, unique_id="drharness-audit-after")
        events.register("after-call-error", _after_call, unique_id="drharness-audit-error")
        _hooked.add(id(session))


@contextmanager
def activate(audit: AuditLog) -> Iterator[AuditLog]:
    """Make ``audit`` the process's audit log for the duration (nested activations restore)."""
    global _current
    _install_hook()
    previous, _current = _current, audit
    try:
        yield audit
    finally:
        _current = previous


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Entries of an audit log; a torn last line (kill -9 mid-write) is skipped."""
    out = []
    if not Path(path).exists():
        return out
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
