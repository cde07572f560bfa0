"""Chaos Toolkit control: every drharness experiment writes a Jepsen-style history as it runs.

Declared once at the top of each ``experiments/*.json`` (``"controls"``), it makes plain
``chaos run`` produce what the checkers need, beside the journal:

- experiment start: open ``<report dir>/history.jsonl`` (drill start, with the scenario and the
  profile's timing), before the method: start the prober, the canary and the lag monitor;
- around each ``chaosaws.fis.actions.start_experiment``: the nemesis ``fault`` invoke (target region =
  the configuration's ``aws_region``) and, once the call returned, the FIS experiment id;
- after ``stop_experiment`` / ``stop_experiments_by_tags``: wait until FIS reports the experiment
  terminal (its faults reverted), then heal the fault op;
- experiment end (after the rollbacks): stop the workload, drill end, then judge the history with
  the checkers and write ``drill-report.json`` / ``drill-report.md`` (``drharness.chaos.judge``);
  then mask secrets in the journal chaoslib hands back to ``chaos run`` (docs/SECURITY.md §4).

The report dir is the configuration's ``drharness_report_dir`` (env ``DRHARNESS_REPORT_DIR``), else
``.drharness/chaos/<scenario>``. chaoslib swallows exceptions raised by controls, so this module
never relies on raising: a failure is written to the history as a harness error, which makes every
verdict unknown instead of a pass.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from drharness.chaos import session as sessions
from drharness.chaos import target_from
from drharness.safety.redact import install_log_redaction, redact
from drharness.safety.session import register_target_secrets

log = logging.getLogger(__name__)

__all__ = ["after_activity_control", "after_experiment_control", "before_activity_control",
           "before_experiment_control", "before_method_control"]

FIS_MODULE = "chaosaws.fis.actions"
FIS_STARTS = ("start_experiment",)
FIS_STOPS = ("stop_experiment", "stop_experiments_by_tags")
_pending: dict[int, dict[str, Any]] = {}  # id(activity) -> fault being started


def scenario_of(experiment: dict[str, Any]) -> str:
    for ext in experiment.get("extensions") or []:
        if ext.get("name") == "drharness" and ext.get("scenario"):
            return str(ext["scenario"])
    return "chaos"


def report_dir_for(configuration: dict[str, Any] | None, scenario: str) -> Path:
    d = (configuration or {}).get("drharness_report_dir") or ""
    return Path(d) if d else Path(".drharness/chaos") / scenario


def before_experiment_control(context: dict[str, Any], configuration: dict[str, Any] | None = None,
                              secrets: dict[str, Any] | None = None, **kwargs: Any) -> None:
    scenario = scenario_of(context)
    _redact_logs()
    try:
        cfg = configuration or {}
        target = target_from(configuration)
        register_target_secrets(target)
        sessions.Session(target, report_dir_for(configuration, scenario), scenario,
                         title=str(context.get("title", "")),
                         warm_s=float(cfg.get("drharness_warm_s") or 2.0)).open()
    except Exception as exc:  # noqa: BLE001 - chaoslib would only log it at debug level
        log.error("drharness control: cannot record the history of %s: %s", scenario, exc)


def before_method_control(context: dict[str, Any], **kwargs: Any) -> None:
    s = sessions.current()
    if s is None:
        return
    try:
        s.start_workload()
    except Exception as exc:  # noqa: BLE001
        s.error(f"workload did not start: {type(exc).__name__}: {exc}")


def _is(activity: dict[str, Any], funcs: tuple[str, ...]) -> bool:
    p = activity.get("provider") or {}
    return p.get("type") == "python" and p.get("module") == FIS_MODULE and p.get("func") in funcs


def _last_foreground(experiment: dict[str, Any] | None) -> str | None:
    fg = [a for a in (experiment or {}).get("method", []) if not a.get("background")]
    return fg[-1].get("name") if fg else None


def before_activity_control(context: dict[str, Any], configuration: dict[str, Any] | None = None,
                            secrets: dict[str, Any] | None = None, **kwargs: Any) -> None:
    s = sessions.current()
    if s is None or not _is(context, FIS_STARTS):
        return
    try:
        from chaoslib import substitute

        args = substitute(dict((context.get("provider") or {}).get("arguments") or {}), configuration, secrets)
        region = (configuration or {}).get("aws_region") or s.t.primary_region
        tags = args.get("tags") or {}
        name = tags.get("drharness:experiment") or context.get("name") or "fis"
        _pending[id(context)] = s.fault_started(region, str(name), args.get("experiment_template_id"), time.time())
    except Exception as exc:  # noqa: BLE001
        s.error(f"could not record the start of {context.get('name')}: {exc}")


def after_activity_control(context: dict[str, Any], state: dict[str, Any] | None = None,
                           experiment: dict[str, Any] | None = None, **kwargs: Any) -> None:
    s = sessions.current()
    if s is None:
        return
    try:
        state = state or {}
        if _is(context, FIS_STARTS):
            fault = _pending.pop(id(context), None)
            exp = (state.get("output") or {}).get("experiment") or {}
            if fault is None:
                return
            if state.get("status") == "succeeded" and exp.get("id"):
                s.fault_running(fault, exp["id"], exp.get("tags") or {})
            else:
                s.h.complete(fault["handle"], "fail", {"error": str(state.get("exception") or "no experiment")[-300:]},
                             fault["region"])
        elif _is(context, FIS_STOPS):
            args = (context.get("provider") or {}).get("arguments") or {}
            tags = args.get("tags")
            exp_id = args.get("experiment_id")
            for fault in list(s.faults):
                ftags = fault.get("tags") or {}
                if (exp_id and fault["experiment_id"] == exp_id) or (
                        tags and all(ftags.get(k) == v for k, v in tags.items())):
                    s.stop_fault(fault)
        if not context.get("background") and context.get("name") == _last_foreground(experiment):
            s.method_done.set()  # lets the background recovery monitor return when nothing was disrupted
    except Exception as exc:  # noqa: BLE001
        s.error(f"could not record the end of {context.get('name')}: {exc}")


def _redact_logs() -> None:
    """chaostoolkit's console and log-file handlers (and ours) mask secrets from here on; with no
    handler on the root logger, records would reach stderr through logging's last resort unmasked."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
    install_log_redaction("", "chaostoolkit")


def redact_journal(journal: dict[str, Any] | None) -> None:
    """Mask secrets in the journal in place: chaoslib hands this very dict back to ``chaos run``,
    which writes it as the journal file (activity outputs can hold e.g. a Lambda's environment)."""
    if isinstance(journal, dict):
        clean = redact(journal)
        journal.clear()
        journal.update(clean)


def after_experiment_control(context: dict[str, Any], state: dict[str, Any] | None = None,
                             **kwargs: Any) -> None:
    try:
        _after_experiment(state)
    finally:
        redact_journal(state)


def _after_experiment(state: dict[str, Any] | None) -> None:
    s = sessions.current()
    if s is None:
        return
    s.method_done.set()
    try:
        s.close()
    except Exception as exc:  # noqa: BLE001
        log.error("drharness control: closing the history failed: %s", exc)
        return
    try:
        from drharness.chaos.judge import judge_files

        report = judge_files(s.report_dir, journal=state)
        log.info("drharness: %s %s (report %s)", s.scenario, report["verdict"].upper(),
                 s.report_dir / "drill-report.md")
    except Exception as exc:  # noqa: BLE001
        log.error("drharness control: judging %s failed: %s", s.history_file, exc)
