"""Guards before a drill starts: the drill lock and the preflight refusals, on the lab (same code as AWS)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from drharness.safety.lock import LOCK_KEY, DrillLock, LockHeld
from drharness.safety.preflight import (
    PreflightRefused,
    check_stop_conditions,
    check_template_scope,
    preflight,
)

pytestmark = pytest.mark.lab


def _plant_lock(t, *, host: str, pid: int, expires_in: float, run_id: str = "other-run") -> None:
    now = time.time()
    t.client("dynamodb", t.secondary_region).put_item(TableName=t.regions[t.secondary_region].table, Item={
        "pk": {"S": LOCK_KEY}, "owner": {"S": "arn:aws:iam::123456789012:user/alice (alice@ops)"},
        "host": {"S": host}, "pid": {"N": str(pid)}, "run_id": {"S": run_id}, "scenario": {"S": "region-outage"},
        "acquired_at": {"N": str(now - 60)}, "expires_at": {"N": str(now + expires_in)}})


@pytest.fixture
def lock_free(clean_lab):
    yield clean_lab
    DrillLock(clean_lab.target, "test", "cleanup").force_unlock()


def test_second_concurrent_drill_is_refused_with_one_clear_line(lock_free, tmp_path):
    t = lock_free.target
    _plant_lock(t, host="drill-runner-2", pid=4242, expires_in=600)  # a live drill elsewhere
    res = subprocess.run([sys.executable, "-m", "drharness", "drill", "run", "--scenario", "planned-switchover",
                          "--report-dir", str(tmp_path / "r"), "--history-dir", ""],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert res.returncode == 3, res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "another drill holds the drill lock" in lines[0], res.stderr
    assert "drill-runner-2" in lines[0] and "other-run" in lines[0] and "--force-unlock" in lines[0]
    hist = tmp_path / "r" / "history.jsonl"
    assert not hist.exists() or hist.read_text() == ""  # nothing ran
    audit = (tmp_path / "r" / "audit.jsonl").read_text()
    assert '"what":"lock.acquire"' in audit and "refused" in audit


def test_live_lock_held_by_a_running_process_here_is_refused(lock_free):
    t = lock_free.target
    _plant_lock(t, host=__import__("socket").gethostname(), pid=os.getpid(), expires_in=600)
    with pytest.raises(LockHeld):
        DrillLock(t, "me", "run-b").acquire()


def test_expired_lock_is_taken_over(lock_free):
    t = lock_free.target
    _plant_lock(t, host="gone-runner", pid=4242, expires_in=-5, run_id="dead-run")
    lock = DrillLock(t, "me", "run-c").acquire()
    assert lock.took_over is not None and lock.took_over.run_id == "dead-run"
    assert lock.read().run_id == "run-c"
    with pytest.raises(LockHeld):  # and now it is ours: a second runner is refused
        DrillLock(t, "someone", "run-d").acquire()
    lock.release()
    assert lock.read() is None


def test_lock_of_a_dead_runner_on_this_host_is_taken_over_at_once(lock_free):
    t = lock_free.target
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _plant_lock(t, host=__import__("socket").gethostname(), pid=dead.pid, expires_in=600, run_id="killed-run")
    lock = DrillLock(t, "me", "run-e").acquire()
    assert lock.took_over.run_id == "killed-run"
    lock.release()


def test_force_unlock_removes_a_live_lock(lock_free):
    t = lock_free.target
    _plant_lock(t, host="elsewhere", pid=1, expires_in=600)
    removed = DrillLock(t, "me", "run-f").force_unlock()
    assert removed is not None and removed.host == "elsewhere"
    DrillLock(t, "me", "run-f").acquire().release()


def test_preflight_passes_on_a_healthy_lab_and_checks_each_template(clean_lab):
    checked = preflight(clean_lab.target, "control-plane-impairment")
    assert sum("stop conditions" in c for c in checked) == 2


def test_preflight_refuses_when_a_stop_condition_alarm_is_in_alarm(clean_lab):
    t = clean_lab.target
    alarm = t.regions[t.secondary_region].alarms["region_health"]  # the region-outage template's stop condition
    with clean_lab.planted_alarm_state(t.secondary_region, alarm, "ALARM"):
        with pytest.raises(PreflightRefused, match="already in ALARM"):
            preflight(t, "region-outage")
        preflight(t, "planned-switchover")  # uses no FIS template: not refused for it


def test_stop_conditions_missing_or_naming_no_alarm_are_refused(clean_lab):
    t = clean_lab.target
    assert "no stop-condition alarm" in check_stop_conditions(t, {"id": "T1", "stopConditions": [
        {"source": "none"}]})[0]
    missing = check_stop_conditions(t, {"id": "T2", "stopConditions": [
        {"source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-west-2:123456789012:alarm:no-such"}]})
    assert missing and "does not exist" in missing[0]


def test_templates_selecting_by_wildcard_are_refused():
    assert check_template_scope({"id": "T", "targets": {"c": {"resourceType": "aws:rds:cluster",
                                                             "resourceArns": ["arn:aws:rds:*:1:cluster:*"]}}})
    assert check_template_scope({"id": "T", "targets": {"c": {"resourceType": "aws:ec2:subnet"}}})
    assert not check_template_scope({"id": "T", "targets": {"c": {"resourceType": "aws:ec2:subnet",
                                                                  "resourceTags": {"drharness:region": "x"}}}})


def test_preflight_refuses_aurora_lag_above_threshold(clean_lab):
    with pytest.raises(PreflightRefused, match="lag"):
        preflight(clean_lab.target, "planned-switchover", lag_threshold_ms=-1.0)  # any measured lag is above


def test_preflight_refuses_an_unready_secondary(clean_lab):
    t = clean_lab.target
    clean_lab.fault(t.secondary_region, api_errors={"dynamodb": "unavailable"})  # planted: secondary's table down
    try:
        with pytest.raises(PreflightRefused, match="secondary us-west-2 dynamodb"):
            preflight(t, "planned-switchover")
    finally:
        clean_lab.clear()


def test_hostile_run_id_is_refused_before_any_step(clean_lab, tmp_path):
    """--run-id names the orchestrator's state file: a path in it must not escape the state dir."""
    from drharness.errors import BadInput
    from drharness.orchestrator import Orchestrator, OrchestratorConfig

    state = tmp_path / "state"
    cfg = OrchestratorConfig(mode="planned", confirmed=True, run_id="../../escaped", state_dir=str(state))
    with pytest.raises(BadInput, match="run-id"):
        Orchestrator(clean_lab.target, cfg).failover()
    assert not (tmp_path / "escaped.json").exists() and not list(tmp_path.rglob("*escaped*"))
    assert not state.exists() or not list(state.iterdir())  # refused before any step: nothing half-applied


