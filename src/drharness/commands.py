"""Sub-commands beyond ``lab``: drill, failover, failback, health, halt, report (DESIGN §7)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from drharness.errors import BadInput, CheckFailed

console = Console(stderr=True, soft_wrap=True)


def _json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="local", choices=["local", "aws"])
    p.add_argument("--env", default=None, help="Terraform environment directory (with --target aws)")


def _guard_config(a: argparse.Namespace) -> dict[str, Any]:
    """Live targets need --yes and, if configured, an account/region allowlist (DRHARNESS_ALLOWED_*)."""
    import os

    live = a.target == "aws"
    split = lambda v: [x for x in (v or "").split(",") if x]  # noqa: E731
    return {"require_confirmation": live, "confirmed": bool(getattr(a, "yes", False)),
            "allowed_accounts": split(os.environ.get("DRHARNESS_ALLOWED_ACCOUNTS")),
            "allowed_regions": split(os.environ.get("DRHARNESS_ALLOWED_REGIONS"))}


# ---- drill -------------------------------------------------------------------------------------
def cmd_drill_run(a: argparse.Namespace) -> int:
    from drharness.drill import SCENARIOS, Drill, DrillConfig
    from drharness.target import ensure_target, stop_local_lab

    if a.scenario not in SCENARIOS:
        raise BadInput(f"unknown scenario {a.scenario!r}: choose one of {', '.join(SCENARIOS)}")
    g = _guard_config(a)
    if g["require_confirmation"] and not g["confirmed"]:
        raise BadInput("refusing to run a live drill against AWS without --yes")
    with console.status("preparing the target ...") as status:
        target, started_lab = ensure_target(a.target, a.env, a.profile)
        try:
            cfg = DrillConfig(scenario=a.scenario, report_dir=Path(a.report_dir),
                              confirmed=g["confirmed"], require_confirmation=g["require_confirmation"],
                              allowed_accounts=g["allowed_accounts"], allowed_regions=g["allowed_regions"],
                              history_dir=Path(a.history_dir) if a.history_dir else None,
                              force_unlock=a.force_unlock)
            report = Drill(target, cfg, progress=lambda m: status.update(m)).run()
        finally:
            if started_lab and not a.keep_lab:
                status.update("stopping the lab it started")
                stop_local_lab()
    if a.json:
        _json(report)
    else:
        _print_drill(report, a.report_dir)
    return 0 if report["verdict"] == "pass" else 1


def _print_drill(r: dict[str, Any], report_dir: str) -> None:
    color = "green" if r["verdict"] == "pass" else "red"
    console.print(f"[bold {color}]{r['scenario']}: {r['verdict'].upper()}[/]  target={r['target']} "
                  f"profile={r['profile']}")
    rto = r.get("rto") or {}
    if rto.get("seconds") is not None:
        phases = ", ".join(f"{k} {v:.2f}s" for k, v in (rto.get("phases") or {}).items() if v is not None)
        console.print(f"  RTO {rto['seconds']:.2f} s (objective < {r['slo']['rto_s']:.0f} s; floor "
                      f"{rto.get('floor_seconds')} s)  {phases}")
    rpo = r.get("rpo") or {}
    for store, s in (rpo.get("per_store") or {}).items():
        console.print(f"  {store}: {s['acknowledged']} acknowledged, {s['lost']} lost")
    if rpo.get("seconds") is not None:
        console.print(f"  RPO {rpo['seconds']:.2f} s (objective {'0: planned' if r.get('zero_loss') else '< ' + str(r['slo']['rpo_s']) + ' s'})")
    if r.get("failback"):
        console.print(f"  failback {r['failback']['seconds']} s ({r['failback']['verdict']})")
    for c in r["checks"]:
        mark = {"pass": "[green]✓[/]", "fail": "[red]✗[/]"}.get(c["verdict"], "[yellow]?[/]")
        console.print(f"  {mark} {c['name']}: {str(c['detail'])[:150]}")
    console.print(f"  report: {report_dir}/drill-report.md  (json: drill-report.json)")


# ---- failover / failback -------------------------------------------------------------------------
def _orchestrate(a: argparse.Namespace, kind: str) -> int:
    from drharness.orchestrator import FAILBACK_STEPS, FAILOVER_STEPS, Orchestrator, OrchestratorConfig
    from drharness.target import resolve_target

    target = resolve_target(a.target, a.env)
    g = _guard_config(a)
    cfg = OrchestratorConfig(mode=getattr(a, "mode", "planned"), decision="manual", dry_run=a.dry_run,
                             force=getattr(a, "force", False), run_id=a.run_id, **g)
    src = target.primary_region if kind == "failover" else target.secondary_region
    orch = Orchestrator(target, cfg, from_region=src)
    steps = FAILOVER_STEPS if kind == "failover" else FAILBACK_STEPS
    if a.dry_run:
        getattr(orch, kind)()  # guardrails only: a dry run returns before any step
        plan = orch.plan(steps)
        if a.json:
            _json({"kind": kind, "from": orch.src, "to": orch.dst, "steps": plan})
        else:
            console.print(f"{kind} plan {orch.src} -> {orch.dst} (mode {cfg.mode}):")
            for s in plan:
                console.print(f"  {s['step']:<18} budget {s['budget_s']:>4} s  {s['does']}")
            console.print(f"  total budget {sum(s['budget_s'] for s in plan)} s")
        return 0
    if not a.yes and sys.stdin.isatty():
        if console.input(f"{kind} {orch.src} -> {orch.dst} on {target.name}? type 'yes': ").strip() != "yes":
            raise BadInput("not confirmed")
        cfg.confirmed = True
    elif not a.yes and kind == "failback":
        raise BadInput("failback needs approval: re-run with --yes")
    with console.status(f"{kind} in progress ..."), _failover_safety(a, target, kind, orch.run_id):
        try:
            getattr(orch, kind)()
        finally:
            summary = orch.summary()
    if a.json:
        _json(summary)
    else:
        for s in summary["steps"]:
            console.print(f"  {s['name']:<18} {s['status']:<8} {s['seconds']} s  {s['detail']}")
        console.print(f"{kind} done in {summary['seconds']} s (run {summary['run_id']})")
    return 0


@contextmanager
def _failover_safety(a: argparse.Namespace, target: Any, kind: str, run_id: str) -> Iterator[None]:
    """What a drill takes, a standalone failover/failback takes too: the drill lock (refused, exit 3,
    while a drill or another failover holds it) and the audit log in ``--report-dir``, whose lines
    name the orchestrator steps and every mutating AWS call (docs/SECURITY.md)."""
    from drharness.safety import audit
    from drharness.safety.lock import DrillLock
    from drharness.safety.session import register_target_secrets

    register_target_secrets(target)
    who = audit.caller_identity(target)
    log_ = audit.AuditLog(Path(a.report_dir) / "audit.jsonl", who, run_id, target=target.name)
    with audit.activate(log_):
        audit.record(f"{kind}.start", mode=getattr(a, "mode", "planned"), run=run_id)
        lock = DrillLock(target, who, run_id, scenario=kind).take(a.force_unlock)
        result = "ok"
        try:
            yield
        except BaseException as exc:
            result = f"error: {type(exc).__name__}: {exc}"
            raise
        finally:
            lock.release()
            audit.record(f"{kind}.end", result=result, run=run_id)


def cmd_failover(a: argparse.Namespace) -> int:
    return _orchestrate(a, "failover")


def cmd_failback(a: argparse.Namespace) -> int:
    return _orchestrate(a, "failback")


# ---- health / halt -----------------------------------------------------------------------------
def cmd_health(a: argparse.Namespace) -> int:
    from drharness.aggregator import Aggregator
    from drharness.target import resolve_target

    agg = Aggregator(resolve_target(a.target, a.env))
    verdicts = agg.evaluate()
    published = agg.publish(verdicts)
    if a.json:
        _json({"regions": {r: v.to_dict() for r, v in verdicts.items()}, "published": published})
    else:
        for r, v in verdicts.items():
            color = "green" if v.healthy else "red"
            console.print(f"[{color}]{r}: {'healthy' if v.healthy else v.root_cause}[/]")
            for c in v.checks.values():
                console.print(f"   {'ok ' if c.ok else 'BAD'} {c.name}: {c.detail}")
    return 0 if all(v.healthy for v in verdicts.values()) else 1


def cmd_halt(a: argparse.Namespace) -> int:
    """Stop every running FIS experiment in both regions (the faults they own are reverted), then ask
    the drill holding the lock to stop (SIGTERM, when it runs on this host): it stops its workload,
    restores the known state (writer home, app unfenced, both regions healthy) and reports a fail."""
    from drharness.safety import audit
    from drharness.target import resolve_target

    if a.wait < 0:
        raise BadInput("--wait must not be negative")
    target = resolve_target(a.target, a.env)
    stopped: list[str] = []
    failed: list[str] = []
    log_ = audit.AuditLog(Path(a.report_dir) / "audit.jsonl", audit.caller_identity(target), "halt", target.name)
    with audit.activate(log_):
        _halt(target, stopped, failed)
        drill = _halt_drill(target, a.wait)
        audit.record("halt", result="ok" if not failed else "incomplete", stopped=stopped, failed=failed, drill=drill)
    if a.json:
        _json({"stopped": stopped, "failed": failed, "drill": drill})
    else:
        console.print(f"halt: stopped {len(stopped)} experiment(s) {', '.join(stopped)}")
        console.print(f"halt: drill: {drill['result']}")
        for f in failed:
            console.print(f"[red]  could not halt in {f}[/]")
    if failed:
        raise CheckFailed("halt incomplete: " + "; ".join(failed))
    return 0


def _halt_drill(target: Any, wait_s: float) -> dict[str, Any]:
    """SIGTERM the drill that holds the lock, if it runs here; wait until it has restored and exited."""
    import os
    import signal
    import socket
    import time

    from drharness.lab.state import pid_alive
    from drharness.safety.lock import DrillLock

    try:
        rec = DrillLock(target, "halt", "halt").read()
    except Exception as exc:  # noqa: BLE001 - the experiments are stopped already; say what is unknown
        return {"result": f"lock unreadable ({type(exc).__name__}): a running drill was not asked to stop"}
    if rec is None:
        return {"result": "no drill holds the lock"}
    info: dict[str, Any] = {"run_id": rec.run_id, "scenario": rec.scenario, "host": rec.host, "pid": rec.pid}
    if rec.scenario in ("failover", "failback"):
        return {**info, "result": f"a standalone {rec.scenario} holds the lock: left to finish (halt stops drills)"}
    if rec.host != socket.gethostname() or rec.pid <= 0:
        return {**info, "result": f"drill {rec.run_id} runs on {rec.host}: its faults are stopped; stop it there"}
    if not pid_alive(rec.pid):  # a zombie (exited, not yet reaped by its parent) counts as gone
        return {**info, "result": f"drill {rec.run_id} is not running (pid {rec.pid} gone): the next run recovers"}
    os.kill(rec.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while pid_alive(rec.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(rec.pid):
        return {**info, "result": f"drill {rec.run_id} (pid {rec.pid}) asked to stop; still restoring after {wait_s:g} s"}
    return {**info, "result": f"drill {rec.run_id} (pid {rec.pid}) halted and exited; its report says what it restored"}


def _halt(target: Any, stopped: list[str], failed: list[str]) -> None:
    for region in target.regions:
        try:
            fis = target.client("fis", region)
            for exp in fis.list_experiments().get("experiments", []):
                if exp["state"]["status"] in ("pending", "initiating", "running"):
                    fis.stop_experiment(id=exp["id"])
                    stopped.append(f"{region}:{exp['id']}")
        except Exception as exc:  # noqa: BLE001 - keep halting the other region
            failed.append(f"{region}: {type(exc).__name__}: {exc}")


def chaos_environment(target_kind: str, env_dir: str | None, region: str | None = None) -> dict[str, str]:
    """The environment under which plain `chaos run experiments/<x>.json` reaches this target."""
    from drharness.target import resolve_target

    t = resolve_target(target_kind, env_dir)
    region = region or t.primary_region
    out = {"DRHARNESS_TARGET": target_kind, "DRHARNESS_ENV": str(Path(env_dir).resolve()) if env_dir else "",
           "DRHARNESS_FIS_REGION": region}
    if target_kind == "local":
        out["DRHARNESS_LAB_STATE"] = str(Path(t.source).resolve())
    endpoint = t.regions[region].aws_endpoint
    if endpoint:
        out["AWS_ENDPOINT_URL"] = endpoint
    if t.credentials:
        out.update({"AWS_ACCESS_KEY_ID": t.credentials["aws_access_key_id"],
                    "AWS_SECRET_ACCESS_KEY": t.credentials["aws_secret_access_key"]})
    for scenario, tid in t.regions[region].fis_templates.items():
        out["DRHARNESS_FIS_TEMPLATE_" + scenario.upper().replace("-", "_")] = tid
    return out


def cmd_chaos_env(a: argparse.Namespace) -> int:
    import shlex

    for k, v in chaos_environment(a.target, a.env, a.region).items():
        sys.stdout.write(f"export {k}={shlex.quote(v)}\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from drharness.consistency.cli import add_cli as consistency_cli

    consistency_cli(sub)
    chaos = sub.add_parser("chaos", help="Chaos Toolkit helpers").add_subparsers(
        dest="chaos_cmd", required=True, parser_class=type(sub._parser_class()))
    ce = chaos.add_parser("env", help="print the environment for plain `chaos run` (eval it)")
    ce.add_argument("--region", default=None, help="region whose FIS templates and endpoint to use")
    _target_args(ce)
    ce.set_defaults(fn=cmd_chaos_env)

    drill = sub.add_parser("drill", help="run DR drills").add_subparsers(dest="drill_cmd", required=True,
                                                                         parser_class=type(sub._parser_class()))
    run = drill.add_parser("run", help="run one scenario end to end")
    run.add_argument("--scenario", default="region-outage")
    _target_args(run)
    run.add_argument("--report-dir", default="reports/latest")
    run.add_argument("--history-dir", default="reports/history",
                     help="archive the drill here for `drharness report --history` ('' to skip)")
    run.add_argument("--profile", default="fast", help="lab profile when the drill starts the lab")
    run.add_argument("--keep-lab", action="store_true", help="leave a lab the drill started running")
    run.add_argument("--yes", action="store_true", help="confirm a live drill (--target aws)")
    run.add_argument("--force-unlock", action="store_true",
                     help="remove a drill lock left by a runner that is gone, then run (docs/SECURITY.md)")
    run.add_argument("--json", action="store_true")
    run.set_defaults(fn=cmd_drill_run)

    for name, fn in (("failover", cmd_failover), ("failback", cmd_failback)):
        p = sub.add_parser(name, help=f"run the {name} plan")
        if name == "failover":
            p.add_argument("--mode", choices=["planned", "unplanned"], default="planned")
            p.add_argument("--force", action="store_true", help="fail over to an unhealthy secondary anyway")
        p.add_argument("--dry-run", action="store_true", help="print the plan with each step's budget")
        p.add_argument("--yes", action="store_true")
        p.add_argument("--run-id", default=None, help="resume an interrupted run with this id")
        p.add_argument("--report-dir", default="reports/latest", help="where audit.jsonl records the run")
        p.add_argument("--force-unlock", action="store_true",
                       help="remove a drill lock left by a runner that is gone, then run (docs/SECURITY.md)")
        p.add_argument("--json", action="store_true")
        _target_args(p)
        p.set_defaults(fn=fn)

    h = sub.add_parser("health", help="run the health check aggregator once")
    h.add_argument("--json", action="store_true")
    _target_args(h)
    h.set_defaults(fn=cmd_health)

    halt = sub.add_parser("halt", help="stop every running fault of the drill and revert it")
    halt.add_argument("--json", action="store_true")
    halt.add_argument("--report-dir", default="reports/latest", help="the drill whose audit log records the halt")
    halt.add_argument("--wait", type=float, default=600.0,
                      help="seconds to wait for the halted drill to restore the known state and exit")
    _target_args(halt)
    halt.set_defaults(fn=cmd_halt)
