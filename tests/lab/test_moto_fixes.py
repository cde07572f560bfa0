"""The lab's fixes to moto (lab/moto_fixes.py) and the gateway's answer to moto's thread races.

Each fix is shown against moto alone: the same answers, and the failure it removes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client
from werkzeug.wrappers import Response

from drharness.lab import moto_fixes
from drharness.lab.faults import Faults
from drharness.lab.gateway import RegionGateway

BUCKET = "drharness-fix-test"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        c = boto3.client("s3", region_name="us-east-1")
        c.create_bucket(Bucket=BUCKET)
        c.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for i in range(4):
            c.put_object(Bucket=BUCKET, Key=f"orders/o{i}.json", Body=b"v1-%d" % i)
        c.put_object(Bucket=BUCKET, Key="orders/o1.json", Body=b"v2")
        c.put_object(Bucket=BUCKET, Key="orders/o1.json", Body=b"v3")
        c.delete_object(Bucket=BUCKET, Key="orders/o2.json")
        c.put_object(Bucket=BUCKET, Key="other/x.json", Body=b"x")
        c.put_object(Bucket=BUCKET, Key="top.json", Body=b"t")
        yield c
    moto_fixes.uninstall()


def _pages(c: Any, **kw: Any) -> list[dict]:
    """Every page of a listing, following the markers as a client does (MaxKeys small: many pages)."""
    out = []
    while True:
        page = c.list_object_versions(Bucket=BUCKET, **kw)
        page.pop("ResponseMetadata", None)
        out.append(page)
        if not page.get("IsTruncated"):
            return out
        kw = {**kw, "KeyMarker": page["NextKeyMarker"]}
        if page.get("NextVersionIdMarker"):
            kw["VersionIdMarker"] = page["NextVersionIdMarker"]
        else:
            kw.pop("VersionIdMarker", None)


QUERIES = [{}, {"Prefix": "orders/"}, {"Delimiter": "/"}, {"Prefix": "orders/o1"}, {"MaxKeys": 2},
           {"MaxKeys": 3, "Prefix": "orders/"}, {"KeyMarker": "orders/o1.json"}, {"MaxKeys": 1, "Delimiter": "/"}]


@pytest.mark.parametrize("query", QUERIES, ids=[json.dumps(q) for q in QUERIES])
def test_listing_answers_exactly_as_moto_does(s3: Any, query: dict) -> None:
    moto_fixes.uninstall()
    theirs = _pages(s3, **query)
    moto_fixes.install()
    ours = _pages(s3, **query)
    assert ours == theirs
    assert any(v.get("IsLatest") for p in ours for v in p.get("Versions", [])) or query.get("Delimiter")


def test_listing_copies_no_object(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto deep-copies every version (its body into a new temporary file) on every listing."""
    from moto.s3.models import FakeKey

    def refuse(self: Any) -> dict:
        raise AssertionError("a stored object was copied to list it")

    monkeypatch.setattr(FakeKey, "__getstate__", refuse)
    moto_fixes.uninstall()
    with pytest.raises(AssertionError, match="copied"):
        s3.list_object_versions(Bucket=BUCKET)
    moto_fixes.install()
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 8


def test_a_key_deleted_while_listing_does_not_fail_the_listing(s3: Any) -> None:
    """moto lists the key names, then reads each key's versions: a DELETE in between left None there
    (a 500 "'NoneType' object is not iterable" on the Terraform lab). Planted: every per-key read
    finds the key gone."""
    from moto.s3.models import s3_backends

    store = s3_backends["123456789012"]["aws"].buckets[BUCKET].keys
    store.getlist = lambda key, default=None: None  # type: ignore[method-assign]
    moto_fixes.uninstall()
    with pytest.raises(Exception, match="NoneType"):
        s3.list_object_versions(Bucket=BUCKET)
    moto_fixes.install()
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 8


# ---- the gateway and moto's races -----------------------------------------------------------------

class RacyMoto:
    """A moto stand-in whose first ``fails`` calls lose a dict race; it echoes the body it read."""

    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.calls = 0

    def __call__(self, environ: dict, start_response: Any) -> Any:
        self.calls += 1
        body = environ["wsgi.input"].read()
        if self.calls <= self.fails:
            raise RuntimeError("dictionary changed size during iteration")
        return Response(json.dumps({"echo": body.decode()}), content_type="application/json")(environ, start_response)


def _call(gw: RegionGateway, target: str, body: dict) -> Any:
    auth = "AWS4-HMAC-SHA256 Credential=lab/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
    return Client(gw).post("/", data=json.dumps(body), headers={
        "Authorization": auth, "X-Amz-Target": f"DynamoDB_20120810.{target}",
        "Content-Type": "application/x-amz-json-1.0"})


def test_a_read_that_lost_a_race_in_moto_is_asked_again_with_its_body() -> None:
    moto = RacyMoto(fails=2)
    gw = RegionGateway("us-east-1", moto, Faults(("us-east-1", "us-west-2")))
    resp = _call(gw, "DescribeTable", {"TableName": "orders"})
    assert resp.status_code == 200 and json.loads(resp.data)["echo"] == '{"TableName": "orders"}'
    assert (moto.calls, gw.race_retries) == (3, 2)


def test_a_write_that_raised_in_moto_is_never_sent_twice() -> None:
    moto = RacyMoto(fails=1)
    gw = RegionGateway("us-east-1", moto, Faults(("us-east-1", "us-west-2")))
    with pytest.raises(RuntimeError, match="changed size"):
        _call(gw, "PutItem", {"TableName": "orders", "Item": {}})
    assert (moto.calls, gw.race_retries) == (1, 0)


def test_a_read_that_keeps_losing_gives_up() -> None:
    moto = RacyMoto(fails=100)
    gw = RegionGateway("us-east-1", moto, Faults(("us-east-1", "us-west-2")))
    with pytest.raises(RuntimeError):
        _call(gw, "GetItem", {"TableName": "orders"})
    assert moto.calls == 4


def test_a_retried_call_gets_its_whole_body_again() -> None:
    """The body is read once by the gateway; each attempt gets a fresh stream of it."""
    moto = RacyMoto(fails=1)
    gw = RegionGateway("us-east-1", moto, Faults(("us-east-1", "us-west-2")))
    big = {"TableName": "t", "pad": "x" * 100_000}
    resp = _call(gw, "Query", big)
    assert json.loads(json.loads(resp.data)["echo"]) == big


def test_describe_table_that_lost_a_race_in_moto_itself_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same through moto's own app: DescribeTable counts items while a PutItem lands (planted:
    the first count raises as Python does then)."""
    from moto.dynamodb.models.table import Table
    from moto.server import DomainDispatcherApplication, create_backend_app

    from drharness.lab import net
    from drharness.lab.httpserve import serve

    app = DomainDispatcherApplication(create_backend_app)
    gw = RegionGateway("us-east-1", app, Faults(("us-east-1", "us-west-2")))
    port = net.free_port()
    server = serve("127.0.0.1", port, gw, "gw-race-test")
    try:
        ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                           aws_access_key_id="lab", aws_secret_access_key="lab")
        ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}})
        real_len, lost = Table.__len__, []

        def racing_len(self: Any) -> int:
            if not lost:
                lost.append(1)
                raise RuntimeError("dictionary changed size during iteration")
            return real_len(self)

        monkeypatch.setattr(Table, "__len__", racing_len)
        desc = ddb.describe_table(TableName="orders")["Table"]
        assert (desc["TableName"], desc["ItemCount"], gw.race_retries) == ("orders", 1, 1)
    finally:
        server.shutdown()
