"""Success-rate checker: planted failed / unknown runs must refute "> 95 %"; few runs never pass."""

from __future__ import annotations

from typing import Any

import pytest

from drharness.checkers import UNKNOWN, check_safe, success_rate


def runs(hb: Any, outcomes: list[str | None]) -> Any:
    """A history of repeated runs, one op per outcome (None = the run never completed)."""
    b = hb().drill_start(0, scenario="repeated-failover")
    for i, outcome in enumerate(outcomes):
        b.op(10 * i + 1, 10 * i + 9 if outcome else None, "harness:runs", "run", outcome, {"run": i + 1})
    return b.drill_end(10 * len(outcomes) + 1)


def test_sixty_clean_runs_demonstrate_the_objective(hb: Any) -> None:
    r = success_rate.check(runs(hb, ["ok"] * 60).build())
    assert r.valid is True, r.detail
    assert r.figures["rate"] == 1.0 and r.figures["lower_bound"] > 0.95 and r.figures["demonstrated"]


def test_a_planted_failure_in_four_runs_fails(hb: Any) -> None:
    clean = runs(hb, ["ok"] * 4).build()
    assert success_rate.check(clean, {"min_runs": 4}).valid == UNKNOWN  # consistent, not demonstrated
    r = success_rate.check(runs(hb, ["ok", "ok", "fail", "ok"]).build(), {"min_runs": 4})
    assert r.valid is False, r.detail
    assert r.figures["failures"] == 1 and r.figures["rate"] == 0.75
    assert r.figures["failed_runs"] == [{"run": 3}]


def test_one_failure_in_sixty_runs_is_above_95_but_not_demonstrated(hb: Any) -> None:
    r = success_rate.check(runs(hb, ["ok"] * 59 + ["fail"]).build())
    assert r.valid == UNKNOWN and "not demonstrated" in r.detail
    r = success_rate.check(runs(hb, ["ok"] * 57 + ["fail"] * 3).build())  # exactly 95 %: not above it
    assert r.valid is False


def test_unknown_outcomes_are_not_successes(hb: Any) -> None:
    r = success_rate.check(runs(hb, ["ok"] * 3 + ["info"]).build())
    assert r.valid is False and r.figures["indeterminate"] == 1 and r.figures["successes"] == 3
    r = success_rate.check(runs(hb, ["ok"] * 3 + [None]).build())  # a run that never reported back
    assert r.valid is False and r.figures["indeterminate"] == 1


def test_too_few_runs_is_unknown_even_when_all_pass(hb: Any) -> None:
    r = success_rate.check(runs(hb, ["ok", "ok"]).build())
    assert r.valid == UNKNOWN and "fewer than" in r.detail
    assert success_rate.check(runs(hb, []).build()).valid == UNKNOWN


def test_incomplete_history_is_never_a_pass(hb: Any) -> None:
    events = runs(hb, ["ok"] * 60).remove(lambda e: e.f == "drill" and e.type == "ok").build()
    r = success_rate.check(events)
    assert r.valid == UNKNOWN and "incomplete" in r.detail


def test_wilson_bound_and_runs_needed() -> None:
    assert success_rate.runs_needed(0.95, 0.95) == 52
    assert success_rate.wilson_lower_bound(52, 52) > 0.95 >= success_rate.wilson_lower_bound(51, 51)
    assert success_rate.wilson_lower_bound(0, 10) == 0.0
    assert success_rate.wilson_lower_bound(5, 10) == pytest.approx(0.2693, abs=1e-3)  # z = 1.645, one-sided
    assert success_rate.wilson_lower_bound(0, 0) is None


def test_judge_over_counts_matches_the_history_checker(hb: Any) -> None:
    for outcomes in (["ok"] * 60, ["ok"] * 4 + ["fail"], ["ok"] * 5):
        by_history = success_rate.check(runs(hb, outcomes).build())
        by_counts = success_rate.judge(outcomes.count("ok"), len(outcomes))
        assert (by_history.valid, by_history.detail) == (by_counts.valid, by_counts.detail)


def test_bad_opts_are_refused(hb: Any) -> None:
    for bad in ({"objective": 1.0}, {"min_runs": 0}, {"objetive": 0.9}):
        assert check_safe(success_rate.check, runs(hb, ["ok"]).build(), bad).valid == UNKNOWN
    with pytest.raises(ValueError):
        success_rate.judge(5, 4)
