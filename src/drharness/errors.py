"""Errors that end a command with one clear message and a documented exit code (DESIGN §7)."""

from __future__ import annotations


class DrHarnessError(Exception):
    """Base error: carries the process exit code the CLI uses."""

    exit_code = 1


class BadInput(DrHarnessError):
    """The user gave something we cannot use (unknown profile, corrupt file, bad flag): exit 2."""

    exit_code = 2


class EnvironmentProblem(DrHarnessError):
    """The machine lacks something (PostgreSQL binaries, a free port, a running lab): exit 3."""

    exit_code = 3


class CheckFailed(DrHarnessError):
    """An SLO or a check failed: exit 1."""

    exit_code = 1
