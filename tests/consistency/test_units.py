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


class _RacingS3:
    """A bucket pair's S3 as the checker sees it while replication finishes under it: the destination's
    copy shows up in listings only after ``arrive_after`` listings of the destination (None: never),
    while the source's head already says COMPLETED (S3 stamps it once the copy is written)."""

    def __init__(self, versions: dict[str, list[dict]], arrive_after: int | None, dst: str = "dst") -> None:
        self.versions = versions
        self.arrive_after = arrive_after
        self.dst = dst
        self.dst_listings = 0

    def get_paginator(self, name: str) -> Any:
        assert name == "list_object_versions"
        return self

    def paginate(self, Bucket: str, Prefix: str = "") -> Any:  # noqa: N803 - boto3's spelling
        if Bucket == self.dst:
            self.dst_listings += 1
            if self.arrive_after is None or self.dst_listings <= self.arrive_after:
                return [{"Versions": []}]
        return [{"Versions": [v for v in self.versions[Bucket] if v["Key"].startswith(Prefix)]}]

    def head_object(self, Bucket: str, Key: str, VersionId: str) -> dict:  # noqa: N803
        return {"ReplicationStatus": "COMPLETED" if Bucket != self.dst else "REPLICA"}

    def get_bucket_replication(self, Bucket: str) -> dict:  # noqa: N803
        return {"ReplicationConfiguration": {"Rules": [{"ID": "all", "Status": "Enabled", "Priority": 1,
                                                        "Filter": {}}]}}


@pytest.mark.parametrize("keys", [1, 25])
@pytest.mark.parametrize("arrives", [True, False])
def test_s3_completed_copy_arriving_during_the_check_is_not_lost(keys: int, arrives: bool) -> None:
    """The TF-lab drill reported 78 keys 'COMPLETED but the replica is missing' that had replicated
    while the check ran (listing taken first, status read minutes later). Planted: the copies show up
    right after the first listing of the destination: settled, not lost; never: every key lost.
    25 keys take the bulk relisting path, 1 key the per-key one."""
    from datetime import UTC, datetime

    from drharness.consistency.s3 import compare_buckets

    objs = [{"Key": f"orders/{i}.json", "VersionId": f"v{i}", "IsLatest": True, "ETag": f'"e{i}"', "Size": 3,
             "LastModified": datetime(2026, 11, 26, tzinfo=UTC)} for i in range(keys)]
    fake = _RacingS3({"src": objs, "dst": [dict(o, VersionId="r" + o["VersionId"]) for o in objs]},
                     1 if arrives else None)
    res = compare_buckets(S3Side(fake, "src", "us-east-1"), S3Side(fake, "dst", "us-west-2"), settle_s=0.0)
    assert res.extra["lost"] == (0 if arrives else keys)
    assert res.ok is arrives
    if not arrives:
        assert res.extra["diff_details"][0]["reasons"][0]["reason"].startswith("ReplicationStatus COMPLETED")


def test_s3_settle_round_over_many_keys_lists_each_bucket_once() -> None:
    """moto's prefix listing scans the whole bucket: one listing per differing key made a settle
    round over a drill's backlog take ~40 s. Many keys: one listing per bucket per round."""
    from datetime import UTC, datetime

    from drharness.consistency.s3 import compare_buckets

    objs = [{"Key": f"orders/{i}.json", "VersionId": f"v{i}", "IsLatest": True, "ETag": f'"e{i}"', "Size": 3,
             "LastModified": datetime(2026, 11, 26, tzinfo=UTC)} for i in range(25)]
    fake = _RacingS3({"src": objs, "dst": [dict(o, VersionId="r" + o["VersionId"]) for o in objs]}, 1)
    res = compare_buckets(S3Side(fake, "src", "us-east-1"), S3Side(fake, "dst", "us-west-2"), settle_s=5.0)
    assert res.ok and res.extra["settled"] == 25
    assert fake.dst_listings == 2, "the first listing and one relisting of the whole bucket"
