"""Sub-commands beyond ``lab``: drill, failover, failback, health, consistency, plan, report, halt."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Filled in as the recovery path lands."""
    return None
