"""The canary claims a failed write only when it certainly did not happen (Jepsen's rule).

A write logged ``fail`` that is later found in the store is a violation the RPO checker reports
("the canary must log ambiguous errors as 'info'"); CI once failed on exactly that: an INSERT whose
connection the region isolation cut after the statement was sent, logged ``fail``, had committed.
"""

from __future__ import annotations

import errno

import psycopg
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from drharness.workload.canary import NotSent, _outcome


def _pg_error(sqlstate: str | None) -> psycopg.Error:
    cls = psycopg.errors.lookup(sqlstate) if sqlstate else psycopg.OperationalError
    return cls("planted")


def _client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "planted"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutItem")


@pytest.mark.parametrize("exc, outcome", [
    # never sent: certain
    (NotSent("connection refused"), "fail"),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "fail"),
    (ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), "fail"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "fail"),
    # the store answered no: certain
    (_pg_error("25006"), "fail"),  # read-only transaction: the demoted writer refused
    (_pg_error("23505"), "fail"),  # unique violation
    (_client_error(400, "ThrottlingException"), "fail"),
    (_client_error(403, "AccessDenied"), "fail"),
    # sent, then no certain answer: unknown
    (_pg_error(None), "info"),  # "server closed the connection unexpectedly" after the INSERT was sent
    (_pg_error("08006"), "info"),  # connection failure class
    (_pg_error("57P01"), "info"),  # admin shutdown mid-statement
    (_client_error(500, "InternalError"), "info"),
    (_client_error(503, "ServiceUnavailable"), "info"),
    (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), "info"),
    (ConnectionClosedError(endpoint_url="http://127.0.0.1:1"), "info"),
    (ConnectionResetError(errno.ECONNRESET, "reset"), "info"),
    (TimeoutError("timed out"), "info"),
])
def test_fail_only_when_the_write_certainly_did_not_happen(exc, outcome):
    assert _outcome(exc) == outcome
