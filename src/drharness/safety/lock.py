"""The drill lock: one live drill per target at a time.

Stored as one DynamoDB item written with a conditional put in the *secondary* region's table (the
region a drill never takes down, reachable through boto3 on the lab and on AWS alike). The item
names its owner (principal and OS user), host, pid, run id and expiry. A lock can be taken over
when it has expired, or at once when its owner ran on this host and that pid is dead (a kill -9'd
runner); ``--force-unlock`` removes it whatever it says (the operator checked the owner is gone).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from drharness.errors import EnvironmentProblem
from drharness.safety import audit

__all__ = ["LOCK_KEY", "DrillLock", "LockHeld", "LockRecord"]

log = logging.getLogger(__name__)
LOCK_KEY = "drharness#drill-lock"


class LockHeld(EnvironmentProblem):
    """Another drill holds the lock: exit 3 with one line naming its owner."""


@dataclass
class LockRecord:
    owner: str
    host: str
    pid: int
    run_id: str
    scenario: str
    acquired_at: float
    expires_at: float

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LockRecord:
        def s(k: str) -> str:
            return str(item.get(k, {}).get("S", ""))

        def n(k: str) -> float:
            try:
                return float(item.get(k, {}).get("N", "0"))
            except ValueError:
                return 0.0

        return cls(owner=s("owner"), host=s("host"), pid=int(n("pid")), run_id=s("run_id"), scenario=s("scenario"),
                   acquired_at=n("acquired_at"), expires_at=n("expires_at"))

    def describe(self) -> str:
        until = dt.datetime.fromtimestamp(self.expires_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"{self.owner} on {self.host} pid {self.pid} (run {self.run_id}, {self.scenario or 'drill'}) "
                f"until {until}")

    def stale_here(self) -> bool:
        """Its runner was on this host and is gone: safe to take over without waiting for expiry."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


class DrillLock:
    def __init__(self, target: Any, owner: str, run_id: str, scenario: str = "", ttl_s: float = 2400.0,
                 region: str | None = None) -> None:
        self.t = target
        self.region = region or target.secondary_region
        self.table = target.regions[self.region].table
        self.mine = LockRecord(owner=owner, host=socket.gethostname(), pid=os.getpid(), run_id=run_id,
                               scenario=scenario, acquired_at=0.0, expires_at=0.0)
        self.ttl_s = ttl_s
        self.held = False
        self.took_over: LockRecord | None = None

    def _ddb(self) -> Any:
        return self.t.client("dynamodb", self.region, attempts=2)

    def read(self) -> LockRecord | None:
        item = self._ddb().get_item(TableName=self.table, Key={"pk": {"S": LOCK_KEY}},
                                    ConsistentRead=True).get("Item")
        return LockRecord.from_item(item) if item else None

    def acquire(self) -> DrillLock:
        """Conditional put: succeeds only if no lock exists, it expired, or it is our stale one."""
        now = time.time()
        self.mine.acquired_at, self.mine.expires_at = now, now + self.ttl_s
        item = {k: ({"N": str(v)} if isinstance(v, int | float) else {"S": str(v)}) for k, v in asdict(self.mine).items()}
        item["pk"] = {"S": LOCK_KEY}
        ddb = self._ddb()
        for _ in range(3):
            held = self.read()
            cond, values = "attribute_not_exists(pk)", {}
            if held is not None:
                if held.expires_at >= now and not held.stale_here() and held.run_id != self.mine.run_id:
                    raise LockHeld(f"another drill holds the drill lock: {held.describe()}; wait for it, or "
                                   "re-run with --force-unlock if that runner is gone")
                # Take over exactly the record we judged stale/expired (no race with a third runner).
                cond, values = "run_id = :old AND expires_at = :exp", {
                    ":old": {"S": held.run_id}, ":exp": {"N": str(held.expires_at)}}
            try:
                ddb.put_item(TableName=self.table, Item=item, ConditionExpression=cond,
                             **({"ExpressionAttributeValues": values} if values else {}))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    continue  # someone else won between read and put: read again
                raise EnvironmentProblem(f"cannot write the drill lock in {self.region} table {self.table}: "
                                         f"{exc}") from None
            self.held = True
            self.took_over = held
            audit.record("lock.acquire", region=self.region, table=self.table, lock=asdict(self.mine),
                         took_over=asdict(held) if held else None)
            if held is not None:
                log.warning("took over the drill lock of %s", held.describe())
            return self
        raise LockHeld("the drill lock changed hands while acquiring it: another drill is starting")

    def take(self, force_unlock: bool = False) -> DrillLock:
        """What a drill and a standalone failover/failback do: remove a lock left by a gone runner when
        the operator says so (--force-unlock), then acquire; a refusal is written to the audit log."""
        if force_unlock:
            removed = self.force_unlock()
            if removed:
                log.warning("--force-unlock removed the lock of %s", removed.describe())
        try:
            return self.acquire()
        except Exception as exc:
            audit.record("lock.acquire", result=f"refused: {exc}")
            raise

    def release(self) -> None:
        """Delete the lock if it is still ours (a force-unlock by someone else is respected)."""
        if not self.held:
            return
        try:
            self._ddb().delete_item(TableName=self.table, Key={"pk": {"S": LOCK_KEY}},
                                    ConditionExpression="run_id = :me", ExpressionAttributeValues={
                                        ":me": {"S": self.mine.run_id}})
            audit.record("lock.release", region=self.region, run_id_released=self.mine.run_id)
        except ClientError as exc:
            audit.record("lock.release", region=self.region, result=f"error: {exc}")
            log.warning("drill lock not released: %s", exc)
        self.held = False

    def force_unlock(self) -> LockRecord | None:
        """Remove whatever lock exists (the operator made sure its owner is gone)."""
        held = self.read()
        if held is not None:
            self._ddb().delete_item(TableName=self.table, Key={"pk": {"S": LOCK_KEY}})
            audit.record("lock.force-unlock", region=self.region, removed=asdict(held))
        return held

