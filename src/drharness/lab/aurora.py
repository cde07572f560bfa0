"""Aurora Global Database emulation: the writer lives where PostgreSQL is primary.

``FailoverGlobalCluster`` / ``SwitchoverGlobalCluster`` (NotImplemented in moto) act here on the
real PostgreSQL pair, and moto's view (``IsWriter``, ``FailoverState``) is kept in step.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from drharness.lab.faults import Faults
from drharness.lab.postgres import PgNode, current_lsn, replay_lsn_reached, wait_streaming

log = logging.getLogger(__name__)


class GlobalClusterError(Exception):
    """Maps to an AWS error code/message answered by the gateway."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class AuroraGlobal:
    def __init__(
        self,
        nodes: dict[str, PgNode],
        replication_ports: dict[str, int],
        writer_region: str,
        faults: Faults,
        moto_sync: Callable[[str, dict | None], None],
        cluster_ids: dict[str, str],
        global_cluster_id: str,
    ) -> None:
        self.nodes = nodes  # region -> node living in that region
        self.replication_ports = replication_ports  # region -> proxy port that reaches that region's node
        self.writer_region = writer_region
        self.faults = faults
        self.moto_sync = moto_sync  # (writer_region, failover_state|None) -> updates moto
        self.cluster_ids = cluster_ids
        self.global_cluster_id = global_cluster_id
        self.failover_state: dict[str, Any] | None = None
        self.fenced: set[str] = set()
        self._lock = threading.Lock()
        self._reseed_lock = threading.Lock()
        self.events: list[dict[str, Any]] = []

    # ---- helpers -----------------------------------------------------------------------------
    def other(self, region: str) -> str:
        return next(r for r in self.nodes if r != region)

    def region_of_cluster(self, ident: str) -> str:
        for region, cid in self.cluster_ids.items():
            if ident == cid or ident.endswith(f":cluster:{cid}"):
                return region
        raise GlobalClusterError("DBClusterNotFoundFault", f"DBCluster {ident} not found in global cluster "
                                 f"{self.global_cluster_id}", 404)

    def _record(self, kind: str, **kw: Any) -> None:
        self.events.append({"t": time.time(), "kind": kind, **kw})

    def _set_state(self, status: str | None, src: str = "", dst: str = "", loss: bool = False) -> None:
        if status is None:
            self.failover_state = None
        else:
            self.failover_state = {
                "Status": status,
                "FromDbClusterArn": src,
                "ToDbClusterArn": dst,
                "IsDataLossAllowed": loss,
            }
        self.moto_sync(self.writer_region, self.failover_state)

    def check_target(self, target: str) -> str:
        region = self.region_of_cluster(target)
        if self.failover_state:
            raise GlobalClusterError("InvalidGlobalClusterStateFault",
                                     f"Global cluster {self.global_cluster_id} is already "
                                     f"{self.failover_state['Status']}")
        if region == self.writer_region:
            raise GlobalClusterError("InvalidDBClusterStateFault",
                                     f"{target} is already the primary cluster of {self.global_cluster_id}")
        if self.faults.data_plane_down(region):
            raise GlobalClusterError("InvalidDBClusterStateFault",
                                     f"{target} is not available: region {region} is unreachable", 400)
        return region

    # ---- unplanned failover (AllowDataLoss) ------------------------------------------------------
    def failover(self, target: str, arn_of: Callable[[str], str]) -> None:
        """Start a failover in the background, as AWS does; DescribeGlobalClusters shows progress."""
        with self._lock:
            region = self.check_target(target)
            src = self.writer_region
            self._set_state("failing-over", arn_of(src), arn_of(region), True)
        threading.Thread(target=self._do_failover, args=(src, region), daemon=True).start()

    def _do_failover(self, src: str, dst: str) -> None:
        try:
            old, new = self.nodes[src], self.nodes[dst]
            self._record("failover-start", src=src, dst=dst)
            new.promote()
            new.query("CHECKPOINT")
            # Fence the old writer so no client can reach stale data when its region heals. The
            # lab's own control plane can always reach it (as Aurora's storage layer would).
            old.stop("immediate")
            self.fenced.add(src)
            with self._lock:
                self.writer_region = dst
                self._set_state(None)
            self._record("failover-end", src=src, dst=dst)
        except Exception as exc:  # noqa: BLE001 - a failed failover is state, not a crash
            log.exception("failover failed")
            self._record("failover-failed", error=str(exc))
            with self._lock:
                self._set_state(None)

    # ---- planned switchover (no data loss) -------------------------------------------------------
    def switchover(self, target: str, arn_of: Callable[[str], str]) -> None:
        with self._lock:
            region = self.check_target(target)
            src = self.writer_region
            if self.faults.link_cut(src, region):
                raise GlobalClusterError(
                    "InvalidGlobalClusterStateFault",
                    f"switchover needs the primary cluster reachable and in sync; region {src} is not "
                    "reachable: use FailoverGlobalCluster with AllowDataLoss for an outage",
                )
            if src in self.fenced:
                raise GlobalClusterError("InvalidGlobalClusterStateFault",
                                         f"primary {src} is fenced; re-seed it first")
            self._set_state("switching-over", arn_of(src), arn_of(region), False)
        threading.Thread(target=self._do_switchover, args=(src, region), daemon=True).start()

    def _do_switchover(self, src: str, dst: str) -> None:
        try:
            old, new = self.nodes[src], self.nodes[dst]
            self._record("switchover-start", src=src, dst=dst)
            # Fence: a clean shutdown writes the final checkpoint and streams it before exit.
            final_lsn = current_lsn(old)
            old.stop("fast")
            deadline = time.monotonic() + 60
            while not replay_lsn_reached(new, final_lsn):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"standby in {dst} did not catch up to {final_lsn}")
                time.sleep(0.02)
            time.sleep(0.2)  # let the shutdown checkpoint record replay too
            new.promote()
            old.make_standby(self.replication_ports[dst])
            old.start()
            with self._lock:
                self.writer_region = dst
                self._set_state(None)
            self._record("switchover-end", src=src, dst=dst)
        except Exception as exc:  # noqa: BLE001
            log.exception("switchover failed")
            self._record("switchover-failed", error=str(exc))
            with self._lock:
                self._set_state(None)

    # ---- failback preparation: re-seed the fenced old primary as a standby ----------------------
    def reseed(self, region: str) -> str:
        """Rejoin a fenced region as secondary (what Aurora does when the old primary recovers)."""
        with self._reseed_lock:
            return self._reseed(region)

    def reseed_recovered(self) -> list[str]:
        """Aurora re-adds an old primary as secondary once its region is reachable again."""
        done = []
        for region in list(self.fenced):
            if region != self.writer_region and not self.faults.link_cut(region, self.writer_region) \
                    and not self.failover_state:
                done.append(f"{region}:{self.reseed(region)}")
        return done

    def _reseed(self, region: str) -> str:
        with self._lock:
            if region not in self.fenced:
                return "in-sync"
            if self.faults.link_cut(region, self.writer_region):
                raise GlobalClusterError("InvalidDBClusterStateFault",
                                         f"cannot re-seed {region}: region unreachable")
            node, source = self.nodes[region], self.nodes[self.writer_region]
        node.stop("immediate")
        # pg_rewind reads the source's timeline from its control file, which a promoted server
        # only updates at its first checkpoint: without this it may wrongly find nothing to rewind.
        source.query("CHECKPOINT")
        port = self.replication_ports[self.writer_region]
        method = "pg_rewind"
        if node.rewind_from(source):
            node.make_standby(port)
            node.start()
            if not wait_streaming(node, timeout=15):
                node.stop("immediate")
                method = "base-backup"
        else:
            method = "base-backup"
        if method == "base-backup":
            node.base_backup_from(source, port)
            node.start()
            if not wait_streaming(node, timeout=30):
                raise GlobalClusterError("InvalidDBClusterStateFault", f"re-seeded {region} does not stream")
        with self._lock:
            self.fenced.discard(region)
        self._record("reseed", region=region, method=method)
        return method

    def status(self) -> dict[str, Any]:
        return {
            "writer_region": self.writer_region,
            "failover_state": self.failover_state,
            "fenced": sorted(self.fenced),
        }
