"""Helpers for the consistency benchmarks: run a measured child process, describe the machine.

Why a child process: its peak RSS (``ru_maxrss`` from ``wait4``) is then the peak of that one
tool alone, not of the benchmark driver that loaded the data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Run:
    label: str
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def measure(label: str, argv: list[str], env: dict[str, str] | None = None, timeout_s: float = 1800) -> Run:
    """Run ``argv`` (under ``wrap``); wall time and the child's peak resident memory."""
    t0 = time.monotonic()
    proc = subprocess.run(wrap(argv), capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout_s)
    seconds = time.monotonic() - t0
    return Run(label, seconds, _peak_from_output(proc.stderr), proc.returncode, proc.stdout, proc.stderr)


PEAK_MARK = "DRH_PEAK_RSS_KB="


def _peak_from_output(err: str) -> float:
    for line in reversed(err.splitlines()):
        if line.startswith(PEAK_MARK):
            return int(line[len(PEAK_MARK):]) / 1024.0
    return float("nan")


def wrap(argv: list[str]) -> list[str]:
    """Run ``argv`` under a tiny Python wrapper that reports the child's peak RSS on stderr."""
    code = ("import os, resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:])\n"
            "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            f"print('{PEAK_MARK}%d' % ru.ru_maxrss, file=sys.stderr)\n"
            "sys.exit(p.returncode)\n")
    return [sys.executable, "-c", code, *argv]


def machine() -> dict[str, Any]:
    def sh(cmd: str) -> str:
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception as exc:  # noqa: BLE001
            return f"n/a ({exc})"

    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "nproc": sh("nproc"),
            "free_h": sh("free -h"), "loadavg": sh("cat /proc/loadavg"), "python": platform.python_version(),
            "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")}


def dump(doc: Any) -> str:
    return json.dumps(doc, indent=2, default=str)
