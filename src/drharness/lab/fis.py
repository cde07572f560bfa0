"""AWS FIS in the lab: experiments run their actions for real on the lab's fault switches.

moto stores templates and walks experiments through states without touching anything. Here
``StartExperiment`` runs each action on its targets with its duration and ``startAfter`` order,
watches the stop-condition alarms (ALARM stops the experiment and reverts its faults), and moves
the experiment through pending -> initiating -> running -> completed | stopped | failed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from drharness.lab.faults import Faults
from drharness.lab.gateway import ApiCall, aws_error, moto_call

log = logging.getLogger(__name__)


def parse_duration(text: str) -> float:
    """ISO-8601 durations as FIS uses them (PT30S, PT5M, PT1H30M)."""
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text or "")
    if not m or not any(m.groups()):
        raise ValueError(f"invalid duration {text!r}")
    d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


class Effect:
    """Apply/revert one action's fault. Reverting restores exactly what apply changed."""

    def __init__(self, apply: Callable[[], None], revert: Callable[[], None]) -> None:
        self.apply, self.revert = apply, revert


class FisExecutor:
    def __init__(self, faults: Faults, moto_app: Callable, extra_actions: dict[str, Callable] | None = None,
                 alarm_state: Callable[[str, str], str] | None = None) -> None:
        self.faults = faults
        self.moto_app = moto_app
        self.experiments: dict[str, dict[str, Any]] = {}
        self._reverts: dict[str, list[Callable[[], None]]] = {}
        self._stop_flags: dict[str, threading.Event] = {}
        self._lock = threading.RLock()
        self.extra_actions = extra_actions or {}
        self.alarm_state = alarm_state

    # ---- action catalogue --------------------------------------------------------------------
    def effect(self, region: str, action_id: str, params: dict[str, str], targets: dict[str, Any],
               owner: str) -> Effect | None:
        f = self.faults
        cross = ("aws:network:route-table-disrupt-cross-region-connectivity",
                 "aws:network:transit-gateway-disrupt-cross-region-connectivity")
        if action_id in cross:
            return Effect(lambda: f.set(region, isolated=True, owner=owner),
                          lambda: f.set(region, isolated=False))
        if action_id == "aws:network:disrupt-connectivity":
            return Effect(lambda: f.set(region, data_plane_down=True, owner=owner),
                          lambda: f.set(region, data_plane_down=False))
        if action_id == "aws:dynamodb:global-table-pause-replication":
            tables = self._names(targets, "tables")
            return Effect(lambda: f.paused_tables.update(tables),
                          lambda: f.paused_tables.difference_update(tables))
        if action_id == "aws:s3:bucket-pause-replication":
            buckets = self._names(targets, "buckets")
            return Effect(lambda: f.paused_buckets.update(buckets),
                          lambda: f.paused_buckets.difference_update(buckets))
        api = {"aws:fis:inject-api-unavailable-error": "unavailable",
               "aws:fis:inject-api-internal-error": "internal",
               "aws:fis:inject-api-throttle-error": "throttle"}
        if action_id in api:
            service = params.get("service", "*")
            kind = api[action_id]

            def apply_api() -> None:
                errs = dict(f.region(region).api_errors)
                errs[service] = kind
                f.set(region, api_errors=errs, owner=owner)

            def revert_api() -> None:
                errs = dict(f.region(region).api_errors)
                errs.pop(service, None)
                f.set(region, api_errors=errs)

            return Effect(apply_api, revert_api)
        if action_id == "aws:lambda:invocation-error":
            return Effect(lambda: f.set(region, lambda_error=True, owner=owner),
                          lambda: f.set(region, lambda_error=False))
        if action_id == "aws:lambda:invocation-add-delay":
            ms = int(params.get("startupDelayMilliseconds", "1000"))
            return Effect(lambda: f.set(region, lambda_delay_ms=ms, owner=owner),
                          lambda: f.set(region, lambda_delay_ms=0))
        if action_id == "aws:fis:wait":
            return Effect(lambda: None, lambda: None)
        if action_id == "aws:cloudwatch:assert-alarm-state":
            arns = [a.strip() for a in params.get("alarmArns", "").split(",") if a.strip()]
            wanted = {x.strip() for x in params.get("alarmStates", "OK").split(",")}

            def check() -> None:
                for arn in arns:
                    parts = arn.split(":")
                    state = self.alarm_state(parts[3] if len(parts) > 5 else region, parts[-1]) \
                        if self.alarm_state else "INSUFFICIENT_DATA"
                    if state not in wanted:
                        raise RuntimeError(f"alarm {parts[-1]} is {state}, expected {'|'.join(sorted(wanted))}")

            return Effect(check, lambda: None)
        if action_id in self.extra_actions:
            return self.extra_actions[action_id](region, params, targets)
        return None

    @staticmethod
    def _names(targets: dict[str, Any], key: str) -> set[str]:
        out: set[str] = set()
        for t in targets.values():
            for arn in t.get("resourceArns", []) or []:
                out.add(arn.rsplit("/", 1)[-1].split(":::")[-1])
            for name in (t.get("resourceTags") or {}).get("drharness:name", "").split(","):
                if name:
                    out.add(name)
        return out

    # ---- API -------------------------------------------------------------------------------------
    def intercept(self, call: ApiCall) -> Response | None:
        if call.service != "fis":
            return None
        path = call.path.rstrip("/")
        if call.method == "POST" and path == "/experiments":
            return self._start(call)
        m = re.fullmatch(r"/experiments/([^/]+)", path)
        if m and call.method == "GET":
            exp = self.experiments.get(m.group(1))
            if not exp:
                return aws_error("fis", "ResourceNotFoundException", f"Experiment {m.group(1)} not found", 404)
            return self._json({"experiment": self._public(exp)})
        if m and call.method == "DELETE":
            exp = self.experiments.get(m.group(1))
            if not exp:
                return aws_error("fis", "ResourceNotFoundException", f"Experiment {m.group(1)} not found", 404)
            self.stop(m.group(1), "Experiment stopped by user request")
            return self._json({"experiment": self._public(exp)})
        if call.method == "GET" and path == "/experiments":
            return self._json({"experiments": [self._public(e) for e in self.experiments.values()]})
        return None

    @staticmethod
    def _json(doc: dict) -> Response:
        return Response(json.dumps(doc, default=str), status=200, headers={"Content-Type": "application/json"})

    def _public(self, exp: dict) -> dict:
        out = {k: v for k, v in exp.items() if not k.startswith("_")}
        out["actions"] = {n: {k: v for k, v in a.items() if not k.startswith("_")}
                          for n, a in exp["actions"].items()}
        return out

    def _start(self, call: ApiCall) -> Response:
        req = json.loads(call.body or b"{}")
        tid = req.get("experimentTemplateId", "")
        out = moto_call(self.moto_app, call.region, "fis", "GET", f"/experimentTemplates/{tid}",
                        headers={"Content-Type": "application/json"})
        if out.status_code != 200:
            return aws_error("fis", "ResourceNotFoundException", f"Experiment template {tid} not found", 404)
        tpl = json.loads(out.get_data())["experimentTemplate"]
        now = datetime.now(UTC).isoformat()
        exp_id = "EXP" + uuid.uuid4().hex[:17]
        exp = {
            "id": exp_id,
            "arn": f"arn:aws:fis:{call.region}:123456789012:experiment/{exp_id}",
            "experimentTemplateId": tid,
            "roleArn": tpl.get("roleArn"),
            "state": {"status": "pending", "reason": "Experiment is pending."},
            "targets": tpl.get("targets", {}),
            "actions": {name: {**a, "state": {"status": "pending", "reason": "Initial state"}}
                        for name, a in tpl.get("actions", {}).items()},
            "stopConditions": tpl.get("stopConditions", []),
            "creationTime": now,
            "tags": req.get("tags", {}),
            "_region": call.region,
        }
        with self._lock:
            self.experiments[exp_id] = exp
            self._reverts[exp_id] = []
            self._stop_flags[exp_id] = threading.Event()
        threading.Thread(target=self._run, args=(exp_id,), name=f"fis-{exp_id}", daemon=True).start()
        return self._json({"experiment": self._public(exp)})

    def _set(self, exp: dict, status: str, reason: str) -> None:
        exp["state"] = {"status": status, "reason": reason}
        if status in ("completed", "stopped", "failed"):
            exp["endTime"] = datetime.now(UTC).isoformat()
        log.info("experiment %s %s: %s", exp["id"], status, reason)

    def _alarm_in_alarm(self, exp: dict) -> str | None:
        if not self.alarm_state:
            return None
        for sc in exp["stopConditions"]:
            if sc.get("source") == "aws:cloudwatch:alarm" and sc.get("value"):
                arn = sc["value"]
                region = arn.split(":")[3] if arn.count(":") >= 5 else exp["_region"]
                if self.alarm_state(region, arn.rsplit(":", 1)[-1]) == "ALARM":
                    return arn
        return None

    def _run(self, exp_id: str) -> None:
        exp = self.experiments[exp_id]
        stop = self._stop_flags[exp_id]
        region = exp["_region"]
        self._set(exp, "initiating", "Experiment is initiating.")
        for a in exp["actions"].values():
            eff = self.effect(region, a["actionId"], a.get("parameters", {}),
                              {k: exp["targets"].get(v, {}) for k, v in (a.get("targets") or {}).items()},
                              exp_id)
            if eff is None:
                a["state"] = {"status": "failed", "reason": f"The action {a['actionId']} is not supported."}
                self._set(exp, "failed", f"The action {a['actionId']} is not supported.")
                return
            a["_effect"] = eff
        if self._alarm_in_alarm(exp):
            self._set(exp, "failed", "Stop condition alarm is in ALARM state at start.")
            return
        exp["startTime"] = datetime.now(UTC).isoformat()
        self._set(exp, "running", "Experiment is running.")
        done: dict[str, float] = {}  # action name -> end time
        started: set[str] = set()
        active: dict[str, float] = {}
        try:
            while not stop.is_set():
                now = time.time()
                for name, a in exp["actions"].items():
                    deps = a.get("startAfter") or []
                    if name in started or any(d not in done for d in deps):
                        continue
                    started.add(name)
                    try:
                        dur = parse_duration(a.get("parameters", {}).get("duration", "PT0S")) \
                            if "duration" in a.get("parameters", {}) else 0.0
                    except ValueError as exc:
                        raise RuntimeError(f"action {name}: {exc}") from None
                    a["_effect"].apply()
                    self._reverts[exp_id].append(a["_effect"].revert)
                    a["state"] = {"status": "running", "reason": "Action is running."}
                    a["startTime"] = datetime.now(UTC).isoformat()
                    active[name] = now + dur
                for name, until in list(active.items()):
                    if now >= until:
                        a = exp["actions"][name]
                        a["_effect"].revert()
                        self._reverts[exp_id] = [r for r in self._reverts[exp_id] if r is not a["_effect"].revert]
                        a["state"] = {"status": "completed", "reason": "Action was completed."}
                        a["endTime"] = datetime.now(UTC).isoformat()
                        done[name] = now
                        del active[name]
                if len(done) == len(exp["actions"]):
                    self._set(exp, "completed", "Experiment completed.")
                    return
                alarm = self._alarm_in_alarm(exp)
                if alarm:
                    self._revert_all(exp_id)
                    self._set(exp, "stopped", f"Experiment stopped by stop condition {alarm}.")
                    return
                stop.wait(0.05)
            self._revert_all(exp_id)
            self._set(exp, "stopped", exp.get("_stop_reason", "Experiment stopped."))
        except Exception as exc:  # noqa: BLE001
            self._revert_all(exp_id)
            self._set(exp, "failed", str(exc))

    def _revert_all(self, exp_id: str) -> None:
        exp = self.experiments[exp_id]
        for a in exp["actions"].values():
            if a["state"]["status"] == "running":
                a["state"] = {"status": "stopped", "reason": "Action was stopped."}
        for revert in reversed(self._reverts.get(exp_id, [])):
            try:
                revert()
            except Exception:  # noqa: BLE001
                log.exception("revert failed")
        self._reverts[exp_id] = []

    def stop(self, exp_id: str, reason: str) -> None:
        exp = self.experiments.get(exp_id)
        if not exp or exp["state"]["status"] in ("completed", "stopped", "failed"):
            return
        exp["_stop_reason"] = reason
        self._set(exp, "stopping", reason)
        self._stop_flags[exp_id].set()

    def stop_all(self, reason: str = "halted") -> list[str]:
        ids = [i for i, e in self.experiments.items()
               if e["state"]["status"] in ("pending", "initiating", "running")]
        for i in ids:
            self.stop(i, reason)
        return ids
