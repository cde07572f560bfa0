"""Fault switches, keyed by region, consulted by every lab listener on every connection/request.

Transport code reads these; only the control API and the FIS executor change them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

MODES = ("none", "unreachable", "error", "throttle", "latency")


@dataclass
class RegionFault:
    mode: str = "none"  # applies to every endpoint of the region (gateway, app, PG proxy)
    latency_ms: int = 0
    data_plane_down: bool = False  # app and database endpoints unreachable; AWS APIs still answer
    isolated: bool = False  # cross-region traffic to/from this region is cut (replication links)
    api_errors: dict[str, str] = field(default_factory=dict)  # service -> unavailable|internal|throttle
    lambda_error: bool = False
    lambda_delay_ms: int = 0
    owner: str = ""  # who set it (e.g. a FIS experiment id) so halt can revert what it owns


class Faults:
    def __init__(self, regions: tuple[str, ...]) -> None:
        self._lock = threading.RLock()
        self._regions = {r: RegionFault() for r in regions}
        self.paused_tables: set[str] = set()
        self.paused_buckets: set[str] = set()
        self.changed_at = time.time()

    def region(self, region: str) -> RegionFault:
        with self._lock:
            return self._regions[region]

    def set(self, region: str, **changes: Any) -> RegionFault:
        with self._lock:
            rf = self._regions[region]
            for k, v in changes.items():
                if not hasattr(rf, k):
                    raise ValueError(f"unknown fault field {k!r}")
                if k == "mode" and v not in MODES:
                    raise ValueError(f"unknown fault mode {v!r}: choose one of {', '.join(MODES)}")
                setattr(rf, k, v)
            self.changed_at = time.time()
            return rf

    def clear(self, region: str | None = None, owner: str | None = None) -> None:
        with self._lock:
            for r, rf in self._regions.items():
                if region not in (None, r) or (owner and rf.owner and rf.owner != owner):
                    continue
                self._regions[r] = RegionFault()
            if region is None and owner is None:
                self.paused_tables.clear()
                self.paused_buckets.clear()
            self.changed_at = time.time()

    def unreachable(self, region: str) -> bool:
        return self._regions[region].mode == "unreachable"

    def data_plane_down(self, region: str) -> bool:
        rf = self._regions[region]
        return rf.mode == "unreachable" or rf.data_plane_down

    def link_cut(self, a: str, b: str) -> bool:
        """Cross-region traffic between a and b is cut when either side is isolated or down."""
        if a == b:
            return False
        return any(self._regions[r].isolated or self.data_plane_down(r) for r in (a, b))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "regions": {r: asdict(rf) for r, rf in self._regions.items()},
                "paused_tables": sorted(self.paused_tables),
                "paused_buckets": sorted(self.paused_buckets),
            }

    def describe(self, region: str) -> str:
        rf = self._regions[region]
        parts = [] if rf.mode == "none" else [rf.mode]
        if rf.data_plane_down:
            parts.append("data-plane-down")
        if rf.isolated:
            parts.append("isolated")
        parts += [f"api-{k}:{v}" for k, v in rf.api_errors.items()]
        if rf.lambda_error:
            parts.append("lambda-error")
        return ",".join(parts) or "none"
