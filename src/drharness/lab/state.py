"""The lab's state file (``.drharness/lab.json``): every address, port and PID of a running lab."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drharness.errors import BadInput

STATE_DIR = Path(".drharness")
STATE_FILE = STATE_DIR / "lab.json"
SCHEMA = "drharness.lab/1"


@dataclass
class LabState:
    profile: dict[str, Any]
    regions: dict[str, dict[str, Any]]
    dns: dict[str, Any]
    edge_url: str
    control_url: str
    moto_url: str
    account_id: str
    resources: dict[str, Any]
    pids: dict[str, int]
    ports: list[list[Any]]
    pg: dict[str, Any]
    work_dir: str
    started_at: float
    schema: str = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def state_path(root: Path | None = None) -> Path:
    env = os.environ.get("DRHARNESS_LAB_STATE")
    if env:
        return Path(env)
    return (root or Path.cwd()) / STATE_FILE


def write_state(state: LabState, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)


def read_raw(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path} is corrupt ({exc}); run 'drharness lab down' to clean up") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path} is corrupt (not a JSON object); run 'drharness lab down' to clean up")
    return data


def read_state(path: Path) -> LabState:
    data = read_raw(path)
    if data.get("schema") != SCHEMA:
        raise BadInput(f"{path} has schema {data.get('schema')!r}, expected {SCHEMA!r}")
    try:
        return LabState(**data)
    except TypeError as exc:
        raise BadInput(f"{path} is corrupt ({exc}); run 'drharness lab down' to clean up") from None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
