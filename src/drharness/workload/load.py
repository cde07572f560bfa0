"""Load generation for drills: Locust runs as subprocesses, results come back as plain data.

Why subprocesses: Locust monkey-patches its process with gevent; the drill process (threads,
boto3, psycopg) must not be patched, and a subprocess is bounded by a timeout and killed by its own
PID whatever the load does. The locustfile (``loadtests/locustfile.py``) and its users live in
``drharness.workload.load_users``; this module never imports Locust.

Library API (what the drill calls):

- ``run_headless(target, users, spawn_rate, seconds, ...) -> LoadResult``: one bounded run; stats
  CSV/HTML written, ``LoadResult`` has rps, p50/p95, requests, failures, per-region counts and how
  many requests stayed pinned to the old region after the DNS flip.
- ``start_headless(...) -> HeadlessRun``: the same, in the background (``.wait()`` → LoadResult), so
  the drill can fail over while load runs (scenario ``load-during-failover``).
- ``error_rate_after_flip(history) -> FlipErrorRate``: error rate of load ops after the DNS flip,
  from the history alone.
- ``start_ui(target, host="127.0.0.1", port=8089, web_login=False) -> UiHandle``: Locust's web UI
  against a region's app (``make load-ui``).

Command line (``python -m drharness.workload.load``): ``ui``, ``run``, ``after-flip``; exit codes as
the drharness CLI (0 ok, 2 bad input, 3 environment problem).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from drharness.errors import BadInput, DrHarnessError, EnvironmentProblem
from drharness.history import NEMESIS, Event, load_history, pair_ops
from drharness.target import Target, resolve_target
from drharness.workload.load_config import (
    ENV_HISTORY,
    ENV_KEEPALIVE,
    ENV_MIX,
    ENV_REGION,
    ENV_SUMMARY,
    ENV_TARGET_FILE,
    MAX_SECONDS,
    MAX_SPAWN_RATE,
    MAX_USERS,
    MIXES,
    MODES,
    SHAPES,
    WRITE_ROLES,
    ShapeParams,
    app_endpoint,
    target_to_json,
)

__all__ = [
    "USER_CLASSES",
    "FlipErrorRate",
    "HeadlessRun",
    "LoadResult",
    "UiHandle",
    "error_rate_after_flip",
    "locustfile_path",
    "main",
    "parse_stats_csv",
    "run_headless",
    "start_headless",
    "start_ui",
]

# (mode, mix) -> the user class that implements it (loadtests/locustfile.py exposes these names)
USER_CLASSES: Final[dict[tuple[str, str], str]] = {
    ("regional", "read-heavy"): "RegionalReadHeavy",
    ("regional", "write-heavy"): "RegionalWriteHeavy",
    ("failover-dns", "read-heavy"): "FailoverDnsReadHeavy",
    ("failover-dns", "write-heavy"): "FailoverDnsWriteHeavy",
}
STARTUP_GRACE_S: Final = 30.0  # import, preflight, seeding, workers connecting
MAX_WORKERS: Final = 64


def locustfile_path() -> Path:
    """``DRHARNESS_LOCUSTFILE``, else the repository's ``loadtests/locustfile.py``."""
    env = os.environ.get("DRHARNESS_LOCUSTFILE")
    candidates = [Path(env)] if env else [
        Path(__file__).resolve().parents[3] / "loadtests" / "locustfile.py",
        Path.cwd() / "loadtests" / "locustfile.py",
    ]
    for c in candidates:
        if c.is_file():
            return c
    raise EnvironmentProblem(f"locustfile not found (looked at {', '.join(map(str, candidates))}): "
                             "run from the drharness checkout or set DRHARNESS_LOCUSTFILE")


# ------------------------------------------------------------------------------------------- results


