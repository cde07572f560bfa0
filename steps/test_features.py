"""The region-outage family of features (failover, failback, replication lag, error budget) against the
shared fast lab. Features are bound in three files so pytest-xdist (--dist loadfile) spreads them over
workers; the experiment runs they judge are shared through the locked cache in the root conftest."""

import pytest
from pytest_bdd import scenarios

pytestmark = pytest.mark.lab

scenarios("failover.feature", "failback.feature", "replication.feature", "sla.feature")
