"""EventBridge Scheduler that fires, and the Lambda runtime it fires into (moto Scheduler never fires).

Schedules are read from moto as Terraform or provisioning stored them; every ENABLED ``rate()``
schedule whose target is a Lambda function invokes that function's handler in-process, with the
function's environment and the schedule's ``Input`` as the event, the way the Lambda service would.
The handler is loaded by the name in the function's configuration (``module.function``) from the
function's deployment package as stored in moto, the way Lambda puts the package root first on
``sys.path``: ``health_check_aggregator.handler`` (Terraform's harness zip, infra/lambda/*.py at its
root) runs as deployed. Only a package this process already runs (``drharness`` itself) is shared:
the lab's copy is the checkout the package was built from.

A schedule in a region whose data plane is down does not fire (that region's Lambda service is
down with it). The fast profile fires at ``period_override_s`` instead of the stored rate, as it
probes health checks faster than their ``RequestInterval``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
MAX_IN_FLIGHT = 8  # per schedule (Lambda runs overlapping invocations; this bounds the threads)


def rate_seconds(expr: str) -> float | None:
    m = _RATE.match(expr.strip())
    return float(int(m.group(1)) * _UNIT[m.group(2).rstrip("s")]) if m else None


class _Context:
    """The subset of the Lambda context object handlers use."""

    def __init__(self, name: str, arn: str, timeout_s: float) -> None:
        self.function_name = name
        self.invoked_function_arn = arn
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self._deadline = time.time() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def moto_code(region: str, name: str, account: str) -> tuple[str, bytes] | None:
    """The function's deployment package as moto stores it (moto runs in this process): (sha, zip)."""
    from moto.awslambda.models import lambda_backends

    try:
        fn = lambda_backends[account][region].get_function(name)
    except Exception:  # noqa: BLE001 - gone or never stored: nothing to load from
        return None
    code = getattr(fn, "code_bytes", b"")
    return (fn.code_sha_256, code) if code else None


def moto_config(region: str, name: str, account: str) -> dict[str, Any]:
    """GetFunctionConfiguration as moto answers it, read in process (the scheduler fires every period:
    a signed API round trip per invocation only to learn the handler and environment cost more than
    the rest of the firing)."""
    from moto.awslambda.models import lambda_backends

    return lambda_backends[account][region].get_function(name).get_configuration()


class ImportModuleError(ImportError):
    """Lambda's Runtime.ImportModuleError: the handler's module is not in the deployment package."""


class PackageImporter(importlib.abc.MetaPathFinder, importlib.abc.InspectLoader):
    """One deployment package (a zip) served from memory, for the top-level names it was asked to
    provide only, so it never shadows anything else this process imports."""

    def __init__(self, sha: str, code: bytes) -> None:
        self.sha = sha
        self.root = f"<lambda package {sha[:16]}>"
        self._zip = zipfile.ZipFile(io.BytesIO(code))
        self._files = set(self._zip.namelist())
        self._lock = threading.Lock()  # one BytesIO underneath: reads must not interleave
        self.owned: set[str] = set()

    def has_top(self, top: str) -> bool:
        return f"{top}.py" in self._files or f"{top}/__init__.py" in self._files

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.owned:
            return None
        base = fullname.replace(".", "/")
        if f"{base}/__init__.py" in self._files:
            spec = importlib.util.spec_from_loader(fullname, self, origin=f"{self.root}/{base}/__init__.py",
                                                   is_package=True)
            if spec is not None:
                spec.submodule_search_locations = [f"{self.root}/{base}"]
            return spec
        if f"{base}.py" in self._files:
            return importlib.util.spec_from_loader(fullname, self, origin=f"{self.root}/{base}.py")
        return None

    def _member(self, fullname: str) -> str:
        base = fullname.replace(".", "/")
        return f"{base}/__init__.py" if f"{base}/__init__.py" in self._files else f"{base}.py"

    def get_source(self, fullname: str) -> str:  # tracebacks show the deployed code's lines
        with self._lock:
            return self._zip.read(self._member(fullname)).decode("utf-8")

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None and spec.origin is not None
        module.__file__ = spec.origin
        exec(compile(self.get_source(spec.name), spec.origin, "exec"), module.__dict__)  # noqa: S102


