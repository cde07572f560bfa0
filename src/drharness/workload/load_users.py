"""Locust users of the drill: one abstract user per protocol, a history listener, per-region counts.

Imported only inside Locust processes (through ``loadtests/locustfile.py``): importing Locust
monkey-patches the process with gevent, which the drill process must never suffer.

- ``DrHttpUser`` (abstract, FastHttpUser: geventhttpclient, ~5x less generator CPU than requests)
  holds the mixes (read-heavy, write-heavy, ...). Its two addressing modes:

  - ``RegionalUser``: the app of one region, e.g. us-west-2 to measure what the secondary serves.
  - ``FailoverDnsUser``: the failover DNS name, resolved through the target's resolver, each answer
    cached for its TTL, as a real client does. ``keepalive=True``: one pooled connection that is
    never re-resolved while it lives (what most HTTP clients do), so after the DNS flip it stays
    *pinned* to the old region while that region still answers; ``keepalive=False``: a fresh
    connection per TTL window, which follows the flip within TTL. Every request records the region
    that served it (``X-Region``) and whether it was pinned (sent to an address the current,
    TTL-honoured answer no longer names).

- ``DrPostgresUser`` (abstract): a SQL client that fires ``events.request`` like the HTTP one.

Every request is an op in the drill history (when ``DRHARNESS_LOAD_HISTORY`` is set): the user logs
the ``invoke`` before sending (so a crash leaves an unknown outcome, never a silent gap) and the
``request`` listener logs the completion: ``ok`` / ``fail`` (certainly not done) / ``info``
(unknown, e.g. a timeout after the request left). Writes use the canary vocabulary (``f="write"``,
value ``{"store": "aurora", "key", "seq"}``) under role ``load`` or, with
``DRHARNESS_LOAD_WRITE_ROLE=canary``, role ``canary`` so the RPO checker counts them as
acknowledged writes.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
import logging
import os
import random
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
import gevent
from geventhttpclient.client import HTTPClientPool
from locust import FastHttpUser, User, between, constant, events, task
from locust.contrib.fasthttp import FastHttpSession, insecure_ssl_context_factory
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import WorkerRunner

from drharness.errors import BadInput, DrHarnessError
from drharness.history import History, OpHandle
from drharness.target import Target
from drharness.workload.load_config import (
    MIXES,
    DnsUnavailable,
    LoadSettings,
    ShapeParams,
    app_endpoint,
    classify,
    load_target,
    preflight,
)

__all__ = [
    "SEED_IDS",
    "DnsCache",
    "DrHttpUser",
    "DrPostgresUser",
    "FailoverDnsReadHeavy",
    "FailoverDnsUser",
    "FailoverDnsWriteHeavy",
    "LoadRuntime",
    "RegionalPostgresReader",
    "RegionalReadHeavy",
    "RegionalUser",
    "RegionalWriteHeavy",
    "configure",
    "runtime",
]

log = logging.getLogger("drharness.load")

SEED_IDS: tuple[str, ...] = tuple(f"load-seed-{i:02d}" for i in range(16))
RECENT_IDS = 64  # acknowledged ids a user remembers to read back


# ------------------------------------------------------------------------------------------ counters


@dataclass
class RegionCounters:
    """Per-region request counts and pinning, mergeable across workers (sent with each stats report)."""

    requests: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    pinned: int = 0
    pinned_users: set[str] = field(default_factory=set)
    first_pinned_t: float | None = None
    last_pinned_t: float | None = None
    flip_t: float | None = None  # first time a user of this run saw the DNS answer change
    dns_regions: Counter[str] = field(default_factory=Counter)  # answers observed, by region
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, region: str, failed: bool, pinned: bool, user: str, t: float) -> None:
        with self._lock:
            self.requests[region] += 1
            if failed:
                self.failures[region] += 1
            if pinned:
                self.pinned += 1
                self.pinned_users.add(user)
                self.first_pinned_t = t if self.first_pinned_t is None else min(self.first_pinned_t, t)
                self.last_pinned_t = t if self.last_pinned_t is None else max(self.last_pinned_t, t)

    def saw_answer(self, region: str, changed: bool, t: float) -> None:
        with self._lock:
            self.dns_regions[region] += 1
            if changed and (self.flip_t is None or t < self.flip_t):
                self.flip_t = t

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "per_region": dict(self.requests),
                "per_region_failures": dict(self.failures),
                "requests": sum(self.requests.values()),
                "failures": sum(self.failures.values()),
                "pinned_after_flip": self.pinned,
                "pinned_users": sorted(self.pinned_users),
                "first_pinned_t": self.first_pinned_t,
                "last_pinned_t": self.last_pinned_t,
                "flip_t": self.flip_t,
                "dns_answers": dict(self.dns_regions),
            }

    def drain(self) -> dict[str, Any]:
        """Everything counted since the last drain (a worker's share of one stats report)."""
        with self._lock:
            out = {
                "requests": dict(self.requests), "failures": dict(self.failures), "pinned": self.pinned,
                "pinned_users": sorted(self.pinned_users), "first_pinned_t": self.first_pinned_t,
                "last_pinned_t": self.last_pinned_t, "flip_t": self.flip_t, "dns_regions": dict(self.dns_regions),
            }
            self.requests.clear()
            self.failures.clear()
            self.dns_regions.clear()
            self.pinned = 0
            self.pinned_users.clear()
            self.first_pinned_t = self.last_pinned_t = None
            # flip_t is a first-seen time, not a count: keep it so later reports don't lose it
            return out

    def merge(self, d: dict[str, Any]) -> None:
        with self._lock:
            self.requests.update(d.get("requests") or {})
            self.failures.update(d.get("failures") or {})
            self.dns_regions.update(d.get("dns_regions") or {})
            self.pinned += int(d.get("pinned") or 0)
            self.pinned_users.update(d.get("pinned_users") or [])
            for name, pick in (("first_pinned_t", min), ("last_pinned_t", max), ("flip_t", min)):
                theirs = d.get(name)
                if theirs is not None:
                    mine = getattr(self, name)
                    setattr(self, name, theirs if mine is None else pick(mine, theirs))


# ------------------------------------------------------------------------------------------- runtime


@dataclass
class LoadRuntime:
    """Per-process state of a run: settings, target, the history writer, counters."""

    settings: LoadSettings
    target: Target
    shape: ShapeParams | None
    history: History | None
    counters: RegionCounters = field(default_factory=RegionCounters)
    _n: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    guard: gevent.Greenlet | None = None
    seeded: bool = False

    def next_user_tag(self, environment: Environment) -> str:
        """A process name unique across users, workers and concurrent runs sharing one history."""
        runner = environment.runner
        n = next(self._n)
        if isinstance(runner, WorkerRunner):
            return f"{self.settings.run_id}w{max(0, runner.worker_index)}-{n}"
        return f"{self.settings.run_id}-{n}"

    def processes(self, tag: str) -> tuple[str, str]:
        """(read process, write process) names of one user: ``load:<tag>`` and, with the canary
        role, ``canary:load-<tag>`` so the RPO checker counts the writes but they stay distinct from
        the real canary's processes."""
        read = f"load:{tag}"
        write = read if self.settings.write_role == "load" else f"canary:load-{tag}"
        return read, write


_RUNTIME: LoadRuntime | None = None
_ENV: Environment | None = None  # set at init: tells a worker (never writes the summary) from the rest


def runtime() -> LoadRuntime:
    if _RUNTIME is None:
        raise RuntimeError("drharness load users are not configured: import them through loadtests/locustfile.py")
    return _RUNTIME


def configure(environ: dict[str, str] | None = None) -> LoadRuntime:
    """Read settings, resolve the target, check it answers, set class-level knobs, hook events.

    Called once per Locust process at locustfile import, so bad input stops Locust before it
    starts (BadInput/EnvironmentProblem propagate; the locustfile turns them into an exit code).
    """
    global _RUNTIME
    env = dict(os.environ if environ is None else environ)
    settings = LoadSettings.from_env(env)
    shape = ShapeParams.from_env(env)
    target = load_target(env)
    scheme, host, port = app_endpoint(target, settings.region)
    if settings.preflight:
        preflight(target, settings.region, settings.mode)
    history = History(settings.history) if settings.history else None

    lo, hi = settings.wait
    DrHttpUser.wait_time = constant(0) if hi == 0 else between(lo, hi)  # type: ignore[assignment]
    DrPostgresUser.wait_time = DrHttpUser.wait_time  # type: ignore[assignment]
    DrHttpUser.network_timeout = settings.timeout_s
    DrHttpUser.connection_timeout = settings.connect_timeout_s
    RegionalUser.host = f"{scheme}://{host}:{port}"
    FailoverDnsUser.host = f"{scheme}://{target.dns.name}:{port}"

    _RUNTIME = LoadRuntime(settings=settings, target=target, shape=shape, history=history)
    _hook_events()
    return _RUNTIME


# --------------------------------------------------------------------------------------- op outcomes


@dataclass
class RequestMeta:
    """What the listener needs to complete an op and count a request (passed in ``context``)."""

    user: str
    process: str
    f: str
    handle: OpHandle | None
    dest_region: str | None
    ip: str
    dns_region: str | None = None
    pinned: bool = False


def _json(response: Any) -> Any:
    try:
        text = getattr(response, "text", None)
        return json.loads(text) if text else None
    except (ValueError, TypeError):
        return None


def _on_request(request_type: str, name: str, response_time: float, response_length: int,
                response: Any = None, context: dict[str, Any] | None = None,
                exception: BaseException | None = None, **_: Any) -> None:
    meta: RequestMeta | None = (context or {}).get("drharness")
    if meta is None or _RUNTIME is None:
        return
    rt = _RUNTIME
    status = getattr(response, "status_code", None) or None
    headers = getattr(response, "headers", None)
    served = None
    if status and headers is not None:
        with contextlib.suppress(Exception):
            served = headers.get("X-Region")
    region = served or meta.dest_region or "unknown"
    body = _json(response) if (status and status >= 500 and meta.f == "write") else None
    outcome = classify(meta.f, status, exception, body)
    now = time.time()
    rt.counters.add(region, outcome != "ok", meta.pinned, meta.user, now)
    if meta.handle is not None and rt.history is not None and not meta.handle.done:
        value = dict(meta.handle.value) if isinstance(meta.handle.value, dict) else {}
        value.update({"status": status, "latency_ms": round(response_time, 2), "ip": meta.ip})
        if meta.dns_region is not None:
            value.update({"dns_region": meta.dns_region, "pinned": meta.pinned})
        if exception is not None and not status:
            value["error"] = f"{type(exception).__name__}: {str(exception)[:160]}"
        rt.history.complete(meta.handle, outcome, value, region=region)


# ------------------------------------------------------------------------------------------- events

_HOOKED = False


def _hook_events() -> None:
    global _HOOKED
    if _HOOKED:
        return
    _HOOKED = True
    events.request.add_listener(_on_request)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
    events.test_stop.add_listener(_on_test_stop)
    events.report_to_master.add_listener(_on_report_to_master)
    events.worker_report.add_listener(_on_worker_report)
    events.quitting.add_listener(_on_quit)
    events.quit.add_listener(_on_quit)


def _on_init(environment: Environment, **_: Any) -> None:
    global _ENV
    _ENV = environment
    if environment.web_ui is not None and environment.parsed_options is not None \
            and getattr(environment.parsed_options, "web_login", False):
        _enable_web_login(environment)
    # Seed now, before Locust starts its --run-time clock (at test_start the seeding would eat into
    # the run). Workers don't: the master (or the local runner) seeds once for the whole run.
    rt = runtime()
    if rt.settings.seed and not rt.seeded and not isinstance(environment.runner, WorkerRunner):
        rt.seeded = seed_orders(rt)


def _on_test_start(environment: Environment, **_: Any) -> None:
    rt = runtime()
    if isinstance(environment.runner, WorkerRunner):
        return
    # Backstop for runs started from the web UI (headless runs also have --run-time).
    runner = environment.runner
    if rt.guard is not None:
        rt.guard.kill(block=False)

    def stop() -> None:
        log.warning("drharness: run reached DRHARNESS_LOAD_MAX_RUN_S=%gs, stopping it", rt.settings.max_run_s)
        if runner is None:
            return
        if environment.parsed_options is not None and environment.parsed_options.headless:
            runner.quit()
        else:
            runner.stop()

    rt.guard = gevent.spawn_later(rt.settings.max_run_s, stop)


def _on_test_stop(environment: Environment, **_: Any) -> None:
    rt = _RUNTIME
    if rt is not None and rt.guard is not None:
        rt.guard.kill(block=False)
        rt.guard = None
    _write_summary(environment)


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if _RUNTIME is not None:
        data["drharness"] = _RUNTIME.counters.drain()


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if _RUNTIME is not None and isinstance(data.get("drharness"), dict):
        _RUNTIME.counters.merge(data["drharness"])
        _write_summary(None)


def _on_quit(*_: Any, **kw: Any) -> None:
    _write_summary(kw.get("environment"))
    if kw.get("exit_code") is not None:  # the ``quit`` event: the very end, every worker has reported
        _write_final_stats()
        if _RUNTIME is not None and _RUNTIME.history is not None:
            _RUNTIME.history.close()


def _write_final_stats() -> None:
    """``<csv prefix>_final_stats.csv``: Locust's stats CSV as of the end of the run.

    Why: Locust rewrites ``_stats.csv`` once a second from a background greenlet, so the file it
    leaves can miss the last second of requests (and, distributed, the workers' final reports).
    Same columns; ``load.parse_stats_csv`` prefers this file when it exists.
    """
    env = _ENV
    if env is None or isinstance(env.runner, WorkerRunner) or env.parsed_options is None:
        return
    prefix = getattr(env.parsed_options, "csv_prefix", None)
    if not prefix:
        return
    import csv

    from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

    path = Path(f"{prefix}_final_stats.csv")
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        StatsCSV(env, PERCENTILES_TO_REPORT).requests_csv(csv.writer(fh))
    os.replace(tmp, path)


def _write_summary(environment: Environment | None) -> None:
    """Write the run's per-region counts (master/local only: a worker's counts go to the master)."""
    rt = _RUNTIME
    if rt is None or rt.settings.summary is None:
        return
    env = environment or _ENV
    if env is not None and isinstance(env.runner, WorkerRunner):
        return
    doc = {"schema": "drharness.load-summary/1", "run_id": rt.settings.run_id, "mode": rt.settings.mode,
           "region": rt.settings.region, "keepalive": rt.settings.keepalive,
           "write_role": rt.settings.write_role, "dns_name": rt.target.dns.name,
           "shape": rt.shape.kind if rt.shape else None, "written_at": time.time(), **rt.counters.to_dict()}
    path = rt.settings.summary
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)


