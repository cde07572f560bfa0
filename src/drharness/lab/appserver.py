"""The regional apps, each served from its own process (one per region, loopback only).

Inside labd the app shared one GIL with moto, the gateways, the replicators, the health checker
and the DNS server, and topped out at ~50 req/s. Here each region's app (the same Lambda handler,
behind the same API Gateway emulation) runs in a process labd starts and stops by PID. It still
writes through the lab's region gateway and PostgreSQL fault proxy, so every fault applies as
before; the faults and the fence it must obey itself (unreachable/data plane down: connections
reset; error/throttle/latency/Lambda faults; reserved concurrency 0: 429) are published by labd
into a small shared-memory *gate* file per region that the app reads on every request:

- labd publishes synchronously on every fault change and after every Lambda API call through a
  gateway (PutFunctionConcurrency is the orchestrator's fence), so once the call that set a fault
  or fence has returned, the app obeys it; a 0.25 s re-sync covers anything else.
- the app writes its request/error counters back into the same file for ``lab status``.

The file layout is a seqlock-protected struct (written by labd only) followed by the app's block.
"""

from __future__ import annotations

import ctypes
import json
import logging
import mmap
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drharness.lab.faults import MODES, Faults, RegionFault

log = logging.getLogger(__name__)

_LAB = struct.Struct("<Qiiiiii")  # seq, mode, latency_ms, data_plane_down, lambda_error, lambda_delay_ms, fenced
_APP = struct.Struct("<QQQQ")  # ready (pid), requests, errors, heartbeat (epoch ms)
_APP_OFF = 64
GATE_SIZE = 128
RESYNC_S = 1.0  # a safety net: fault changes and Lambda writes through a gateway sync at once


class AppGate:
    """One region's shared-memory gate: faults and fence from labd, counters from the app."""

    def __init__(self, path: Path, create: bool = False) -> None:
        self.path = path
        if create:
            path.write_bytes(b"\0" * GATE_SIZE)
        self._fd = os.open(path, os.O_RDWR)
        self._mm = mmap.mmap(self._fd, GATE_SIZE)
        self._wlock = threading.Lock()

    # labd side -----------------------------------------------------------------------------------
    def publish(self, rf: RegionFault, fenced: bool) -> None:
        with self._wlock:
            seq = _LAB.unpack_from(self._mm, 0)[0]
            struct.pack_into("<Q", self._mm, 0, seq + 1)  # odd: a write is in progress
            _LAB.pack_into(self._mm, 0, seq + 1, MODES.index(rf.mode), int(rf.latency_ms),
                           int(rf.data_plane_down), int(rf.lambda_error), int(rf.lambda_delay_ms), int(fenced))
            struct.pack_into("<Q", self._mm, 0, seq + 2)

    def app_block(self) -> tuple[int, int, int, int]:
        pid, requests, errors, beat = _APP.unpack_from(self._mm, _APP_OFF)
        return pid, requests, errors, beat

    # app side --------------------------------------------------------------------------------------
    def _read(self) -> tuple[int, ...]:
        while True:
            vals = _LAB.unpack_from(self._mm, 0)
            if vals[0] % 2 == 0 and struct.unpack_from("<Q", self._mm, 0)[0] == vals[0]:
                return vals
            time.sleep(0)

    def fault(self) -> RegionFault:
        _, mode, latency, dpd, lerr, ldelay, _ = self._read()
        return RegionFault(mode=MODES[mode], latency_ms=latency, data_plane_down=bool(dpd),
                           lambda_error=bool(lerr), lambda_delay_ms=ldelay)

    def fenced(self) -> bool:
        return bool(self._read()[6])

    def dropped(self) -> bool:
        """Data plane down (or region unreachable): the app's connections are reset."""
        _, mode, _, dpd, _, _, _ = self._read()
        return bool(dpd) or MODES[mode] == "unreachable"

    def report(self, requests: int, errors: int) -> None:
        _APP.pack_into(self._mm, _APP_OFF, os.getpid(), requests, errors, int(time.time() * 1000))

    def close(self) -> None:
        self._mm.close()
        os.close(self._fd)


class GateFaults:
    """What ``ApiGateway`` reads as ``faults.region(r)``, backed by the gate (app process)."""

    def __init__(self, gate: AppGate) -> None:
        self.gate = gate

    def region(self, region: str) -> RegionFault:
        return self.gate.fault()


