"""labd: the long-running lab process. Serves moto, the region gateways, the data-plane
emulators, the edge and the control API; PostgreSQL runs as its own processes, and each region's
app as a child process of labd (appserver.py).

Started by ``drharness lab up`` with a plan file; stopped by PID from ``lab down``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import psycopg
from werkzeug.wrappers import Request, Response

from drharness.lab import moto_fixes
from drharness.lab.alarms import AlarmEvaluator
from drharness.lab.appserver import AppSpec, NotifyingFaults, RegionalApps, app_env
from drharness.lab.aurora import AuroraGlobal, GlobalClusterError
from drharness.lab.ddb_replicator import DynamoDBReplicator, ddb_write_hook
from drharness.lab.edge import EdgeProxy
from drharness.lab.fis import Effect, FisExecutor
from drharness.lab.gateway import RegionGateway
from drharness.lab.httpserve import serve
from drharness.lab.interceptors import (
    rds_interceptor,
    route53_interceptor,
    s3_replication_config_interceptor,
    s3_replication_status_hook,
)
from drharness.lab.postgres import PgNode
from drharness.lab.provision import ACCOUNT, provision
from drharness.lab.route53 import HealthChecker, LabDNS, ZoneResolver, health_check_extras_hook
from drharness.lab.s3_replicator import S3Replicator
from drharness.lab.scheduler import LabScheduler
from drharness.refapp.handler import SCHEMA_SQL

log = logging.getLogger("drharness.labd")

HEARTBEAT_SQL = """
CREATE SCHEMA IF NOT EXISTS drharness_lab;
CREATE TABLE IF NOT EXISTS drharness_lab.heartbeat (id int PRIMARY KEY, seq bigint NOT NULL, t double precision NOT NULL);
INSERT INTO drharness_lab.heartbeat VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
"""


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    v = sorted(values)

    def pct(p: float) -> float:
        return round(v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))], 2)

    return {"p50": pct(50), "p95": pct(95), "p99": pct(99), "max": round(v[-1], 2)}


class AuroraLagProbe:
    """Replication lag read from PostgreSQL: time for a heartbeat write on the writer to be
    visible on the reader (pt-heartbeat style), growing while it is not."""

    def __init__(self, aurora: AuroraGlobal) -> None:
        self.aurora = aurora
        self.seq = 0
        self.pending: dict[int, float] = {}
        self.samples: list[tuple[float, float]] = []
        self.last_ms: float | None = None

    def sample(self) -> float | None:
        writer = self.aurora.nodes[self.aurora.writer_region]
        reader = self.aurora.nodes[self.aurora.other(self.aurora.writer_region)]
        if self.aurora.failover_state or self.aurora.fenced:
            return None
        self.seq += 1
        t0 = time.time()
        try:
            writer.kept_query("UPDATE drharness_lab.heartbeat SET seq = %s, t = %s WHERE id = 1", self.seq, t0)
            self.pending[self.seq] = t0
        except psycopg.Error:
            pass
        seen = 0
        deadline = time.time() + 0.05
        while True:
            try:
                seen = reader.kept_query("SELECT seq FROM drharness_lab.heartbeat WHERE id = 1")[0][0]
            except (psycopg.Error, IndexError):
                seen = 0
            if seen >= self.seq or time.time() > deadline:
                break
            time.sleep(0.002)
        now = time.time()
        unseen = [t for s, t in self.pending.items() if s > seen]
        seen_ts = [t for s, t in self.pending.items() if s <= seen]
        lag = (now - min(unseen)) * 1000.0 if unseen else ((now - max(seen_ts)) * 1000.0 if seen_ts else 0.0)
        self.pending = {s: t for s, t in self.pending.items() if s > seen}
        self.last_ms = lag
        self.samples.append((now, lag))
        del self.samples[:-5000]
        return lag


def alarm_state_in(region: str, name: str) -> str | None:
    """An alarm's state as its region's CloudWatch holds it (None: no such alarm). Read in process,
    as Route 53 and FIS read alarms inside AWS: a DescribeAlarms round trip a second per health
    check was a visible share of an idle lab's CPU."""
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends[ACCOUNT][region].alarms.get(name)
    return alarm.state_value if alarm is not None else None


