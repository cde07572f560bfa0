"""Planned switchover, DNS and DynamoDB conflict features against the shared fast lab."""

import pytest
from pytest_bdd import scenarios

pytestmark = pytest.mark.lab

scenarios("switchover.feature", "dns.feature", "conflicts.feature")
