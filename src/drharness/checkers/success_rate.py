"""Success-rate checker: "automated failover succeeds in more than 95 % of runs", judged honestly.

Each repeated run is one op in the history: process role ``harness``, ``f="run"``, ``invoke`` when
the run starts, then ``ok`` (the run met every objective), ``fail`` (it did not) or ``info`` (its
outcome is unknown). Only ``ok`` counts as a success: an unknown outcome is not a demonstrated
success, so ``info`` and never-completed runs count against the rate (and are reported apart).

The verdict separates what was *observed* from what is *demonstrated*:

- fewer than ``min_runs`` runs → unknown (too little evidence to say anything);
- observed rate ≤ objective → **false** (one failure in 4 runs is 75 %: the claim is refuted);
- one-sided Wilson lower bound at ``confidence`` > objective → true (demonstrated);
- otherwise unknown: the runs are consistent with the objective but too few to demonstrate it
  (with no failure at all, 95 % at 95 % confidence needs ≥ 52 runs; ``runs_needed`` says how many).

``judge(successes, runs)`` is the same rule over counts, for archived drills
(``drharness report --history``) where each archived report's verdict is one run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Final

from drharness.checkers.base import UNKNOWN, Result, Valid, coerce_opts, finish
from drharness.history import HARNESS, Event, ops_for

__all__ = ["NAME", "RUN", "SuccessRateOpts", "check", "judge", "runs_needed", "wilson_lower_bound"]

NAME: Final = "success_rate"
RUN: Final = "run"


@dataclass(frozen=True)
class SuccessRateOpts:
    """``objective``: the rate must be strictly above it. ``confidence``: one-sided level of the
    Wilson lower bound. ``min_runs``: fewer runs than this are no evidence (unknown)."""

    objective: float = 0.95
    confidence: float = 0.95
    min_runs: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.objective < 1.0:
            raise ValueError(f"objective must be in (0, 1), got {self.objective}")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"confidence must be in [0.5, 1), got {self.confidence}")
        if self.min_runs < 1:
            raise ValueError(f"min_runs must be >= 1, got {self.min_runs}")


def wilson_lower_bound(successes: int, runs: int, confidence: float = 0.95) -> float | None:
    """One-sided Wilson score lower bound on the success probability; None for no runs."""
    if runs <= 0:
        return None
    if not 0 <= successes <= runs:
        raise ValueError(f"successes must be in [0, {runs}], got {successes}")
    z = NormalDist().inv_cdf(confidence)
    p = successes / runs
    denom = 1.0 + z * z / runs
    centre = p + z * z / (2 * runs)
    margin = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs))
    return max(0.0, (centre - margin) / denom)


def runs_needed(objective: float = 0.95, confidence: float = 0.95) -> int:
    """Consecutive successes (no failure) before the Wilson lower bound exceeds ``objective``."""
    z2 = NormalDist().inv_cdf(confidence) ** 2
    return math.floor(objective * z2 / (1.0 - objective)) + 1


def judge(successes: int, runs: int, opts: SuccessRateOpts | dict[str, Any] | None = None,
          *, indeterminate: int = 0) -> Result:
    """The verdict over counts (``indeterminate`` runs are already counted in ``runs``, not in
    ``successes``)."""
    o = coerce_opts(opts, SuccessRateOpts)
    if runs < 0 or not 0 <= successes <= runs:
        raise ValueError(f"need 0 <= successes <= runs, got {successes}/{runs}")
    rate = successes / runs if runs else None
    lb = wilson_lower_bound(successes, runs, o.confidence)
    need = runs_needed(o.objective, o.confidence)
    figures: dict[str, Any] = {
        "runs": runs,
        "successes": successes,
        "failures": runs - successes - indeterminate,
        "indeterminate": indeterminate,
        "rate": rate,
        "objective": o.objective,
        "confidence": o.confidence,
        "lower_bound": lb,
        "min_runs": o.min_runs,
        "runs_needed": need,
        "demonstrated": lb is not None and lb > o.objective,
    }
    valid: Valid
    said = f"{successes}/{runs} runs succeeded"
    if runs < o.min_runs:
        valid, detail = UNKNOWN, f"{said}: fewer than the {o.min_runs} runs needed to judge"
    else:
        assert rate is not None and lb is not None
        said += f" ({rate:.1%}; Wilson {o.confidence:.0%} lower bound {lb:.1%})"
        if rate <= o.objective:
            valid, detail = False, f"{said}: not above the {o.objective:.0%} objective"
        elif lb > o.objective:
            valid, detail = True, f"{said}: above {o.objective:.0%}, demonstrated"
        else:
            valid, detail = UNKNOWN, (f"{said}: consistent with > {o.objective:.0%} but not demonstrated "
                                      f"(needs >= {need} consecutive successes)")
    return Result(name=NAME, valid=valid, figures=figures, detail=detail)


def check(history: Sequence[Event], opts: SuccessRateOpts | dict[str, Any] | None = None) -> Result:
    """Success rate of the ``harness`` ``run`` ops in the history (see the module docstring)."""
    o = coerce_opts(opts, SuccessRateOpts)

    def compute() -> Result:
        runs = [op for op in ops_for(history, HARNESS, RUN) if op.invoke is not None]
        ok = sum(1 for op in runs if op.type == "ok")
        unknown = sum(1 for op in runs if op.type not in ("ok", "fail"))
        res = judge(ok, len(runs), o, indeterminate=unknown)
        res.figures["failed_runs"] = [op.invoke_value for op in runs if op.type != "ok"]
        return res

    return finish(NAME, history, compute)
