"""``drharness plan check``: worst-case RTO/RPO budget and static-stability lint from Terraform alone."""

from __future__ import annotations

from drharness.plancheck.check import PlanReport, check_env

__all__ = ["PlanReport", "check_env"]
