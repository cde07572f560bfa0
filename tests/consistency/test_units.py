"""Pieces that need no lab: item hashing, error mapping, result shape, S3 difference explanations."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from drharness.consistency import StoreResult, exit_code, parse_stores
from drharness.consistency.aws import raise_clear
from drharness.consistency.ddb import DdbSide, compare_ddb, item_digest
from drharness.consistency.result import jsonable_key
from drharness.consistency.s3 import S3Side, Version, _differs, _unreplicated, list_versions
from drharness.errors import BadInput, EnvironmentProblem


def test_item_digest_ignores_order_number_spelling_and_rep_attributes() -> None:
    a = {"pk": {"S": "k"}, "n": {"N": "10"}, "s": {"SS": ["b", "a"]}, "m": {"M": {"x": {"N": "1.0"}, "y": {"S": "z"}}}}
    b = {"m": {"M": {"y": {"S": "z"}, "x": {"N": "1"}}}, "s": {"SS": ["a", "b"]}, "n": {"N": "1E+1"}, "pk": {"S": "k"},
         "aws:rep:updateregion": {"S": "us-west-2"}}
    assert item_digest(a) == item_digest(b)
    assert item_digest(a) != item_digest({**a, "n": {"N": "11"}})
    assert item_digest(a) != item_digest({**a, "n": {"S": "10"}})  # type matters


def test_raise_clear_one_message_per_failure() -> None:
    def ce(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "Scan")

    with pytest.raises(BadInput, match="table 't' not found in us-west-2"):
        raise_clear(ce("ResourceNotFoundException"), "DynamoDB table 't'", "us-west-2")
    with pytest.raises(EnvironmentProblem, match="access denied to S3 bucket 'b' in us-east-1"):
        raise_clear(ce("AccessDenied"), "S3 bucket 'b'", "us-east-1")
    with pytest.raises(EnvironmentProblem, match="us-east-1 unreachable"):
        raise_clear(EndpointConnectionError(endpoint_url="http://x"), "S3 bucket 'b'", "us-east-1")


def _ddb(region: str) -> Any:
    return boto3.client("dynamodb", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")


def test_dynamodb_access_denied_is_an_environment_problem() -> None:
    a, b = _ddb("us-east-1"), _ddb("us-west-2")
    with Stubber(a) as sa:
        sa.add_client_error("describe_table", "AccessDeniedException", "User is not authorized", 400)
        with pytest.raises(EnvironmentProblem, match="access denied to DynamoDB table 'orders' in us-east-1"):
            compare_ddb(DdbSide(a, "orders", "us-east-1"), DdbSide(b, "orders", "us-west-2"))


def test_s3_access_denied_is_an_environment_problem() -> None:
    a = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(a) as sa:
        sa.add_client_error("list_object_versions", "AccessDenied", "Access Denied", 403)
        with pytest.raises(EnvironmentProblem, match="access denied to S3 bucket 'src' in us-east-1"):
            list_versions(S3Side(a, "src", "us-east-1"))


def v(key: str, vid: str, etag: str | None, t: float, latest: bool = False, dm: bool = False) -> Version:
    return Version(key, vid, dm, latest, etag, None if dm else 3, t)


def test_s3_difference_rules() -> None:
    obj_a = [v("k", "a2", "e2", 2, latest=True), v("k", "a1", "e1", 1)]
    obj_b = [v("k", "b2", "e2", 2.5, latest=True), v("k", "b1", "e1", 1.5)]
    assert _differs(obj_a, obj_b) is None  # same versions by content, ids differ between buckets
    assert _differs(obj_a, obj_b[:1]) == "versions"  # an old version missing
    assert _differs(obj_a, None) == "current"
    deleted = [v("k", "a3", None, 3, latest=True, dm=True), *obj_a]
    assert _differs(deleted, obj_b) == "current"
    assert [x.version_id for x in _unreplicated(deleted, obj_b)] == ["a3"]  # the delete did not arrive
    assert [x.version_id for x in _unreplicated(obj_a, obj_b[:1])] == ["a1"]


def test_result_shape_and_exit_codes() -> None:
    ok = StoreResult("s3", True, 3, 0)
    bad = StoreResult("dynamodb", False, 3, 1, ["k"], "diff")
    assert ok.to_dict()["ok"] is True and set(ok.to_dict()) >= {"ok", "compared", "diffs", "diff_keys"}
    assert exit_code({"s3": ok}) == 0
    assert exit_code({"s3": ok, "dynamodb": bad}) == 1
    err = StoreResult("aurora", False, 0, None, status="error", extra={"exit_code": 3})
    assert exit_code({"s3": ok, "aurora": err}) == 3
    with pytest.raises(ValueError):
        StoreResult("s3", True, 3, 1, status="diff")  # ok with a diff is impossible
    assert jsonable_key(("a",)) == "a" and jsonable_key(("a", 1)) == ["a", 1]
    assert parse_stores("s3, aurora") == ["s3", "aurora"]
    with pytest.raises(BadInput, match="unknown store"):
        parse_stores("aurora,mysql")
