"""Locust ``LoadTestShape`` wrappers of the pure schedules in ``load_config.ShapeParams``.

Why wrappers: the schedule (and its validation) is plain Python that unit tests and the drill can
use without importing Locust; these classes only adapt it to Locust's ``tick()`` protocol. Each
reads its parameters from ``DRHARNESS_SHAPE_*`` when Locust instantiates it (at locustfile import,
so an invalid parameter stops Locust before it starts).
"""

from __future__ import annotations

from typing import ClassVar

from locust import LoadTestShape

from drharness.errors import BadInput
from drharness.workload.load_config import ENV_SHAPE, ShapeParams

__all__ = ["DrillShape", "RampShape", "SteadyShape", "shape_class"]


class _EnvShape(LoadTestShape):
    """A shape whose schedule comes from ``DRHARNESS_SHAPE_*`` (abstract: Locust never picks it)."""

    abstract = True
    kind: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        params = ShapeParams.from_env()
        if params is None or params.kind != self.kind:
            raise BadInput(f"{type(self).__name__} needs {ENV_SHAPE}={self.kind}")
        self.params = params

    def tick(self) -> tuple[int, float] | None:
        return self.params.tick(self.get_run_time())


class SteadyShape(_EnvShape):
    """``DRHARNESS_SHAPE_USERS`` users for ``DRHARNESS_SHAPE_SECONDS``."""

    kind = "steady"


class RampShape(_EnvShape):
    """Linear ramp from ``START_USERS`` to ``USERS`` over ``RAMP_S``, then hold until ``SECONDS``."""

    kind = "ramp"


class DrillShape(_EnvShape):
    """Warm-up, steady load across the failover, optional surge (``SURGE_AT_S``/``SURGE_S``/``SURGE_USERS``)."""

    kind = "drill"


_BY_KIND: dict[str, type[_EnvShape]] = {c.kind: c for c in (SteadyShape, RampShape, DrillShape)}


def shape_class() -> type[LoadTestShape] | None:
    """The shape class ``DRHARNESS_SHAPE`` names (validated now), or None for plain -u/-r runs."""
    params = ShapeParams.from_env()
    return None if params is None else _BY_KIND[params.kind]
