"""Allure results for the Gherkin features, and the HTML report built from them (``make report``).

Why a module of its own: the pytest hooks (``steps/allure_hooks.py``) stay thin, and this is the one
place that knows which files a drill leaves beside its report, what a reviewer needs to judge a
scenario (``environment.properties``: target, profile, versions and the config values behind the RTO
floor; ``categories.json``: SLO breach vs harness error vs test defect), and how to get the Allure
CLI from npm.

Plugins: ``allure-pytest-bdd`` writes the scenarios with their Gherkin steps; ``allure-pytest`` cannot
be loaded beside it (both add ``--alluredir``, and pytest refuses to start), so ``pytest.ini`` blocks
it with ``-p no:allure_pytest``. See docs/MULTI_REGION_TESTING_GUIDE.md "Allure".

CLI: ``python -m drharness.report.allure check|build [--results DIR] [--out DIR]`` — exit 0 done,
2 bad input (no results), 3 environment problem (Node, npm or Java missing: says what to install).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from drharness.errors import BadInput, DrHarnessError, EnvironmentProblem

log = logging.getLogger(__name__)

HARNESS_MARK = "[harness error]"
"""Prefixed to a failed step's message when the scenario's drill could not judge (see
``harness_reason``): the one field Allure categories can match on is the message."""

ALLURE_NPM_PACKAGE = "allure-commandline@2"
DEFAULT_TOOLS_DIR = Path(".tools/allure")

# Allure matches each regex against the whole message with DOTALL; the negative lookaheads keep the
# three categories disjoint (Allure puts a result in every category that matches).
CATEGORIES: list[dict[str, Any]] = [
    {"name": "Harness error (the drill could not judge)",
     "description": "The drill recorded harness errors, the environment was not usable, or checks were "
                    "unknown with none failed (incomplete evidence): neither a pass nor an SLO breach. "
                    "The message says which; read drill-report.json 'errors' and 'checks'.",
     "matchedStatuses": ["failed", "broken"],
     "messageRegex": r".*(\[harness error\]|EnvironmentProblem).*"},
    {"name": "SLO breach",
     "description": "A Then step found an objective or check not met (RTO, RPO, failback, lag, loss, "
                    "error budget) on a drill that ran to completion.",
     "matchedStatuses": ["failed"],
     "messageRegex": r"(?!.*(\[harness error\]|EnvironmentProblem)).*"},
    {"name": "Test defect",
     "description": "A step raised something other than an assertion: a bug in the steps or the harness "
                    "code, not a verdict on the system.",
     "matchedStatuses": ["broken"],
     "messageRegex": r"(?!.*(\[harness error\]|EnvironmentProblem)).*"},
]

VERSIONED = ["drharness", "pytest", "pytest-bdd", "allure-pytest-bdd", "boto3", "moto", "chaostoolkit-lib",
             "locust"]


@dataclass(frozen=True)
class Attachment:
    name: str
    path: Path
    mime: str
    extension: str


def report_dir_of(report: dict[str, Any] | None) -> Path | None:
    """Where the drill left its files: ``_report_dir`` (set by the test fixture) or the history's dir."""
    if not report:
        return None
    if report.get("_report_dir"):
        return Path(report["_report_dir"])
    if report.get("history_file"):
        return Path(report["history_file"]).parent
    return None


def scenario_attachments(report: dict[str, Any] | None, extra: dict[str, Any] | None = None) -> list[Attachment]:
    """The files of the drill a scenario judged, in review order; files that do not exist are left out.

    A Chaos Toolkit journal named by the report (``journal_file``) or by the scenario's step context
    (``extra["journal"]`` as a path) is attached too.
    """
    d = report_dir_of(report)
    found: list[Attachment] = []
    if d is not None:
        candidates = [
            ("drill-report.json", d / "drill-report.json", "application/json", "json"),
            ("drill-report.md", d / "drill-report.md", "text/markdown", "md"),
            ("timeline", d / "timeline.png", "image/png", "png"),
            ("replication lag", d / "lag.png", "image/png", "png"),
            ("chaos journal", d / "journal.json", "application/json", "json"),
            ("chaos journal", d / "chaos-journal.json", "application/json", "json"),
            ("locust stats", d / "locust_stats.csv", "text/csv", "csv"),
            ("locust summary", d / "locust_drharness.json", "application/json", "json"),
            ("locust failures", d / "locust_failures.csv", "text/csv", "csv"),
        ]
        found += [Attachment(n, p, m, e) for n, p, m, e in candidates if p.is_file()]
    for journal in ((report or {}).get("journal_file"), (extra or {}).get("journal")):
        if isinstance(journal, str | Path) and Path(journal).is_file() \
                and all(a.path.resolve() != Path(journal).resolve() for a in found):
            found.append(Attachment("chaos journal", Path(journal), "application/json", "json"))
    return found


