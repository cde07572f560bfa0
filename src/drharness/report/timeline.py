"""Charts of one drill from its history (``history.jsonl``), matplotlib Agg backend, no pyplot.

- ``render_timeline``: prober success/failure over time, the fault window (nemesis ``fault``
  invoke → ok), orchestrator phases (``step`` invoke → ok/fail spans) and DNS answer changes
  (prober ``dns`` observations), on one time axis in seconds since the drill started.
- ``render_lag_chart``: replication lag per store from ``lag`` events.

Both read with ``load_history(path, allow_torn_tail=True)`` and always write a PNG (a history with
nothing to draw gets a chart saying so); a missing or corrupt history raises ``HistoryError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drharness.history import (
    DRILL,
    HARNESS,
    LAG,
    NEMESIS,
    ORCHESTRATOR,
    PROBER,
    Event,
    Op,
    load_history,
    pair_ops,
    role_of,
)

OUTCOME_COLOURS = {"ok": "#2ca02c", "fail": "#d62728", "info": "#7f7f7f"}
REGION_COLOURS = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b"]


def new_figure(figsize: tuple[float, float] = (10, 4), nrows: int = 1, **kw: Any) -> tuple[Any, Any]:
    """A matplotlib Figure (Agg canvas, no pyplot global state: safe from threads) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, 1, squeeze=True, **kw)
    return fig, axes


def save_figure(fig: Any, out_png: str | Path) -> Path:
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, format="png")
    return out


def _origin(events: Sequence[Event]) -> float:
    starts = [e.t for e in events if e.process == HARNESS and e.f == DRILL and e.type == "invoke"]
    if starts:
        return starts[0]
    return events[0].t if events else 0.0


def _span(op: Op, t_end: float) -> tuple[float, float]:
    start = op.t
    end = op.t_end if op.t_end is not None else t_end
    return start, max(end, start)