class Lab:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.regions: list[str] = plan["regions"]
        self.primary = self.regions[0]
        self.faults = NotifyingFaults(tuple(self.regions))
        self.servers: list[Any] = []
        self.proxies: list[Any] = []
        self.started = time.time()
        self.ready = False
        self.error: str | None = None

    # ---- startup ---------------------------------------------------------------------------------
    def start(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app

        class Dispatcher(DomainDispatcherApplication):
            # moto re-lists its package directory for every request (~15 % of labd's CPU under
            # load); host -> backend never changes while the lab runs.
            get_backend_for_host = functools.lru_cache(maxsize=512)(
                DomainDispatcherApplication.get_backend_for_host)

        moto_fixes.install()
        p = self.plan
        self.moto_app = Dispatcher(create_backend_app)
        self.servers.append(serve("127.0.0.1", p["ports"]["moto"], self.moto_app, "moto"))
        moto_url = f"http://127.0.0.1:{p['ports']['moto']}"
        # The regional apps run in their own processes (appserver.py); started first, they import
        # while the rest of the lab comes up.
        self.apps = RegionalApps([AppSpec(r, p["hosts"][r], p["ports"]["app"], {**app_env(
            r, self.primary, p["profile"]["names"], self.pg_dsn(r),
            f"http://{p['hosts'][r]}:{p['ports']['gateway'][r]}"),
            "DB_SECRET_ARN": f"{p['profile']['names']['prefix']}/aurora/master"}, str(Path(p["pg"]["base"]) / f"app-{r}.gate"))
            for r in self.regions], self.faults, lambda r: self._reserved_concurrency(r) == 0,
            Path(p["pg"]["base"])).start()

        nodes = {r: PgNode(f"aurora-{r}", r, Path(p["pg"]["nodes"][r]["datadir"]), p["pg"]["nodes"][r]["port"],
                           Path(p["pg"]["bin"])) for r in self.regions}
        names = p["profile"]["names"]
        self.cluster_ids = {r: f"{names['prefix']}-{r}" for r in self.regions}
        self.aurora = AuroraGlobal(nodes, p["ports"]["xr"], self.primary, self.faults, self._moto_sync,
                                   self.cluster_ids, names["global_cluster"])
        self._start_proxies(nodes)

        self.fis = FisExecutor(self.faults, self.moto_app,
                               extra_actions={"aws:rds:failover-db-cluster": self._writer_failure},
                               alarm_state=self._alarm_state)
        self.gateways: dict[str, RegionGateway] = {}
        for r in self.regions:
            gw = RegionGateway(r, self.moto_app, self.faults)
            self.gateways[r] = gw
            self.servers.append(serve(p["hosts"][r], p["ports"]["gateway"][r], gw, f"gateway-{r}",
                                      drop_gate=lambda r=r: self.faults.unreachable(r)))
        endpoints = {r: f"http://{p['hosts'][r]}:{p['ports']['gateway'][r]}" for r in self.regions}
        prof = p["profile"]
        # The S3 hooks see provisioning too (the replication configuration as PUT is kept).
        buckets = {f"{names['bucket_prefix']}-{r}": r for r in self.regions}
        self.s3 = S3Replicator(moto_url, buckets, self.faults, prof["s3_poll_s"])
        self.r53_extras: dict[str, dict] = {}  # what moto drops from health checks (AlarmIdentifier, ...)
        for gw in self.gateways.values():
            gw.interceptors.append(s3_replication_config_interceptor(self.s3))
            gw.post.append(s3_replication_status_hook(self.s3))
            gw.post.append(health_check_extras_hook(self.r53_extras))
        if p.get("provision") == "terraform":
            from drharness.lab.tfprovision import attach_terraform

            self.resources = attach_terraform(self, endpoints)
        else:
            self.resources = provision(endpoints, names, p["hosts"], p["ports"]["app"],
                                       prof["r53_request_interval"], prof["failure_threshold"], prof["dns_ttl"],
                                       self.primary, profile=prof, pg_ports=p["ports"]["pg"])
        self._migrate(nodes[self.primary])

        self.ddb = DynamoDBReplicator(moto_url, tuple(self.regions), names["table"], self.faults,
                                      prof["ddb_poll_s"]).start()
        for gw in self.gateways.values():
            gw.post.append(ddb_write_hook(self.ddb))
        self.s3.start()
        checker_t, resolver_t = HealthChecker, ZoneResolver
        if p.get("provision") == "terraform":
            from drharness.lab.tfprovision import route53_types

            checker_t, resolver_t = route53_types(self)
        self.checker = checker_t(moto_url, prof["health_interval_s"] if prof["name"] == "fast" else None,
                                 extras=self.r53_extras, region_reachable=lambda r: not self.faults.unreachable(r),
                                 alarm_state=alarm_state_in)
        self.resolver = resolver_t(moto_url, self.checker)
        for gw in self.gateways.values():
            gw.post.append(self.checker.change_hook)
        self.dns = LabDNS("127.0.0.1", p["ports"]["dns"], self.resolver).start()

        arn_of = lambda r: self.resources["regions"][r]["cluster_arn"]  # noqa: E731
        for gw in self.gateways.values():
            gw.interceptors += [self.fis.intercept, rds_interceptor(self.aurora, self.moto_app, arn_of),
                                route53_interceptor(self.checker)]

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "lab")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "lab")
        for gw in self.gateways.values():
            gw.post.append(self.apps.lambda_hook)  # a fence (reserved concurrency) reaches the app at once
        # What reset restores: the reserved concurrency as provisioned (Terraform may set one), not "none".
        self._baseline_concurrency = {r: self._reserved_concurrency(r) for r in self.regions}
        self.apps.sync()
        self.apps.wait_ready()
        self.edge = EdgeProxy([f"http://{p['hosts'][r]}:{p['ports']['app']}" for r in self.regions])
        self.servers.append(serve("127.0.0.1", p["ports"]["edge"], self.edge, "edge"))
        self.checker.start()
        from moto.cloudwatch.models import cloudwatch_backends

        self.alarms = AlarmEvaluator(lambda: {r: cloudwatch_backends[ACCOUNT][r] for r in self.regions},
                                     prof.get("alarm_period_s")).start()
        self.scheduler = LabScheduler(moto_url, tuple(self.regions), lambda r: not self.faults.data_plane_down(r),
                                      prof["aggregator_period_s"] if prof["name"] == "fast" else None).start()
        self.lag = AuroraLagProbe(self.aurora)
        self.cw = {r: boto3.client("cloudwatch", region_name=r, endpoint_url=moto_url,
                                   aws_access_key_id="lab", aws_secret_access_key="lab") for r in self.regions}
        threading.Thread(target=self._metrics_loop, name="metrics", daemon=True).start()
        self._wait_alarms_settled(timeout=30.0)
        self.servers.append(serve("127.0.0.1", p["ports"]["control"], self.control, "control"))
        self.ready = True
        log.info("lab ready in %.1f s", time.time() - self.started)

    def pg_dsn(self, region: str) -> str:
        return (f"host={self.plan['hosts'][region]} port={self.plan['ports']['pg'][region]} user=postgres "
                "dbname=postgres connect_timeout=2")

    def _start_proxies(self, nodes: dict[str, PgNode]) -> None:
        from drharness.lab.tcpproxy import TcpProxy

        p = self.plan
        for r in self.regions:
            other = next(x for x in self.regions if x != r)
            # replication into `r`'s node from the other region crosses the inter-region link
            self.proxies.append(TcpProxy(f"xr-{r}", ("127.0.0.1", p["ports"]["xr"][r]),
                                         lambda r=r: ("127.0.0.1", nodes[r].port),
                                         lambda r=r, o=other: self.faults.link_cut(r, o)).start())
            self.proxies.append(TcpProxy(
                f"pg-{r}", (p["hosts"][r], p["ports"]["pg"][r]), lambda r=r: ("127.0.0.1", nodes[r].port),
                lambda r=r: self.faults.data_plane_down(r),
                lambda r=r: (self.faults.region(r).latency_ms / 1000.0
                             if self.faults.region(r).mode == "latency" else 0.0)).start())

    def _migrate(self, writer: PgNode) -> None:
        writer.wait_ready()
        with psycopg.connect(writer.dsn, autocommit=True) as c:
            c.execute(SCHEMA_SQL)
            c.execute(HEARTBEAT_SQL)

    # ---- moto state kept in step -----------------------------------------------------------------
    def _moto_sync(self, writer_region: str, failover_state: dict | None) -> None:
        from moto.rds.models import rds_backends

        gc = rds_backends[ACCOUNT]["us-east-1"].global_clusters.get(self.aurora.global_cluster_id)
        if gc is None:
            return
        for m in gc.members:
            m.is_writer = m.db_cluster_identifier == self.cluster_ids[writer_region]
        gc.failover_state = failover_state

    def _unfence_functions(self) -> None:
        from moto.awslambda.models import lambda_backends

        baseline = getattr(self, "_baseline_concurrency", {})
        for r in self.regions:
            try:
                lambda_backends[ACCOUNT][r].get_function(self.plan["profile"]["names"]["function"]) \
                    .reserved_concurrency = baseline.get(r)
            except Exception:  # noqa: BLE001
                log.exception("unfence %s", r)

    def _reserved_concurrency(self, region: str) -> int | None:
        """The app Lambda's reserved concurrency in moto (0 = fenced: API Gateway answers 429)."""
        from moto.awslambda.models import lambda_backends

        try:
            fn = lambda_backends[ACCOUNT][region].get_function(self.plan["profile"]["names"]["function"])
        except Exception:  # noqa: BLE001
            return None
        value = getattr(fn, "reserved_concurrency", None)
        return None if value is None else int(value)

    def _alarm_state(self, region: str, name: str) -> str:
        return alarm_state_in(region, name) or "INSUFFICIENT_DATA"

    def _writer_failure(self, region: str, params: dict, targets: dict) -> Effect:
        """aws:rds:failover-db-cluster: the writer instance crashes and comes back (~Aurora's restart)."""
        node = self.aurora.nodes[region]

        def apply() -> None:
            if region == self.aurora.writer_region and not self.aurora.fenced:
                node.stop("immediate")
                node.start()

        return Effect(apply, lambda: None)

    # ---- metrics: what CloudWatch would show -----------------------------------------------------
    def _metrics_loop(self) -> None:
        names = self.plan["profile"]["names"]
        while True:
            time.sleep(1.0)
            try:
                self.aurora.reseed_recovered()
            except Exception:  # noqa: BLE001
                log.exception("automatic re-seed failed")
            try:
                lag = self.lag.sample()
                reader = self.aurora.other(self.aurora.writer_region)
                if lag is not None:
                    self._put(reader, "AWS/RDS", "AuroraGlobalDBReplicationLag", lag,
                              {"DBClusterIdentifier": self.cluster_ids[reader]}, "Milliseconds")
                for t, r, ms in self.ddb.latencies_ms[-50:]:
                    if t > time.time() - 1.0:
                        src = next(x for x in self.regions if x != r)
                        self._put(src, "AWS/DynamoDB", "ReplicationLatency", ms,
                                  {"TableName": names["table"], "ReceivingRegion": r}, "Milliseconds")
                for r in self.regions:
                    self._put(r, "AWS/S3", "OperationsPendingReplication", float(self.s3.backlog()),
                              {"SourceBucket": self.resources["regions"][r]["bucket"]}, "Count")
            except Exception:  # noqa: BLE001
                log.debug("metrics loop", exc_info=True)

    def _put(self, region: str, ns: str, metric: str, value: float, dims: dict, unit: str) -> None:
        if self.faults.data_plane_down(region) or self.faults.unreachable(region):
            return
        # Into the region's CloudWatch directly, as the service itself publishes its metrics: the
        # same datum as PutMetricData stores, without a signed HTTP round trip per metric a second.
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[ACCOUNT][region].put_metric_data(ns, [{
            "MetricName": metric, "Value": value, "Unit": unit,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}])

    # ---- control API -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        p = self.plan
        ddb_lat = [ms for _, _, ms in self.ddb.latencies_ms]
        s3_lat = [ms for _, _, ms in self.s3.latencies_ms]
        pg_lat = [ms for _, ms in self.lag.samples]
        return {
            "ready": self.ready,
            "uptime_s": round(time.time() - self.started, 1),
            "faults": self.faults.snapshot(),
            "aurora": {**self.aurora.status(), "lag_ms_last": self.lag.last_ms,
                       "events": self.aurora.events[-20:]},
            "dynamodb": self.ddb.status(),
            "s3": self.s3.status(),
            "health_checks": self.checker.status(),
            "alarms": self.alarms.status(),
            "schedules": self.scheduler.status(),
            "dns_queries": self.resolver.queries,
            "replication_lag_ms": {"aurora": _percentiles(pg_lat), "dynamodb": _percentiles(ddb_lat),
                                   "s3": _percentiles(s3_lat)},
            "gateways": {r: {"calls": g.calls, "rejected": g.rejected, "race_retries": g.race_retries}
                         for r, g in self.gateways.items()},
            "apps": self.apps.status(),
            "edge": {"failovers": self.edge.failovers},
            "experiments": {i: e["state"] for i, e in self.fis.experiments.items()},
            "resources": self.resources,
            "regions": {r: {"healthy": not self.faults.data_plane_down(r),
                            "fault": self.faults.describe(r)} for r in self.regions},
            "pid": os.getpid(),
            "ports": p["ports"],
        }

    def control(self, environ: dict, start_response: Any) -> Any:
        req = Request(environ)
        try:
            body = json.loads(req.get_data() or b"{}")
            out = self._route(req.method, req.path, body)
            resp = Response(json.dumps(out, default=str), 200, content_type="application/json")
        except (ValueError, KeyError, GlobalClusterError) as exc:
            resp = Response(json.dumps({"error": str(exc)}), 400, content_type="application/json")
        return resp(environ, start_response)

    def _route(self, method: str, path: str, body: dict) -> Any:
        if path == "/status":
            return self.status()
        if path == "/faults" and method == "POST":
            region = body.pop("region")
            if region not in self.regions:
                raise ValueError(f"unknown region {region!r}")
            self.faults.set(region, **body)
            return self.faults.snapshot()
        if path == "/faults/clear" and method == "POST":
            self.faults.clear(body.get("region"))
            return self.faults.snapshot()
        if path == "/pause" and method == "POST":
            target = self.faults.paused_tables if body["kind"] == "dynamodb" else self.faults.paused_buckets
            (target.add if body.get("paused", True) else target.discard)(body["name"])
            return self.faults.snapshot()
        if path == "/halt" and method == "POST":
            stopped = self.fis.stop_all("halted by drharness halt")
            time.sleep(0.2)
            self.faults.clear()
            return {"stopped_experiments": stopped, "faults": self.faults.snapshot()}
        if path == "/reset" and method == "POST":
            return self.reset(float(body.get("timeout", 60)))
        if path == "/alarms" and method == "POST":  # test switch: freeze (planted fault) / resync the evaluator
            self.alarms.frozen = bool(body.get("frozen", False))
            if body.get("resync"):
                self.alarms.resync()
            return self.alarms.status()
        if path == "/aurora/reseed" and method == "POST":
            return {"method": self.aurora.reseed(body["region"])}
        raise ValueError(f"no route {method} {path}")

    def _wait_alarms_settled(self, timeout: float) -> None:
        """Ready means steady state: a fresh alarm whose missing data is breaching starts in ALARM
        until the first scheduled aggregator run publishes, and a drill started in that window is
        (rightly) refused by its preflight. Wait for the first verdicts; never block start for good."""
        deadline = time.time() + timeout
        watched = {r: self.resources["regions"][r]["alarms"]["region_health"] for r in self.regions}
        firing: list[str] = []
        while time.time() < deadline:
            firing = [a["AlarmName"] for r in self.regions
                      for a in self.cw[r].describe_alarms()["MetricAlarms"]
                      if a["StateValue"] == "ALARM" or (a["AlarmName"] == watched[r] and a["StateValue"] != "OK")]
            if not firing:
                return
            time.sleep(0.2)
        log.warning("lab ready with alarms not yet OK: %s", ", ".join(firing))

    def reset(self, timeout: float = 60) -> dict[str, Any]:
        """Back to the known state between scenarios: no faults, writer in the primary region,
        both regions replicating and healthy, replication drained."""
        deadline = time.time() + timeout
        stopped = self.fis.stop_all("reset")
        self.faults.clear()
        self._unfence_functions()
        self.apps.sync()
        self.alarms.frozen = False
        self.alarms.resync()  # states planted with SetAlarmState go back to what the data says

        def wait(cond: Any, what: str) -> None:
            while not cond():
                if time.time() > deadline:
                    raise ValueError(f"reset: timed out waiting for {what} (dynamodb pending "
                                     f"{self.ddb.pending()}, s3 backlog {self.s3.backlog()}, faults "
                                     f"{self.faults.snapshot()['regions']})")
                time.sleep(0.05)

        wait(lambda: self.aurora.failover_state is None, "a running failover to finish")
        arn_of = lambda r: self.resources["regions"][r]["cluster_arn"]  # noqa: E731
        for r in list(self.aurora.fenced):
            if r != self.aurora.writer_region:
                self.aurora.reseed(r)
        if self.aurora.writer_region != self.primary:
            self.aurora.switchover(self.cluster_ids[self.primary], arn_of)
            wait(lambda: self.aurora.failover_state is None, "the switchover back")
            if self.aurora.writer_region != self.primary:
                raise ValueError("reset: switchover back to the primary failed")
        wait(lambda: all(st.healthy for st in self.checker.checks.values()), "health checks healthy")
        wait(lambda: self.ddb.pending() == 0 and self.s3.backlog() == 0, "replication drained")
        return {"stopped_experiments": stopped, "writer_region": self.aurora.writer_region}

    def shutdown(self) -> None:
        if hasattr(self, "apps"):
            self.apps.stop()
        for s in self.servers:
            try:
                s.shutdown()
            except Exception:  # noqa: BLE001
                pass
        for px in self.proxies:
            px.stop()


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    plan = json.loads(Path(argv[0]).read_text())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lab = Lab(plan)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        lab.start()
    except Exception:
        log.exception("lab failed to start")
        return 3
    stop.wait()
    lab.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