@dataclass
class LoadResult:
    """What one load run measured. ``per_region``: requests by the region that served them
    (``X-Region``; the region addressed when nothing answered). ``pinned_after_flip``: requests a
    keep-alive client sent to an address the current, TTL-honoured DNS answer no longer names."""

    rps: float
    p50_ms: float | None
    p95_ms: float | None
    requests: int
    failures: int
    per_region: dict[str, int]
    pinned_after_flip: int
    per_region_failures: dict[str, int] = field(default_factory=dict)
    per_name: dict[str, dict[str, Any]] = field(default_factory=dict)
    pinned_users: int = 0
    flip_t: float | None = None
    mode: str = "regional"
    host_region: str = "us-west-2"
    keepalive: bool = True
    users: int = 0
    seconds: float = 0.0
    shape: str | None = None
    workers: int = 0
    stats_csv: str | None = None
    html: str | None = None
    history: str | None = None
    summary_file: str | None = None
    log_file: str | None = None
    elapsed_s: float = 0.0

    @property
    def failure_rate(self) -> float | None:
        return None if not self.requests else self.failures / self.requests

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failure_rate": self.failure_rate}

    def report(self) -> dict[str, Any]:
        """The drill report's ``load`` block (DESIGN §6)."""
        return {"rps": round(self.rps, 2), "p95_ms": self.p95_ms}


def _pct(raw: str | None) -> float | None:
    if raw in (None, "", "N/A"):
        return None
    try:
        return float(raw)  # type: ignore[arg-type]
    except ValueError:
        return None


