"""The last-writer-wins checker is pure: proven on synthetic histories, faults planted on purpose."""

from __future__ import annotations

from typing import Any

import pytest

from drharness.checkers.base import Result
from drharness.consistency import lww
from drharness.history import HistoryError, MemoryHistory

E, W = "us-east-1", "us-west-2"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def history() -> tuple[MemoryHistory, Clock]:
    c = Clock()
    return MemoryHistory(clock=c), c


def write(h: MemoryHistory, c: Clock, region: str, key: str, value: str, start: float, end: float | None,
          outcome: str = "ok") -> None:
    c.t = start
    op = h.invoke(f"lww:{region}:{key}", "write", {"key": key, "value": value}, region)
    if end is not None:
        c.t = end
        h.complete(op, outcome)  # type: ignore[arg-type]


def final(h: MemoryHistory, c: Clock, key: str, values: dict[str, str | None], at: float = 50.0) -> None:
    c.t = 1000.0 + at
    for region, v in values.items():
        h.append("lww-read", "ok", "read", {"key": key, "value": v}, region)


def run(build: Any, **opts: Any) -> Result:
    h, c = history()
    c.t = 999.0
    d = h.drill_start()
    build(h, c)
    c.t = 1100.0
    h.drill_end(d)
    return lww.check(h.events, opts or None)


def test_sequential_writes_later_one_wins() -> None:
    def b(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, 1000.1)
        write(h, c, W, "k", "w1", 1000.5, 1000.6)
        final(h, c, "k", {E: "w1", W: "w1"})

    r = run(b)
    assert r.valid is True, r.detail
    assert r.figures["winners"]["k"]["region"] == W


def test_planted_fault_older_write_won_fails() -> None:
    def b(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, 1000.1)
        write(h, c, W, "k", "w1", 1000.5, 1000.6)  # started after e1 completed: must win
        final(h, c, "k", {E: "e1", W: "e1"})

    r = run(b)
    assert r.valid is False
    v = r.figures["violations"][0]
    assert v["problem"] == "an older write won" and v["later_write"] == "w1" and v["final"] == "e1"


def test_concurrent_writes_either_may_win() -> None:
    for winner in ("e1", "w1"):
        def b(h: MemoryHistory, c: Clock, winner: str = winner) -> None:
            write(h, c, E, "k", "e1", 1000.0, 1000.3)
            write(h, c, W, "k", "w1", 1000.1, 1000.2)  # overlaps e1
            final(h, c, "k", {E: winner, W: winner})

        r = run(b)
        assert r.valid is True, r.detail
        assert r.figures["contested_keys"] == 1


def test_diverged_regions_fail() -> None:
    def b(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, 1000.3)
        write(h, c, W, "k", "w1", 1000.1, 1000.2)
        final(h, c, "k", {E: "e1", W: "w1"})

    r = run(b)
    assert r.valid is False and r.figures["violations"][0]["problem"] == "diverged"


def test_failed_write_must_not_win_and_unknown_may() -> None:
    def failed(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, 1000.1)
        write(h, c, W, "k", "w1", 1000.5, 1000.6, outcome="fail")
        final(h, c, "k", {E: "w1", W: "w1"})

    assert run(failed).valid is False

    def unknown(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, None)  # never completed: may have landed at any time
        write(h, c, W, "k", "w1", 1000.5, 1000.6)
        final(h, c, "k", {E: "e1", W: "e1"})

    assert run(unknown).valid is True


def test_value_never_written_or_lost_item_fails() -> None:
    def ghost(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, 1000.1)
        final(h, c, "k", {E: "zz", W: "zz"})

    def lost(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, 1000.1)
        final(h, c, "k", {E: None, W: None})

    assert run(ghost).figures["violations"][0]["problem"] == "final value was never written"
    assert run(lost).valid is False


def test_clock_skew_tolerance() -> None:
    def b(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, 1000.1)
        write(h, c, W, "k", "w1", 1000.15, 1000.2)  # only 50 ms after e1
        final(h, c, "k", {E: "e1", W: "e1"})

    assert run(b).valid is False
    assert run(b, clock_skew_s=0.1).valid is True


def test_missing_final_read_or_incomplete_history_is_unknown() -> None:
    def b(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "e1", 1000.0, 1000.1)
        final(h, c, "k", {E: "e1"})

    assert run(b, regions=[E, W]).valid == "unknown"
    h, c = history()
    write(h, c, E, "k", "e1", 1000.0, 1000.1)
    final(h, c, "k", {E: "e1", W: "e1"})
    assert lww.check(h.events).valid == "unknown"  # no drill start/end
    assert lww.check(h.events, {"require_complete": False}).valid is True


def test_duplicate_values_are_a_bad_history() -> None:
    def b(h: MemoryHistory, c: Clock) -> None:
        write(h, c, E, "k", "same", 1000.0, 1000.1)
        write(h, c, W, "k", "same", 1000.5, 1000.6)
        final(h, c, "k", {E: "same", W: "same"})

    with pytest.raises(HistoryError):
        run(b)