def _enable_web_login(environment: Environment) -> None:
    """``--web-login``: a username/password form (DRHARNESS_LOAD_UI_USER / _PASSWORD).

    Why: the UI can start load against production; on a shared host anyone who reaches the port
    could. The password comes from the environment, never the command line (``ps`` shows that).
    """
    from flask import Blueprint, redirect, request, session, url_for
    from flask_login import UserMixin, login_user

    rt = runtime()
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None and environment.parsed_options is not None
    app = web_ui.app
    password = rt.settings.ui_password
    if not password:  # the locustfile refuses to start without one; keep a locked door regardless
        password = secrets.token_urlsafe(24)
    base = getattr(environment.parsed_options, "web_base_path", "") or ""

    class _Operator(UserMixin):
        def __init__(self, username: str) -> None:
            self.username = username

        def get_id(self) -> str:
            return self.username

    web_ui.login_manager.user_loader(lambda name: _Operator(name) if name == rt.settings.ui_user else None)
    app.config["SECRET_KEY"] = os.environ.get("FLASK_SECRET_KEY") or secrets.token_hex(32)
    web_ui.auth_args = {"username_password_callback": f"{base}/login_submit"}
    bp = Blueprint("drharness_auth", __name__, url_prefix=base)

    @bp.route("/login_submit", methods=["POST"])
    def login_submit() -> Any:
        user = request.form.get("username", "")
        given = request.form.get("password", "")
        if hmac.compare_digest(user.encode(), rt.settings.ui_user.encode()) and \
                hmac.compare_digest(given.encode(), password.encode()):
            login_user(_Operator(user))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))

    app.register_blueprint(bp)