def test_halt_stops_a_running_drill_and_leaves_the_known_state(lock_free, tmp_path):
    """`drharness halt` mid-drill (fault on, Aurora already promoted in us-west-2): the fault stops,
    the drill stops its workload, fails back, unfences, reports a fail, and releases its lock."""
    import json

    t = lock_free.target
    report_dir = tmp_path / "drill"
    out, err = (tmp_path / "drill.out").open("w"), (tmp_path / "drill.err").open("w")
    drill = subprocess.Popen([sys.executable, "-m", "drharness", "drill", "run", "--scenario", "region-outage",
                              "--report-dir", str(report_dir), "--history-dir", "", "--json"],
                             stdout=out, stderr=err, text=True, env=dict(os.environ))
    try:
        deadline = time.time() + 120
        while lock_free.writer_region() != t.secondary_region:  # the failover is under way
            assert drill.poll() is None, (tmp_path / "drill.err").read_text()[-2000:]
            assert time.time() < deadline, "the drill never failed over"
            time.sleep(0.1)
        fis = t.client("fis", t.primary_region)
        running = [e["id"] for e in fis.list_experiments()["experiments"] if e["state"]["status"] == "running"]
        assert running, "no fault running mid-drill: the halt would prove nothing"
        halt = subprocess.run([sys.executable, "-m", "drharness", "halt", "--json", "--wait", "240",
                               "--report-dir", str(tmp_path / "halt")],
                              capture_output=True, text=True, timeout=300, env=dict(os.environ))
        assert halt.returncode == 0, halt.stderr
        rc = drill.wait(timeout=60)
    finally:
        if drill.poll() is None:
            drill.kill()
            drill.wait()
        out.close()
        err.close()
    said = json.loads(halt.stdout)
    assert any(running[0] in s for s in said["stopped"]), said
    assert "halted and exited" in said["drill"]["result"], said
    # The drill: a fail (never a pass for a halted run), and what it did to restore the known state.
    assert rc == 1, (tmp_path / "drill.err").read_text()[-2000:]
    report = json.loads((report_dir / "drill-report.json").read_text())
    assert report["verdict"] == "fail" and any("halted" in e for e in report["errors"]), report["errors"]
    assert report["halted"]["failback"], report["halted"]
    # Known state, checked by us: no experiment running, writer home, app not fenced, lock released.
    for region in t.regions:
        exps = t.client("fis", region).list_experiments()["experiments"]
        assert not [e for e in exps if e["state"]["status"] in ("pending", "initiating", "running")]
    assert lock_free.writer_region() == t.primary_region
    lam = t.client("lambda", t.primary_region)
    assert lam.get_function_concurrency(FunctionName=t.regions[t.primary_region].function).get(
        "ReservedConcurrentExecutions") != 0
    assert DrillLock(t, "test", "check").read() is None
    # Both audit logs tell it: halt stopped the fault and the drill; the drill restored.
    halt_audit = [json.loads(x) for x in (tmp_path / "halt" / "audit.jsonl").read_text().splitlines()]
    assert [e for e in halt_audit if e["what"] == "fis.StopExperiment" and e["detail"]["params"].get("id") == running[0]]
    assert [e for e in halt_audit if e["what"] == "halt" and e["detail"]["drill"]["pid"] == drill.pid]
    drill_audit = (report_dir / "audit.jsonl").read_text()
    assert '"what":"drill.halted"' in drill_audit


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "drharness", *args], capture_output=True, text=True, timeout=180,
                          env=dict(os.environ), cwd=cwd)