def attachment_body(a: Attachment) -> bytes:
    """The bytes to attach: images as they are, text with secrets masked (docs/SECURITY.md §4).

    Why here as well as in the writers: Allure results leave the machine (CI artifacts), and a file
    beside a report may come from a tool that does not redact (a journal from ``chaos run``)."""
    from drharness.safety.redact import redact, redact_text

    data = a.path.read_bytes()
    if a.mime.startswith("image/"):
        return data
    text = data.decode("utf-8", errors="replace")
    if a.mime == "application/json":
        try:
            return json.dumps(redact(json.loads(text)), indent=2, default=str).encode()
        except (ValueError, RecursionError):
            pass
    return redact_text(text).encode()


def ensure_charts(report: dict[str, Any] | None) -> list[Path]:
    """Draw ``timeline.png`` / ``lag.png`` from the drill's ``history.jsonl`` when the run left none
    (a Chaos Toolkit run is judged without drawing). Once per drill dir, under a lock: scenarios on
    several xdist workers share one drill. A history that cannot be drawn is logged, not raised."""
    d = report_dir_of(report)
    if d is None or not (d / "history.jsonl").is_file():
        return []
    wanted = [p for p in (d / "timeline.png", d / "lag.png") if not p.is_file()]
    if not wanted:
        return []
    from drharness.history import HistoryError
    from drharness.report.timeline import render_lag_chart, render_timeline

    drawn: list[Path] = []
    with open(d / ".charts.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for out, draw in ((d / "timeline.png", render_timeline), (d / "lag.png", render_lag_chart)):
            if out.is_file():
                continue
            tmp = out.with_name(f".{out.stem}.{os.getpid()}.png")
            try:
                draw(d / "history.jsonl", tmp)
                tmp.replace(out)
                drawn.append(out)
            except (HistoryError, OSError, ValueError) as exc:
                log.warning("could not draw %s from %s: %s", out.name, d / "history.jsonl", exc)
                tmp.unlink(missing_ok=True)
    return drawn


def harness_reason(report: dict[str, Any] | None, exception: BaseException | None = None) -> str | None:
    """Why a failure says nothing about the system, or None when it does.

    The drill could not judge when it recorded harness errors, when the environment was unusable, or
    when no check failed but some were ``unknown`` (incomplete evidence: no lag samples, no read-all).
    """
    if isinstance(exception, EnvironmentProblem):
        return "environment problem"
    if not report:
        return None
    if report.get("errors"):
        return f"drill errors: {'; '.join(map(str, report['errors']))[:300]}"
    checks = report.get("checks") or []
    if any(c.get("name") == "harness" and c.get("verdict") != "pass" for c in checks):
        return "harness check not passed"
    unknown = [str(c.get("name")) for c in checks if c.get("verdict") == "unknown"]
    if unknown and not any(c.get("verdict") == "fail" for c in checks):
        return f"checks could not judge: {', '.join(unknown)}"
    return None


def is_harness_error(report: dict[str, Any] | None, exception: BaseException | None = None) -> bool:
    return harness_reason(report, exception) is not None


def mark_harness_error(exception: BaseException, reason: str = "") -> None:
    """Prefix the exception's message with ``HARNESS_MARK`` and the reason (once), so the Allure
    category can match it and the reader sees why the failure is not an SLO verdict."""
    args = exception.args
    first = str(args[0]) if args else ""
    if first.startswith(HARNESS_MARK):
        return
    head = f"{HARNESS_MARK} ({reason})" if reason else HARNESS_MARK
    exception.args = (f"{head} {first}".rstrip(), *args[1:])


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_properties(report: dict[str, Any] | None) -> dict[str, str]:
    """Versions always; target, profile, SLOs and the timing behind the RTO floor when a drill ran."""
    props = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    props.update({f"version.{d}": _version(d) for d in VERSIONED})
    if not report:
        return props
    props["target"] = str(report.get("target"))
    props["profile"] = str(report.get("profile"))
    if report.get("profile_source"):
        props["profile.source"] = str(report["profile_source"])
    for k, v in (report.get("timing") or {}).items():
        if k != "source":
            props[f"timing.{k}"] = str(v)
    for k, v in (report.get("slo") or {}).items():
        props[f"slo.{k}"] = str(v)
    return props


def _parse_properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip().replace("\\ ", " ")] = v.strip().replace("\\\\", "\\")
    return out


def _escape(s: str, key: bool = False) -> str:
    s = s.replace("\\", "\\\\").replace("\n", " ")
    return s.replace(" ", "\\ ") if key else s


