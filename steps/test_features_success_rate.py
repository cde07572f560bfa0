"""The success-rate feature: repeated region-outage experiment runs (not cached: they are the evidence)."""

import pytest
from pytest_bdd import scenarios

pytestmark = pytest.mark.lab

scenarios("success_rate.feature")