class InProcessRuntime:
    """Runs Lambda handlers in this process. Environment variables are process-wide, so an
    invocation sets its function's variables only while no running invocation needs a different
    value for one of them (the lab's scheduled functions share their values)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._active: dict[str, tuple[str, int]] = {}  # var -> (value, users)
        self._saved: dict[str, str | None] = {}
        self._import_lock = threading.Lock()
        self._packages: dict[str, PackageImporter] = {}  # sha -> package
        self._top_from: dict[str, PackageImporter] = {}  # top-level module -> the package serving it

    def close(self) -> None:
        with self._import_lock:
            for pkg in self._packages.values():
                if pkg in sys.meta_path:
                    sys.meta_path.remove(pkg)

    def _acquire(self, env: dict[str, str]) -> None:
        with self._cv:
            while any(k in self._active and self._active[k][0] != v for k, v in env.items()):
                self._cv.wait(0.5)
            for k, v in env.items():
                if k in self._active:
                    self._active[k] = (v, self._active[k][1] + 1)
                else:
                    self._saved[k] = os.environ.get(k)
                    os.environ[k] = v
                    self._active[k] = (v, 1)

    def _release(self, env: dict[str, str]) -> None:
        with self._cv:
            for k in env:
                v, users = self._active[k]
                if users > 1:
                    self._active[k] = (v, users - 1)
                    continue
                del self._active[k]
                old = self._saved.pop(k, None)
                if old is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = old
            self._cv.notify_all()

    def load(self, handler: str, code: tuple[str, bytes] | None = None) -> Callable[..., Any]:
        """``module.function``, the module from the deployment package ``code`` = (sha, zip) when
        given (its root first, as on Lambda), except a package this process already runs itself."""
        module_name, _, func_name = handler.rpartition(".")
        if not module_name or not func_name:
            raise ImportModuleError(f"Bad handler '{handler}': expected module.function")
        top = module_name.partition(".")[0]
        with self._import_lock:
            if code is not None and (top not in sys.modules or top in self._top_from):
                self._serve_top(top, code)
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                raise ImportModuleError(f"Unable to import module '{module_name}': {exc}") from None
        func = getattr(module, func_name, None)
        if not callable(func):
            raise ImportModuleError(f"Handler '{func_name}' missing on module '{module_name}'")
        return func

    def _serve_top(self, top: str, code: tuple[str, bytes]) -> None:
        sha, data = code
        current = self._top_from.get(top)
        if current is not None and current.sha == sha:
            return
        pkg = self._packages.get(sha)
        if pkg is None:
            pkg = self._packages[sha] = PackageImporter(sha, data)
            sys.meta_path.insert(0, pkg)
        if not pkg.has_top(top):
            raise ImportModuleError(f"Unable to import module '{top}': not in the function's deployment package")
        if current is not None:  # the function's code changed: the next import loads the new one
            current.owned.discard(top)
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[name]
        pkg.owned.add(top)
        self._top_from[top] = pkg

    def invoke(self, handler: str, env: dict[str, str], event: dict[str, Any], name: str = "", arn: str = "",
               timeout_s: float = 60.0, code: tuple[str, bytes] | None = None) -> Any:
        func = self.load(handler, code)
        self._acquire(env)
        try:
            return func(event, _Context(name, arn, timeout_s))
        finally:
            self._release(env)


@dataclass
class ScheduleState:
    name: str
    region: str
    period_s: float
    target_arn: str
    input: dict[str, Any]
    next_due: float
    in_flight: int = 0
    invocations: int = 0
    errors: int = 0
    skipped: int = 0
    last_error: str | None = None
    last_seconds: float | None = None
    last_result: Any = None
    durations: list[float] = field(default_factory=list)


class LabScheduler:
    """Fires the rate() schedules stored in moto into :class:`InProcessRuntime`."""

    def __init__(self, moto_url: str, regions: tuple[str, ...], region_up: Callable[[str], bool],
                 period_override_s: float | None = None, runtime: InProcessRuntime | None = None,
                 code_of: Callable[[str, str, str], tuple[str, bytes] | None] = moto_code,
                 config_of: Callable[[str, str, str], dict[str, Any]] = moto_config) -> None:
        kw: dict[str, Any] = {"endpoint_url": moto_url, "aws_access_key_id": "lab",
                              "aws_secret_access_key": "lab"}
        self.sched = {r: boto3.client("scheduler", region_name=r, **kw) for r in regions}
        self.region_up = region_up
        self.period_override_s = period_override_s
        self.runtime = runtime or InProcessRuntime()
        self.code_of = code_of  # (region, function, account) -> (sha, zip) of the deployed package
        self.config_of = config_of  # (region, function, account) -> its configuration
        self.schedules: dict[tuple[str, str], ScheduleState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> LabScheduler:
        self.refresh()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        self.runtime.close()

    def refresh(self) -> None:
        seen = set()
        for region, c in self.sched.items():
            for item in c.list_schedules().get("Schedules", []):
                s = c.get_schedule(Name=item["Name"], GroupName=item.get("GroupName", "default"))
                period = rate_seconds(s.get("ScheduleExpression", ""))
                if s.get("State") != "ENABLED" or period is None or ":lambda:" not in s["Target"]["Arn"]:
                    continue
                key = (region, s["Name"])
                seen.add(key)
                try:
                    event = json.loads(s["Target"].get("Input") or "{}")
                except ValueError:
                    event = {}
                with self._lock:
                    st = self.schedules.get(key)
                    eff = self.period_override_s or period
                    if st is None:
                        self.schedules[key] = ScheduleState(s["Name"], region, eff, s["Target"]["Arn"], event,
                                                            next_due=time.time())
                    else:
                        st.period_s, st.target_arn, st.input = eff, s["Target"]["Arn"], event
        with self._lock:
            for gone in set(self.schedules) - seen:
                del self.schedules[gone]

    def _loop(self) -> None:
        last_refresh = time.time()
        while not self._stop.wait(0.05):
            now = time.time()
            if now - last_refresh > 5.0:
                last_refresh = now
                try:
                    self.refresh()
                except Exception:  # noqa: BLE001
                    log.exception("schedule refresh failed")
            for st in list(self.schedules.values()):
                if now < st.next_due:
                    continue
                st.next_due += st.period_s
                if st.next_due < now:  # fell behind (a pause): keep the rate, don't burst
                    st.next_due = now + st.period_s
                if not self.region_up(st.region) or st.in_flight >= MAX_IN_FLIGHT:
                    st.skipped += 1
                    continue
                st.in_flight += 1
                threading.Thread(target=self._fire, args=(st,), name=f"invoke-{st.name}", daemon=True).start()

    def _fire(self, st: ScheduleState) -> None:
        t0 = time.time()
        try:
            name = st.target_arn.split(":function:")[-1].split(":")[0]
            cfg = self.config_of(st.region, name, st.target_arn.split(":")[4])
            env = (cfg.get("Environment") or {}).get("Variables", {})
            code = self.code_of(st.region, cfg["FunctionName"], cfg["FunctionArn"].split(":")[4])
            st.last_result = self.runtime.invoke(cfg["Handler"], env, dict(st.input), name, cfg["FunctionArn"],
                                                 float(cfg.get("Timeout", 60)), code)
            st.last_error = None
        except Exception as exc:  # noqa: BLE001 - a failed invocation is counted, like Lambda Errors
            st.errors += 1
            error = f"{type(exc).__name__}: {exc}"
            if error != st.last_error:  # once per distinct error, not once per period
                log.warning("scheduled invocation %s (%s) failed: %s", st.name, st.region, error)
            st.last_error = error
        finally:
            st.invocations += 1
            st.last_seconds = round(time.time() - t0, 3)
            st.durations.append(st.last_seconds)
            del st.durations[:-100]
            st.in_flight -= 1

    def status(self) -> dict[str, Any]:
        return {f"{r}/{n}": {"period_s": s.period_s, "invocations": s.invocations, "errors": s.errors,
                             "skipped": s.skipped, "last_error": s.last_error, "last_seconds": s.last_seconds}
                for (r, n), s in self.schedules.items()}
