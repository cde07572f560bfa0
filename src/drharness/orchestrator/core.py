"""Plans of idempotent steps, each recorded (start/end/result) to the history and SNS.

Step state is persisted after every step, so a crash at any point and a re-run converge: a
finished step is not repeated, and every step first checks whether its effect already holds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drharness.aggregator import Aggregator
from drharness.aggregator.core import connection_to, http_get, request
from drharness.errors import BadInput, CheckFailed
from drharness.history import NULL_HISTORY, BaseHistory
from drharness.safety import audit
from drharness.safety.crash import crash_point
from drharness.target import Target
from drharness.workload.dnsclient import TtlResolver

log = logging.getLogger(__name__)

FAILOVER_STEPS = ("preflight", "decision", "fence", "aurora_promotion", "dns", "warmup", "validation", "notify")
FAILBACK_STEPS = ("approval", "reseed", "drain", "aurora_switchover", "dns", "validation", "notify")
# Budgets (seconds) printed by --dry-run and checked against the RTO target; the waits are bounded by them.
BUDGETS = {"preflight": 30, "approval": 0, "decision": 240, "fence": 30, "aurora_promotion": 300,
           "aurora_switchover": 300, "reseed": 600, "drain": 300, "dns": 180, "warmup": 60,
           "validation": 50, "notify": 10}
# The failover caps add up to the 15 min RTO target, the failback caps stay inside its 30 min target.
assert sum(BUDGETS[s] for s in FAILOVER_STEPS) <= 900 and sum(BUDGETS[s] for s in FAILBACK_STEPS) <= 1800
RUN_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
REGION_SPECIFIC_ENV = {"AWS_ENDPOINT_URL", "DB_DSN", "FAILOVER_ROLE", "REGION", "BUCKET_NAME"}


class DynamoDBBarrier:
    """A marker item written in each region's table; when each has arrived in the other region, what
    was written before it has replicated too. Exact on the lab (its replicator applies a region's
    stream in order); on AWS a strong sign, not a proof: global tables promise no order across items."""

    def __init__(self, target: Target) -> None:
        from drharness.consistency.lag import DynamoDBProbe

        self.probes = {r: DynamoDBProbe(target, r) for r in target.regions}
        self.markers: dict[str, Any] = {}
        self.arrived: dict[str, float] = {}

    def passed(self) -> bool:
        """Puts what is not yet put, looks for what has not arrived; an error is "not yet"."""
        for region, probe in self.probes.items():
            if region in self.arrived:
                continue
            try:
                if region not in self.markers:
                    self.markers[region] = probe.put()
                m = self.markers[region]
                if m.id in probe.arrived([m]):
                    self.arrived[region] = time.time() - m.t
            except Exception:  # noqa: BLE001 - unknown is not drained
                log.debug("dynamodb barrier from %s", region, exc_info=True)
        return len(self.arrived) == len(self.probes)

    def seconds(self) -> dict[str, float]:
        return {r: round(v, 3) for r, v in self.arrived.items()}

    def keys(self) -> dict[str, dict[str, Any]]:
        """Each region's marker key (what cleanup deletes there; the deletes replicate)."""
        return {r: m.token for r, m in self.markers.items()}

    def cleanup(self) -> None:
        for region, m in self.markers.items():
            self.probes[region].cleanup([m])


@dataclass
class OrchestratorConfig:
    mode: str = "unplanned"  # unplanned (FailoverGlobalCluster, AllowDataLoss) | planned (Switchover)
    decision: str = "manual"  # manual | auto (wait for the aggregator to find the primary unhealthy)
    confirmed: bool = False  # --yes
    force: bool = False  # fail over to an unhealthy secondary anyway
    dry_run: bool = False
    allowed_accounts: list[str] = field(default_factory=list)
    allowed_regions: list[str] = field(default_factory=list)
    require_confirmation: bool = False  # on --target aws: refuse without --yes
    lag_threshold_ms: float = 1000.0
    decision_consecutive: int = 2  # aggregator verdicts in a row before an automatic decision
    state_dir: str = ".drharness/orchestrator"
    fence_record_dir: str | None = None  # failback: where the failover that fenced us kept its state (default state_dir)
    run_id: str | None = None
    warmup_invokes: int = 5
    drain_window_s: float = 3600.0  # failback: S3 objects written this recently must not be PENDING
    timeouts: dict[str, float] = field(default_factory=lambda: dict(BUDGETS))