class NotifyingFaults(Faults):
    """labd's fault switches, telling listeners (the app gates) after every change."""

    def __init__(self, regions: tuple[str, ...]) -> None:
        super().__init__(regions)
        self.listeners: list[Callable[[], None]] = []

    def _notify(self) -> None:
        for fn in self.listeners:
            try:
                fn()
            except Exception:  # noqa: BLE001 - a listener must not break the control API
                log.exception("fault listener failed")

    def set(self, region: str, **changes: Any) -> RegionFault:
        rf = super().set(region, **changes)
        self._notify()
        return rf

    def clear(self, region: str | None = None, owner: str | None = None) -> None:
        super().clear(region, owner)
        self._notify()


@dataclass
class AppSpec:
    region: str
    host: str
    port: int
    env: dict[str, str]
    gate: str


class RegionalApps:
    """labd's side: starts one app process per region, keeps their gates in step, stops them by PID."""

    def __init__(self, specs: list[AppSpec], faults: Faults, fenced: Callable[[str], bool], work_dir: Path) -> None:
        self.specs = {s.region: s for s in specs}
        self.faults = faults
        self.fenced = fenced
        self.work_dir = work_dir
        self.gates = {s.region: AppGate(Path(s.gate), create=True) for s in specs}
        self.procs: dict[str, subprocess.Popen] = {}
        self._stop = threading.Event()
        if isinstance(faults, NotifyingFaults):
            faults.listeners.append(self.sync)

    def start(self) -> RegionalApps:
        self.sync()
        for r, spec in self.specs.items():
            cfg = self.work_dir / f"app-{r}.json"
            cfg.write_text(json.dumps({"region": r, "host": spec.host, "port": spec.port, "env": spec.env,
                                       "gate": spec.gate}))
            # stdout/stderr are labd's (its log file); the app never outlives labd (PDEATHSIG + watchdog).
            self.procs[r] = subprocess.Popen([sys.executable, "-m", "drharness.lab.appserver", str(cfg)],
                                             stdin=subprocess.DEVNULL, env={**os.environ, **spec.env})
        threading.Thread(target=self._resync_loop, name="app-gates", daemon=True).start()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for r, proc in self.procs.items():
            while self.gates[r].app_block()[0] != proc.pid:
                if proc.poll() is not None:
                    raise RuntimeError(f"app-{r} exited during start-up (code {proc.returncode}); see labd.log")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"app-{r} not ready after {timeout:.0f} s")
                time.sleep(0.02)

    def sync(self) -> None:
        """Publish every region's current faults and fence to its app."""
        for r, gate in self.gates.items():
            gate.publish(self.faults.region(r), self.fenced(r))

    def lambda_hook(self, call: Any, resp: Any) -> Any:
        """Gateway post hook: a Lambda API call may have changed the fence (reserved concurrency)."""
        if call.service == "lambda" and call.method != "GET":
            self.sync()
        return resp

    def _resync_loop(self) -> None:
        while not self._stop.wait(RESYNC_S):
            try:
                self.sync()
            except Exception:  # noqa: BLE001
                log.debug("app gate re-sync", exc_info=True)

    def status(self) -> dict[str, dict[str, Any]]:
        out = {}
        for r, gate in self.gates.items():
            _, requests, errors, _ = gate.app_block()
            proc = self.procs.get(r)
            out[r] = {"requests": requests, "errors": errors, "pid": proc.pid if proc else None,
                      "alive": bool(proc and proc.poll() is None)}
        return out

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2)


def app_env(region: str, primary: str, names: Mapping[str, str], dsn: str, endpoint: str) -> dict[str, str]:
    """The Lambda environment of a region's app, as Terraform sets it."""
    return {"REGION": region, "FAILOVER_ROLE": "PRIMARY" if region == primary else "SECONDARY",
            "TABLE_NAME": names["table"], "BUCKET_PREFIX": names["bucket_prefix"], "DB_DSN": dsn,
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab"}


# ---- the app process ---------------------------------------------------------------------------
def _die_with_parent() -> None:
    """Exit when labd does, even if it is killed -9 (PR_SET_PDEATHSIG, plus a watchdog)."""
    parent = os.getppid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    from drharness.lab.apigw import ApiGateway
    from drharness.lab.httpserve import serve
    from drharness.refapp.handler import OrdersApp

    argv = argv if argv is not None else sys.argv[1:]
    cfg = json.loads(Path(argv[0]).read_text())
    region = cfg["region"]
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s app-{region}: %(message)s")
    _die_with_parent()
    os.environ.update(cfg["env"])
    gate = AppGate(Path(cfg["gate"]))
    app = OrdersApp(cfg["env"])
    api = ApiGateway(region, app.handle, GateFaults(gate), fenced=gate.fenced)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = serve(cfg["host"], cfg["port"], api, f"app-{region}", drop_gate=gate.dropped)
    gate.report(api.requests, api.errors)  # the pid in the block says: listening
    while not stop.wait(0.2):
        gate.report(api.requests, api.errors)
    server.shutdown()
    app.pool.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
