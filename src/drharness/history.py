"""Append-only JSONL history of a drill, Jepsen style (DESIGN.md §4).

Every actor appends what it *did* and what it *saw*; checkers (``drharness.checkers``) are pure
functions over the loaded history, so a verdict can be recomputed from the file alone.

One event per line::

    {"t": <unix float>, "process": "...", "type": "invoke|ok|fail|info", "f": "...",
     "value": ..., "region": "..." | null}

An operation is an ``invoke`` followed by its completion from the same ``(process, f)``:
``ok`` (it happened), ``fail`` (it certainly did not happen) or ``info`` (unknown outcome, e.g. a
timeout: never counted as success *or* failure). An invoke that never completes is ``info``.
Events that only report an observation are written as a bare ``ok`` (no invoke).

A process is a single-threaded logical actor. An actor that runs operations concurrently uses one
process name per thread, ``<role>:<id>`` (``prober:2``, ``canary:aurora``); checkers select by role
(the part before ``:``).

Vocabulary (what each module emits; checkers read exactly these):

- harness   ``f="drill"``: ``invoke`` at drill start (value: scenario/profile info, free-form),
  ``ok`` at drill end. A history without the ``ok`` drill end is *incomplete*: every checker then
  answers ``unknown``, never pass.
- prober    ``f="probe"``: ``invoke`` (value ``{"name"}``) then ``ok`` when a healthy write was
  answered 2xx / ``fail`` / ``info`` (timeout); completion value
  ``{"name", "ip", "status", "latency_ms"}``, region = the region that served (``X-Region``).
  ``f="dns"``: bare ``ok`` when the resolved answer changes, value
  ``{"name", "answer" (ip), "ttl", "region" (region that ip maps to)}``.
- canary    ``f="write"``: ``invoke`` → ``ok`` (acknowledged) | ``fail`` | ``info``, value
  ``{"store": "aurora"|"dynamodb"|"s3", "key": str, "seq": int}``, region = region written.
- verifier  ``f="read-all"``: ``ok`` with value ``{"store", "region", "keys": [keys present]}``:
  read-back of the canary keys from the new primary after failover / switchover / failback.
  Log an ``invoke`` first if the canary still writes meanwhile (writes acknowledged after the
  read started are then not held against it).
- nemesis   ``f="fault"``: ``invoke`` when injected, value
  ``{"fault": "region-isolation"|..., "target_region", "experiment_id"}``; ``ok`` when healed.
- orchestrator ``f="step"``: ``invoke`` at step start, ``ok``/``fail`` at end, value
  ``{"step": "preflight"|"decision"|"fence"|"aurora_promotion"|"dns"|"warmup"|"validation"|
  "notify"|...}``.
- aggregator ``f="verdict"``: bare ``ok``, value ``{"region", "healthy": bool, "root_cause"}``.
- lag       ``f="lag"``: bare ``ok``, value ``{"store", "lag_ms": float | null}``.
- healthcheck ``f="status"``: bare ``ok``, value ``{"region", "healthy": bool}`` (lab health
  checker or a Route 53 status read).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

__all__ = [
    "AGGREGATOR",
    "CANARY",
    "COMPLETION_TYPES",
    "DRILL",
    "EVENT_TYPES",
    "HARNESS",
    "HEALTHCHECK",
    "LAG",
    "NEMESIS",
    "NULL_HISTORY",
    "ORCHESTRATOR",
    "PROBER",
    "VERIFIER",
    "BaseHistory",
    "DrillStatus",
    "Event",
    "EventType",
    "History",
    "HistoryError",
    "LoadedHistory",
    "MemoryHistory",
    "NullHistory",
    "Op",
    "OpHandle",
    "drill_status",
    "is_complete",
    "load_history",
    "ops_for",
    "pair_ops",
    "role_of",
]

EventType = Literal["invoke", "ok", "fail", "info"]
EVENT_TYPES: Final[tuple[str, ...]] = ("invoke", "ok", "fail", "info")
COMPLETION_TYPES: Final[tuple[str, ...]] = ("ok", "fail", "info")

# Process roles of the vocabulary (see the module docstring).
HARNESS: Final = "harness"
DRILL: Final = "drill"
PROBER: Final = "prober"
CANARY: Final = "canary"
VERIFIER: Final = "verifier"
NEMESIS: Final = "nemesis"
ORCHESTRATOR: Final = "orchestrator"
AGGREGATOR: Final = "aggregator"
LAG: Final = "lag"
HEALTHCHECK: Final = "healthcheck"


class HistoryError(ValueError):
    """A history that cannot be trusted; the message names the file and line so a user can look."""

    def __init__(self, reason: str, *, path: str | os.PathLike[str] | None = None, line: int | None = None):
        self.reason = reason
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "")
        elif line is not None:
            where = f"line {line}"
        super().__init__(f"{where}: {reason}" if where else reason)


def role_of(process: str) -> str:
    """``prober:2`` → ``prober``: concurrent threads of one actor share a role."""
    return process.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the history. ``index`` is the 0-based position, set by ``load_history``."""

    t: float
    process: str
    type: EventType
    f: str
    value: Any = None
    region: str | None = None
    index: int | None = field(default=None, compare=False)

    @property
    def role(self) -> str:
        return role_of(self.process)

    def to_dict(self) -> dict[str, Any]:
        """The on-disk form (no index: the index is the position in the file)."""
        return {
            "t": self.t,
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "value": self.value,
            "region": self.region,
        }

    def to_json(self) -> str:
        """One JSONL line; NaN/Infinity and non-JSON values are refused so every reader can parse it."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, d: Any, *, index: int | None = None) -> Event:
        """Validate a decoded line; raises HistoryError(reason) without location (the caller adds it)."""
        if not isinstance(d, dict):
            raise HistoryError(f"expected a JSON object, got {type(d).__name__}")
        missing = [k for k in ("t", "process", "type", "f") if k not in d]
        if missing:
            raise HistoryError(f"missing field(s): {', '.join(missing)}")
        t = d["t"]
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise HistoryError(f"field 't' must be a finite unix time in seconds, got {t!r}")
        for key in ("process", "f"):
            if not isinstance(d[key], str) or not d[key]:
                raise HistoryError(f"field {key!r} must be a non-empty string, got {d[key]!r}")
        if d["type"] not in EVENT_TYPES:
            raise HistoryError(f"field 'type' must be one of {', '.join(EVENT_TYPES)}, got {d['type']!r}")
        region = d.get("region")
        if region is not None and (not isinstance(region, str) or not region):
            raise HistoryError(f"field 'region' must be a non-empty string or null, got {region!r}")
        return cls(float(t), d["process"], d["type"], d["f"], d.get("value"), region, index)


# --------------------------------------------------------------------------------------------- writers


@dataclass
class OpHandle:
    """What ``invoke`` returns; pass it to ``complete`` so the completion pairs with its invoke."""

    process: str
    f: str
    value: Any
    region: str | None
    t: float
    completion: Event | None = None

    @property
    def done(self) -> bool:
        return self.completion is not None


class BaseHistory:
    """Shared writer logic; subclasses decide where a line goes (file, memory, nowhere)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._last_t = -math.inf

    def _write(self, event: Event, line: str) -> Event:
        raise NotImplementedError

    def append(
        self,
        process: str,
        type: EventType,
        f: str,
        value: Any = None,
        region: str | None = None,
        *,
        t: float | None = None,
    ) -> Event:
        """Write one event. Thread-safe; ``t`` defaults to now, kept non-decreasing per writer so
        file order and time order agree even if the wall clock steps back."""
        with self._lock:
            if t is None:
                t = max(self._clock(), self._last_t)
            candidate = {"t": t, "process": process, "type": type, "f": f, "value": value, "region": region}
            event = Event.from_dict(candidate)
            line = event.to_json()  # raises before anything is written: no half events
            self._last_t = max(self._last_t, event.t)
            return self._write(event, line)

    def invoke(self, process: str, f: str, value: Any = None, region: str | None = None) -> OpHandle:
        """Log the start of an operation; complete it with ``complete(handle, ...)``."""
        event = self.append(process, "invoke", f, value, region)
        return OpHandle(process, f, value, region, event.t)

    def complete(
        self, handle: OpHandle, type: EventType, value: Any = None, region: str | None = None
    ) -> Event:
        """Log the outcome of ``handle``: ``ok``, ``fail`` or ``info`` (unknown). ``value``/``region``
        default to the invoke's, as in Jepsen where a completion restates its op."""
        if type not in COMPLETION_TYPES:
            raise ValueError(f"completion type must be one of {', '.join(COMPLETION_TYPES)}, got {type!r}")
        with self._lock:
            if handle.done:
                raise ValueError(f"operation {handle.process}/{handle.f} at t={handle.t} already completed")
            event = self.append(
                handle.process,
                type,
                handle.f,
                handle.value if value is None else value,
                handle.region if region is None else region,
            )
            handle.completion = event
            return event

    @contextmanager
    def op(self, process: str, f: str, value: Any = None, region: str | None = None) -> Iterator[OpHandle]:
        """``with h.op(...) as op: ...; h.complete(op, "ok", ...)``. An exception, or leaving the
        block without completing, logs ``info``: we do not know whether the op took effect."""
        handle = self.invoke(process, f, value, region)
        try:
            yield handle
        except BaseException as exc:
            if not handle.done:
                err = {**value, "error": f"{type(exc).__name__}: {exc}"} if isinstance(value, dict) else None
                self.complete(handle, "info", err)
            raise
        if not handle.done:
            self.complete(handle, "info")

    def drill_start(self, value: Any = None) -> OpHandle:
        """Drill-start convention: process ``harness``, f ``drill``, invoke."""
        return self.invoke(HARNESS, DRILL, value)

    def drill_end(self, handle: OpHandle, value: Any = None) -> Event:
        """Drill-end convention: the ``ok`` completion. Without it the history stays incomplete."""
        return self.complete(handle, "ok", value)

    def close(self) -> None:
        """Release resources; further appends fail."""

    def __enter__(self) -> BaseHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class History(BaseHistory):
    """JSONL file writer. Each line goes out in one ``write(2)`` on an ``O_APPEND`` descriptor, so
    several processes may append to the same file without interleaving lines; ``fsync=True`` also
    survives a host crash, at a cost per event."""

    def __init__(
        self, path: str | os.PathLike[str], *, fsync: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock=clock)
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
        # A file left with a torn last line: terminate it so our first line is not glued onto it.
        if os.fstat(self._fd).st_size > 0:
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    self._write_bytes(b"\n")

    def _write_bytes(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"history {self.path} is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self.fsync:
            os.fsync(self._fd)

    def _write(self, event: Event, line: str) -> Event:
        from drharness.safety.redact import redact_text  # no secret ever reaches the file

        self._write_bytes((redact_text(line) + "\n").encode("utf-8"))
        return event

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class MemoryHistory(BaseHistory):
    """Keeps events in a list (``.events``): for unit tests of emitters and in-process checks."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self.events: list[Event] = []

    def _write(self, event: Event, line: str) -> Event:
        stored = Event(
            event.t, event.process, event.type, event.f, event.value, event.region, len(self.events)
        )
        self.events.append(stored)
        return stored


class NullHistory(BaseHistory):
    """Discards everything, so library code can always log (``NULL_HISTORY`` is the default)."""

    def _write(self, event: Event, line: str) -> Event:
        return event


NULL_HISTORY: Final = NullHistory()


# --------------------------------------------------------------------------------------------- loading


class LoadedHistory(list[Event]):
    """The events of a history file, plus how the file ended (a torn tail means incomplete)."""

    def __init__(
        self, events: Iterable[Event] = (), *, path: Path | None = None, torn_line: int | None = None
    ):
        super().__init__(events)
        self.path = path
        self.torn_line = torn_line

    @property
    def torn(self) -> bool:
        return self.torn_line is not None

    @property
    def complete(self) -> bool:
        """False if the last line was torn or the drill never logged its end."""
        return drill_status(self).complete


def load_history(path: str | os.PathLike[str], *, allow_torn_tail: bool = False) -> LoadedHistory:
    """Read and validate every line. Raises HistoryError naming the line on anything corrupt.

    ``allow_torn_tail``: a last line without newline that does not parse (the writer crashed
    mid-write) is dropped and the history marked torn → incomplete, instead of an error. A corrupt
    line anywhere else is always an error: that is damage, not a crash.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise HistoryError("no such history file", path=p) from None
    except OSError as exc:
        raise HistoryError(f"cannot read history: {exc.strerror or exc}", path=p) from None
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    events = LoadedHistory(path=p)
    for lineno, raw in enumerate(lines, start=1):
        event = _parse_line(raw, p, lineno, len(events))
        if event is not None:
            events.append(event)
    if tail:
        lineno = len(lines) + 1
        try:
            event = _parse_line(tail, p, lineno, len(events))
        except HistoryError as exc:
            if not allow_torn_tail:
                raise HistoryError(
                    f"truncated last line (writer crashed mid-write?): {exc.reason}; "
                    "load with allow_torn_tail to keep the rest as an incomplete history",
                    path=p,
                    line=lineno,
                ) from None
            events.torn_line = lineno
        else:
            if event is not None:
                events.append(event)
    return events


def _parse_line(raw: bytes, path: Path, lineno: int, index: int) -> Event | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HistoryError(f"not UTF-8 (byte {exc.start + 1})", path=path, line=lineno) from None
    if not text.strip():
        return None
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HistoryError(
            f"not valid JSON: {exc.msg} at column {exc.colno}", path=path, line=lineno
        ) from None
    try:
        return Event.from_dict(decoded, index=index)
    except HistoryError as exc:
        raise HistoryError(exc.reason, path=path, line=lineno) from None


# --------------------------------------------------------------------------------------------- pairing


@dataclass(frozen=True, slots=True)
class Op:
    """An invoke paired with its completion. ``type`` is the outcome; ``info`` when unknown,
    including an invoke that never completed (``completion is None``). A bare observation
    (``ok`` without invoke) has ``invoke is None``."""

    process: str
    f: str
    type: Literal["ok", "fail", "info"]
    invoke: Event | None
    completion: Event | None

    @property
    def role(self) -> str:
        return role_of(self.process)

    @property
    def t(self) -> float:
        """When the op started (invoke time; the completion time for a bare observation)."""
        first = self.invoke if self.invoke is not None else self.completion
        assert first is not None
        return first.t

    @property
    def t_end(self) -> float | None:
        return None if self.completion is None else self.completion.t

    @property
    def latency(self) -> float | None:
        if self.invoke is None or self.completion is None:
            return None
        return self.completion.t - self.invoke.t

    @property
    def value(self) -> Any:
        """The completion's value (what was observed), falling back to the invoke's."""
        if self.completion is not None and self.completion.value is not None:
            return self.completion.value
        return None if self.invoke is None else self.invoke.value

    @property
    def invoke_value(self) -> Any:
        """The invoke's value (what was asked), falling back to the completion's."""
        if self.invoke is not None and self.invoke.value is not None:
            return self.invoke.value
        return None if self.completion is None else self.completion.value

    @property
    def region(self) -> str | None:
        if self.completion is not None and self.completion.region is not None:
            return self.completion.region
        return None if self.invoke is None else self.invoke.region


def pair_ops(events: Sequence[Event]) -> list[Op]:
    """Pair each invoke with the next completion of the same ``(process, f)``, in history order.

    Keyed by ``(process, f)`` rather than process alone because a prober logs its bare ``dns``
    observation while its ``probe`` is in flight. A second invoke while one is outstanding leaves
    the first as ``info`` (its outcome was never logged). Result is in order of each op's first event.
    """
    slots: list[list[Event | None]] = []
    outstanding: dict[tuple[str, str], int] = {}
    for event in events:
        key = (event.process, event.f)
        if event.type == "invoke":
            outstanding[key] = len(slots)
            slots.append([event, None])
        elif key in outstanding:
            slots[outstanding.pop(key)][1] = event
        else:
            slots.append([None, event])
    ops: list[Op] = []
    for invoke, completion in slots:
        first = invoke if invoke is not None else completion
        assert first is not None
        outcome = cast(Literal["ok", "fail", "info"], "info" if completion is None else completion.type)
        ops.append(Op(first.process, first.f, outcome, invoke, completion))
    return ops


def ops_for(events: Sequence[Event], role: str, f: str) -> list[Op]:
    """The paired ops of one role (``prober`` matches ``prober:2``) and one f."""
    return [op for op in pair_ops(events) if op.role == role and op.f == f]


# --------------------------------------------------------------------------------------------- drill


@dataclass(frozen=True, slots=True)
class DrillStatus:
    """Whether a history is complete, and if not, why (shown to the user in checker details)."""

    complete: bool
    reason: str | None
    start: float | None
    end: float | None


def drill_status(events: Sequence[Event]) -> DrillStatus:
    """Complete iff every harness drill op ended ``ok`` and the file was not torn."""
    drills = ops_for(events, HARNESS, DRILL)
    start = next((op.t for op in drills if op.invoke is not None), None)
    end = max((op.t_end for op in drills if op.type == "ok" and op.t_end is not None), default=None)
    torn_line = getattr(events, "torn_line", None)
    if torn_line is not None:
        return DrillStatus(False, f"history torn at line {torn_line} (writer crashed mid-write)", start, end)
    if not drills:
        return DrillStatus(False, "no drill start event (process 'harness', f 'drill', invoke)", None, None)
    for op in drills:
        if op.invoke is None:
            return DrillStatus(False, f"drill end at t={op.t} without a drill start", start, end)
        if op.completion is None:
            return DrillStatus(
                False, f"drill started at t={op.t} never ended (no drill end event)", start, end
            )
        if op.type != "ok":
            return DrillStatus(
                False, f"drill started at t={op.t} ended with {op.type!r}, not 'ok'", start, end
            )
    return DrillStatus(True, None, start, end)


def is_complete(events: Sequence[Event]) -> bool:
    """Checkers answer ``unknown`` for an incomplete history: a partial record cannot prove an SLO."""
    return drill_status(events).complete