# ---------------------------------------------------------------------------------------------- seed


def seed_orders(rt: LoadRuntime, deadline_s: float = 10.0, concurrency: int = 8) -> bool:
    """Create the orders that read tasks read (idempotent upserts), in whichever region takes writes.

    Why: the secondary is a read replica and refuses writes, so reads of us-west-2 need data written
    in the writer region first. Logged as acknowledged writes like any other (one process per seed
    order, so concurrent seeding pairs cleanly). Bounded by ``deadline_s`` whatever the regions do;
    skipped when an earlier run already seeded this target.
    """
    if _seeded_already(rt):
        return True
    from gevent.pool import Pool

    deadline = time.monotonic() + deadline_s
    regions = [rt.target.primary_region, rt.target.secondary_region]

    def seed_one(seq: int) -> bool:
        key = SEED_IDS[seq]
        proc = rt.processes(f"{rt.settings.run_id}-seed{seq}")[1]
        for region in regions:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            url = rt.target.regions[region].app_url.rstrip("/") + "/orders"
            value = {"store": "aurora", "key": key, "seq": seq}
            handle = rt.history.invoke(proc, "write", value, region=region) if rt.history else None
            req = urllib.request.Request(url, data=json.dumps({"id": key, "source": "locust-seed"}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            status, body, exc = None, None, None
            try:
                with urllib.request.urlopen(req, timeout=min(3.0, max(0.1, left))) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status, body = e.code, _json_bytes(e.read())
            except OSError as e:
                exc = e
            outcome = classify("write", status, exc, body)
            if handle is not None and rt.history is not None:
                rt.history.complete(handle, outcome, {**value, "status": status}, region=region)
            if outcome == "ok":
                return True
        return False

    done = sum(Pool(concurrency).map(seed_one, range(len(SEED_IDS))))
    if done < len(SEED_IDS):
        log.warning("drharness: only %d/%d seed orders written within %gs (no writable region?): "
                    "reads of the others will 404", done, len(SEED_IDS), deadline_s)
    return done == len(SEED_IDS)


def _seeded_already(rt: LoadRuntime) -> bool:
    """The last seed order is readable in the load region: an earlier run seeded (one request
    instead of sixteen writes at every start)."""
    url = rt.target.regions[rt.settings.region].app_url.rstrip("/") + f"/orders/{SEED_IDS[-1]}"
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            body = _json_bytes(r.read())
    except (OSError, ValueError):
        return False
    stores = body.get("stores") if isinstance(body, dict) else None
    return isinstance(stores, dict) and all(isinstance(v, dict) and "error" not in v for v in stores.values())


def _json_bytes(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------- HTTP users


class DrHttpUser(FastHttpUser):
    """Abstract HTTP user of the orders app: the mixes, op logging; subclasses say where to send."""

    abstract = True
    mix: ClassVar[str] = "read-heavy"
    network_timeout = 5.0
    connection_timeout = 2.0
    max_retries = 0  # a retry would hide exactly the errors a drill is looking for

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        rt = runtime()
        self.rt = rt
        self.tag = rt.next_user_tag(environment)
        self.read_process, self.write_process = rt.processes(self.tag)
        self.seq = 0
        self.sent = 0
        self.recent: deque[str] = deque(maxlen=RECENT_IDS)
        weights = MIXES[rt.settings.mix or self.mix]
        self._actions: list[Callable[[], None]] = [getattr(self, f"do_{k}") for k in weights]
        self._weights = list(weights.values())

    # -- tasks
    @task
    def step(self) -> None:
        if self.sent >= self.rt.settings.max_requests:
            raise StopUser()
        self.sent += 1
        random.choices(self._actions, self._weights)[0]()

    def do_health(self) -> None:
        self.call("GET", "/health", "/health", f="read")

    def do_read(self) -> None:
        key = random.choice(self.recent) if self.recent and random.random() < 0.5 else random.choice(SEED_IDS)
        self.call("GET", f"/orders/{key}", "/orders/[id]", f="read")

    def do_write(self) -> None:
        self.seq += 1
        key = f"load-{self.tag}-{self.seq}"
        body = {"id": key, "source": "locust", "seq": self.seq, "user": self.tag}
        resp = self.call("POST", "/orders", "/orders", f="write", body=body,
                         value={"store": "aurora", "key": key, "seq": self.seq})
        if resp is not None and getattr(resp, "status_code", 0) == 201:
            self.recent.append(key)

    # -- transport
    def route(self) -> tuple[FastHttpSession, RequestMeta]:
        """The session to send with and what to record; raises DnsUnavailable if there is none."""
        raise NotImplementedError

    def call(self, method: str, path: str, name: str, *, f: str, body: Any = None,
             value: dict[str, Any] | None = None) -> Any:
        """Send one request as one history op (invoke here, completion in the request listener)."""
        started = time.time()
        try:
            session, meta = self.route()
        except DnsUnavailable as exc:
            meta = RequestMeta(self.tag, self.write_process if f == "write" else self.read_process, f, None,
                               None, "")
            self._log_invoke(meta, method, name, value)
            self.environment.events.request.fire(
                request_type=method, name=name, response_time=(time.time() - started) * 1000,
                response_length=0, response=None, context={"drharness": meta}, exception=exc,
                start_time=started, url=path)
            return None
        meta.process = self.write_process if f == "write" else self.read_process
        meta.f = f
        self._log_invoke(meta, method, name, value)
        resp = session.request(method, path, name=name, json=body, context={"drharness": meta},
                               headers=self.extra_headers())
        self.after(resp)
        return resp

    def _log_invoke(self, meta: RequestMeta, method: str, name: str, value: dict[str, Any] | None) -> None:
        h = self.rt.history
        if h is not None:
            v = value if value is not None else {"name": f"{method} {name}"}
            meta.handle = h.invoke(meta.process, meta.f, v, region=meta.dest_region)

    def extra_headers(self) -> dict[str, str] | None:
        return None

    def after(self, resp: Any) -> None:
        """Hook after each request (the failover user drops a broken connection here)."""


class RegionalUser(DrHttpUser):
    """Abstract: the app of one region (``DRHARNESS_LOAD_REGION``, default us-west-2)."""

    abstract = True

    def on_start(self) -> None:
        # --host (or the UI's host field) may override the class host: label requests with the
        # region of the address actually used (the X-Region answer still wins in the listener).
        region = self.rt.settings.region
        _scheme, app_host, _port = app_endpoint(self.rt.target, region)
        self.ip = urlsplit(self.host or "").hostname or ""
        self.dest_region = region if self.ip == app_host else self.rt.target.region_of_ip(self.ip)

    def route(self) -> tuple[FastHttpSession, RequestMeta]:
        return self.client, RequestMeta(self.tag, "", "", None, self.dest_region, self.ip)


@dataclass
class DnsAnswer:
    ip: str
    ttl: int
    expires: float  # time.monotonic() after which the answer must be fetched again


class DnsCache:
    """One client's view of the failover name: resolved through the target's resolver, cached for
    the record's TTL (never longer), the previous answer kept if a refresh fails (stale-if-error,
    retried at most once per second), as stub resolvers do."""

    def __init__(self, name: str, resolver_host: str | None, resolver_port: int, timeout_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.clock = clock
        self.resolver = dns.resolver.Resolver(configure=resolver_host is None)
        if resolver_host is not None:
            self.resolver.nameservers = [resolver_host]
            self.resolver.port = resolver_port
        self.answer: DnsAnswer | None = None
        self.lookups = 0
        self.errors = 0

    def lookup(self) -> tuple[DnsAnswer, bool]:
        """(current answer, whether it changed with this call)."""
        now = self.clock()
        if self.answer is not None and now < self.answer.expires:
            return self.answer, False
        self.lookups += 1
        try:
            res = self.resolver.resolve(self.name, "A", lifetime=self.timeout_s, search=False)
            assert res.rrset is not None
            ip, ttl = str(res[0]), int(res.rrset.ttl)
        except (dns.exception.DNSException, OSError, AssertionError) as exc:
            self.errors += 1
            if self.answer is None:
                raise DnsUnavailable(f"cannot resolve {self.name}: {type(exc).__name__}: {exc}") from None
            self.answer = DnsAnswer(self.answer.ip, self.answer.ttl, now + 1.0)
            return self.answer, False
        old = self.answer
        self.answer = DnsAnswer(ip, ttl, now + max(0, ttl))
        return self.answer, old is not None and old.ip != ip


class FailoverDnsUser(DrHttpUser):
    """Abstract: the failover DNS name, as a real client sees it (see the module docstring).

    ``DRHARNESS_LOAD_KEEPALIVE=1`` (default): one keep-alive connection, re-resolved only when it
    breaks; ``0``: a fresh connection at each TTL expiry.
    """

    abstract = True

    def on_start(self) -> None:
        t = self.rt.target
        self.scheme, _host, self.port = app_endpoint(t, self.rt.settings.region)
        self.dns = DnsCache(t.dns.name, t.dns.resolver_host, t.dns.resolver_port,
                            min(2.0, self.rt.settings.timeout_s))
        self.keepalive = self.rt.settings.keepalive
        self.conn_ip: str | None = None
        self.conn_until = 0.0  # keepalive=False: end of the TTL window of this connection
        self.session: FastHttpSession | None = None
        self.pool: HTTPClientPool | None = None
        self.reconnects = 0
        self.seen_ip: str | None = None  # last answer logged to the history

    def on_stop(self) -> None:
        self._close()

    def _close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.pool = self.session = None
        self.conn_ip = None

    def _connect(self, ip: str) -> FastHttpSession:
        """A new pool (so a new TCP connection) to ``ip``, speaking to the name (Host header, SNI)."""
        self._close()
        self.reconnects += 1
        s = self.rt.settings
        self.pool = HTTPClientPool(
            concurrency=1, network_timeout=s.timeout_s, connection_timeout=s.connect_timeout_s,
            insecure=True, ssl_context_factory=insecure_ssl_context_factory,
            ssl_options={"server_hostname": self.rt.target.dns.name})
        self.session = FastHttpSession(
            base_url=f"{self.scheme}://{ip}:{self.port}", request_event=self.environment.events.request,
            user=self, client_pool=self.pool, max_retries=0, max_redirects=0)
        self.conn_ip = ip
        return self.session

    def route(self) -> tuple[FastHttpSession, RequestMeta]:
        answer, changed = self.dns.lookup()
        t = self.rt.target
        dns_region = t.region_of_ip(answer.ip)
        if answer.ip != self.seen_ip:
            self._observe(answer, dns_region, changed=self.seen_ip is not None)
            self.seen_ip = answer.ip
        now = self.dns.clock()
        if self.session is None or self.conn_ip is None or not self.keepalive and now >= self.conn_until:
            session = self._connect(answer.ip)
            self.conn_until = answer.expires
        else:
            session = self.session
        ip = self.conn_ip or answer.ip
        return session, RequestMeta(self.tag, "", "", None, t.region_of_ip(ip), ip, dns_region,
                                    pinned=ip != answer.ip)

    def _observe(self, answer: DnsAnswer, region: str | None, changed: bool) -> None:
        """Log the answer like the prober does (bare ``ok``, f="dns") and count it."""
        self.rt.counters.saw_answer(region or "unknown", changed, time.time())
        h = self.rt.history
        if h is not None:
            h.append(self.read_process, "ok", "dns",
                     {"name": self.dns.name, "answer": answer.ip, "ttl": answer.ttl, "region": region})

    def extra_headers(self) -> dict[str, str]:
        default = 443 if self.scheme == "https" else 80
        name = self.rt.target.dns.name
        return {"Host": name if self.port == default else f"{name}:{self.port}"}

    def after(self, resp: Any) -> None:
        # A broken connection is re-opened on the next request, re-resolving (through the cache):
        # that is the only way a keep-alive client ever leaves a region.
        if resp is not None and not getattr(resp, "status_code", 0):
            self._close()


class RegionalReadHeavy(RegionalUser):
    """Mostly GET /orders/<id> and /health on one region's app (default us-west-2)."""

    mix = "read-heavy"


class RegionalWriteHeavy(RegionalUser):
    """Mostly POST /orders on one region's app (a secondary refuses writes until promoted: 503)."""

    mix = "write-heavy"


class FailoverDnsReadHeavy(FailoverDnsUser):
    """Read-heavy mix through the failover DNS name."""

    mix = "read-heavy"


class FailoverDnsWriteHeavy(FailoverDnsUser):
    """Write-heavy mix through the failover DNS name: acknowledged writes feed the RPO checker."""

    mix = "write-heavy"


# ------------------------------------------------------------------------------------ Postgres users


class PostgresClient:
    """Runs SQL on one DSN and fires ``events.request`` (request_type "SQL"), like the HTTP client."""

    def __init__(self, dsn: str, environment: Environment, timeout_s: float) -> None:
        import psycopg

        self.psycopg = psycopg
        self.dsn = dsn
        self.environment = environment
        self.timeout_s = timeout_s
        self.conn: Any = None

    def execute(self, name: str, sql: str, args: tuple[Any, ...], meta: RequestMeta) -> Any:
        started = time.time()
        t0 = time.perf_counter()
        exc: BaseException | None = None
        rows: Any = None
        try:
            if self.conn is None or self.conn.closed:
                self.conn = self.psycopg.connect(self.dsn, autocommit=True, connect_timeout=max(1, int(self.timeout_s)),
                                                 options=f"-c statement_timeout={int(self.timeout_s * 1000)}")
            rows = self.conn.execute(sql, args).fetchall()  # type: ignore[call-overload]
        except self.psycopg.Error as e:
            exc = e
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
        status = 200 if exc is None else None
        self.environment.events.request.fire(
            request_type="SQL", name=name, response_time=(time.perf_counter() - t0) * 1000,
            response_length=len(rows or ()), response=_SqlResponse(status, meta.dest_region),
            context={"drharness": meta}, exception=exc, start_time=started, url=name)
        return rows

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()


@dataclass
class _SqlResponse:
    """Enough of a response for the listener: a status for success and the region that answered."""

    status_code: int | None
    region: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Region": self.region} if self.region else {}


class DrPostgresUser(User):
    """Abstract SQL user: reads the region's Aurora endpoint (a replica on the secondary)."""

    abstract = True

    def on_start(self) -> None:
        rt = runtime()
        self.rt = rt
        self.tag = rt.next_user_tag(self.environment)
        self.read_process, _ = rt.processes(self.tag)
        self.region = rt.settings.region
        if self.region not in rt.target.regions:
            raise BadInput(f"unknown region {self.region!r}")
        self.pg = PostgresClient(rt.target.regions[self.region].pg_dsn, self.environment, rt.settings.timeout_s)

    def on_stop(self) -> None:
        self.pg.close()

    def query(self, name: str, sql: str, *args: Any) -> Any:
        meta = RequestMeta(self.tag, self.read_process, "read", None, self.region, "")
        if self.rt.history is not None:
            meta.handle = self.rt.history.invoke(self.read_process, "read", {"name": f"SQL {name}"},
                                                 region=self.region)
        return self.pg.execute(name, sql, args, meta)


class RegionalPostgresReader(DrPostgresUser):
    """Reads orders from the region's Aurora endpoint: replica lag and read capacity under load."""

    @task(4)
    def read_order(self) -> None:
        self.query("select order", "SELECT payload FROM orders WHERE id = %s", random.choice(SEED_IDS))

    @task(1)
    def in_recovery(self) -> None:
        self.query("pg_is_in_recovery", "SELECT pg_is_in_recovery()")


def fail_fast(exc: DrHarnessError) -> None:
    """Print one line and exit with the error's code (2 bad input, 3 environment): no traceback."""
    sys.stderr.write(f"drharness load: {exc}\n")
    sys.stderr.flush()
    raise SystemExit(exc.exit_code)