def test_failover_is_refused_while_a_drill_holds_the_lock(lock_free, tmp_path):
    """A standalone failover takes the drill lock too: refused with one line, nothing applied; a dry
    run takes no lock and writes nothing."""
    t = lock_free.target
    _plant_lock(t, host="drill-runner-2", pid=4242, expires_in=600)
    res = _cli("failover", "--mode", "planned", "--yes", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert res.returncode == 3, res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "another drill holds the drill lock" in lines[0] and "drill-runner-2" in lines[0], lines
    assert lock_free.writer_region() == t.primary_region  # nothing half-applied
    assert not (tmp_path / ".drharness").exists()  # no orchestrator step began
    audit = (tmp_path / "r" / "audit.jsonl").read_text()
    assert '"what":"lock.acquire"' in audit and "refused" in audit
    dry = _cli("failover", "--dry-run", "--report-dir", str(tmp_path / "dry"), cwd=tmp_path)
    assert dry.returncode == 0 and "plan" in dry.stderr, dry.stderr
    assert not (tmp_path / "dry").exists()
    assert DrillLock(t, "test", "x").read().host == "drill-runner-2"  # the holder's lock is untouched


def test_failover_and_failback_through_the_cli_take_the_lock_and_audit_every_step(lock_free, tmp_path):
    from drharness.orchestrator import FAILBACK_STEPS, FAILOVER_STEPS
    from drharness.safety.audit import read_audit

    t = lock_free.target
    report = tmp_path / "r"
    for kind in ("failover", "failback"):
        res = _cli(kind, *(["--mode", "planned"] if kind == "failover" else []), "--yes", "--json",
                   "--report-dir", str(report), cwd=tmp_path)
        assert res.returncode == 0, res.stderr[-2000:]
        assert DrillLock(t, "test", "x").read() is None  # released
    assert lock_free.writer_region() == t.primary_region
    entries = read_audit(report / "audit.jsonl")
    whats = [e["what"] for e in entries]
    for kind, steps in (("failover", FAILOVER_STEPS), ("failback", FAILBACK_STEPS)):
        lines = whats[whats.index(f"{kind}.start"):whats.index(f"{kind}.end") + 1]
        assert lines[1] == "lock.acquire" and lines[-2:] == ["lock.release", f"{kind}.end"], lines
        assert [w for w in lines if w.startswith("orchestrator.")] == [f"orchestrator.{kind}.{s}" for s in steps]
    assert whats.count("rds.SwitchoverGlobalCluster") == 2  # the botocore hook saw both switchovers
    assert all("user/moto" in e["who"] and e["result"] in ("ok", "skipped") for e in entries), entries
