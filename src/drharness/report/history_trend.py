"""Trend over past drills: ``drharness report --history``.

Each finished drill is archived as one directory under a history dir::

    reports/history/<UTC timestamp>-<scenario>/drill-report.json   (+ drill-report.md, history.jsonl, *.png)

``archive`` puts a drill there; ``load_drills`` reads them back (a corrupt or unreadable report is
skipped with a warning, never a crash); ``summarize`` computes the figures against the objectives;
``write_trend`` writes ``trend.md`` and ``trend.png`` into the history dir.

Objectives (DESIGN / DR plan): failover (RTO) < 15 min in 99 % of tests, automated success rate
> 95 %, error budget 21.6 min of downtime per month (99.95 % availability).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drharness.errors import BadInput

DEFAULT_HISTORY_DIR = Path("reports/history")
REPORT_FILE = "drill-report.json"
ARCHIVED_FILES = ("drill-report.json", "drill-report.md", "history.jsonl")
TREND_MD = "trend.md"
TREND_PNG = "trend.png"

RTO_OBJECTIVE_S = 900.0           # failover < 15 min ...
RTO_SHARE_OBJECTIVE = 0.99        # ... in 99 % of tests
SUCCESS_RATE_OBJECTIVE = 0.95     # automated success rate > 95 %
ERROR_BUDGET_S_PER_MONTH = 21.6 * 60  # 99.95 % of a 30-day month
CONFIDENCE = 0.95


# --------------------------------------------------------------------------------------------- archive


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "drill"


def archive(report_dir: str | Path, history_dir: str | Path = DEFAULT_HISTORY_DIR) -> Path:
    """Copy a finished drill (``report_dir/drill-report.json`` and its companions) to
    ``history_dir/<UTC timestamp>-<scenario>/``; returns that directory.

    The timestamp is the drill's ``started_at`` (``YYYYMMDDTHHMMSSZ``). The copied report's
    ``history_file`` points at the archived ``history.jsonl``. Raises BadInput when there is no
    readable report to archive."""
    src = Path(report_dir)
    jpath = src / REPORT_FILE
    try:
        report = json.loads(jpath.read_text())
    except FileNotFoundError:
        raise BadInput(f"nothing to archive: {jpath} does not exist (run a drill first)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot archive {jpath}: {exc}") from None
    if not isinstance(report, dict):
        raise BadInput(f"cannot archive {jpath}: not a JSON object")
    started = report.get("started_at")
    t = float(started) if isinstance(started, int | float) else time.time()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
    base = f"{stamp}-{_slug(str(report.get('scenario') or 'drill'))}"
    hdir = Path(history_dir)
    dest = hdir / base
    n = 1
    while dest.exists():  # two drills in the same second: never overwrite one
        n += 1
        dest = hdir / f"{base}-{n}"
    dest.mkdir(parents=True)
    for name in ARCHIVED_FILES[1:]:
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)
    for png in src.glob("*.png"):
        shutil.copy2(png, dest / png.name)
    if (dest / "history.jsonl").is_file():
        report["history_file"] = str(dest / "history.jsonl")
    (dest / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return dest


# --------------------------------------------------------------------------------------------- loading


@dataclass
class Drill:
    """The figures of one archived drill that the trend uses."""

    dir: Path
    scenario: str
    verdict: str
    started_at: float
    rto_s: float | None
    rpo_s: float | None
    failback_s: float | None
    downtime_s: float | None

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_at))


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _sub(report: dict[str, Any], key: str) -> dict[str, Any]:
    v = report.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ValueError(f"{key!r} is not an object")
    return v


def parse_report(report: Any, where: Path) -> Drill:
    """One drill-report.json document → Drill. Raises ValueError on a wrong shape."""
    if not isinstance(report, dict):
        raise ValueError("not a JSON object")
    verdict = report.get("verdict")
    if verdict not in ("pass", "fail"):
        raise ValueError(f"verdict is {verdict!r}, not 'pass' or 'fail'")
    scenario = report.get("scenario")
    if not isinstance(scenario, str) or not scenario:
        raise ValueError("no scenario")
    started = _num(report.get("started_at"))
    if started is None:
        raise ValueError("no numeric started_at")
    return Drill(
        dir=where,
        scenario=scenario,
        verdict=verdict,
        started_at=started,
        rto_s=_num(_sub(report, "rto").get("seconds")),
        rpo_s=_num(_sub(report, "rpo").get("seconds")),
        failback_s=_num(_sub(report, "failback").get("seconds")),
        downtime_s=_num(_sub(report, "availability").get("downtime_s")),
    )


def load_drills(history_dir: str | Path) -> tuple[list[Drill], list[str]]:
    """Every ``<history_dir>/*/drill-report.json``, oldest first, plus one warning per skipped
    directory or file. Raises BadInput if the dir is missing or holds no drill directory at all."""
    hdir = Path(history_dir)
    if not hdir.is_dir():
        raise BadInput(f"no drill history at {hdir}: run drills and archive them there first "
                       f"(drharness.report.history_trend.archive)")
    drills: list[Drill] = []
    warnings: list[str] = []
    subdirs = sorted(p for p in hdir.iterdir() if p.is_dir())
    if not subdirs:
        raise BadInput(f"drill history {hdir} is empty: no <timestamp>-<scenario>/{REPORT_FILE} found")
    for d in subdirs:
        jpath = d / REPORT_FILE
        if not jpath.is_file():
            warnings.append(f"{d}: skipped, no {REPORT_FILE}")
            continue
        try:
            drills.append(parse_report(json.loads(jpath.read_text()), d))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError) as exc:
            warnings.append(f"{jpath}: skipped, unreadable ({exc})")
    drills.sort(key=lambda x: (x.started_at, x.dir.name))
    return drills, warnings


# --------------------------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], q: float) -> float | None:
    """``q``-th percentile (0..100) with linear interpolation between closest ranks (numpy's
    default); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    total = 0.0
    for i in range(k, n + 1):
        logp = (math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                + i * math.log(p) + (n - i) * math.log1p(-p))
        total += math.exp(logp)
    return min(total, 1.0)


def lower_confidence_bound(successes: int, n: int, confidence: float = CONFIDENCE) -> float | None:
    """One-sided Clopper-Pearson lower bound on a success probability (exact binomial)."""
    if n <= 0:
        return None
    if successes <= 0:
        return 0.0
    alpha = 1.0 - confidence
    if successes == n:
        return alpha ** (1.0 / n)
    lo, hi = 0.0, successes / n
    for _ in range(80):  # bisection: P(X >= successes; p) = alpha
        mid = (lo + hi) / 2
        if _binom_sf(successes, n, mid) < alpha:
            lo = mid
        else:
            hi = mid
    return lo


def runs_to_demonstrate(share: float, confidence: float = CONFIDENCE) -> int:
    """Consecutive passing runs needed before the lower bound reaches ``share`` (≈ 299 for 99 %)."""
    return math.ceil(math.log(1.0 - confidence) / math.log(share))


def _success_check(passed: int, n: int) -> dict[str, Any]:
    """The success-rate checker's verdict on the archive (each drill one run): observed vs demonstrated."""
    from drharness.checkers import success_rate

    r = success_rate.judge(passed, n, {"objective": SUCCESS_RATE_OBJECTIVE, "confidence": CONFIDENCE, "min_runs": 1})
    return {"verdict": r.verdict, "lower_bound_95": _r(r.figures["lower_bound"], 4),
            "demonstrated": r.figures["demonstrated"], "runs_needed": r.figures["runs_needed"], "detail": r.detail}


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def summarize(drills: Sequence[Drill], warnings: Sequence[str] = (), history_dir: str | Path = "") -> dict[str, Any]:
    """The trend figures against the objectives (JSON-ready)."""
    n = len(drills)
    rtos = [d.rto_s for d in drills if d.rto_s is not None]
    under = sum(1 for v in rtos if v < RTO_OBJECTIVE_S)
    share = under / n if n else None  # a drill without a measured RTO counts as a miss
    rto_holds = share is not None and share >= RTO_SHARE_OBJECTIVE
    lcb = lower_confidence_bound(under, n)
    need = runs_to_demonstrate(RTO_SHARE_OBJECTIVE)
    rpos = [d.rpo_s for d in drills if d.rpo_s is not None]
    fbs = [d.failback_s for d in drills if d.failback_s is not None]
    passed = sum(1 for d in drills if d.verdict == "pass")
    rate = passed / n if n else None
    months: dict[str, float] = {}
    for d in drills:
        m = time.strftime("%Y-%m", time.gmtime(d.started_at))
        months[m] = months.get(m, 0.0) + (d.downtime_s or 0.0)
    budget = {m: {"downtime_s": round(s, 2), "budget_s": ERROR_BUDGET_S_PER_MONTH,
                  "used": round(s / ERROR_BUDGET_S_PER_MONTH, 4),
                  "within": s <= ERROR_BUDGET_S_PER_MONTH} for m, s in sorted(months.items())}
    budget_ok = all(v["within"] for v in budget.values())
    if n == 0:
        statement = "no readable drills"
    else:
        statement = (f"failover < {RTO_OBJECTIVE_S / 60:.0f} min in {RTO_SHARE_OBJECTIVE:.0%} of tests: "
                     f"{'HOLDS' if rto_holds else 'DOES NOT HOLD'} on {n} run{'s' if n != 1 else ''} "
                     f"({under}/{n} = {share:.1%} under {RTO_OBJECTIVE_S:.0f} s)")
        if rto_holds and (lcb is None or lcb < RTO_SHARE_OBJECTIVE):
            statement += (f"; observed only: {n} runs cannot demonstrate {RTO_SHARE_OBJECTIVE:.0%} at "
                          f"{CONFIDENCE:.0%} confidence (needs >= {need} consecutive passing runs)")
    objectives_met = n > 0 and rto_holds and rate is not None and rate > SUCCESS_RATE_OBJECTIVE and budget_ok
    return {
        "history_dir": str(history_dir),
        "runs": n,
        "first": drills[0].when if drills else None,
        "last": drills[-1].when if drills else None,
        "scenarios": sorted({d.scenario for d in drills}),
        "rto": {
            "objective_s": RTO_OBJECTIVE_S,
            "measured_runs": len(rtos),
            "p50_s": _r(percentile(rtos, 50)),
            "p99_s": _r(percentile(rtos, 99)),
            "max_s": _r(max(rtos, default=None)),
            "p99_within_objective": (percentile(rtos, 99) or math.inf) < RTO_OBJECTIVE_S if rtos else False,
            "runs_under_objective": under,
            "share_under_objective": _r(share, 4),
            "share_objective": RTO_SHARE_OBJECTIVE,
            "holds": rto_holds,
            "lower_bound_95": _r(lcb, 4),
            "runs_needed_to_demonstrate": need,
            "demonstrated": lcb is not None and lcb >= RTO_SHARE_OBJECTIVE,
            "statement": statement,
        },
        "rpo": {"measured_runs": len(rpos), "p50_s": _r(percentile(rpos, 50)), "max_s": _r(max(rpos, default=None))},
        "failback": {"measured_runs": len(fbs), "p50_s": _r(percentile(fbs, 50)),
                     "max_s": _r(max(fbs, default=None))},
        "success": {"passed": passed, "runs": n, "rate": _r(rate, 4), "objective": SUCCESS_RATE_OBJECTIVE,
                    "holds": rate is not None and rate > SUCCESS_RATE_OBJECTIVE,
                    **_success_check(passed, n)},
        "error_budget": {"budget_s_per_month": ERROR_BUDGET_S_PER_MONTH, "months": budget, "holds": budget_ok},
        "objectives_met": objectives_met,
        "drills": [{"dir": d.dir.name, "started": d.when, "scenario": d.scenario, "verdict": d.verdict,
                    "rto_s": d.rto_s, "rpo_s": d.rpo_s, "failback_s": d.failback_s, "downtime_s": d.downtime_s}
                   for d in drills],
        "warnings": list(warnings),
        "trend_md": None,
        "trend_png": None,
    }


# --------------------------------------------------------------------------------------------- output


def _f(v: Any, unit: str = " s") -> str:
    if v is None:
        return "n/a"
    return f"{v:.2f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def render_markdown(s: dict[str, Any]) -> str:
    rto, rpo, fb, ok, eb = s["rto"], s["rpo"], s["failback"], s["success"], s["error_budget"]
    yes = {True: "met", False: "**NOT met**"}
    lines = [
        f"# DR drill trend — {s['runs']} runs ({s['first']} … {s['last']})",
        "",
        f"Objectives overall: {yes[bool(s['objectives_met'])]}",
        "",
        f"- {rto['statement']}",
        "",
        "| measure | figure | objective | verdict |",
        "|---|---|---|---|",
        f"| RTO p50 / p99 / max | {_f(rto['p50_s'])} / {_f(rto['p99_s'])} / {_f(rto['max_s'])} "
        f"| < {rto['objective_s']:.0f} s | {yes[bool(rto['p99_within_objective'])]} (p99) |",
        f"| RTO < {rto['objective_s']:.0f} s | {rto['runs_under_objective']}/{s['runs']} "
        f"({_f((rto['share_under_objective'] or 0) * 100, ' %')}) | >= {rto['share_objective']:.0%} of tests "
        f"| {yes[bool(rto['holds'])]} |",
        f"| RPO p50 / max | {_f(rpo['p50_s'])} / {_f(rpo['max_s'])} | per drill | {rpo['measured_runs']} measured |",
        f"| Failback p50 / max | {_f(fb['p50_s'])} / {_f(fb['max_s'])} | per drill | {fb['measured_runs']} measured |",
        f"| Automated success | {ok['passed']}/{ok['runs']} ({_f((ok['rate'] or 0) * 100, ' %')}) "
        f"| > {ok['objective']:.0%} | {yes[bool(ok['holds'])]} |",
        "",
        f"RTO lower 95 % confidence bound on P(RTO < {rto['objective_s']:.0f} s): "
        f"{_f((rto['lower_bound_95'] or 0) * 100, ' %')} "
        f"(≥ {rto['runs_needed_to_demonstrate']} consecutive passing runs demonstrate 99 %).",
        "",
        "## Error budget (99.95 %: 21.6 min per month)",
        "",
        "| month | downtime | budget | used | verdict |",
        "|---|---|---|---|---|",
    ]
    for m, v in eb["months"].items():
        lines.append(f"| {m} | {_f(v['downtime_s'])} | {v['budget_s']:.0f} s | {v['used'] * 100:.2f} % "
                     f"| {yes[bool(v['within'])]} |")
    if s.get("trend_png"):
        lines += ["", f"![RTO per drill]({Path(s['trend_png']).name})"]
    lines += ["", "## Drills", "", "| started | scenario | verdict | RTO | RPO | failback | downtime |",
              "|---|---|---|---|---|---|---|"]
    for d in s["drills"]:
        lines.append(f"| {d['started']} | {d['scenario']} | {d['verdict']} | {_f(d['rto_s'])} | {_f(d['rpo_s'])} "
                     f"| {_f(d['failback_s'])} | {_f(d['downtime_s'])} |")
    if s["warnings"]:
        lines += ["", "## Skipped", ""] + [f"- {w}" for w in s["warnings"]]
    return "\n".join(lines) + "\n"


def plot_trend(drills: Sequence[Drill], out_png: str | Path) -> Path:
    """RTO per drill over time (pass/fail coloured) with the 900 s objective line. Agg backend."""
    import datetime as _dt

    from drharness.report.timeline import new_figure, save_figure

    fig, ax = new_figure(figsize=(10, 4.5))
    pts = [(_dt.datetime.fromtimestamp(d.started_at, _dt.UTC), d.rto_s, d.verdict) for d in drills
           if d.rto_s is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="#888888", linewidth=1, zorder=1)
        for verdict, colour in (("pass", "#2ca02c"), ("fail", "#d62728")):
            sel = [p for p in pts if p[2] == verdict]
            if sel:
                ax.scatter([p[0] for p in sel], [p[1] for p in sel], color=colour, label=f"drill {verdict}",
                           zorder=2)
    else:
        ax.text(0.5, 0.5, "no drill with a measured RTO", ha="center", va="center", transform=ax.transAxes)
    ax.axhline(RTO_OBJECTIVE_S, color="#d62728", linestyle="--", linewidth=1.2, label="RTO objective 900 s")
    ax.set_ylim(bottom=0, top=max([RTO_OBJECTIVE_S * 1.1] + [p[1] * 1.1 for p in pts]))
    ax.set_ylabel("RTO (s)")
    ax.set_xlabel("drill start (UTC)")
    ax.set_title(f"RTO per drill ({len(pts)} of {len(drills)} with a measured RTO)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return save_figure(fig, out_png)


def history_trend(history_dir: str | Path = DEFAULT_HISTORY_DIR, *, plot: bool = True) -> dict[str, Any]:
    """Load, summarize, write ``trend.md`` (+ ``trend.png``) into the history dir; return the summary.

    Raises BadInput (exit 2) for a missing/empty dir or when no report is readable. A missing
    matplotlib only skips the plot (with a warning)."""
    hdir = Path(history_dir)
    drills, warnings = load_drills(hdir)
    if not drills:
        raise BadInput(f"no readable drill report under {hdir}: " + "; ".join(warnings))
    warnings = list(warnings)
    png: Path | None = None
    if plot:
        try:
            png = plot_trend(drills, hdir / TREND_PNG)
        except ImportError as exc:
            warnings.append(f"trend plot skipped: {exc} (pip install 'matplotlib>=3.7')")
    summary = summarize(drills, warnings, hdir)
    summary["trend_png"] = str(png) if png else None
    md = hdir / TREND_MD
    summary["trend_md"] = str(md)
    md.write_text(render_markdown(summary))
    return summary


__all__ = [
    "DEFAULT_HISTORY_DIR",
    "Drill",
    "archive",
    "history_trend",
    "load_drills",
    "lower_confidence_bound",
    "parse_report",
    "percentile",
    "plot_trend",
    "render_markdown",
    "summarize",
]
