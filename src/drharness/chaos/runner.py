"""Run an ``experiments/*.json`` through chaoslib's Python API, as ``chaos run`` would, and judge it.

The environment is the one ``drharness chaos env`` prints (target, FIS template ids, the region's
AWS endpoint for chaostoolkit-aws), set only for the duration of the run; the journal
(``journal.json``), the history and the drill report land in ``report_dir``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drharness.errors import BadInput

log = logging.getLogger(__name__)

__all__ = ["EXPERIMENTS_DIR", "experiment_path", "repeat_experiment", "run_experiment"]

EXPERIMENTS_DIR = Path(__file__).resolve().parents[3] / "experiments"


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for a block and put the previous values back."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def experiment_path(scenario: str, experiments_dir: Path = EXPERIMENTS_DIR) -> Path:
    path = experiments_dir / f"{scenario}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in experiments_dir.glob("*.json")))
        raise BadInput(f"no experiment for scenario {scenario!r} in {experiments_dir} (known: {known})")
    return path


def run_experiment(scenario_or_path: str | Path, report_dir: Path, target_kind: str = "local",
                   env_dir: str | None = None, region: str | None = None) -> dict[str, Any]:
    """Load and run one experiment with chaoslib; return the drill report judged from its history."""
    from chaoslib.experiment import run_experiment as chaos_run
    from chaoslib.loader import load_experiment

    from drharness.chaos.judge import judge_files
    from drharness.commands import chaos_environment

    path = Path(scenario_or_path)
    if not path.suffix:
        path = experiment_path(str(scenario_or_path))
    report_dir.mkdir(parents=True, exist_ok=True)
    env = {**chaos_environment(target_kind, env_dir, region), "DRHARNESS_REPORT_DIR": str(report_dir.resolve())}
    with environment(env):
        try:
            experiment = load_experiment(str(path))
            journal = chaos_run(experiment, settings={},
                                experiment_vars=({"drharness_report_dir": str(report_dir)}, {}))
        finally:
            import boto3

            from drharness.chaos import session as sessions

            boto3.DEFAULT_SESSION = None  # chaostoolkit-aws made one with this run's credentials: don't leak it
            left = sessions.current()
            if left is not None:  # chaoslib ended before the control's after-experiment hook
                left.error("the run ended before the drharness control closed its history")
                left.close()
    (report_dir / "journal.json").write_text(json.dumps(journal, indent=2, default=str) + "\n")
    report = judge_files(report_dir, journal)
    report["journal_file"] = str(report_dir / "journal.json")
    log.info("%s through chaoslib: %s (%s)", path.stem, report["verdict"], report_dir)
    return report


def repeat_experiment(scenario: str, runs: int, out_dir: Path, history_dir: Path | None = None,
                      between: Callable[[], Any] | None = None, target_kind: str = "local",
                      env_dir: str | None = None, prior: Sequence[Path] = ()) -> Path:
    """Run one experiment until it has ``runs`` outcomes; each run's outcome (its judged verdict) is a
    ``harness`` ``run`` op in ``out_dir/runs.jsonl`` for the success-rate checker, and each report is
    archived to ``history_dir`` as ``drharness report --history`` reads it. ``prior``: report dirs of
    runs of the same experiment already made (e.g. the one a test session shares), counted first, as
    they were judged. ``between`` runs before every new run (e.g. the lab's reset). A run that crashed
    is an ``info`` op: unknown, never a success."""
    from drharness.history import History
    from drharness.report.history_trend import archive

    if runs < 1:
        raise BadInput(f"runs must be >= 1, got {runs}")
    if len(prior) > runs:
        raise BadInput(f"{len(prior)} earlier runs given for {runs} runs in all")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "runs.jsonl"
    path.unlink(missing_ok=True)
    with History(path) as h:
        drill = h.drill_start({"scenario": f"repeated {scenario}", "runs": runs, "source": "chaostoolkit",
                               "earlier_runs": len(prior)})
        for i in range(1, runs + 1):
            op = h.invoke("harness:runs", "run", {"run": i, "scenario": scenario})
            if i <= len(prior):
                run_dir = Path(prior[i - 1])
                try:
                    report = json.loads((run_dir / "drill-report.json").read_text())
                except (OSError, ValueError) as exc:
                    h.complete(op, "info", {"run": i, "scenario": scenario, "error": f"earlier run unreadable: {exc}"})
                    continue
            else:
                if between is not None:
                    between()
                run_dir = out_dir / f"run-{i}"
                try:
                    report = run_experiment(scenario, run_dir, target_kind, env_dir)
                except Exception as exc:  # noqa: BLE001 - the outcome is unknown, which the checker counts as no success
                    h.complete(op, "info", {"run": i, "scenario": scenario, "error": f"{type(exc).__name__}: {exc}"})
                    continue
            if history_dir is not None:
                archive(run_dir, history_dir)
            failed = [c["name"] for c in report["checks"] if c["verdict"] != "pass"]
            h.complete(op, "ok" if report["verdict"] == "pass" else "fail",
                       {"run": i, "scenario": scenario, "verdict": report["verdict"], "rto_s": report["rto"]["seconds"],
                        "failback_s": (report.get("failback") or {}).get("seconds"), "failed_checks": failed,
                        "report": str(run_dir / "drill-report.json"), "earlier": i <= len(prior)})
        h.drill_end(drill)
    return path
