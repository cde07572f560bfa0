"""Allure for the Gherkin features: steps, attachments, environment, categories, and the rendered report.

A tiny BDD project (four scenarios judging drills recorded from synthetic histories, no lab) runs in a
subprocess with the repository's own ``pytest.ini`` and the wiring line copied from ``steps/conftest.py``,
so these tests fail if either stops working. The HTML tests use the real Allure CLI (npm) and headless
Chromium; they skip, saying why, only when Node/Java or Chromium cannot be had on this machine.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drharness.errors import EnvironmentProblem
from drharness.report import allure as allure_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/leakcheck.py (--import-mode=importlib)
from leakcheck import DSN_PASSWORD, LAMBDA_TOKEN, PLANTED_ENV, all_planted, scan  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"

TINY_FEATURE = """\
Feature: Tiny drill review
  Drills recorded from synthetic histories, judged without a lab, so the Allure plumbing runs in seconds.

  Scenario: A recorded drill passes
    Given a recorded "pass" drill
    When the drill is judged
    Then the drill passes

  Scenario: A recorded drill misses its RTO
    Given a recorded "rto-breach" drill
    When the drill is judged
    Then the drill passes

  Scenario: A recorded drill had a harness error
    Given a recorded "harness-error" drill
    When the drill is judged
    Then the drill passes

  Scenario: A step has a bug
    Given a recorded "pass" drill
    When a step with a bug runs
