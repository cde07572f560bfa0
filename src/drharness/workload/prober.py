"""Client-side prober: a healthy write through the failover DNS name, every interval.

This is what RTO is measured from: the first instant after which writes through the name
succeed in the new region (DESIGN §5).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from urllib.parse import urlsplit

from drharness.history import NULL_HISTORY, BaseHistory
from drharness.target import Target
from drharness.workload.dnsclient import TtlResolver


class Prober:
    def __init__(self, target: Target, history: BaseHistory = NULL_HISTORY, interval_s: float = 0.2,
                 timeout_s: float = 2.0, max_seconds: float = 1800.0, process: str = "prober") -> None:
        self.target = target
        self.history = history
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.max_seconds = max_seconds  # every load loop is bounded in time and count
        self.max_count = int(max_seconds / max(interval_s, 0.01)) + 1
        self.process = process
        u = urlsplit(target.regions[target.primary_region].app_url)
        self.scheme, self.port = u.scheme, u.port or (443 if u.scheme == "https" else 80)
        self.resolver = TtlResolver.for_target(target, history, process)
        self.run_id = uuid.uuid4().hex[:8]
        self.count = 0
        self.done = 0  # completed probes (self.last is the latest)
        self.last: dict | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="prober", daemon=True)

    def start(self) -> Prober:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout_s + 2)

    def wait_served_by(self, region: str, timeout: float, streak_needed: int) -> bool:
        """``streak_needed`` successful probes in a row answered by ``region``: enough evidence to go on
        (the checkers decide from the history, this only says when to stop waiting)."""
        deadline = time.monotonic() + timeout
        streak, seen = 0, self.done
        while time.monotonic() < deadline:
            if self.done != seen:
                seen = self.done
                last = self.last or {}
                ok = last.get("status") == 201 and self.resolver.region_for(last.get("ip")) == region
                streak = streak + 1 if ok else 0
                if streak >= streak_needed:
                    return True
            time.sleep(0.02)
        return False

    def _loop(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set() and self.count < self.max_count and time.monotonic() - t0 < self.max_seconds:
            started = time.monotonic()
            self.probe_once()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def probe_once(self) -> dict:
        self.count += 1
        h = self.history.invoke(self.process, "probe", {"name": self.target.dns.name})
        ip = self.resolver.resolve()
        t = time.monotonic()
        value: dict = {"name": self.target.dns.name, "ip": ip, "status": None, "latency_ms": None}
        if ip is None:
            self.history.complete(h, "fail", {**value, "error": "no DNS answer"})
            self.last, self.done = value, self.done + 1
            return value
        conn_cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(ip, self.port, timeout=self.timeout_s)
        try:
            body = json.dumps({"id": f"probe-{self.run_id}-{self.count}", "probe": True})
            conn.request("POST", "/orders", body=body, headers={"Host": self.target.dns.name,
                                                                "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            region = resp.getheader("X-Region")
            value.update(status=resp.status, latency_ms=round((time.monotonic() - t) * 1000, 1))
            self.history.complete(h, "ok" if 200 <= resp.status < 300 else "fail", value, region)
        except TimeoutError:
            self.history.complete(h, "info", {**value, "error": "timeout"})
        except (OSError, http.client.HTTPException) as exc:
            self.history.complete(h, "fail", {**value, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            conn.close()
        self.last, self.done = value, self.done + 1
        return value
