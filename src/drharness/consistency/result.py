"""The per-store answer of a consistency check, shaped for the drill report (DESIGN §6)."""

from __future__ import annotations

import datetime as _dt
import decimal
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["STATUSES", "StoreResult", "jsonable_key"]

# consistent: proven equal. diff: differences confirmed. pending: differences that replication is still
# working on (S3/DynamoDB in flight). unsettled: rows changing under the check, cannot decide.
# not_caught_up: the standby never reached the watermark, nothing compared. not_replicating: there
# is no primary/standby pair to compare (e.g. two writers). error: the check could not run.
STATUSES: Final = ("consistent", "diff", "pending", "unsettled", "not_caught_up", "not_replicating",
                   "schema_differs", "error")


@dataclass
class StoreResult:
    """``ok`` is True only when the store was compared and found equal: anything else is not a pass."""

    store: str
    ok: bool
    compared: int
    diffs: int | None  # None = unknown (nothing could be compared)
    diff_keys: list[Any] = field(default_factory=list)
    status: str = "consistent"
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.ok and (self.status != "consistent" or self.diffs):
            raise ValueError("ok=True needs status 'consistent' and no diffs")

    def to_dict(self) -> dict[str, Any]:
        """The report's ``consistency.<store>`` entry (ok, compared, diffs first, then the evidence)."""
        return {"ok": self.ok, "compared": self.compared, "diffs": self.diffs, "diff_keys": self.diff_keys,
                "status": self.status, "detail": self.detail, **self.extra}


def jsonable_key(values: tuple[Any, ...]) -> Any:
    """A key as the report shows it: the bare value for one column, a list for a composite key."""
    out = [_jsonable(v) for v in values]
    return out[0] if len(out) == 1 else out


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, str | bool | int):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v).hex()
    if isinstance(v, _dt.datetime | _dt.date | _dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal | uuid.UUID):
        return str(v)
    return str(v)
