"""``lab up`` / ``lab status`` / ``lab down``: start the lab's processes, record them, stop them by PID."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from drharness.errors import BadInput, EnvironmentProblem
from drharness.lab import net
from drharness.lab.config import REGIONS, load_profile
from drharness.lab.postgres import PgNode, find_pg_bin, make_base_dir
from drharness.lab.state import LabState, pid_alive, read_raw, read_state, state_path, write_state

log = logging.getLogger(__name__)


def control(url: str, path: str, body: dict | None = None, timeout: float = 10) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        try:
            detail = json.loads(detail).get("error", detail)
        except ValueError:
            pass
        raise BadInput(f"lab control {path}: {detail}") from None


def _sidecar(path: Path) -> Path:
    """PIDs and dirs written before lab.json exists, so a crashed `up` can still be cleaned."""
    return path.with_name(path.name + ".pids")


def _record(path: Path, key: str, value: Any) -> None:
    side = _sidecar(path)
    side.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(side.read_text()) if side.exists() else {}
    data[key] = value
    side.write_text(json.dumps(data))


def lab_up(profile_name: str = "fast", root: Path | None = None, dns_port: int | None = None,
           edge_port: int | None = None, attempts: int = 3, provision: str = "fast") -> LabState:
    """Start the lab. Free ports are picked, then bound by labd: another process can take one in
    between, so a start that loses that race is cleaned up and retried with new ports.
    ``provision``: ``fast`` (Python, the default) or ``terraform`` (apply of infra/environments/lab)."""
    if provision not in ("fast", "terraform"):
        raise BadInput(f"unknown provisioning {provision!r}: choose fast or terraform")
    if provision == "terraform":
        from drharness.lab.tfprovision import preflight

        preflight()
    for attempt in range(1, attempts + 1):
        try:
            return _lab_up(profile_name, root, dns_port, edge_port, provision)
        except EnvironmentProblem as exc:
            if attempt == attempts or "in use" not in str(exc):
                raise
            log.warning("lab start lost a port race (%s); retrying with new ports", exc)
    raise AssertionError("unreachable")


def _lab_up(profile_name: str, root: Path | None, dns_port: int | None, edge_port: int | None,
            provision: str = "fast") -> LabState:
    root = root or Path.cwd()
    path = state_path(root)
    profile = load_profile(profile_name, root)
    if path.exists():
        read_raw(path)  # a corrupt state file is an error (we cannot know what it ran): exit 2
    if path.exists() or _sidecar(path).exists():
        running = _running_lab(path)
        if running:
            raise BadInput(f"a lab is already running (labd pid {running}); run 'drharness lab down' first")
        log.warning("stale lab state found at %s (crashed lab): cleaning it up", path)
        lab_down(root)
    for label, port in (("--dns-port", dns_port), ("--edge-port", edge_port)):
        if port is not None and (not 1 <= port <= 65535 or not net.can_bind("127.0.0.1", port)):
            raise BadInput(f"{label} {port} is busy or invalid: choose a free port or omit it")
    pg_bin = find_pg_bin()
    started = time.time()
    hosts = net.region_hosts()
    ports: dict[str, Any] = {
        "moto": net.free_port(),
        "control": net.free_port(),
        "edge": edge_port or net.free_port(),
        "dns": dns_port or net.free_port(udp_too=True),
        "app": net.free_port_on_all(sorted(set(hosts.values()))),
        "gateway": {r: net.free_port(hosts[r]) for r in REGIONS},
        "pg": {r: net.free_port(hosts[r]) for r in REGIONS},
        "xr": {r: net.free_port() for r in REGIONS},
    }
    if provision == "terraform":  # one aurora_port for both regional cluster endpoints
        if len(set(hosts.values())) < len(REGIONS):
            raise EnvironmentProblem("--provision terraform needs one loopback address per region (127.0.1.1, "
                                     "127.0.2.1): this system only binds 127.0.0.1")
        pg_port = net.free_port_on_all(sorted(set(hosts.values())))
        ports["pg"] = {r: pg_port for r in REGIONS}
    base = make_base_dir()
    _record(path, "pg_base", str(base))
    nodes = {r: PgNode(f"aurora-{r}", r, base / r, net.free_port(), pg_bin) for r in REGIONS}
    primary, secondary = REGIONS
    try:
        nodes[primary].initdb()
        nodes[primary].start()
        _record(path, "pg_datadirs", [str(n.datadir) for n in nodes.values()])
        nodes[secondary].base_backup_from(nodes[primary], ports["xr"][primary])
        nodes[secondary].start()
        plan = {
            "regions": list(REGIONS), "hosts": hosts, "ports": ports, "profile": profile.as_dict(),
            "provision": provision, "terraform": {"work_dir": str(path.parent / "terraform")},
            "pg": {"bin": str(pg_bin), "base": str(base),
                   "nodes": {r: {"datadir": str(n.datadir), "port": n.port} for r, n in nodes.items()}},
        }
        if provision == "terraform":
            from drharness.lab.tfprovision import lab_names

            plan["profile"]["names"] = lab_names(plan["profile"]["names"])
        plan_file = path.parent / "plan.json"
        plan_file.write_text(json.dumps(plan, indent=2))
        log_file = path.parent / "labd.log"
        with open(log_file, "ab") as lf:
            proc = subprocess.Popen([sys.executable, "-m", "drharness.lab.daemon", str(plan_file)],
                                    stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=str(root))
        _record(path, "labd", proc.pid)
        control_url = f"http://127.0.0.1:{ports['control']}"
        status = _wait_ready(proc, control_url, log_file, timeout=600 if provision == "terraform" else 90)
    except BaseException:
        lab_down(root)
        raise
    names = profile.names
    res = status["resources"]
    regions = {}
    for r in REGIONS:
        rr = res["regions"][r]
        regions[r] = {
            "aws_endpoint": f"http://{hosts[r]}:{ports['gateway'][r]}",
            "app_url": f"http://{hosts[r]}:{ports['app']}",
            "pg_dsn": f"host={hosts[r]} port={ports['pg'][r]} user=postgres dbname=postgres connect_timeout=2",
            "host": hosts[r],
            **rr,
        }
    state = LabState(
        profile=profile.as_dict(),
        regions=regions,
        dns={"host": "127.0.0.1", "port": ports["dns"], "name": names["record"], **res["dns"]},
        edge_url=f"http://127.0.0.1:{ports['edge']}",
        control_url=control_url,
        moto_url=f"http://127.0.0.1:{ports['moto']}",
        account_id="123456789012",
        resources={"global_cluster_id": res["global_cluster_id"], "roles": res["roles"]},
        pids={"labd": proc.pid, **{f"postgres-{r}": nodes[r].pid() or 0 for r in REGIONS}},
        ports=_port_list(hosts, ports),
        pg={"bin": str(pg_bin), "base": str(base),
            "nodes": {r: {"datadir": str(n.datadir), "port": n.port} for r, n in nodes.items()}},
        work_dir=str(root),
        started_at=started,
        extra={"up_seconds": round(time.time() - started, 2), "provision": provision,
               **({"terraform": res["terraform"]} if "terraform" in res else {})},
    )
    write_state(state, path)
    return state


def _port_list(hosts: dict[str, str], ports: dict[str, Any]) -> list[list[Any]]:
    out: list[list[Any]] = [["127.0.0.1", ports[k], k] for k in ("moto", "control", "edge", "dns")]
    for r in REGIONS:
        out += [[hosts[r], ports["gateway"][r], f"gateway-{r}"], [hosts[r], ports["app"], f"app-{r}"],
                [hosts[r], ports["pg"][r], f"pg-{r}"], ["127.0.0.1", ports["xr"][r], f"xr-{r}"]]
    return out


def _wait_ready(proc: subprocess.Popen, url: str, log_file: Path, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace").splitlines()[-15:]
            raise EnvironmentProblem("lab daemon exited during start-up:\n  " + "\n  ".join(tail))
        try:
            st = control(url, "/status", timeout=2)
            if st.get("ready"):
                return st
        except (OSError, BadInput):
            pass
        time.sleep(0.1)
    raise EnvironmentProblem(f"lab daemon not ready after {timeout:.0f} s; see {log_file}")


def _running_lab(path: Path) -> int | None:
    for source in (path, _sidecar(path)):
        try:
            data = read_raw(source)
        except (FileNotFoundError, BadInput):
            continue
        pid = data.get("pids", {}).get("labd") if source == path else data.get("labd")
        if isinstance(pid, int) and pid_alive(pid) and _is_labd(pid):
            return pid
    return None


def _is_labd(pid: int) -> bool:
    try:
        return b"drharness.lab.daemon" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _kill(pid: int, timeout: float = 5.0) -> None:
    if not pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        while pid_alive(pid):
            time.sleep(0.02)


def _stop_pg(datadir: Path, pg_bin: Path | None) -> None:
    pidfile = datadir / "postmaster.pid"
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if pg_bin:
        PgNode("x", "x", datadir, 0, pg_bin).stop("immediate")
    _kill(pid)


def lab_down(root: Path | None = None) -> list[str]:
    """Stop everything the lab started, by PID; remove its state. Works on stale or corrupt state."""
    root = root or Path.cwd()
    path = state_path(root)
    side = _sidecar(path)
    done: list[str] = []
    info: dict[str, Any] = {}
    for source in (side, path):
        try:
            data = read_raw(source)
        except (FileNotFoundError, BadInput):
            continue
        info.update(data)
    pids = dict(info.get("pids") or {})
    if isinstance(info.get("labd"), int):
        pids.setdefault("labd", info["labd"])
    if "labd" in pids and pid_alive(pids["labd"]) and _is_labd(pids["labd"]):
        _kill(pids["labd"])
        done.append(f"labd ({pids['labd']})")
    pg_bin = None
    try:
        pg_bin = find_pg_bin()
    except EnvironmentProblem:
        pass
    datadirs = [Path(d) for d in info.get("pg_datadirs", [])]
    datadirs += [Path(n["datadir"]) for n in (info.get("pg") or {}).get("nodes", {}).values()]
    for d in dict.fromkeys(datadirs):
        if (d / "postmaster.pid").exists():
            _stop_pg(d, pg_bin)
            done.append(f"postgres ({d.name})")
    base = info.get("pg_base") or (info.get("pg") or {}).get("base")
    if base and Path(base).name.startswith("drharness-pg-"):
        shutil.rmtree(base, ignore_errors=True)
    for p in info.get("ports", []):
        _wait_port_free(p[0], p[1])
    for f in (path, side, path.parent / "plan.json"):
        f.unlink(missing_ok=True)
    if (path.parent / "terraform" / "infra" / "environments" / "lab").is_dir():  # a moto's state, now gone
        shutil.rmtree(path.parent / "terraform", ignore_errors=True)
    return done


def _wait_port_free(host: str, port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while net.port_in_use(host, port) and time.monotonic() < deadline:
        time.sleep(0.05)


def lab_status(root: Path | None = None) -> dict[str, Any]:
    path = state_path(root or Path.cwd())
    if not path.exists():
        raise EnvironmentProblem("no lab is running: start one with 'drharness lab up'")
    st = read_state(path)
    live: dict[str, Any] = {}
    try:
        live = control(st.control_url, "/status", timeout=3)
    except (OSError, BadInput):
        live = {}
    comps = {name: {"pid": pid, "healthy": pid_alive(pid)} for name, pid in st.pids.items()}
    for name in ("moto", "dns", "edge", "ddb-replicator", "s3-replicator", "health-checker"):
        comps[name] = {"pid": st.pids.get("labd"), "healthy": bool(live.get("ready"))}
    for r, app in (live.get("apps") or {}).items():  # each region's app: its own process (appserver.py)
        comps[f"app-{r}"] = {"pid": app.get("pid"), "healthy": bool(app.get("alive"))}
    regions = {}
    for r, info in st.regions.items():
        lr = (live.get("regions") or {}).get(r, {})
        regions[r] = {**info, "healthy": bool(lr.get("healthy")) if live else False,
                      "fault": lr.get("fault", "unknown")}
    return {
        "profile": st.profile["name"],
        "profile_config": st.profile,
        "regions": regions,
        "dns": st.dns,
        "edge_url": st.edge_url,
        "control_url": st.control_url,
        "moto_url": st.moto_url,
        "components": comps,
        "aurora": live.get("aurora"),
        "replication": {k: live.get(k) for k in ("dynamodb", "s3")} if live else None,
        "replication_lag_ms": live.get("replication_lag_ms"),
        "running": bool(live.get("ready")),
    }
