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

__all__ = ["EXPERIMENTS_DIR", "experiment_path", "repeat_experiment", "run_experiment", "validate_experiment"]

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


MAX_EXPERIMENT_BYTES = 1_000_000
MAX_EXPERIMENT_DEPTH = 24  # the deepest real experiment nests 6 levels
PROVIDER_MODULES = ("drharness.", "chaosaws.", "chaoslib.")  # python providers an experiment may call
_PROVIDER_FIELDS = {"python": ("module", "func"), "process": ("path",), "http": ("url",)}


def validate_experiment(path: str | Path) -> dict[str, Any]:
    """The experiment in ``path`` if it is one drharness can run, else one ``BadInput`` line naming the
    file and what is wrong (never a traceback from the JSON parser or chaoslib).

    Why before chaoslib: an experiment file is user input that names Python modules to import and
    run; chaoslib's own validation answers a wrong type with a TypeError or imports whatever module
    is named. Checked: size, UTF-8 JSON, nesting depth, the shape of every activity and control, a
    python provider's module on ``PROVIDER_MODULES``; then chaoslib's syntax check (functions exist,
    arguments bind) without resolving the configuration (that needs ``drharness chaos env``)."""
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    p = Path(path)

    def bad(why: str) -> BadInput:
        return BadInput(f"experiment {p}: {why}")

    try:
        if p.stat().st_size > MAX_EXPERIMENT_BYTES:
            raise bad(f"larger than {MAX_EXPERIMENT_BYTES} bytes")
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise bad(f"cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise bad(f"nested deeper than {MAX_EXPERIMENT_DEPTH} levels") from None
    except ValueError as exc:
        raise bad(f"not JSON ({str(exc).splitlines()[0][:120]})") from None
    if _depth(doc) > MAX_EXPERIMENT_DEPTH:
        raise bad(f"nested deeper than {MAX_EXPERIMENT_DEPTH} levels")
    if not isinstance(doc, dict):
        raise bad(f"must be a JSON object, not {type(doc).__name__}")
    if not isinstance(doc.get("title"), str) or not doc["title"].strip():
        raise bad("'title' must be a non-empty string")
    for key in ("configuration", "secrets"):
        if not isinstance(doc.get(key, {}), dict):
            raise bad(f"'{key}' must be an object")
    method = doc.get("method")
    if not isinstance(method, list) or not method:
        raise bad("'method' must be a non-empty list of activities")
    hypothesis = doc.get("steady-state-hypothesis", {})
    if not isinstance(hypothesis, dict):
        raise bad("'steady-state-hypothesis' must be an object")
    for where, items in (("method", method), ("rollbacks", doc.get("rollbacks", [])),
                         ("steady-state-hypothesis.probes", hypothesis.get("probes", [])),
                         ("controls", doc.get("controls", [])), ("extensions", doc.get("extensions", []))):
        if not isinstance(items, list):
            raise bad(f"'{where}' must be a list")
        for i, item in enumerate(items):
            why = _activity_problem(item, control=where == "controls") if where != "extensions" else (
                None if isinstance(item, dict) and isinstance(item.get("name"), str) else "must be an object with a name")
            if why:
                raise bad(f"{where}[{i}] {why}")
    try:
        ensure_experiment_is_valid({k: v for k, v in doc.items() if k not in ("configuration", "secrets")})
    except (ChaosException, TypeError, ValueError, KeyError, AttributeError, ImportError) as exc:
        raise bad(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'invalid'}") from None
    return doc


def _depth(doc: Any) -> int:
    """Nesting depth, without recursion (a hostile file must not exhaust the stack here either)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_EXPERIMENT_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, d + 1) for c in children if isinstance(c, dict | list))
    return deepest


def _activity_problem(a: Any, control: bool = False) -> str | None:
    if not isinstance(a, dict):
        return "must be an object"
    if not control and "ref" in a:
        return None if isinstance(a["ref"], str) and a["ref"] else "'ref' must name an activity"
    if not isinstance(a.get("name"), str) or not a["name"].strip():
        return "needs a non-empty 'name'"
    if not control and a.get("type") not in ("action", "probe"):
        return f"{a['name']!r}: 'type' must be 'action' or 'probe'"
    prov = a.get("provider")
    if not isinstance(prov, dict):
        return f"{a['name']!r}: 'provider' must be an object"
    kind = prov.get("type")
    if not isinstance(kind, str) or kind not in _PROVIDER_FIELDS or (control and kind != "python"):
        return f"{a['name']!r}: unknown provider type {str(kind)[:40]!r}"
    for field in _PROVIDER_FIELDS[kind]:
        if field == "func" and control:
            continue
        if not isinstance(prov.get(field), str) or not prov[field]:
            return f"{a['name']!r}: provider needs a string '{field}'"
    if kind == "python" and not prov["module"].startswith(PROVIDER_MODULES):
        return (f"{a['name']!r}: provider module {prov['module'][:80]!r} is not one drharness runs "
                f"({', '.join(m + '*' for m in PROVIDER_MODULES)})")
    args = prov.get("arguments", "" if kind == "process" else {})
    if kind == "process" and not isinstance(args, str | list):
        return f"{a['name']!r}: process arguments must be a string or a list"
    if kind != "process" and not isinstance(args, dict):
        return f"{a['name']!r}: provider 'arguments' must be an object"
    return None


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
    validate_experiment(path)  # one clear error for a hostile file, before chaoslib imports anything it names
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