def write_environment(alluredir: str | Path, report: dict[str, Any] | None) -> Path:
    """Merge this drill's facts into ``environment.properties``. Safe from several xdist workers at once
    (flock); keys already written by a drill are kept, so base versions never overwrite drill facts.
    Two drills on different profiles in one run show as ``profile`` = ``fast, realistic``."""
    d = Path(alluredir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "environment.properties"
    new = environment_properties(report)
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        props = _parse_properties(fh.read())
        for k, v in new.items():
            old = props.get(k)
            if old is None or old == v:
                props[k] = v
            elif k in ("target", "profile") and v not in old.split(", "):
                props[k] = f"{old}, {v}"
        fh.seek(0)
        fh.truncate()
        fh.write("".join(f"{_escape(k, key=True)}={_escape(v)}\n" for k, v in sorted(props.items())))
    return path


def write_categories(alluredir: str | Path) -> Path:
    d = Path(alluredir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "categories.json"
    tmp = d / f".categories.json.{os.getpid()}"
    tmp.write_text(json.dumps(CATEGORIES, indent=2) + "\n")
    tmp.replace(path)
    return path


# ---- the Allure CLI (npm) ------------------------------------------------------------------------
def find_cli(tools_dir: Path = DEFAULT_TOOLS_DIR) -> Path | None:
    """The locally installed CLI (``.tools/allure``), else an ``allure`` on PATH."""
    local = tools_dir / "node_modules" / ".bin" / "allure"
    if local.exists():
        return local.resolve()
    on_path = shutil.which("allure")
    return Path(on_path) if on_path else None


def _require(tool: str, what: str) -> None:
    if not shutil.which(tool):
        raise EnvironmentProblem(f"{tool} not found: the Allure report needs {what}")


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"{Path(cmd[0]).name} {cmd[1]} did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run {cmd[0]}: {exc}") from None


def ensure_cli(tools_dir: Path = DEFAULT_TOOLS_DIR, install: bool = True) -> Path:
    """The Allure CLI, installed from npm into ``tools_dir`` when missing. Raises EnvironmentProblem
    with what to install when Node.js, npm or Java is missing."""
    _require("node", "Node.js >= 18 (Debian: 'apt-get install nodejs npm', macOS: 'brew install node')")
    _require("java", "Java >= 8, 17 tested (Debian: 'apt-get install openjdk-17-jre-headless', "
                     "macOS: 'brew install openjdk@17')")
    cli = find_cli(tools_dir)
    if cli is not None:
        return cli
    if not install:
        raise EnvironmentProblem(f"Allure CLI not found: run 'npm install --prefix {tools_dir} {ALLURE_NPM_PACKAGE}'")
    _require("npm", "npm to install the Allure CLI (Debian: 'apt-get install npm')")
    tools_dir.mkdir(parents=True, exist_ok=True)
    log.info("installing %s into %s", ALLURE_NPM_PACKAGE, tools_dir)
    res = _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(tools_dir),
                ALLURE_NPM_PACKAGE], timeout=600)
    cli = find_cli(tools_dir)
    if res.returncode != 0 or cli is None:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"could not install {ALLURE_NPM_PACKAGE} with npm: {last}")
    return cli


def build_html(results: Path, out: Path, tools_dir: Path = DEFAULT_TOOLS_DIR) -> Path:
    """``allure generate`` results → a static HTML report in ``out`` (keeps the trend of the previous one)."""
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise BadInput(f"no Allure results in {results}: run the features with '--alluredir {results}' first")
    cli = ensure_cli(tools_dir)
    prev_history = out / "history"
    if prev_history.is_dir():  # Allure's trend widgets read the previous report's history
        shutil.copytree(prev_history, results / "history", dirs_exist_ok=True)
    res = _run([str(cli), "generate", str(results), "-o", str(out), "--clean"], timeout=300)
    if res.returncode != 0 or not (out / "index.html").is_file():
        last = ((res.stderr or res.stdout).strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"allure generate failed: {last}")
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m drharness.report.allure",
                                description="Allure CLI for `make report`: check it is usable, build HTML.")
    p.add_argument("command", choices=["check", "build"])
    p.add_argument("--results", default="allure-results")
    p.add_argument("--out", default="allure-report")
    p.add_argument("--tools-dir", default=str(DEFAULT_TOOLS_DIR))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if a.command == "check":
            log.info("Allure CLI: %s", ensure_cli(Path(a.tools_dir)))
        else:
            log.info("Allure report: %s", build_html(Path(a.results), Path(a.out), Path(a.tools_dir)))
    except DrHarnessError as exc:
        sys.stderr.write(f"drharness: {exc}\n")
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