def parse_stats_csv(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Locust's ``<prefix>_stats.csv`` → aggregated figures and per-name rows.

    Why parse the CSV rather than talk to Locust: it is the artefact the run leaves behind, so the
    numbers in the drill report can be re-derived from the file attached to it.
    """
    p = Path(path)
    try:
        with p.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise EnvironmentProblem(f"locust wrote no stats file {p} (see its log)") from None
    agg: dict[str, Any] | None = None
    per_name: dict[str, dict[str, Any]] = {}
    for row in rows:
        try:
            fig = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50_ms": _pct(row.get("50%")),
                "p95_ms": _pct(row.get("95%")),
                "p99_ms": _pct(row.get("99%")),
                "avg_ms": _pct(row.get("Average Response Time")),
            }
        except (KeyError, ValueError) as exc:
            raise EnvironmentProblem(f"{p}: unexpected Locust stats format ({exc})") from None
        if row.get("Name") == "Aggregated":
            agg = fig
        else:
            per_name[f"{row.get('Type', '')} {row.get('Name', '')}".strip()] = fig
    if agg is None:
        raise EnvironmentProblem(f"{p}: no 'Aggregated' row (Locust run ended before any stats?)")
    return {**agg, "per_name": per_name}


# ------------------------------------------------------------------------------------------ headless


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment without any inherited load/shape settings, plus ours: a run is
    described entirely by its arguments, never by a variable someone left exported."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DRHARNESS_LOAD_", "DRHARNESS_SHAPE", "LOCUST_"))}
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n  ".join(text[-lines:])


def _drharness_error(log: Path, rc: int) -> DrHarnessError:
    """Map a failed Locust process to our error classes, keeping its one-line reason."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    mine = [ln.split("drharness load:", 1)[1].strip() for ln in text.splitlines() if "drharness load:" in ln]
    if mine and rc == BadInput.exit_code:
        return BadInput(mine[-1])
    if mine and rc == EnvironmentProblem.exit_code:
        return EnvironmentProblem(mine[-1])
    if "error: " in text and rc == 2 and "usage:" in text:
        return BadInput(f"locust refused its arguments:\n  {_tail(log, 4)}")
    return EnvironmentProblem(f"locust exited with code {rc}; last lines of {log}:\n  {_tail(log)}")


def _kill_group(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM our process (Locust then writes its stats and stops its workers), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@dataclass
class HeadlessRun:
    """A Locust run in the background. ``wait()`` bounds it and returns the LoadResult."""

    master: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    deadline_s: float
    started: float
    csv_prefix: Path
    html_path: Path | None
    history_path: Path | None
    summary_path: Path
    log_path: Path
    worker_logs: list[Path]
    target_file: Path
    meta: dict[str, Any]
    _result: LoadResult | None = None

    def running(self) -> bool:
        return self.master.poll() is None

    def stop(self) -> None:
        """Ask Locust to stop now (it still writes its stats); ``wait()`` then returns the result."""
        _kill_group(self.master)
        for w in self.workers:
            _kill_group(w, grace_s=5)

    def wait(self) -> LoadResult:
        if self._result is not None:
            return self._result
        remaining = max(1.0, self.started + self.deadline_s - time.monotonic())
        try:
            rc = self.master.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            self.stop()
            self._cleanup()
            raise EnvironmentProblem(
                f"locust did not finish within {self.deadline_s:.0f}s (run time + {STARTUP_GRACE_S:.0f}s grace): "
                f"killed; see {self.log_path}") from None
        for w in self.workers:
            try:
                w.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_group(w, grace_s=3)
        self._cleanup()
        if rc != 0:
            for w, wlog in zip(self.workers, self.worker_logs, strict=True):
                if w.returncode not in (0, None):
                    raise _drharness_error(wlog, w.returncode)
            raise _drharness_error(self.log_path, rc)
        self._result = self._collect()
        return self._result

    def _cleanup(self) -> None:
        self.target_file.unlink(missing_ok=True)

    def _collect(self) -> LoadResult:
        final = Path(f"{self.csv_prefix}_final_stats.csv")
        stats_file = final if final.exists() else Path(f"{self.csv_prefix}_stats.csv")
        stats = parse_stats_csv(stats_file)
        summary: dict[str, Any] = {}
        if self.summary_path.exists():
            with contextlib.suppress(ValueError, OSError):
                summary = json.loads(self.summary_path.read_text())
        return LoadResult(
            rps=stats["rps"], p50_ms=stats["p50_ms"], p95_ms=stats["p95_ms"], requests=stats["requests"],
            failures=stats["failures"], per_region=dict(summary.get("per_region") or {}),
            pinned_after_flip=int(summary.get("pinned_after_flip") or 0),
            per_region_failures=dict(summary.get("per_region_failures") or {}), per_name=stats["per_name"],
            pinned_users=len(summary.get("pinned_users") or []), flip_t=summary.get("flip_t"),
            stats_csv=str(stats_file), html=str(self.html_path) if self.html_path else None,
            history=str(self.history_path) if self.history_path else None, summary_file=str(self.summary_path),
            log_file=str(self.log_path), elapsed_s=round(time.monotonic() - self.started, 2), **self.meta)


def start_headless(
    target: Target,
    users: int = 10,
    spawn_rate: float = 5.0,
    seconds: float = 30.0,
    shape: str | ShapeParams | None = None,
    history_path: str | os.PathLike[str] | None = None,
    csv_prefix: str | os.PathLike[str] | None = None,
    html_path: str | os.PathLike[str] | None = None,
    host_region: str = "us-west-2",
    mode: str = "regional",
    *,
    mix: str | None = None,
    keepalive: bool = True,
    write_role: str = "load",
    workers: int = 0,
    user_classes: Sequence[str] | None = None,
    shape_params: Mapping[str, float | int | None] | None = None,
    think_time_s: tuple[float, float] | None = None,
    master_bind_host: str = "127.0.0.1",
    extra_env: Mapping[str, str] | None = None,
) -> HeadlessRun:
    """Start a bounded headless Locust run (see ``run_headless``) and return without waiting."""
    if mode not in MODES:
        raise BadInput(f"unknown load mode {mode!r}: choose one of {', '.join(MODES)}")
    app_endpoint(target, host_region)  # BadInput for an unknown region
    if not isinstance(users, int) or not 1 <= users <= MAX_USERS:
        raise BadInput(f"users must be a whole number from 1 to {MAX_USERS}, got {users!r}")
    if not (math.isfinite(spawn_rate) and 0 < spawn_rate <= MAX_SPAWN_RATE):
        raise BadInput(f"spawn_rate must be > 0 and <= {MAX_SPAWN_RATE:g}, got {spawn_rate!r}")
    if not (math.isfinite(seconds) and 1 <= seconds <= MAX_SECONDS):
        raise BadInput(f"seconds must be from 1 to {MAX_SECONDS:g}, got {seconds!r}")
    if mix is not None and mix not in MIXES:
        raise BadInput(f"unknown mix {mix!r}: choose one of {', '.join(MIXES)}")
    if write_role not in WRITE_ROLES:
        raise BadInput(f"unknown write role {write_role!r}: choose one of {', '.join(WRITE_ROLES)}")
    if not isinstance(workers, int) or not 0 <= workers <= MAX_WORKERS:
        raise BadInput(f"workers must be from 0 to {MAX_WORKERS}, got {workers!r}")
    params: ShapeParams | None
    if isinstance(shape, ShapeParams):
        params = shape
    elif shape is None:
        if shape_params:
            raise BadInput("shape_params given without a shape")
        params = None
    elif shape in SHAPES:
        params = ShapeParams.build(shape, users, seconds, spawn_rate, **dict(shape_params or {}))
    else:
        raise BadInput(f"unknown shape {shape!r}: choose one of {', '.join(SHAPES)}")
    # A mix with a dedicated class runs that class; any other mix (health, read, write: benchmarks)
    # runs the mode's read-heavy class with the mix overridden. Explicit classes keep their own mix
    # unless a mix is also given.
    override: str | None = mix
    if user_classes:
        classes = list(user_classes)
    else:
        dedicated = USER_CLASSES.get((mode, mix or "read-heavy"))
        classes = [dedicated or USER_CLASSES[(mode, "read-heavy")]]
        override = None if dedicated else mix

    out = Path(csv_prefix) if csv_prefix else Path(tempfile.mkdtemp(prefix="drharness-load-")) / "locust"
    out.parent.mkdir(parents=True, exist_ok=True)
    run_id = secrets.token_hex(3)
    target_file = out.with_name(f"{out.name}.target-{run_id}.json")
    target_file.write_text(target_to_json(target))
    summary = out.with_name(f"{out.name}_drharness.json")
    summary.unlink(missing_ok=True)
    log = out.with_name(f"{out.name}.locust.log")
    html = Path(html_path) if html_path else None
    hist = Path(history_path) if history_path else None

    env_add = {
        ENV_TARGET_FILE: str(target_file), ENV_REGION: host_region, "DRHARNESS_LOAD_MODE": mode,
        ENV_KEEPALIVE: "1" if keepalive else "0", "DRHARNESS_LOAD_WRITE_ROLE": write_role,
        ENV_SUMMARY: str(summary), "DRHARNESS_LOAD_RUN_ID": run_id,
        "DRHARNESS_LOAD_MAX_RUN_S": str(int(math.ceil((params.seconds if params else seconds) + 20))),
    }
    if override is not None:
        env_add[ENV_MIX] = override
    if hist is not None:
        env_add[ENV_HISTORY] = str(hist)
    if think_time_s is not None:
        env_add["DRHARNESS_LOAD_WAIT"] = f"{think_time_s[0]},{think_time_s[1]}"
    if params is not None:
        env_add.update(params.to_env())
    env_add.update(extra_env or {})
    env = _clean_env(env_add)

    run_s = params.seconds if params else seconds
    base = [sys.executable, "-m", "locust", "-f", str(locustfile_path())]
    cmd = [*base, "--headless", "--csv", str(out), "--only-summary", "--exit-code-on-error", "0"]
    if params is None:
        cmd += ["-u", str(users), "-r", f"{spawn_rate:g}", "--run-time", f"{int(math.ceil(run_s))}s"]
    # (a shape ends the run itself: Locust ignores --run-time with a shape; the in-process guard
    # DRHARNESS_LOAD_MAX_RUN_S and the process timeout below remain)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        cmd += ["--html", str(html)]
    worker_cmds: list[list[str]] = []
    if workers:
        port = _free_port(master_bind_host if master_bind_host not in ("*", "0.0.0.0") else "127.0.0.1")
        cmd += ["--master", "--master-bind-host", master_bind_host, "--master-bind-port", str(port),
                "--expect-workers", str(workers), "--expect-workers-max-wait", str(int(STARTUP_GRACE_S))]
        master_host = "127.0.0.1" if master_bind_host in ("*", "0.0.0.0") else master_bind_host
        worker_cmds = [[*base, "--worker", "--master-host", master_host, "--master-port", str(port), *classes]
                       for _ in range(workers)]
    cmd += classes

    started = time.monotonic()
    with log.open("wb") as lf:
        master = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                  start_new_session=True)
    procs: list[subprocess.Popen[bytes]] = []
    worker_logs = [out.with_name(f"{out.name}.worker{i}.log") for i in range(len(worker_cmds))]
    for wc, wlog in zip(worker_cmds, worker_logs, strict=True):
        with wlog.open("wb") as wf:
            procs.append(subprocess.Popen(wc, stdout=wf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=env, start_new_session=True))
    meta = {"mode": mode, "host_region": host_region, "keepalive": keepalive, "users": params.peak_users if params else users,
            "seconds": run_s, "shape": params.kind if params else None, "workers": workers}
    return HeadlessRun(master, procs, run_s + STARTUP_GRACE_S + 15, started, out, html, hist, summary, log,
                       worker_logs, target_file, meta)


def run_headless(
    target: Target,
    users: int = 10,
    spawn_rate: float = 5.0,
    seconds: float = 30.0,
    shape: str | ShapeParams | None = None,
    history_path: str | os.PathLike[str] | None = None,
    csv_prefix: str | os.PathLike[str] | None = None,
    html_path: str | os.PathLike[str] | None = None,
    host_region: str = "us-west-2",
    mode: str = "regional",
    **kw: Any,
) -> LoadResult:
    """Run Locust headless against ``target`` for ``seconds`` (or the shape's length) and wait.

    ``mode="regional"``: users hit ``host_region``'s app. ``mode="failover-dns"``: users resolve the
    failover name through the target's resolver (TTL honoured) and report where they landed;
    ``keepalive=`` pinned connection (True) or a fresh connection per TTL window (False).
    ``history_path``: every request is an op there (writes as role ``load``, or ``canary`` with
    ``write_role="canary"``). ``shape``: steady | ramp | drill (``shape_params`` for the rest).
    ``workers=N``: one master + N worker processes on loopback. Bounded: ``--run-time`` plus a
    process timeout; Locust's exit is checked and mapped to BadInput / EnvironmentProblem.
    """
    return start_headless(target, users, spawn_rate, seconds, shape, history_path, csv_prefix, html_path,
                          host_region, mode, **kw).wait()


# ----------------------------------------------------------------------------------- after the flip


@dataclass
class FlipErrorRate:
    """Load ops before and after the DNS flip. ``error_rate``: after the flip (+ ``grace_s``).
    ``old_region_after``: requests after the flip that still reached the old region (stale DNS or a
    pinned connection). All None when the history shows no flip."""

    flip_t: float | None
    old_region: str | None
    new_region: str | None
    grace_s: float
    requests: int = 0
    errors: int = 0
    error_rate: float | None = None
    before: dict[str, Any] = field(default_factory=dict)
    per_region: dict[str, dict[str, int]] = field(default_factory=dict)
    old_region_after: int = 0
    pinned: int = 0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_load(process: str) -> bool:
    return process.startswith(("load:", "canary:load-"))


def error_rate_after_flip(history: str | os.PathLike[str] | Sequence[Event], *, flip_t: float | None = None,
                          grace_s: float = 0.0, fs: Iterable[str] = ("read", "write")) -> FlipErrorRate:
    """Error rate of the load's requests once the failover DNS name answers the new region.

    Flip: the first ``dns`` answer (any process) naming a region other than the old one, at/after
    the first fault's start; old region = the fault's ``target_region``, else the first answer's.
    Requests are load ops (processes ``load:*`` and ``canary:load-*``) judged by completion time; an
    error is any outcome but ``ok`` (``info``, unknown, counts: the client saw no success).
    """
    events = load_history(history, allow_torn_tail=True) if isinstance(history, str | os.PathLike) else history
    wanted = set(fs)
    fault = next((e for e in events if e.role == NEMESIS and e.f == "fault" and e.type == "invoke"), None)
    t_fault = fault.t if fault is not None else None
    old = fault.value.get("target_region") if fault is not None and isinstance(fault.value, dict) else None
    answers = [e for e in events if e.f == "dns" and e.type == "ok" and isinstance(e.value, dict)
               and e.value.get("region")]
    if old is None and answers:
        old = answers[0].value["region"]
    new = None
    if flip_t is None:
        flip = next((e for e in answers if e.value["region"] != old and (t_fault is None or e.t >= t_fault)), None)
        if flip is not None:
            flip_t, new = flip.t, flip.value["region"]
    else:
        new = next((e.value["region"] for e in answers if e.value["region"] != old and e.t >= flip_t), None)
    ops = [op for op in pair_ops(events) if _is_load(op.process) and op.f in wanted and op.invoke is not None]
    if flip_t is None:
        return FlipErrorRate(None, old, None, grace_s, detail="no DNS flip in the history (no dns answer for "
                             "another region after the fault): error rate after the flip is unknown")
    cut = flip_t + grace_s
    before = [op for op in ops if op.t_end is not None and op.t_end < flip_t]
    after = [op for op in ops if (op.t_end if op.t_end is not None else op.t) >= cut]
    per_region: dict[str, Counter[str]] = {}
    for op in after:
        c = per_region.setdefault(op.region or "unknown", Counter())
        c["requests"] += 1
        c["errors"] += op.type != "ok"
    errors = sum(op.type != "ok" for op in after)
    pinned = sum(1 for op in after if isinstance(op.value, dict) and op.value.get("pinned") is True)
    old_after = sum(1 for op in after if op.region == old)
    b_err = sum(op.type != "ok" for op in before)
    rate = errors / len(after) if after else None
    detail = (f"after the flip to {new} at t={flip_t:.3f}" + (f" (+{grace_s:g}s grace)" if grace_s else "")
              + f": {errors}/{len(after)} load requests failed"
              + (f" ({rate:.1%})" if rate is not None else "") + f", {old_after} still reached {old}")
    return FlipErrorRate(
        flip_t=flip_t, old_region=old, new_region=new, grace_s=grace_s, requests=len(after), errors=errors,
        error_rate=rate,
        before={"requests": len(before), "errors": b_err, "error_rate": b_err / len(before) if before else None},
        per_region={r: dict(c) for r, c in per_region.items()}, old_region_after=old_after, pinned=pinned,
        detail=detail)


# ------------------------------------------------------------------------------------------------ UI


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass
class UiHandle:
    """A running Locust web UI (our subprocess). ``stop()`` ends it by PID."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    target_file: Path
    web_login: bool

    def wait_ready(self, timeout: float = 30.0) -> UiHandle:
        """Until the UI answers HTTP (any status: a login redirect is an answer), bounded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.target_file.unlink(missing_ok=True)
                raise _drharness_error(self.log_path, rc)
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):
                    return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise EnvironmentProblem(f"Locust UI did not answer at {self.url} within {timeout:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        _kill_group(self.proc)
        self.target_file.unlink(missing_ok=True)

    def __enter__(self) -> UiHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_ui(
    target: Target,
    host: str = "127.0.0.1",
    port: int = 8089,
    web_login: bool = False,
    *,
    region: str = "us-west-2",
    user_classes: Sequence[str] = ("RegionalReadHeavy",),
    class_picker: bool = False,
    history_path: str | os.PathLike[str] | None = None,
    ui_user: str | None = None,
    ui_password: str | None = None,
    allow_unauthenticated_remote: bool = False,
    max_run_s: float = 1800.0,
    log_path: str | os.PathLike[str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> UiHandle:
    """Start Locust's web UI on ``host:port`` against ``region``'s app and return its handle.

    Bound to loopback by default: the UI starts load against whatever the target is (production on
    aws). Binding elsewhere requires ``web_login`` (a password from ``ui_password`` or
    ``DRHARNESS_LOAD_UI_PASSWORD``), unless ``allow_unauthenticated_remote``. Each run started from
    the UI is stopped after ``max_run_s``.
    """
    scheme, app_host, app_port = app_endpoint(target, region)
    if not 1 <= port <= 65535:
        raise BadInput(f"port {port} is not a TCP port")
    if not _loopback(host) and not web_login and not allow_unauthenticated_remote:
        raise BadInput(f"binding the Locust UI to {host} without --web-login lets anyone who reaches it start load: "
                       "use --web-login (with DRHARNESS_LOAD_UI_PASSWORD) or bind 127.0.0.1")
    password = ui_password or os.environ.get("DRHARNESS_LOAD_UI_PASSWORD")
    if web_login and not password:
        raise BadInput("--web-login needs a password: set DRHARNESS_LOAD_UI_PASSWORD")
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise BadInput(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from None
    if not (math.isfinite(max_run_s) and 1 <= max_run_s <= MAX_SECONDS):
        raise BadInput(f"max_run_s must be from 1 to {MAX_SECONDS:g}, got {max_run_s}")
    tmp = Path(tempfile.mkdtemp(prefix="drharness-load-ui-"))
    target_file = tmp / "target.json"
    target_file.write_text(target_to_json(target))
    log = Path(log_path) if log_path else tmp / "locust-ui.log"
    env_add = {ENV_TARGET_FILE: str(target_file), ENV_REGION: region, "DRHARNESS_LOAD_MAX_RUN_S": str(max_run_s),
               ENV_SUMMARY: str(tmp / "summary.json")}
    if history_path:
        env_add[ENV_HISTORY] = str(history_path)
    if web_login:
        env_add["DRHARNESS_LOAD_UI_PASSWORD"] = password or ""
        if ui_user:
            env_add["DRHARNESS_LOAD_UI_USER"] = ui_user
    env_add.update(extra_env or {})
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--web-host", host, "--web-port", str(port),
           "--host", f"{scheme}://{app_host}:{app_port}"]
    if web_login:
        cmd.append("--web-login")
    if class_picker:
        cmd.append("--class-picker")
    cmd += list(user_classes)
    with log.open("wb") as lf:
        proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_clean_env(env_add), start_new_session=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "*", "") else host
    return UiHandle(f"http://{shown}:{port}", proc, log, target_file, web_login)


# ----------------------------------------------------------------------------------------------- CLI


def _target_from_args(a: argparse.Namespace) -> Target:
    return resolve_target(a.target, a.env)


def _cmd_ui(a: argparse.Namespace) -> int:
    t = _target_from_args(a)
    ui = start_ui(t, host=a.host, port=a.port, web_login=a.web_login, region=a.region,
                  user_classes=a.user_classes or ("RegionalReadHeavy",), class_picker=a.class_picker,
                  history_path=a.history, max_run_s=a.max_run_s).wait_ready()
    print(f"Locust UI: {ui.url}  (load against {a.region}: {t.regions[a.region].app_url}; Ctrl-C to stop)",
          flush=True)
    if a.web_login:
        print("login: user DRHARNESS_LOAD_UI_USER (default 'drharness'), password DRHARNESS_LOAD_UI_PASSWORD",
              flush=True)
    deadline = time.monotonic() + a.max_seconds if a.max_seconds else None

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)  # `kill <pid>` stops the UI's Locust too, not only Ctrl-C
    try:
        while ui.proc.poll() is None and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        ui.stop()
    return 0


def _cmd_run(a: argparse.Namespace) -> int:
    t = _target_from_args(a)
    res = run_headless(t, a.users, a.spawn_rate, a.seconds, a.shape, a.history, a.csv, a.html,
                       host_region=a.region, mode=a.mode, mix=a.mix, keepalive=not a.no_keepalive,
                       write_role=a.write_role, workers=a.workers)
    print(json.dumps(res.to_dict(), indent=2, default=str))
    return 0


def _cmd_after_flip(a: argparse.Namespace) -> int:
    from drharness.history import HistoryError

    try:
        r = error_rate_after_flip(a.history, grace_s=a.grace)
    except HistoryError as exc:
        raise BadInput(str(exc)) from None
    print(json.dumps(r.to_dict(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m drharness.workload.load", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--target", default=os.environ.get("DRHARNESS_TARGET", "local"), help="local | aws")
        sp.add_argument("--env", default=os.environ.get("DRHARNESS_ENV"), help="Terraform env dir (aws)")
        sp.add_argument("--region", default="us-west-2", help="the region's app to load (default us-west-2)")
        sp.add_argument("--history", default=None, help="append every request as an op to this history")

    ui = sub.add_parser("ui", help="Locust web UI against a region's app (make load-ui)")
    common(ui)
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    ui.add_argument("--port", type=int, default=8089)
    ui.add_argument("--web-login", action="store_true", help="require DRHARNESS_LOAD_UI_PASSWORD to use the UI")
    ui.add_argument("--class-picker", action="store_true", help="choose user classes in the UI")
    ui.add_argument("--max-run-s", type=float, default=1800.0, help="stop each UI-started run after this")
    ui.add_argument("--max-seconds", type=float, default=0.0, help="stop the UI itself after this (0 = Ctrl-C)")
    ui.add_argument("user_classes", nargs="*", help="user classes (default RegionalReadHeavy)")
    ui.set_defaults(fn=_cmd_ui)

    run = sub.add_parser("run", help="one bounded headless run; prints the LoadResult as JSON")
    common(run)
    run.add_argument("--users", type=int, default=10)
    run.add_argument("--spawn-rate", type=float, default=5.0)
    run.add_argument("--seconds", type=float, default=30.0)
    run.add_argument("--shape", choices=SHAPES, default=None)
    run.add_argument("--mode", choices=MODES, default="regional")
    run.add_argument("--mix", choices=list(MIXES), default=None)
    run.add_argument("--no-keepalive", action="store_true", help="failover-dns: fresh connection per TTL window")
    run.add_argument("--write-role", choices=WRITE_ROLES, default="load")
    run.add_argument("--workers", type=int, default=0)
    run.add_argument("--csv", default=None, help="stats CSV prefix")
    run.add_argument("--html", default=None, help="HTML report path")
    run.set_defaults(fn=_cmd_run)

    af = sub.add_parser("after-flip", help="error rate of load requests after the DNS flip, from a history")
    af.add_argument("history")
    af.add_argument("--grace", type=float, default=0.0, help="seconds after the flip to skip (e.g. the TTL)")
    af.set_defaults(fn=_cmd_after_flip)
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    try:
        a = p.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on bad input, 0 for --help
        return int(exc.code or 0)
    try:
        return int(a.fn(a))
    except DrHarnessError as exc:
        print(f"drharness load: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