@dataclass
class StepRecord:
    name: str
    status: str = "pending"  # pending | running | ok | failed | skipped
    started: float | None = None
    ended: float | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        return None if self.started is None or self.ended is None else round(self.ended - self.started, 3)


class StepFailed(CheckFailed):
    pass


class Orchestrator:
    def __init__(self, target: Target, cfg: OrchestratorConfig | None = None,
                 history: BaseHistory = NULL_HISTORY, from_region: str | None = None) -> None:
        self.t = target
        self.cfg = cfg or OrchestratorConfig()
        self.history = history
        self.src = from_region or target.primary_region
        self.dst = target.other(self.src)
        self.aggregator = Aggregator(target, history, lag_threshold_ms=self.cfg.lag_threshold_ms)
        self.run_id = self.cfg.run_id or uuid.uuid4().hex[:10]
        self.kind = "failover"
        self.steps: dict[str, StepRecord] = {}
        self.started = time.time()

    # ---- persistence -----------------------------------------------------------------------------
    def state_file(self) -> Path:
        return Path(self.cfg.state_dir) / f"{self.kind}-{self.run_id}.json"

    def _load(self, names: tuple[str, ...]) -> None:
        f = self.state_file()
        self.steps = {n: StepRecord(n) for n in names}
        if f.exists():
            try:
                doc = json.loads(f.read_text())
                for n, rec in doc.get("steps", {}).items():
                    if n in self.steps:
                        self.steps[n] = StepRecord(**rec)
                self.started = doc.get("started", self.started)
            except (ValueError, TypeError) as exc:
                raise BadInput(f"orchestrator state {f} is corrupt ({exc}); move it away to start over") from None

    def _save(self) -> None:
        f = self.state_file()
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps(audit.redact({  # step data holds e.g. Lambda environments: no secret on disk
            "run_id": self.run_id, "kind": self.kind, "mode": self.cfg.mode, "src": self.src, "dst": self.dst,
            "started": self.started, "steps": {n: asdict(s) for n, s in self.steps.items()}}), indent=2))
        os.replace(tmp, f)

    # ---- running a plan --------------------------------------------------------------------------
    def plan(self, names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"step": n, "budget_s": self.cfg.timeouts.get(n, BUDGETS.get(n, 60)),
                 "does": (getattr(self, f"step_{n}").__doc__ or "").strip().splitlines()[0]} for n in names]

    def _run(self, names: tuple[str, ...]) -> Orchestrator:
        self._load(names)
        for name in names:
            rec = self.steps[name]
            if rec.status in ("ok", "skipped"):
                continue  # a re-run after a crash resumes here
            crash_point(name)  # test hook: DRHARNESS_CRASH_AT=<step> is SIGKILL as the step starts
            rec.status, rec.started, rec.detail = "running", time.time(), ""
            self._save()
            h = self.history.invoke("orchestrator", "step", {"step": name, "kind": self.kind, "run_id": self.run_id},
                                    self.dst)
            try:
                detail = getattr(self, f"step_{name}")(rec) or "ok"
                rec.status = "skipped" if detail.startswith("skipped") else "ok"
                rec.detail = detail
            except Exception as exc:
                rec.status, rec.detail = "failed", f"{type(exc).__name__}: {exc}"
                rec.ended = time.time()
                self._save()
                self.history.complete(h, "fail", {"step": name, "detail": rec.detail}, self.dst)
                audit.record(f"orchestrator.{self.kind}.{name}", result="failed", run=self.run_id, detail=rec.detail)
                self._notify_event(f"{self.kind} step {name} FAILED: {rec.detail}")
                raise StepFailed(f"{self.kind} step '{name}' failed: {rec.detail}") from exc
            rec.ended = time.time()
            self._save()
            self.history.complete(h, "ok", {"step": name, "detail": rec.detail, "seconds": rec.seconds}, self.dst)
            audit.record(f"orchestrator.{self.kind}.{name}", result=rec.status, region=self.dst, run=self.run_id,
                         detail=rec.detail)
        return self

    def failover(self) -> Orchestrator:
        self.kind = "failover"
        self._guard()
        if self.cfg.dry_run:
            return self
        return self._run(FAILOVER_STEPS)

    def failback(self) -> Orchestrator:
        """Back to the original primary. Build it with from_region = the current writer's region,
        so self.dst is the region we return to (dns and validation steps are shared)."""
        self.kind = "failback"
        self._guard()
        if self.cfg.dry_run:
            return self
        return self._run(FAILBACK_STEPS)

    def summary(self) -> dict[str, Any]:
        total = None
        if self.steps and all(s.ended for s in self.steps.values() if s.status in ("ok", "skipped")):
            ends = [s.ended for s in self.steps.values() if s.ended]
            starts = [s.started for s in self.steps.values() if s.started]
            total = round(max(ends) - min(starts), 3) if ends and starts else None
        return {"run_id": self.run_id, "kind": self.kind, "mode": self.cfg.mode, "from": self.src,
                "to": self.dst, "seconds": total,
                "steps": [{**asdict(s), "seconds": s.seconds} for s in self.steps.values()]}

    # ---- guardrails ------------------------------------------------------------------------------
    def _guard(self) -> None:
        if not RUN_ID_RE.fullmatch(self.run_id):  # it names the state file: no path tricks (docs/SECURITY.md)
            raise BadInput(f"--run-id {self.run_id!r}: use letters, digits, '-' and '_' only (at most 64)")
        if self.cfg.require_confirmation and not self.cfg.confirmed and not self.cfg.dry_run:
            raise BadInput(f"refusing to run a {self.kind} against {self.t.name} without --yes")
        if self.cfg.allowed_regions and self.dst not in self.cfg.allowed_regions:
            raise BadInput(f"region {self.dst} is not on the allowlist ({', '.join(self.cfg.allowed_regions)})")
        if self.cfg.allowed_accounts and self.t.account_id not in self.cfg.allowed_accounts:
            raise BadInput(f"account {self.t.account_id} is not on the allowlist")

    def _wait(self, cond: Callable[[], Any], step: str, what: str, every: float = 0.1) -> Any:
        deadline = time.monotonic() + self.cfg.timeouts.get(step, BUDGETS[step])
        while True:
            v = cond()
            if v:
                return v
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within the {step} budget")
            time.sleep(every)

    # ---- failover steps --------------------------------------------------------------------------
    def step_preflight(self, rec: StepRecord) -> str:
        """Secondary healthy as a replica, Aurora lag under threshold, standby Lambda equal to primary."""
        sec = self.aggregator.evaluate_region(self.dst)
        aur = sec.checks["aurora"]
        problems = [f"{k}: {c.detail}" for k, c in sec.checks.items() if not c.ok and k in ("aurora", "dynamodb", "s3")]
        rec.data["secondary"] = sec.to_dict()
        drift = self.lambda_drift()
        rec.data["lambda_drift"] = drift
        if self.cfg.mode == "planned":
            lag = aur.metrics.get("lag_ms")
            if lag is not None and lag > self.cfg.lag_threshold_ms:
                problems.append(f"Aurora lag {lag:.0f} ms above {self.cfg.lag_threshold_ms:.0f} ms")
        if problems and not self.cfg.force:
            raise RuntimeError(f"secondary {self.dst} not ready: {'; '.join(problems)} (use --force to override)")
        out = f"secondary {self.dst} ready (aurora {aur.detail})"
        if drift.get("differences"):
            out += f"; Lambda drift: {drift['differences']}"
        return out + ("; forced past: " + "; ".join(problems) if problems else "")

    def lambda_drift(self) -> dict[str, Any]:
        """Compare code hash, env vars, layers and VPC config of the app function in both regions."""
        cfgs = {}
        for r in (self.src, self.dst):
            try:
                c = self.t.client("lambda", r, attempts=1).get_function_configuration(
                    FunctionName=self.t.regions[r].function)
            except Exception as exc:  # noqa: BLE001 - the failed region may not answer
                return {"compared": False, "reason": f"{r} Lambda API unavailable ({type(exc).__name__})"}
            cfgs[r] = {
                "code_sha256": c.get("CodeSha256"),
                "env": {k: v for k, v in (c.get("Environment") or {}).get("Variables", {}).items()
                        if k not in REGION_SPECIFIC_ENV},
                "layers": sorted(layer["Arn"].split(":layer:")[-1] for layer in c.get("Layers", [])),
                "vpc": {k: sorted(v) if isinstance(v, list) else v for k, v in (c.get("VpcConfig") or {}).items()
                        if k in ("SubnetIds", "SecurityGroupIds")},
                "runtime": c.get("Runtime"), "handler": c.get("Handler"),
            }
        a, b = cfgs[self.src], cfgs[self.dst]
        diffs = [k for k in a if a[k] != b[k] and k != "vpc"]
        return {"compared": True, "differences": diffs, "configs": cfgs}

    def step_decision(self, rec: StepRecord) -> str:
        """Automatic: the aggregator finds the primary unhealthy N times in a row. Manual: now."""
        if self.cfg.decision == "manual" or self.cfg.mode == "planned":
            return f"{self.cfg.decision} decision ({self.cfg.mode})"
        streak, last = 0, None

        def unhealthy() -> bool:
            nonlocal streak, last
            last = self.aggregator.evaluate_region(self.src)
            streak = streak + 1 if not last.healthy else 0
            return streak >= self.cfg.decision_consecutive

        period = float(self.t.timing.get("aggregator_period_s", 1.0))
        self._wait(unhealthy, "decision", f"{self.src} unhealthy", every=period)
        rec.data["root_cause"] = last.root_cause if last else None
        return f"automatic: {last.root_cause if last else ''}"

    def step_fence(self, rec: StepRecord) -> str:
        """Unplanned: stop the old primary's app taking traffic where its Lambda API still answers."""
        if self.cfg.mode == "planned":
            return "skipped: planned switchover: Aurora fences the writer; the old primary keeps serving reads"
        fn = self.t.regions[self.src].function
        try:
            lam = self.t.client("lambda", self.src, connect_timeout=1, read_timeout=2, attempts=1)
            if "previous_concurrency" not in rec.data:  # a re-run after a crash must not read its own fence
                rec.data["previous_concurrency"] = self._reserved_concurrency(lam, fn)
                self._save()
            lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
        except Exception as exc:  # noqa: BLE001 - in an outage the old primary is unreachable: that is expected
            return f"skipped: {self.src} Lambda API unreachable ({type(exc).__name__}); Aurora fences its writer"
        rec.data["fenced_function"] = fn
        before = rec.data["previous_concurrency"]
        return f"{self.src} app concurrency set to 0 (was {'unreserved' if before is None else before})"

    @staticmethod
    def _reserved_concurrency(lam: Any, fn: str) -> int | None:
        """The function's reserved concurrency; None when it has none. A 0 is a fence (ours or an
        earlier run's), not a setting to come back to, so it reads as None too."""
        value = lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions")
        return int(value) if value else None

    def _fence_record(self) -> dict[str, Any] | None:
        """What the latest failover away from this region recorded at its fence (None: it fenced nothing
        or there is no record): the failback restores that."""
        latest: tuple[float, dict[str, Any]] | None = None
        for f in Path(self.cfg.fence_record_dir or self.cfg.state_dir).glob("failover-*.json"):
            try:
                doc = json.loads(f.read_text())
                started = float(doc.get("started", 0))
                data = doc["steps"]["fence"].get("data") or {}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if doc.get("src") == self.dst and (latest is None or started > latest[0]):
                latest = (started, data)
        if latest is None or latest[1].get("fenced_function") != self.t.regions[self.dst].function:
            return None
        return latest[1]

    def unfence(self) -> str:
        """Undo a failover's fence: the reserved concurrency the function had before it (Terraform
        sets one; deleting it would show as drift on the next plan), or none if it had none. Without
        a record of the fence, only a fence (0) is removed: a value someone set stays."""
        fn = self.t.regions[self.dst].function
        lam = self.t.client("lambda", self.dst, attempts=1)
        record = self._fence_record()
        if record is None:
            if lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions") != 0:
                return "not fenced"
            before = None
        else:
            before = record.get("previous_concurrency")
        if before:
            lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=int(before))
            return f"reserved concurrency {before} restored"
        lam.delete_function_concurrency(FunctionName=fn)
        return "reserved concurrency removed (none before the fence)"

    def _writer_region(self, via: str) -> tuple[str | None, dict | None]:
        rds = self.t.client("rds", via, attempts=1)
        gcs = rds.describe_global_clusters(GlobalClusterIdentifier=self.t.global_cluster_id)["GlobalClusters"]
        gc = gcs[0]
        writer = next((m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"]), None)
        return (self.t.cluster_region(writer) if writer else None), gc.get("FailoverState")

    def _sql_writer(self, region: str) -> bool:
        try:
            with self.t.pg(region, timeout=2) as c:
                return c.execute("SELECT NOT pg_is_in_recovery()").fetchone()[0]
        except Exception:  # noqa: BLE001
            return False

    def step_aurora_promotion(self, rec: StepRecord) -> str:
        """Unplanned: FailoverGlobalCluster(AllowDataLoss). Planned: SwitchoverGlobalCluster. Via the secondary."""
        writer, state = self._writer_region(self.dst)
        if writer == self.dst and not state:
            return f"writer already in {self.dst}"
        rds = self.t.client("rds", self.dst, attempts=1)
        if not state:
            target_arn = self.t.regions[self.dst].cluster_arn
            if self.cfg.mode == "planned":
                rds.switchover_global_cluster(GlobalClusterIdentifier=self.t.global_cluster_id,
                                              TargetDbClusterIdentifier=target_arn)
            else:
                rds.failover_global_cluster(GlobalClusterIdentifier=self.t.global_cluster_id,
                                            TargetDbClusterIdentifier=target_arn, AllowDataLoss=True)
        self._wait(lambda: self._writer_region(self.dst) == (self.dst, None), "aurora_promotion",
                   f"writer in {self.dst}")
        self._wait(lambda: self._sql_writer(self.dst), "aurora_promotion", f"{self.dst} accepting writes")
        return f"writer in {self.dst} ({'switchover' if self.cfg.mode == 'planned' else 'failover, data loss allowed'})"

    def step_dns(self, rec: StepRecord) -> str:
        """Health-check-driven: wait for the failover name to answer the new region (no Route 53 change API)."""
        res = TtlResolver.for_target(self.t)

        def points_to_dst() -> bool:
            return res.current_region(fresh=True) == self.dst

        self._wait(points_to_dst, "dns", f"{self.t.dns.name} answering {self.dst}", every=0.1)
        return f"{self.t.dns.name} answers {self.dst} (health checks moved it; TTL {self.t.dns.ttl} s)"

    def step_warmup(self, rec: StepRecord) -> str:
        """Synthetic invokes of the standby's app so the first customers don't pay cold starts."""
        ok = 0
        for _ in range(self.cfg.warmup_invokes):
            try:
                status, _, _ = http_get(self.t.regions[self.dst].app_url + "/health", 2.0)
                ok += status == 200
            except OSError:
                pass
        if ok == 0:
            raise RuntimeError(f"no warm-up invoke of {self.dst} succeeded")
        return f"{ok}/{self.cfg.warmup_invokes} warm-up invokes ok"

    def step_validation(self, rec: StepRecord) -> str:
        """A synthetic write and read through the failover DNS name, served by the new region."""
        import http.client
        from urllib.parse import urlsplit

        u = urlsplit(self.t.regions[self.dst].app_url)
        res = TtlResolver.for_target(self.t)
        oid = f"validate-{self.kind}-{self.run_id}"

        def attempt() -> str | None:
            ip = res.resolve(fresh=True)
            if not ip:
                return None
            # https app URLs: TLS to the answer with the certificate verified for the failover name;
            # a certificate that does not verify fails the step at once (CertificateProblem).
            conn = connection_to(ip, u.geturl(), self.t.dns.name)
            try:
                s1, h1, _ = request(conn, "POST", "/orders", json.dumps({"id": oid}), {"Host": self.t.dns.name})
                region = h1.get("X-Region")
                s2, _, _ = request(conn, "GET", f"/orders/{oid}", headers={"Host": self.t.dns.name})
                conn.close()
            except (OSError, http.client.HTTPException):
                return None
            return region if s1 == 201 and s2 == 200 and region == self.dst else None

        region = self._wait(attempt, "validation", "a validated write through DNS", every=0.2)
        return f"write+read {oid} through {self.t.dns.name} served by {region}"

    def _notify_event(self, text: str) -> str:
        from drharness.orchestrator.comms import render

        msg = render(self.kind, text, self)
        for region in (self.dst, self.src):
            try:
                self.t.client("sns", region, attempts=1).publish(
                    TopicArn=self.t.regions[region].topic_arn, Subject=f"drharness {self.kind} {self.run_id}"[:99],
                    Message=msg)
                return region
            except Exception:  # noqa: BLE001 - try the other region's topic
                continue
        return "none"

    def step_notify(self, rec: StepRecord) -> str:
        """SNS in the new primary region (the old one may be down), using the incident template."""
        done = [s for s in self.steps.values() if s.status in ("ok", "skipped")]
        region = self._notify_event(f"{self.kind} {self.src} -> {self.dst} complete: "
                                    + ", ".join(f"{s.name} {s.seconds}s" for s in done))
        if region == "none":
            raise RuntimeError("no SNS topic reachable")
        return f"published to SNS in {region}"

    # ---- failback steps --------------------------------------------------------------------------
    def step_approval(self, rec: StepRecord) -> str:
        """Failback is manual: it needs an explicit approval (--yes)."""
        if not self.cfg.confirmed:
            raise RuntimeError("failback needs approval: re-run with --yes")
        return "approved"

    def step_reseed(self, rec: StepRecord) -> str:
        """The old primary rejoins as a healthy secondary (Aurora re-adds it once its region is back)."""
        def replica() -> bool:
            try:
                with self.t.pg(self.dst, timeout=2) as c:
                    return bool(c.execute("SELECT pg_is_in_recovery() AND status = 'streaming' "
                                          "FROM pg_stat_wal_receiver").fetchone()[0])
            except Exception:  # noqa: BLE001
                return False

        self._wait(replica, "reseed", f"{self.dst} streaming as a replica", every=0.2)
        return f"{self.dst} is a streaming replica of {self.src}"

    def step_drain(self, rec: StepRecord) -> str:
        """Aurora caught up, S3 backlog drained both ways, DynamoDB's too (a barrier item: AWS gives
        no backlog count for global tables, and writes still in flight when traffic moves are
        settled by last-writer-wins, i.e. lost)."""
        agg = self.aggregator
        began = time.time() - 1.0  # S3 LastModified has one-second resolution
        barrier = DynamoDBBarrier(self.t)
        barrier.passed()  # markers written now: what was written before them is the backlog

        def drained() -> bool:
            a = agg.check_aurora(self.dst)
            return a.ok and (a.metrics.get("lag_ms") or 0) <= self.cfg.lag_threshold_ms \
                and barrier.passed() and self._s3_backlog(self.cfg.drain_window_s, before=began) == 0

        try:
            # Each look lists both buckets (on S3: LIST requests; on moto a scan per page): twice a second.
            self._wait(drained, "drain", "replication drained", every=0.5)
        finally:
            barrier.cleanup()
            rec.data["dynamodb_barrier_markers"] = barrier.keys()
        took = rec.data["dynamodb_barrier_s"] = barrier.seconds()
        return ("Aurora lag under threshold; S3 backlog 0; DynamoDB barrier replicated both ways in "
                f"{max(took.values()):.1f} s")

    def _s3_backlog(self, since_s: float = 3600.0, limit: int = 5000, before: float | None = None) -> float:
        """Source objects written in the window that are not yet in the other region and whose
        ReplicationStatus is still PENDING. Read from S3 itself (the data plane): no metric
        resolution needed, and only objects missing on the other side are HEADed."""
        import datetime as dt

        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=since_s)
        # Writes made while we wait are not backlog: only what was written before the drain began.
        until = dt.datetime.fromtimestamp(before, dt.UTC) if before else dt.datetime.now(dt.UTC)

        def listing(region: str) -> list[dict]:
            s3 = self.t.client("s3", region, attempts=1)
            out: list[dict] = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.t.regions[region].bucket):
                out += page.get("Contents", [])
            return out

        pending = 0
        try:
            objs = {r: listing(r) for r in self.t.regions}
            for src in self.t.regions:
                dst = self.t.other(src)
                there = {(o["Key"], o["ETag"]) for o in objs[dst]}
                missing = [o for o in objs[src] if since <= o["LastModified"] <= until
                           and (o["Key"], o["ETag"]) not in there]
                s3 = self.t.client("s3", src, attempts=1)
                for o in missing[:limit]:
                    head = s3.head_object(Bucket=self.t.regions[src].bucket, Key=o["Key"])
                    pending += head.get("ReplicationStatus") == "PENDING"
        except Exception:  # noqa: BLE001 - unknown is not drained
            return 1.0
        return float(pending)

    def step_aurora_switchover(self, rec: StepRecord) -> str:
        """Planned switchover back to the original primary: nothing lost."""
        writer, state = self._writer_region(self.dst)
        if writer == self.dst and not state:
            return f"writer already in {self.dst}"
        if not state:
            self.t.client("rds", self.dst, attempts=1).switchover_global_cluster(
                GlobalClusterIdentifier=self.t.global_cluster_id,
                TargetDbClusterIdentifier=self.t.regions[self.dst].cluster_arn)
        self._wait(lambda: self._writer_region(self.dst) == (self.dst, None), "aurora_switchover",
                   f"writer back in {self.dst}")
        self._wait(lambda: self._sql_writer(self.dst), "aurora_switchover", f"{self.dst} accepting writes")
        # Undo the fence of the failover, if any.
        try:
            rec.data["unfence"] = self.unfence()
        except Exception as exc:  # noqa: BLE001 - the app still serves once its region's API answers again
            rec.data["unfence"] = f"failed: {type(exc).__name__}: {exc}"
        return f"writer back in {self.dst}; {rec.data['unfence']}"