"""

TINY_STEPS = '''\
"""Steps of the tiny feature: each drill is recorded into a history and rendered by the real report code."""

import json
import logging
import os
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from drharness.history import History
from drharness.report.drill_report import write_reports
from drharness.report.timeline import render_lag_chart, render_timeline

scenarios(str(Path(__file__).parent / "features" / "tiny.feature"))
T0 = 1_764_000_000.0


@pytest.fixture
def ctx():
    return {}


def record(path, down_until):
    clock = {"t": T0}
    h = History(path, clock=lambda: clock["t"])
    drill = h.drill_start({"scenario": "region-outage"})
    fault = None
    for i in range(40):
        clock["t"] = T0 + 0.25 * i
        if i == 8:
            fault = h.invoke("nemesis", "fault", {"fault": "region-isolation", "target_region": "us-east-1"})
        if i == 12:
            step = h.invoke("orchestrator", "step", {"step": "aurora_promotion"})
        if i == 16:
            h.complete(step, "ok")
            h.append("prober", "ok", "dns", {"name": "app", "answer": "127.0.2.1", "ttl": 1, "region": "us-west-2"})
        probe = h.invoke("prober:0", "probe", {"name": f"p{i}"})
        down = 8 <= i < down_until
        h.complete(probe, "fail" if down else "ok", {"name": f"p{i}", "status": 503 if down else 201},
                   region="us-east-1" if i < 8 else "us-west-2")
        h.append("lag", "ok", "lag", {"store": "aurora", "lag_ms": 10.0 + i})
    h.complete(fault, "ok")
    h.drill_end(drill)
    h.close()
    return path


@given(parsers.parse('a recorded "{kind}" drill'))
def recorded(ctx, kind, tmp_path):
    d = tmp_path / "drill"
    hist = record(d / "history.jsonl", down_until=36 if kind == "rto-breach" else 18)
    # planted secrets (test_allure_results_hold_no_planted_secret): in an error, a log line and a journal
    token, dsn_pw, lambda_token = (os.environ["AWS_SESSION_TOKEN"], os.environ["TINY_PLANT_DSN"],
                                   os.environ["TINY_PLANT_LAMBDA"])
    logging.getLogger("drharness.tiny").warning("lag monitor: connect host=db password=%s failed", dsn_pw)
    errors = ([f"nemesis stop failed: experiment EXP1 not found (token {token}, host=db password={dsn_pw})"]
              if kind == "harness-error" else [])
    checks = [{"name": "rto", "verdict": "fail" if kind == "rto-breach" else "pass",
               "detail": "RTO 7.0s > SLO 5s" if kind == "rto-breach" else "RTO 2.5s <= SLO 5s"}]
    if errors:
        checks.append({"name": "harness", "verdict": "unknown", "detail": errors[0]})
    report = {"schema": "drharness.drill/1", "scenario": "region-outage", "target": "local", "profile": "fast",
              "profile_source": "tiny test profile", "timing": {"health_interval_s": 1.0, "failure_threshold": 2,
                                                                "dns_ttl": 1, "source": "tiny"},
              "started_at": T0, "finished_at": T0 + 10,
              "verdict": "pass" if kind == "pass" else "fail", "slo": {"rto_s": 5.0, "rpo_s": 60.0, "failback_s": 1800.0},
              "rto": {"seconds": 2.5, "floor_seconds": 3.0, "phases": {}}, "checks": checks, "errors": errors,
              "history_file": str(hist), "_report_dir": str(d)}
    write_reports(report, d)
    render_timeline(hist, d / "timeline.png")
    render_lag_chart(hist, d / "lag.png")
    if kind == "pass":  # what a load drill and a chaos run leave beside the report
        (d / "locust_stats.csv").write_text("Type,Name,Request Count,Failure Count\\nPOST,/orders,120,3\\n")
        (d / "journal.json").write_text(json.dumps({"status": "completed", "deviated": False, "run": [
            {"output": {"Environment": {"Variables": {"API_TOKEN": lambda_token, "SESSION": token}}}}]}))
    ctx["report"] = report


@when("the drill is judged")
def judged(ctx):
    ctx["verdict"] = ctx["report"]["verdict"]


@when("a step with a bug runs")
def buggy(ctx):
    ctx["report"]["no-such-key"]


@then("the drill passes")
def passes(ctx):
    r = ctx["report"]
    assert r["verdict"] == "pass", [c for c in r["checks"] if c["verdict"] != "pass"]
'''

SCENARIOS = {"pass": "A recorded drill passes", "rto": "A recorded drill misses its RTO",
             "harness": "A recorded drill had a harness error", "bug": "A step has a bug"}


def wiring_line() -> str:
    """The line in steps/conftest.py that loads the Allure hooks (the tiny project uses the very same)."""
    lines = [ln for ln in (ROOT / "steps" / "conftest.py").read_text().splitlines()
             if ln.startswith("from steps.allure_hooks import")]
    assert len(lines) == 1, "steps/conftest.py must import steps.allure_hooks exactly once"
    return lines[0]


def make_project(base: Path) -> Path:
    proj = base / "tiny"
    (proj / "features").mkdir(parents=True)
    (proj / "features" / "tiny.feature").write_text(TINY_FEATURE)
    (proj / "test_tiny.py").write_text(TINY_STEPS)
    (proj / "conftest.py").write_text(wiring_line() + "\n")
    return proj


def run_tiny(proj: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest over the tiny project with the repository's pytest.ini (which must keep the two Allure
    plugins from clashing) and the repository on PYTHONPATH (for ``steps.allure_hooks``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **PLANTED_ENV, "TINY_PLANT_DSN": DSN_PASSWORD,
           "TINY_PLANT_LAMBDA": LAMBDA_TOKEN}
    for k in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pytest.ini"), "--rootdir", str(proj),
                           "-n", "0", "-q", str(proj), *args],
                          cwd=proj, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("allure")
    proj = make_project(base)
    results = base / "allure-results"
    proc = run_tiny(proj, "--alluredir", str(results), "--clean-alluredir", "-n", "2")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # three scenarios fail on purpose
    by_name = {}
    for f in results.glob("*-result.json"):
        r = json.loads(f.read_text())
        by_name[r["name"]] = r
    assert set(by_name) == set(SCENARIOS.values()), (sorted(by_name), proc.stdout[-2000:])
    return {"base": base, "proj": proj, "results": results, "by_name": by_name, "proc": proc}


def test_scenarios_carry_their_gherkin_steps(tiny: dict[str, Any]) -> None:
    r = tiny["by_name"][SCENARIOS["pass"]]
    assert r["status"] == "passed"
    assert [(s["name"], s["status"]) for s in r["steps"]] == [
        ('Given a recorded "pass" drill', "passed"), ("When the drill is judged", "passed"),
        ("Then the drill passes", "passed")]
    assert {"name": "feature", "value": "Tiny drill review"} in r["labels"]
    failed = tiny["by_name"][SCENARIOS["rto"]]
    assert failed["status"] == "failed"
    assert [s["status"] for s in failed["steps"]] == ["passed", "passed", "failed"]


def test_step_parameters_are_the_step_arguments_not_fixtures(tiny: dict[str, Any]) -> None:
    """allure-pytest-bdd would copy every fixture argument (the whole ctx, a Target) into each step."""
    for r in tiny["by_name"].values():
        for s in r["steps"]:
            names = {p["name"] for p in s.get("parameters", [])}
            assert not names & {"ctx", "tmp_path"}, (s["name"], names)
    given = tiny["by_name"][SCENARIOS["pass"]]["steps"][0]
    assert given["parameters"] == [{"name": "kind", "value": "'pass'"}]


def test_each_scenario_has_its_drill_files_attached(tiny: dict[str, Any]) -> None:
    results: Path = tiny["results"]
    r = tiny["by_name"][SCENARIOS["pass"]]
    att = {a["name"]: a for a in r["attachments"]}
    assert {"drill-report.json", "timeline", "replication lag", "chaos journal", "locust stats"} <= set(att)
    assert att["timeline"]["type"] == "image/png"
    assert (results / att["timeline"]["source"]).read_bytes()[:8] == PNG
    assert (results / att["replication lag"]["source"]).read_bytes()[:8] == PNG
    attached = json.loads((results / att["drill-report.json"]["source"]).read_text())
    assert attached["scenario"] == "region-outage" and attached["verdict"] == "pass"
    assert (results / att["locust stats"]["source"]).read_text().startswith("Type,Name")
    # a failed scenario keeps its evidence too (pytest-bdd calls after_scenario in a finally)
    failed = {a["name"] for a in tiny["by_name"][SCENARIOS["rto"]]["attachments"]}
    assert {"drill-report.json", "timeline", "replication lag"} <= failed
    assert "locust stats" not in failed  # only files that exist are attached


def test_allure_results_hold_no_planted_secret(tiny: dict[str, Any]) -> None:
    """Secrets planted in the environment, a drill error, a log line and a journal's activity output
    (docs/SECURITY.md §4) are in no byte of allure-results: messages, traces, attachments, logs."""
    n, hits = scan([tiny["results"]], all_planted())
    assert n >= 20 and not hits, hits
    harness = tiny["by_name"][SCENARIOS["harness"]]
    assert "nemesis stop failed" in harness["statusDetails"]["message"]  # the plant reached the result ...
    assert "[REDACTED]" in harness["statusDetails"]["message"]  # ... masked
    att = {a["name"]: a for a in tiny["by_name"][SCENARIOS["pass"]]["attachments"]}
    journal = json.loads((tiny["results"] / att["chaos journal"]["source"]).read_text())
    assert journal["run"][0]["output"]["Environment"]["Variables"]["API_TOKEN"] == "[REDACTED]"


def test_environment_properties_and_categories(tiny: dict[str, Any]) -> None:
    results: Path = tiny["results"]
    props = dict(line.split("=", 1) for line in (results / "environment.properties").read_text().splitlines())
    assert props["target"] == "local" and props["profile"] == "fast"
    assert props["timing.health_interval_s"] == "1.0" and props["timing.failure_threshold"] == "2"
    assert props["timing.dns_ttl"] == "1" and props["slo.rto_s"] == "5.0"
    assert props["version.allure-pytest-bdd"] != "not installed" and "version.drharness" in props
    assert json.loads((results / "categories.json").read_text()) == allure_report.CATEGORIES


def test_only_harness_failures_carry_the_harness_mark(tiny: dict[str, Any]) -> None:
    by = tiny["by_name"]
    assert by[SCENARIOS["harness"]]["statusDetails"]["message"].startswith(
        f"AssertionError: {allure_report.HARNESS_MARK}")
    assert allure_report.HARNESS_MARK not in by[SCENARIOS["rto"]]["statusDetails"]["message"]
    assert by[SCENARIOS["bug"]]["status"] == "broken"
    assert allure_report.HARNESS_MARK not in by[SCENARIOS["bug"]]["statusDetails"]["message"]


def test_without_alluredir_nothing_is_written_or_changed(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    proc = run_tiny(proj, "-k", "harness_error")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "1 failed" in proc.stdout and "nemesis stop failed" in proc.stdout
    assert allure_report.HARNESS_MARK not in proc.stdout
    assert not list(tmp_path.rglob("*-result.json")) and not list(tmp_path.rglob("environment.properties"))


def test_missing_charts_are_drawn_from_the_history(tmp_path: Path) -> None:
    """A Chaos Toolkit run leaves history.jsonl and the report but no pictures: they are drawn once."""
    from drharness.history import History

    h = History(tmp_path / "history.jsonl")
    probe = h.invoke("prober:0", "probe", {"name": "p0"})
    h.complete(probe, "ok", {"name": "p0", "status": 201}, region="us-east-1")
    h.append("lag", "ok", "lag", {"store": "aurora", "lag_ms": 12.0})
    h.close()
    report = {"_report_dir": str(tmp_path)}
    assert allure_report.ensure_charts(report) == [tmp_path / "timeline.png", tmp_path / "lag.png"]
    assert (tmp_path / "timeline.png").read_bytes()[:8] == PNG
    assert allure_report.ensure_charts(report) == []  # already there: not redrawn
    names = [a.name for a in allure_report.scenario_attachments(report)]
    assert names == ["timeline", "replication lag"]
    assert allure_report.ensure_charts({"_report_dir": str(tmp_path / "none")}) == []


def test_environment_merge_keeps_drill_facts(tmp_path: Path) -> None:
    allure_report.write_environment(tmp_path, {"target": "local", "profile": "fast", "timing": {"dns_ttl": 1}})
    allure_report.write_environment(tmp_path, None)  # the controller's base write must not erase them
    allure_report.write_environment(tmp_path, {"target": "local", "profile": "realistic", "timing": {"dns_ttl": 60}})
    text = (tmp_path / "environment.properties").read_text()
    assert "profile=fast, realistic\n" in text and "target=local\n" in text and "timing.dns_ttl=1\n" in text


def test_harness_error_rules() -> None:
    assert allure_report.is_harness_error({"errors": ["lag monitor: boom"], "checks": []})
    assert allure_report.is_harness_error({"errors": [], "checks": [{"name": "harness", "verdict": "unknown"}]})
    assert allure_report.is_harness_error(None, EnvironmentProblem("cannot start a drill"))
    assert not allure_report.is_harness_error({"errors": [], "checks": [{"name": "rto", "verdict": "fail"}]})
    unknown_only = {"errors": [], "checks": [{"name": "replication_lag", "verdict": "unknown"},
                                            {"name": "rto", "verdict": "pass"}]}
    assert allure_report.harness_reason(unknown_only) == "checks could not judge: replication_lag"
    unknown_and_fail = {"errors": [], "checks": [{"name": "replication_lag", "verdict": "unknown"},
                                                {"name": "rto", "verdict": "fail"}]}
    assert not allure_report.is_harness_error(unknown_and_fail)  # a failed check is an SLO breach
    exc = AssertionError("RTO missed")
    allure_report.mark_harness_error(exc)
    allure_report.mark_harness_error(exc)
    assert str(exc) == f"{allure_report.HARNESS_MARK} RTO missed"


def test_build_without_results_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert allure_report.main(["build", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drharness: no Allure results in") and err.count("\n") == 1


def test_missing_java_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither node nor java
    assert allure_report.main(["check", "--tools-dir", str(tmp_path / "tools")]) == 3
    err = capsys.readouterr().err
    assert err.startswith("drharness: node not found") and "apt-get install nodejs npm" in err


# ---- the HTML report ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def html(tiny: dict[str, Any]) -> Path:
    try:
        allure_report.ensure_cli(ROOT / allure_report.DEFAULT_TOOLS_DIR)
    except EnvironmentProblem as exc:
        pytest.skip(f"Allure CLI unavailable: {exc}")
    out = tiny["base"] / "allure-report"
    allure_report.build_html(tiny["results"], out, ROOT / allure_report.DEFAULT_TOOLS_DIR)
    return out


def test_categories_sort_failures(html: Path) -> None:
    """Allure itself applies categories.json: each failure lands in exactly its one category."""
    tree = json.loads((html / "data" / "categories.json").read_text())

    def leaves(node: dict[str, Any]) -> list[str]:  # category -> message group -> test results
        kids = node.get("children")
        return [n for k in kids for n in leaves(k)] if kids else [node["name"]]

    members = {c["name"]: sorted(leaves(c)) for c in tree["children"]}
    assert members == {"SLO breach": [SCENARIOS["rto"]],
                       "Harness error (the drill could not judge)": [SCENARIOS["harness"]],
                       "Test defect": [SCENARIOS["bug"]]}
    env = json.loads((html / "widgets" / "environment.json").read_text())
    assert {"name": "profile", "values": ["fast"]} in env


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure-chromium.sh")], capture_output=True, timeout=600)
    found = shutil.which("chromium")
    if not found:
        pytest.skip("Chromium is missing and could not be installed (not root?): see scripts/ensure-chromium.sh")
    return found


@pytest.fixture
def served(html: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        th.join()


def _browse(browser: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                               "--hide-scrollbars", *args, url], capture_output=True, text=True, timeout=60)


def _non_blank(png: Path) -> None:
    from matplotlib.image import imread

    assert png.read_bytes()[:8] == PNG
    pixels = imread(str(png))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert float(pixels[..., :3].std()) > 0.05, "screenshot is blank"


def test_rendered_report_shows_a_scenario_with_its_timeline(html: Path, served: str, tmp_path: Path) -> None:
    browser = _chromium()
    case = next(json.loads(f.read_text()) for f in (html / "data" / "test-cases").glob("*.json")
                if json.loads(f.read_text())["name"] == SCENARIOS["pass"])
    url = f"{served}/index.html#testresult/{case['uid']}"
    dom = _browse(browser, url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in (SCENARIOS["pass"], 'Given a recorded "pass" drill', "Then the drill passes", "timeline",
                 "drill-report.json", "replication lag"):
        assert text in dom.stdout, f"{text!r} not on the rendered test result page"
    shot = tmp_path / "testresult.png"
    res = _browse(browser, url, f"--screenshot={shot}", "--window-size=1400,1000")
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    _non_blank(shot)
    # the timeline the page links to is served and is the drill's picture
    timeline = next(a for a in case["testStage"]["attachments"] if a["name"] == "timeline")
    pic = tmp_path / "timeline.png"
    with urllib.request.urlopen(f"{served}/data/attachments/{timeline['source']}", timeout=10) as r:
        pic.write_bytes(r.read())
    _non_blank(pic)


def test_allure_pytest_beside_allure_pytest_bdd_refuses_to_start(tmp_path: Path) -> None:
    """Why pytest.ini says ``-p no:allure_pytest``: both plugins add ``--alluredir`` and pytest stops."""
    proc = run_tiny(make_project(tmp_path), "-p", "allure_pytest")
    assert proc.returncode != 0
    assert "option names {'--alluredir'} already added" in proc.stdout + proc.stderr
