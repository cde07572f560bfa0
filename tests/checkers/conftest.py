"""History builder for checker tests: synthetic drills with faults planted on purpose.

Exposed as session fixtures (``hb``: the builder class, ``outage``: the canonical region-outage
drill) rather than imported, so it works beside other test packages' conftests and under hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import pytest

from drharness.history import Event, EventType, History

T0 = 1_764_000_000.0
IP = {"us-east-1": "127.0.1.1", "us-west-2": "127.0.2.1"}
STORES = ("aurora", "dynamodb", "s3")


class HB:
    """Builds a history; times are seconds after ``T0``. Events are ordered by time on ``build``
    (ties keep insertion order, so an invoke stays before its same-instant completion)."""

    def __init__(self, t0: float = T0) -> None:
        self.t0 = t0
        self._rows: list[tuple[float, int, Event]] = []

    # -- raw
    def add(
        self, dt: float, process: str, type: str, f: str, value: Any = None, region: str | None = None
    ) -> HB:
        event = Event(self.t0 + dt, process, cast(EventType, type), f, value, region)
        self._rows.append((event.t, len(self._rows), event))
        return self

    def op(
        self,
        start: float,
        end: float | None,
        process: str,
        f: str,
        outcome: str | None,
        value: Any = None,
        region: str | None = None,
        end_value: Any = None,
        end_region: str | None = None,
    ) -> HB:
        """invoke at ``start``; completion ``outcome`` at ``end`` (no completion when outcome is None)."""
        self.add(start, process, "invoke", f, value, region)
        if outcome is not None:
            assert end is not None
            self.add(
                end, process, outcome, f, value if end_value is None else end_value, end_region or region
            )
        return self

    def remove(self, pred: Callable[[Event], bool]) -> HB:
        self._rows = [r for r in self._rows if not pred(r[2])]
        return self

    def build(self) -> list[Event]:
        rows = sorted(self._rows, key=lambda r: (r[0], r[1]))
        return [Event(e.t, e.process, e.type, e.f, e.value, e.region, i) for i, (_, _, e) in enumerate(rows)]

    def write_jsonl(self, path: Path) -> Path:
        """Through the real writer, so tests also cover serialization."""
        with History(path) as h:
            for e in self.build():
                h.append(e.process, e.type, e.f, e.value, e.region, t=e.t)
        return path

    # -- vocabulary
    def drill_start(self, dt: float = 0.0, scenario: str = "region-outage") -> HB:
        return self.add(dt, "harness", "invoke", "drill", {"scenario": scenario, "profile": "fast"})

    def drill_end(self, dt: float, outcome: str = "ok") -> HB:
        return self.add(dt, "harness", outcome, "drill", {"scenario": "region-outage"})

    def probe(
        self,
        dt: float,
        outcome: str | None = "ok",
        region: str | None = "us-east-1",
        *,
        ip: str | None = None,
        status: int | None = None,
        latency: float = 0.05,
        process: str = "prober",
    ) -> HB:
        ip = ip or IP.get(region or "", "127.0.1.1")
        if status is None:
            status = 200 if outcome == "ok" else 503
        end_value = {"name": "app.drill.example", "ip": ip, "status": status, "latency_ms": latency * 1000}
        if outcome == "info":
            end_value = {"name": "app.drill.example", "ip": ip, "status": None, "latency_ms": None}
        return self.op(
            dt,
            dt + latency,
            process,
            "probe",
            outcome,
            {"name": "app.drill.example"},
            None,
            end_value,
            region if outcome == "ok" else None,
        )

    def probes(self, start: float, stop: float, every: float = 1.0, **kw: Any) -> HB:
        t = start
        while t < stop - 1e-9:
            self.probe(t, **kw)
            t += every
        return self

    def dns(
        self, dt: float, region: str, *, ip: str | None = None, ttl: float = 30, process: str = "prober"
    ) -> HB:
        value = {"name": "app.drill.example", "answer": ip or IP[region], "ttl": ttl, "region": region}
        return self.add(dt, process, "ok", "dns", value)

    def write(
        self,
        dt: float,
        store: str,
        seq: int,
        outcome: str | None = "ok",
        region: str = "us-east-1",
        *,
        latency: float = 0.02,
        process: str | None = None,
    ) -> HB:
        """One canary thread per store (``canary:<store>``): they write concurrently."""
        value = {"store": store, "key": f"{store}-{seq}", "seq": seq}
        return self.op(dt, dt + latency, process or f"canary:{store}", "write", outcome, value, region)

    def read_all(self, dt: float, store: str, keys: Iterable[str], region: str = "us-west-2") -> HB:
        return self.add(
            dt, "verifier", "ok", "read-all", {"store": store, "region": region, "keys": list(keys)}, region
        )

    def fault(
        self,
        start: float,
        end: float | None = None,
        target: str = "us-east-1",
        fault: str = "region-isolation",
    ) -> HB:
        value = {"fault": fault, "target_region": target, "experiment_id": "EXP1"}
        return self.op(start, end, "nemesis", "fault", None if end is None else "ok", value, target)

    def step(self, name: str, start: float, end: float | None, outcome: str | None = "ok") -> HB:
        return self.op(start, end, "orchestrator", "step", outcome, {"step": name})

    def verdict(self, dt: float, region: str, healthy: bool, root_cause: str | None = None) -> HB:
        value = {"region": region, "healthy": healthy, "root_cause": root_cause}
        return self.add(dt, "aggregator", "ok", "verdict", value, region)

    def lag(self, dt: float, store: str, lag_ms: float | None) -> HB:
        return self.add(dt, "lag", "ok", "lag", {"store": store, "lag_ms": lag_ms})

    def keys_written(self, store: str, outcome: str = "ok") -> list[str]:
        """Keys of ``store`` whose write completed with ``outcome``."""
        events = self.build()
        return [
            e.value["key"]
            for e in events
            if e.f == "write" and e.type == outcome and e.value["store"] == store
        ]


FAULT_AT = 100.0


def region_outage(
    *,
    recover_at: float = 200.0,
    lost: Iterable[str] = (),
    end_drill: bool = True,
    post_recovery: Callable[[HB], None] | None = None,
) -> HB:
    """The canonical unplanned region-outage drill that passes every checker.

    0 drill start; probes/writes to us-east-1 each second; lag samples; 100 fault (us-east-1
    isolated); probes fail; 115 aggregator says us-east-1 unhealthy; steps decision 120-122, fence
    122-125, aurora_promotion 125-160, dns 160-165 (prober sees the us-west-2 answer at 180, ttl 30);
    warmup 165-190, validation 190-198; probes healthy in us-west-2 from ``recover_at`` to ``end``
    (400, or recover_at + 100); canary writes time out (info) during the outage and succeed in
    us-west-2 from 205; read-all of each store at end+10 without ``lost`` keys; end+50 heal;
    end+60 drill end.
    """
    end = max(400.0, recover_at + 100)
    b = HB().drill_start(0)
    b.dns(0.5, "us-east-1")
    b.step("preflight", 1, 2)
    b.probes(1, FAULT_AT, region="us-east-1")
    for seq in range(1, int(FAULT_AT)):
        for store in STORES:
            b.write(float(seq), store, seq)
    for t in range(1, int(FAULT_AT), 5):
        b.lag(t + 0.5, "aurora", 120.0).lag(t + 0.5, "dynamodb", 900.0).lag(t + 0.5, "s3", 4000.0)
    b.fault(FAULT_AT, end + 50)
    b.probes(FAULT_AT, 180, outcome="fail", region=None, ip=IP["us-east-1"], latency=1.0)
    b.probes(180, recover_at, outcome="fail", region=None, ip=IP["us-west-2"], latency=1.0)
    b.probes(recover_at, end, region="us-west-2")
    for i, t in enumerate(range(int(FAULT_AT) + 1, 200, 10)):
        for store in STORES:
            b.write(float(t), store, 1000 + i, outcome="info", latency=5.0)
    for seq in range(205, 400, 5):
        for store in STORES:
            b.write(float(seq), store, seq, region="us-west-2")
    for t in range(205, 400, 5):
        b.lag(t + 0.5, "aurora", 150.0).lag(t + 0.5, "dynamodb", 1100.0).lag(t + 0.5, "s3", 5000.0)
    b.verdict(115, "us-east-1", False, "region unreachable")
    b.step("decision", 120, 122).step("fence", 122, 125).step("aurora_promotion", 125, 160)
    b.step("dns", 160, 165).step("warmup", 165, 190).step("validation", 190, 198).step("notify", 198, 199)
    b.dns(180, "us-west-2")
    if post_recovery is not None:
        post_recovery(b)
    lost = set(lost)
    for store in STORES:
        b.read_all(end + 10, store, [k for k in b.keys_written(store) if k not in lost])
    if end_drill:
        b.drill_end(end + 60)
    return b


@pytest.fixture(scope="session")
def hb() -> type[HB]:
    return HB


@pytest.fixture(scope="session")
def outage() -> Callable[..., HB]:
    return region_outage


@pytest.fixture(scope="session")
def t0() -> float:
    return T0
