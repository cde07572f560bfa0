"""drharness load: Locust users against the two-region orders app (see docs/LOAD_TESTING.md).

    python -m locust -f loadtests/locustfile.py --headless -u 10 -r 5 -t 30s RegionalReadHeavy

The target comes from the lab state or Terraform outputs (``DRHARNESS_TARGET=local|aws``,
``DRHARNESS_ENV=dir``), never from a URL written here; ``DRHARNESS_LOAD_*`` say what users do and
``DRHARNESS_SHAPE*`` select a load shape. Bad settings, an unknown region or a lab that is not
running end Locust before it starts with one line and exit code 2 (bad input) or 3 (environment).

User classes (name them on the command line; all run if none is named):

- ``RegionalReadHeavy`` / ``RegionalWriteHeavy``: the app of ``DRHARNESS_LOAD_REGION`` (us-west-2).
- ``FailoverDnsReadHeavy`` / ``FailoverDnsWriteHeavy``: the failover DNS name, TTL honoured,
  ``DRHARNESS_LOAD_KEEPALIVE`` pinned connection (1) or fresh connection per TTL window (0).
- ``RegionalPostgresReader``: SQL reads on the region's Aurora endpoint.
"""

from __future__ import annotations

import sys

from drharness.errors import BadInput, DrHarnessError
from drharness.workload import load_shapes, load_users
from drharness.workload.load_config import LoadSettings

try:
    if "--web-login" in sys.argv and not LoadSettings.from_env().ui_password:
        raise BadInput("--web-login needs DRHARNESS_LOAD_UI_PASSWORD (and optionally DRHARNESS_LOAD_UI_USER) "
                       "in the environment: the password is never taken from the command line")
    _shape = load_shapes.shape_class()
    load_users.configure()
except DrHarnessError as exc:
    load_users.fail_fast(exc)

# The user classes Locust may run (Locust collects the User classes of this namespace).
from drharness.workload.load_users import (  # noqa: E402
    FailoverDnsReadHeavy,
    FailoverDnsWriteHeavy,
    RegionalPostgresReader,
    RegionalReadHeavy,
    RegionalWriteHeavy,
)

__all__ = [
    "FailoverDnsReadHeavy",
    "FailoverDnsWriteHeavy",
    "RegionalPostgresReader",
    "RegionalReadHeavy",
    "RegionalWriteHeavy",
]

# Exactly one shape class in this namespace: the one DRHARNESS_SHAPE names (Locust runs it).
if _shape is not None:
    SelectedShape = _shape
del _shape
