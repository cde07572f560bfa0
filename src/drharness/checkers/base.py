"""Checker results and their composition (Jepsen ``checker.clj``): false > unknown > true.

A checker is a pure function ``check(history, opts) -> Result``. ``unknown`` means the history
cannot decide (incomplete drill, missing evidence, a crash of the checker itself); it is never a
pass, so a drill whose evidence is missing cannot look green.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

from drharness.history import Event, HistoryError, Op, drill_status

__all__ = [
    "UNKNOWN",
    "Result",
    "Valid",
    "check_safe",
    "coerce_opts",
    "compose",
    "finish",
    "merge_valid",
    "value_field",
]

Valid = bool | Literal["unknown"]
UNKNOWN: Final = "unknown"
_RANK: Final[dict[Any, int]] = {True: 0, UNKNOWN: 1, False: 2}


@dataclass(kw_only=True)
class Result:
    """A checker's verdict. ``figures`` are the numbers for the drill report; ``detail`` says why."""

    name: str
    valid: Valid
    figures: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    def __post_init__(self) -> None:
        if not (self.valid is True or self.valid is False or self.valid == UNKNOWN):
            raise ValueError(f"valid must be True, False or 'unknown', got {self.valid!r}")

    @property
    def verdict(self) -> Literal["pass", "fail", "unknown"]:
        """The report's words for ``valid``."""
        if self.valid is True:
            return "pass"
        return "fail" if self.valid is False else "unknown"

    def to_dict(self) -> dict[str, Any]:
        """The report's ``checks[]`` entry plus figures."""
        return {
            "name": self.name,
            "verdict": self.verdict,
            "valid": self.valid,
            "detail": self.detail,
            "figures": self.figures,
        }


def merge_valid(values: Iterable[Valid]) -> Valid:
    """false > unknown > true. Nothing to merge is ``unknown``: no evidence is not a pass."""
    worst: Valid | None = None
    for v in values:
        if not (v is True or v is False or v == UNKNOWN):
            raise ValueError(f"valid must be True, False or 'unknown', got {v!r}")
        if worst is None or _RANK[v] > _RANK[worst]:
            worst = v
    return UNKNOWN if worst is None else worst


def compose(results: Iterable[Result], name: str = "composed") -> Result:
    """Merge several results into one; figures keep each check's verdict and detail."""
    rs = list(results)
    detail = "; ".join(
        f"{r.name}: {r.verdict}" + (f" ({r.detail})" if r.detail else "") for r in rs if r.valid is not True
    )
    return Result(
        name=name,
        valid=merge_valid(r.valid for r in rs),
        figures={"checks": [{"name": r.name, "verdict": r.verdict, "detail": r.detail} for r in rs]},
        detail=detail if rs else "no checks ran",
    )


def check_safe(
    fn: Callable[..., Result],
    history: Sequence[Event],
    opts: Any = None,
    *,
    name: str | None = None,
) -> Result:
    """Run a checker; an exception (bad history, bad opts, a checker bug) becomes ``unknown`` with
    the reason, so one broken checker cannot crash the drill report or turn into a pass."""
    label = name or _checker_name(fn)
    try:
        result = fn(history, opts)
    except Exception as exc:  # noqa: BLE001 - any failure to check is "unknown", by design
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
        kind = "bad history" if isinstance(exc, HistoryError) else f"checker crashed{at}"
        return Result(name=label, valid=UNKNOWN, detail=f"{kind}: {type(exc).__name__}: {exc}")
    if not isinstance(result, Result):
        return Result(
            name=label, valid=UNKNOWN, detail=f"checker returned {type(result).__name__}, not Result"
        )
    return result


def _checker_name(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", "") or ""
    if module.startswith("drharness.checkers.") and getattr(fn, "__name__", "") == "check":
        return module.rsplit(".", 1)[-1]
    return getattr(fn, "__name__", repr(fn))


_O = TypeVar("_O")


def coerce_opts(opts: Any, cls: type[_O]) -> _O:
    """Accept None, the checker's opts dataclass, or a dict; unknown keys are an error so a typo
    (``slo`` for ``slo_s``) cannot silently fall back to a default."""
    if opts is None:
        return cls()
    if isinstance(opts, cls):
        return opts
    if isinstance(opts, Mapping):
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(opts) - names)
        if unknown:
            raise ValueError(
                f"unknown {cls.__name__} option(s): {', '.join(map(str, unknown))}; known: {sorted(names)}"
            )
        return cls(**opts)
    raise TypeError(f"opts must be None, a dict or {cls.__name__}, got {type(opts).__name__}")


def finish(name: str, history: Sequence[Event], compute: Callable[[], Result]) -> Result:
    """Run ``compute``; on an incomplete history the answer is ``unknown`` whatever it found (the
    figures are kept for diagnosis)."""
    status = drill_status(history)
    if status.complete:
        return compute()
    prefix = f"history incomplete: {status.reason}"
    try:
        found = compute()
    except Exception as exc:  # noqa: BLE001 - a partial history may lack what the checker needs
        return Result(name=name, valid=UNKNOWN, detail=f"{prefix}; checker could not run: {exc}")
    detail = f"{prefix}; on the partial history: {found.verdict}" + (
        f" ({found.detail})" if found.detail else ""
    )
    return Result(name=name, valid=UNKNOWN, figures=found.figures, detail=detail)


def value_field(item: Event | Op, key: str, types: type | tuple[type, ...], *, optional: bool = False) -> Any:
    """``item.value[key]``, checked, with an error naming the event so a bad emitter is findable."""
    value = item.value
    if isinstance(value, dict) and key in value and value[key] is not None:
        got = value[key]
        if isinstance(got, types) and not (isinstance(got, bool) and bool not in _as_tuple(types)):
            return got
        raise HistoryError(
            f"{_describe(item)}: value.{key} has type {type(got).__name__}, expected {_names(types)}"
        )
    if optional:
        return None
    raise HistoryError(f"{_describe(item)}: value.{key} missing (value={value!r})")


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _names(types: type | tuple[type, ...]) -> str:
    return "|".join(t.__name__ for t in _as_tuple(types))


def _describe(item: Event | Op) -> str:
    if isinstance(item, Op):
        first = item.invoke if item.invoke is not None else item.completion
        assert first is not None
        item = first
    where = f"event #{item.index}" if item.index is not None else "event"
    return f"{where} ({item.process} {item.type} {item.f} t={item.t})"