def render_timeline(history_path: str | Path, out_png: str | Path) -> Path:
    """Draw the drill timeline from ``history_path`` into ``out_png``; returns the PNG path."""
    events = load_history(history_path, allow_torn_tail=True)
    fig, ax = new_figure(figsize=(12, 5))
    if not events:
        ax.text(0.5, 0.5, "empty history", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return save_figure(fig, out_png)
    t0 = _origin(events)
    t_last = max(e.t for e in events)
    ops = pair_ops(events)

    def x(t: float) -> float:
        return t - t0

    lanes = ["DNS answer", "orchestrator", "fault", "prober"]
    y = {name: i for i, name in enumerate(lanes)}
    regions: dict[str, str] = {}

    def region_colour(region: str | None) -> str:
        key = region or "?"
        if key not in regions:
            regions[key] = REGION_COLOURS[len(regions) % len(REGION_COLOURS)]
        return regions[key]

    # prober: one dot per probe at its completion (or invoke) time, coloured by outcome
    probes = [op for op in ops if op.role == PROBER and op.f == "probe"]
    for outcome, colour in OUTCOME_COLOURS.items():
        sel = [op for op in probes if op.type == outcome]
        if sel:
            ax.scatter([x(op.t_end if op.t_end is not None else op.t) for op in sel], [y["prober"]] * len(sel),
                       s=10, color=colour, marker="|" if outcome == "ok" else "x",
                       label=f"probe {outcome} ({len(sel)})", zorder=3)

    # fault windows: nemesis fault invoke → ok (open-ended: to the end of the history)
    for op in ops:
        if op.role == NEMESIS and op.f == "fault" and op.invoke is not None:
            a, b = _span(op, t_last)
            ax.broken_barh([(x(a), max(b - a, 1e-3))], (y["fault"] - 0.35, 0.7), color="#d62728", alpha=0.35)
            v = op.invoke_value if isinstance(op.invoke_value, dict) else {}
            label = str(v.get("fault") or "fault") + (f" @ {v['target_region']}" if v.get("target_region") else "")
            ax.text(x(a), y["fault"] + 0.38, label + ("" if op.t_end is not None else " (not healed)"),
                    fontsize=7, va="bottom")
            ax.axvspan(x(a), x(b), color="#d62728", alpha=0.06, zorder=0)

    # orchestrator phases: step invoke → completion
    steps = [op for op in ops if role_of(op.process) == ORCHESTRATOR and op.f == "step" and op.invoke is not None]
    for i, op in enumerate(steps):
        a, b = _span(op, t_last)
        v = op.invoke_value if isinstance(op.invoke_value, dict) else {}
        failback = v.get("kind") == "failback"
        colour = {"ok": "#9467bd" if failback else "#1f77b4", "fail": "#d62728"}.get(op.type, "#7f7f7f")
        ax.broken_barh([(x(a), max(b - a, 1e-3))], (y["orchestrator"] - 0.3, 0.6), color=colour, alpha=0.7,
                       edgecolor="white")
        label = ("failback:" if failback else "") + str(v.get("step") or "step")
        ax.text(x(a), y["orchestrator"] + (0.34 if i % 2 == 0 else -0.34), label,
                fontsize=6, va="bottom" if i % 2 == 0 else "top", rotation=0)

    # DNS answer changes (bare ok observations)
    dns = [e for e in events if role_of(e.process) == PROBER and e.f == "dns" and e.type == "ok"]
    for e in dns:
        v = e.value if isinstance(e.value, dict) else {}
        region = v.get("region")
        colour = region_colour(region)
        ax.axvline(x(e.t), color=colour, linestyle=":", linewidth=1, alpha=0.8, zorder=1)
        ax.scatter([x(e.t)], [y["DNS answer"]], color=colour, marker="D", s=30, zorder=3)
        ax.text(x(e.t), y["DNS answer"] + 0.2, f"{v.get('answer', '?')} ({region or '?'})", fontsize=7,
                rotation=20, va="bottom")

    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(-0.8, len(lanes) - 0.2)
    ax.set_xlim(left=min(0.0, x(events[0].t)) - 0.5, right=x(t_last) + 0.5)
    ax.set_xlabel("seconds since drill start")
    title = "Drill timeline"
    if getattr(events, "torn", False):
        title += " (history torn: incomplete)"
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    if probes:
        ax.legend(loc="upper right", fontsize=7)
    return save_figure(fig, out_png)


def lag_series(events: Sequence[Event]) -> dict[str, list[tuple[float, float]]]:
    """``{store: [(t, lag_ms | nan), ...]}`` from lag events (null lag → NaN: a gap in the line)."""
    series: dict[str, list[tuple[float, float]]] = {}
    for e in events:
        if role_of(e.process) != LAG or e.f != "lag" or e.type != "ok" or not isinstance(e.value, dict):
            continue
        store = e.value.get("store")
        if not isinstance(store, str):
            continue
        lag = e.value.get("lag_ms")
        ok = isinstance(lag, int | float) and not isinstance(lag, bool)
        series.setdefault(store, []).append((e.t, float(lag) if ok else math.nan))
    return series


def render_lag_chart(history_path: str | Path, out_png: str | Path) -> Path:
    """Replication lag (ms) per store over the drill, from ``lag`` events; returns the PNG path."""
    events = load_history(history_path, allow_torn_tail=True)
    fig, ax = new_figure(figsize=(10, 4))
    series = lag_series(events)
    t0 = _origin(events)
    for i, (store, pts) in enumerate(sorted(series.items())):
        ax.plot([t - t0 for t, _ in pts], [v for _, v in pts], marker=".", markersize=3, linewidth=1,
                color=REGION_COLOURS[i % len(REGION_COLOURS)], label=store)
    for op in pair_ops(events):
        if op.role == NEMESIS and op.f == "fault" and op.invoke is not None:
            a, b = _span(op, max(e.t for e in events))
            ax.axvspan(a - t0, b - t0, color="#d62728", alpha=0.08)
    if series:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no lag events recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("seconds since drill start")
    ax.set_ylabel("replication lag (ms)")
    ax.set_title("Replication lag per store")
    ax.grid(True, alpha=0.3)
    return save_figure(fig, out_png)


__all__ = ["lag_series", "new_figure", "render_lag_chart", "render_timeline", "save_figure"]
