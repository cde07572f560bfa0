"""Every feature file under features/ runs as pytest scenarios against the shared fast lab."""

import pytest
from pytest_bdd import scenarios

pytestmark = pytest.mark.lab

scenarios(".")
