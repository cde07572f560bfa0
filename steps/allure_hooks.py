"""Allure for the Gherkin features (imported by ``steps/conftest.py``; inert without ``--alluredir``).

allure-pytest-bdd writes each scenario with its Gherkin steps; these hooks add what a reviewer needs
beside them: the files of the drill the scenario judged (drill-report.json, timeline and lag charts,
Chaos Toolkit journal, Locust stats), ``environment.properties`` and ``categories.json``, and the
harness-error mark that keeps "the drill could not judge" apart from "an SLO was missed".
The logic lives in ``drharness.report.allure``.
"""

from __future__ import annotations

from typing import Any

import pytest

from drharness.report import allure as allure_report

__all__ = ["pytest_bdd_after_scenario", "pytest_bdd_before_step_call", "pytest_bdd_step_error",
           "pytest_configure", "pytest_sessionfinish"]


def _alluredir(config: pytest.Config) -> str | None:
    return getattr(config.option, "allure_report_dir", None)


def _context(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The scenario's step context (the ``ctx`` fixture the steps share), or {} when it has none."""
    try:
        ctx = request.getfixturevalue("ctx")
    except pytest.FixtureLookupError:
        return {}
    return ctx if isinstance(ctx, dict) else {}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Categories and base environment, on the controller once every worker is done: written any
    earlier, ``--clean-alluredir`` (applied by each xdist worker as it starts) would delete them."""
    d = _alluredir(session.config)
    if d and not hasattr(session.config, "workerinput"):
        allure_report.write_categories(d)
        allure_report.write_environment(d, None)


def _bdd_listener(config: pytest.Config) -> Any:
    from allure_pytest_bdd.pytest_bdd_listener import PytestBDDListener

    return next((p for p in config.pluginmanager.get_plugins() if isinstance(p, PytestBDDListener)), None)


@pytest.hookimpl(trylast=True)
def pytest_bdd_before_step_call(request: pytest.FixtureRequest, step: Any, step_func_args: dict[str, Any]) -> None:
    """Keep only the step's own arguments (parsed from its text) as Allure step parameters.

    allure-pytest-bdd records every argument of the step function, fixtures included: the ``ctx`` dict
    with the whole drill report and the Target (its repr names endpoints and the lab's credentials)
    would be copied into every step of the HTML report.
    """
    if not _alluredir(request.config):
        return
    from allure_pytest_bdd.steps import get_step_uuid
    from pytest_bdd.scenario import get_step_function

    context = get_step_function(request, step)
    parsed = set(context.parser.parse_arguments(step.name) or {}) if context is not None else set()
    fixtures = set(step_func_args) - parsed
    listener = _bdd_listener(request.config)
    if not fixtures or listener is None:
        return
    with listener.lifecycle.update_step(uuid=get_step_uuid(step)) as result:
        if result is not None:
            result.parameters = [p for p in result.parameters if p.name not in fixtures]


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_step_error(request: pytest.FixtureRequest, exception: BaseException) -> None:
    if not _alluredir(request.config):
        return
    reason = allure_report.harness_reason(_context(request).get("report"), exception)
    if reason:
        allure_report.mark_harness_error(exception, reason)
    from drharness.safety.redact import redact_text  # the message becomes the result's statusDetails

    exception.args = tuple(redact_text(x) if isinstance(x, str) else x for x in exception.args)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Captured logs become the results' "log" attachments: mask secrets in them (docs/SECURITY.md §4)."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    if not _alluredir(config) or plugin is None:
        return
    from drharness.safety.redact import RedactingFilter

    for handler in (getattr(plugin, "report_handler", None), getattr(plugin, "caplog_handler", None)):
        if handler is not None:
            handler.addFilter(RedactingFilter())


def pytest_bdd_after_scenario(request: pytest.FixtureRequest) -> None:
    """Attach the scenario's drill files (also when a step failed: pytest-bdd calls this in a finally)."""
    d = _alluredir(request.config)
    if not d:
        return
    import allure

    ctx = _context(request)
    report = ctx.get("report")
    allure_report.ensure_charts(report)
    for a in allure_report.scenario_attachments(report, ctx):
        allure.attach(allure_report.attachment_body(a), name=a.name, attachment_type=a.mime, extension=a.extension)
    if report:
        allure_report.write_environment(d, report)
