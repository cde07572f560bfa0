"""Chaos Toolkit extension: drharness actions and probes for ``experiments/*.json``.

Activities follow chaostoolkit-aws's shape: typed kwargs, trailing ``configuration=None,
secrets=None``. The Target comes from configuration keys ``drharness_target`` (local|aws) and
``drharness_env`` (Terraform environment dir), so an experiment runs on the lab or on AWS by
changing only the environment.
"""

from __future__ import annotations

from typing import Any

from drharness.target import Target, resolve_target

__all__ = ["target_from"]


def target_from(configuration: dict[str, Any] | None) -> Target:
    cfg = configuration or {}
    return resolve_target(cfg.get("drharness_target") or "local", cfg.get("drharness_env") or None)
