"""Settings of a Locust load run, read and checked *before* a single request is sent.

Why environment variables: Locust runs the locustfile in several processes (the local runner, a
master, N workers, the web UI) that we start as subprocesses; the environment reaches all of them
unchanged, and Locust's own command line stays Locust's. Why a separate module: this one never
imports Locust (importing Locust monkey-patches the whole process with gevent), so the drill, the
CLI and unit tests can validate settings and shapes without that side effect.

Two families of variables:

- ``DRHARNESS_LOAD_*``: what each simulated user does (region, mode of addressing, history, ...).
- ``DRHARNESS_SHAPE*``: the load shape (``steady``, ``ramp``, ``drill``) and its parameters.

A misspelt variable of either family is refused (``BadInput``, exit 2) instead of silently ignored:
a drill that ran with the default by accident measures the wrong thing.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from drharness.errors import BadInput, EnvironmentProblem
from drharness.target import DnsTarget, RegionTarget, Target, resolve_target

__all__ = [
    "DnsUnavailable",
    "Outcome",
    "classify",
    "ENV_HISTORY",
    "ENV_KEEPALIVE",
    "ENV_MIX",
    "ENV_REGION",
    "ENV_SUMMARY",
    "ENV_TARGET_FILE",
    "LOAD_VARS",
    "MAX_SECONDS",
    "MAX_USERS",
    "MIXES",
    "SHAPES",
    "SHAPE_VARS",
    "WRITE_ROLES",
    "LoadSettings",
    "ShapeParams",
    "app_endpoint",
    "load_target",
    "preflight",
    "refused",
    "target_from_json",
    "target_to_json",
]

# ------------------------------------------------------------------------------------------- names

ENV_TARGET: Final = "DRHARNESS_TARGET"  # local | aws (the CLI's --target)
ENV_ENV_DIR: Final = "DRHARNESS_ENV"  # Terraform environment dir for aws (the CLI's --env)
ENV_TARGET_FILE: Final = "DRHARNESS_LOAD_TARGET_FILE"  # a Target serialised by run_headless/start_ui
ENV_REGION: Final = "DRHARNESS_LOAD_REGION"
ENV_MODE: Final = "DRHARNESS_LOAD_MODE"
ENV_HISTORY: Final = "DRHARNESS_LOAD_HISTORY"
ENV_WRITE_ROLE: Final = "DRHARNESS_LOAD_WRITE_ROLE"
ENV_KEEPALIVE: Final = "DRHARNESS_LOAD_KEEPALIVE"
ENV_MIX: Final = "DRHARNESS_LOAD_MIX"
ENV_WAIT: Final = "DRHARNESS_LOAD_WAIT"
ENV_TIMEOUT: Final = "DRHARNESS_LOAD_TIMEOUT_S"
ENV_CONNECT_TIMEOUT: Final = "DRHARNESS_LOAD_CONNECT_TIMEOUT_S"
ENV_SUMMARY: Final = "DRHARNESS_LOAD_SUMMARY"
ENV_RUN_ID: Final = "DRHARNESS_LOAD_RUN_ID"
ENV_MAX_RUN_S: Final = "DRHARNESS_LOAD_MAX_RUN_S"
ENV_MAX_REQUESTS: Final = "DRHARNESS_LOAD_MAX_REQUESTS"
ENV_PREFLIGHT: Final = "DRHARNESS_LOAD_PREFLIGHT"
ENV_SEED: Final = "DRHARNESS_LOAD_SEED"
ENV_UI_USER: Final = "DRHARNESS_LOAD_UI_USER"
ENV_UI_PASSWORD: Final = "DRHARNESS_LOAD_UI_PASSWORD"

LOAD_VARS: Final[frozenset[str]] = frozenset({
    ENV_TARGET_FILE, ENV_REGION, ENV_MODE, ENV_HISTORY, ENV_WRITE_ROLE, ENV_KEEPALIVE, ENV_MIX, ENV_WAIT,
    ENV_TIMEOUT, ENV_CONNECT_TIMEOUT, ENV_SUMMARY, ENV_RUN_ID, ENV_MAX_RUN_S, ENV_MAX_REQUESTS,
    ENV_PREFLIGHT, ENV_SEED, ENV_UI_USER, ENV_UI_PASSWORD,
})

MODES: Final[tuple[str, ...]] = ("regional", "failover-dns")
WRITE_ROLES: Final[tuple[str, ...]] = ("load", "canary")

# Task weights of each mix. read = GET /orders/<id>, health = GET /health, write = POST /orders.
MIXES: Final[dict[str, dict[str, int]]] = {
    "read-heavy": {"read": 7, "health": 2, "write": 1},
    "write-heavy": {"write": 7, "read": 2, "health": 1},
    "health": {"health": 1},  # the cheapest read path: benchmarks
    "read": {"read": 1},  # GET /orders/<id> only: benchmarks
    "write": {"write": 1},
}

# Hard ceilings: every load loop is bounded in count and in time, even when misconfigured.
MAX_USERS: Final = 10_000
MAX_SECONDS: Final = 24 * 3600.0
MAX_SPAWN_RATE: Final = 10_000.0
DEFAULT_MAX_RUN_S: Final = 3600.0
DEFAULT_MAX_REQUESTS: Final = 1_000_000


# ------------------------------------------------------------------------------------------ parsing


def _num(environ: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name} must be a number from {lo:g} to {hi:g}, got {raw!r}") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise BadInput(f"{name} must be a number from {lo:g} to {hi:g}, got {raw!r}")
    return value


def _int(environ: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"{name} must be a whole number from {lo} to {hi}, got {raw!r}") from None
    if not lo <= value <= hi:
        raise BadInput(f"{name} must be a whole number from {lo} to {hi}, got {raw!r}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise BadInput(f"{name} must be true or false (1/0), got {raw!r}")


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...] | list[str]) -> str:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw not in choices:
        raise BadInput(f"{name}={raw!r} is not known: choose one of {', '.join(choices)}")
    return raw


def _unknown(environ: Mapping[str, str], prefix: str, known: frozenset[str], hint: str) -> None:
    stray = sorted(k for k in environ if k.startswith(prefix) and k not in known)
    if stray:
        raise BadInput(f"unknown setting(s) {', '.join(stray)}: {hint}")


# ----------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class LoadSettings:
    """What every simulated user of one run does; the same in every Locust process of the run."""

    region: str = "us-west-2"  # regional mode: the app this region serves (DRHARNESS_LOAD_REGION)
    mode: str = "regional"  # regional | failover-dns: default user classes of the UI / helpers
    history: Path | None = None  # JSONL history to append ops to (None: no history)
    write_role: str = "load"  # load | canary: role of the write ops (canary: the RPO checker counts them)
    keepalive: bool = True  # failover-dns: keep one connection (pinned) vs a fresh one per TTL window
    mix: str | None = None  # override every user class's own mix (benchmarks)
    wait: tuple[float, float] = (0.05, 0.25)  # think time between tasks, seconds (min, max)
    timeout_s: float = 5.0  # whole request; a timed-out write is logged info (unknown outcome)
    connect_timeout_s: float = 2.0
    summary: Path | None = None  # per-region counts and pinning, written by the master/local runner
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    max_run_s: float = DEFAULT_MAX_RUN_S  # backstop for runs started from the web UI
    max_requests: int = DEFAULT_MAX_REQUESTS  # per user
    preflight: bool = True  # check the app / DNS answer before starting
    seed: bool = True  # create the seed orders the read tasks read
    ui_user: str = "drharness"
    ui_password: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoadSettings:
        """Read and validate ``DRHARNESS_LOAD_*``; raises BadInput naming the variable."""
        env = os.environ if environ is None else environ
        _unknown(env, "DRHARNESS_LOAD_", LOAD_VARS, f"known DRHARNESS_LOAD_* settings are {', '.join(sorted(LOAD_VARS))}")
        wait = cls.wait
        raw_wait = env.get(ENV_WAIT)
        if raw_wait:
            parts = raw_wait.split(",")
            try:
                lo, hi = (float(parts[0]), float(parts[-1])) if len(parts) in (1, 2) else (-1.0, -1.0)
            except ValueError:
                lo, hi = -1.0, -1.0
            if not (0 <= lo <= hi <= 60 and math.isfinite(hi)):
                raise BadInput(f"{ENV_WAIT} must be 'min,max' seconds with 0 <= min <= max <= 60, got {raw_wait!r}")
            wait = (lo, hi)
        mix = env.get(ENV_MIX) or None
        if mix is not None and mix not in MIXES:
            raise BadInput(f"{ENV_MIX}={mix!r} is not known: choose one of {', '.join(MIXES)}")
        run_id = env.get(ENV_RUN_ID) or secrets.token_hex(3)
        if not run_id.replace("-", "").isalnum() or len(run_id) > 32:
            raise BadInput(f"{ENV_RUN_ID} must be up to 32 letters/digits, got {run_id!r}")
        history = env.get(ENV_HISTORY) or None
        summary = env.get(ENV_SUMMARY) or None
        return cls(
            region=env.get(ENV_REGION) or "us-west-2",
            mode=_choice(env, ENV_MODE, "regional", MODES),
            history=Path(history) if history else None,
            write_role=_choice(env, ENV_WRITE_ROLE, "load", WRITE_ROLES),
            keepalive=_bool(env, ENV_KEEPALIVE, True),
            mix=mix,
            wait=wait,
            timeout_s=_num(env, ENV_TIMEOUT, 5.0, 0.1, 120.0),
            connect_timeout_s=_num(env, ENV_CONNECT_TIMEOUT, 2.0, 0.1, 60.0),
            summary=Path(summary) if summary else None,
            run_id=run_id,
            max_run_s=_num(env, ENV_MAX_RUN_S, DEFAULT_MAX_RUN_S, 1.0, MAX_SECONDS),
            max_requests=_int(env, ENV_MAX_REQUESTS, DEFAULT_MAX_REQUESTS, 1, 10**9),
            preflight=_bool(env, ENV_PREFLIGHT, True),
            seed=_bool(env, ENV_SEED, True),
            ui_user=env.get(ENV_UI_USER) or "drharness",
            ui_password=env.get(ENV_UI_PASSWORD) or None,
        )


# ------------------------------------------------------------------------------------------- shapes

SHAPES: Final[tuple[str, ...]] = ("steady", "ramp", "drill")
ENV_SHAPE: Final = "DRHARNESS_SHAPE"
_SHAPE_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "steady": ("USERS", "SPAWN_RATE", "SECONDS"),
    "ramp": ("USERS", "SPAWN_RATE", "SECONDS", "RAMP_S", "START_USERS"),
    "drill": ("USERS", "SPAWN_RATE", "SECONDS", "WARMUP_S", "SURGE_AT_S", "SURGE_S", "SURGE_USERS"),
}
SHAPE_VARS: Final[frozenset[str]] = frozenset(
    {ENV_SHAPE} | {f"{ENV_SHAPE}_{k}" for keys in _SHAPE_KEYS.values() for k in keys}
)


@dataclass(frozen=True)
class ShapeParams:
    """A load shape as a pure schedule ``t -> users`` (the LoadTestShape classes only wrap it).

    - ``steady``: ``users`` for ``seconds``.
    - ``ramp``: linear from ``start_users`` to ``users`` over ``ramp_s``, then ``users`` until
      ``seconds`` (peak capacity: where does p95 bend?).
    - ``drill``: linear warm-up to ``users`` over ``warmup_s``, ``users`` until ``seconds``, with an
      optional surge of ``surge_users`` during ``[surge_at_s, surge_at_s + surge_s)``: the retry storm
      when every client moves to the new region at once. Keep ``seconds`` longer than the expected
      detection + promotion + DNS TTL, so the load is still running when the new region takes it.
    """

    kind: str
    users: int
    seconds: float
    spawn_rate: float
    ramp_s: float = 0.0
    start_users: int = 0
    warmup_s: float = 0.0
    surge_at_s: float | None = None
    surge_s: float = 0.0
    surge_users: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise BadInput for a schedule that cannot run as written (never clamp silently)."""
        p = f"{ENV_SHAPE}_"
        if self.kind not in SHAPES:
            raise BadInput(f"{ENV_SHAPE}={self.kind!r} is not a known shape: choose one of {', '.join(SHAPES)}")
        if not 1 <= self.users <= MAX_USERS:
            raise BadInput(f"{p}USERS must be a whole number from 1 to {MAX_USERS}, got {self.users}")
        if not (math.isfinite(self.seconds) and 1 <= self.seconds <= MAX_SECONDS):
            raise BadInput(f"{p}SECONDS must be from 1 to {MAX_SECONDS:g}, got {self.seconds}")
        if not (math.isfinite(self.spawn_rate) and 0 < self.spawn_rate <= MAX_SPAWN_RATE):
            raise BadInput(f"{p}SPAWN_RATE must be > 0 and <= {MAX_SPAWN_RATE:g}, got {self.spawn_rate}")
        if self.kind == "ramp":
            if not 0 < self.ramp_s <= self.seconds:
                raise BadInput(f"{p}RAMP_S must be > 0 and <= {p}SECONDS ({self.seconds:g}), got {self.ramp_s}")
            if not 0 <= self.start_users <= self.users:
                raise BadInput(f"{p}START_USERS must be from 0 to {p}USERS ({self.users}), got {self.start_users}")
        if self.kind == "drill":
            if not 0 <= self.warmup_s < self.seconds:
                raise BadInput(f"{p}WARMUP_S must be >= 0 and < {p}SECONDS ({self.seconds:g}), got {self.warmup_s}")
            if self.surge_at_s is not None:
                if not self.warmup_s <= self.surge_at_s < self.seconds:
                    raise BadInput(f"{p}SURGE_AT_S must be within [{p}WARMUP_S, {p}SECONDS) = "
                                   f"[{self.warmup_s:g}, {self.seconds:g}), got {self.surge_at_s}")
                if not 0 < self.surge_s <= self.seconds - self.surge_at_s:
                    raise BadInput(f"{p}SURGE_S must be > 0 and end by {p}SECONDS "
                                   f"(at most {self.seconds - self.surge_at_s:g}), got {self.surge_s}")
                if not 1 <= self.surge_users <= MAX_USERS:
                    raise BadInput(f"{p}SURGE_USERS must be from 1 to {MAX_USERS}, got {self.surge_users}")
            elif self.surge_s:
                raise BadInput(f"{p}SURGE_S needs {p}SURGE_AT_S (when the surge starts)")

    def users_at(self, t: float) -> int | None:
        """Users wanted ``t`` seconds into the run; None once the run is over."""
        if t >= self.seconds:
            return None
        if self.kind == "ramp" and t < self.ramp_s:
            return self.start_users + int((self.users - self.start_users) * t / self.ramp_s)
        if self.kind == "drill":
            if t < self.warmup_s:
                return max(1, int(self.users * t / self.warmup_s))
            if self.surge_at_s is not None and self.surge_at_s <= t < self.surge_at_s + self.surge_s:
                return self.surge_users
        return self.users

    def tick(self, t: float) -> tuple[int, float] | None:
        """What ``LoadTestShape.tick`` returns: (users, spawn rate) or None to stop."""
        users = self.users_at(t)
        return None if users is None else (users, self.spawn_rate)

    @property
    def peak_users(self) -> int:
        return max(self.users, self.surge_users if self.surge_at_s is not None else 0)

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces this shape in a Locust process."""
        env = {ENV_SHAPE: self.kind, f"{ENV_SHAPE}_USERS": str(self.users),
               f"{ENV_SHAPE}_SECONDS": repr(self.seconds), f"{ENV_SHAPE}_SPAWN_RATE": repr(self.spawn_rate)}
        if self.kind == "ramp":
            env[f"{ENV_SHAPE}_RAMP_S"] = repr(self.ramp_s)
            env[f"{ENV_SHAPE}_START_USERS"] = str(self.start_users)
        if self.kind == "drill":
            env[f"{ENV_SHAPE}_WARMUP_S"] = repr(self.warmup_s)
            if self.surge_at_s is not None:
                env[f"{ENV_SHAPE}_SURGE_AT_S"] = repr(self.surge_at_s)
                env[f"{ENV_SHAPE}_SURGE_S"] = repr(self.surge_s)
                env[f"{ENV_SHAPE}_SURGE_USERS"] = str(self.surge_users)
        return env

    @classmethod
    def build(cls, kind: str, users: int, seconds: float, spawn_rate: float | None = None,
              **extra: float | int | None) -> ShapeParams:
        """From keyword arguments (the library API); unknown keywords are refused like unknown vars."""
        if kind not in SHAPES:
            raise BadInput(f"unknown shape {kind!r}: choose one of {', '.join(SHAPES)}")
        allowed = {k.lower() for k in _SHAPE_KEYS[kind]} - {"users", "seconds", "spawn_rate"}
        stray = sorted(set(extra) - allowed)
        if stray:
            raise BadInput(f"shape {kind!r} takes no parameter(s) {', '.join(stray)} "
                           f"(it takes {', '.join(sorted(allowed)) or 'only users, seconds, spawn_rate'})")
        env = {ENV_SHAPE: kind, f"{ENV_SHAPE}_USERS": str(users), f"{ENV_SHAPE}_SECONDS": str(seconds)}
        if spawn_rate is not None:
            env[f"{ENV_SHAPE}_SPAWN_RATE"] = str(spawn_rate)
        env.update({f"{ENV_SHAPE}_{k.upper()}": str(v) for k, v in extra.items() if v is not None})
        params = cls.from_env(env)
        assert params is not None
        return params

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ShapeParams | None:
        """The shape named by ``DRHARNESS_SHAPE`` (None when unset: plain -u/-r/--run-time)."""
        env = os.environ if environ is None else environ
        _unknown(env, ENV_SHAPE, SHAPE_VARS, f"known shape settings are {', '.join(sorted(SHAPE_VARS))}")
        kind = env.get(ENV_SHAPE)
        if not kind:
            stray = sorted(k for k in env if k.startswith(ENV_SHAPE + "_"))
            if stray:
                raise BadInput(f"{', '.join(stray)} set but {ENV_SHAPE} is not: name the shape "
                               f"({', '.join(SHAPES)})")
            return None
        if kind not in SHAPES:
            raise BadInput(f"{ENV_SHAPE}={kind!r} is not a known shape: choose one of {', '.join(SHAPES)}")
        allowed = {f"{ENV_SHAPE}_{k}" for k in _SHAPE_KEYS[kind]}
        stray = sorted(k for k in env if k.startswith(ENV_SHAPE + "_") and k not in allowed)
        if stray:
            verb = "does" if len(stray) == 1 else "do"
            raise BadInput(f"{', '.join(stray)} {verb} not apply to shape {kind!r} "
                           f"(it reads {', '.join(sorted(allowed))})")
        p = f"{ENV_SHAPE}_"
        users = _int(env, p + "USERS", 10, 1, MAX_USERS)
        seconds = _num(env, p + "SECONDS", 60.0, 1.0, MAX_SECONDS)
        spawn_rate = _num(env, p + "SPAWN_RATE", float(max(1, users)), 1e-6, MAX_SPAWN_RATE)
        kw: dict[str, Any] = {}
        if kind == "ramp":
            kw["ramp_s"] = _num(env, p + "RAMP_S", seconds, 0.0, MAX_SECONDS)
            kw["start_users"] = _int(env, p + "START_USERS", 0, 0, MAX_USERS)
        if kind == "drill":
            kw["warmup_s"] = _num(env, p + "WARMUP_S", min(10.0, seconds / 5), 0.0, MAX_SECONDS)
            if env.get(p + "SURGE_AT_S"):
                kw["surge_at_s"] = _num(env, p + "SURGE_AT_S", 0.0, 0.0, MAX_SECONDS)
                kw["surge_users"] = _int(env, p + "SURGE_USERS", min(MAX_USERS, 2 * users), 1, MAX_USERS)
            kw["surge_s"] = _num(env, p + "SURGE_S", 0.0, 0.0, MAX_SECONDS)
            if env.get(p + "SURGE_USERS") and "surge_at_s" not in kw:
                raise BadInput(f"{p}SURGE_USERS needs {p}SURGE_AT_S (when the surge starts)")
        return cls(kind=kind, users=users, seconds=seconds, spawn_rate=spawn_rate, **kw)


# ------------------------------------------------------------------------------------------ outcomes


class DnsUnavailable(OSError):
    """The failover name could not be resolved and no earlier answer exists: nothing was sent."""


def refused(exc: BaseException | None) -> bool:
    """Never reached the server: a certain failure, not an unknown outcome."""
    if exc is None:
        return False
    if isinstance(exc, ConnectionRefusedError | DnsUnavailable):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)


Outcome = Literal["ok", "fail", "info"]


def classify(f: str, status: int | None, exc: BaseException | None, body: Any) -> Outcome:
    """ok | fail | info of one request, Jepsen style: claim ``fail`` only when certain.

    2xx is ok. No answer: refused/unresolvable → fail, anything else (reset, timeout) → info: the
    request may have been processed. A read that got an answer other than 2xx failed. A write answered
    4xx was refused; answered 5xx it is ``fail`` only if the app says the Aurora write failed (the
    app writes Aurora first and stops), otherwise ``info`` (a gateway 502/504 may hide a commit).
    """
    if status and 200 <= status < 300:
        return "ok"
    if not status:
        return "fail" if refused(exc) else "info"
    if f != "write" or 400 <= status < 500:
        return "fail"
    stores = body.get("stores") if isinstance(body, dict) else None
    aurora = stores.get("aurora") if isinstance(stores, dict) else None
    return "fail" if isinstance(aurora, str) and aurora.startswith("error") else "info"


# ------------------------------------------------------------------------------------------- target


def target_to_json(target: Target) -> str:
    """Serialise a Target for the Locust subprocesses (no credentials: load speaks HTTP/DNS/SQL only)."""
    return json.dumps({**dataclasses.asdict(target), "credentials": None}, indent=1)


def target_from_json(text: str, source: str = "<target file>") -> Target:
    """Inverse of ``target_to_json``, by dataclass fields (no knowledge of local vs aws)."""
    try:
        d = json.loads(text)
        regions = {r: RegionTarget(**v) for r, v in d.pop("regions").items()}
        dns = DnsTarget(**d.pop("dns"))
        names = {f.name for f in dataclasses.fields(Target)}
        return Target(regions=regions, dns=dns, **{k: v for k, v in d.items() if k in names})
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"{source}: not a serialised drharness Target ({exc})") from None


def load_target(environ: Mapping[str, str] | None = None) -> Target:
    """The Target of this run: the file written by ``run_headless``/``start_ui``, else
    ``resolve_target(DRHARNESS_TARGET, DRHARNESS_ENV)`` (lab state or Terraform outputs)."""
    env = os.environ if environ is None else environ
    path = env.get(ENV_TARGET_FILE)
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise BadInput(f"{ENV_TARGET_FILE}={path}: cannot read ({exc.strerror or exc})") from None
        return target_from_json(text, path)
    return resolve_target(env.get(ENV_TARGET) or "local", env.get(ENV_ENV_DIR) or None)


def app_endpoint(target: Target, region: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a region's app; BadInput for a region the target does not have."""
    if region not in target.regions:
        raise BadInput(f"unknown region {region!r}: the target has {', '.join(sorted(target.regions))}")
    url = urlsplit(target.regions[region].app_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise BadInput(f"{region} app_url {target.regions[region].app_url!r} is not an http(s) URL")
    return url.scheme, url.hostname, url.port or (443 if url.scheme == "https" else 80)


def preflight(target: Target, region: str, mode: str, timeout: float = 3.0) -> str:
    """Fail fast, with the reason, when the thing under load is not there (lab down, wrong target).

    Returns the address checked. Regional: TCP connect to the region's app. failover-dns: resolve the
    failover name through the target's resolver, then connect to the answer.
    """
    scheme, host, port = app_endpoint(target, region)
    if mode == "failover-dns":
        import dns.exception
        import dns.resolver

        res = dns.resolver.Resolver(configure=target.dns.resolver_host is None)
        if target.dns.resolver_host is not None:
            res.nameservers = [target.dns.resolver_host]
            res.port = target.dns.resolver_port
        where = f"{target.dns.resolver_host or 'the system resolver'}:{target.dns.resolver_port}"
        try:
            answer = res.resolve(target.dns.name, "A", lifetime=timeout, search=False)
        except (dns.exception.DNSException, OSError) as exc:
            raise EnvironmentProblem(
                f"cannot resolve the failover name {target.dns.name} through {where} "
                f"({type(exc).__name__}: {exc}): is the lab running? start it with 'drharness lab up'") from None
        host = str(answer[0])
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise EnvironmentProblem(
            f"the {region if mode == 'regional' else 'failover'} app at {scheme}://{host}:{port} is not reachable "
            f"({exc.strerror or type(exc).__name__}): is the lab running? start it with 'drharness lab up' "
            f"(target from {target.source or 'unknown source'})") from None
    return f"{scheme}://{host}:{port}"
