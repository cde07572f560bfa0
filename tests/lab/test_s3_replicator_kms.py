"""The S3 replicator on the replication configuration Terraform writes (infra/modules/multi-region/
s3-replication.tf): SSE-KMS buckets, ``filter {}`` + ``priority``, ``source_selection_criteria {
sse_kms_encrypted_objects }``, ``encryption_configuration { replica_kms_key_id }``, RTC and metrics.

No lab: moto in-process behind two region gateways carrying the lab's S3 hooks (the configuration
is kept as PUT, GET/HEAD answer ReplicationStatus); replication rounds are run by hand.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from drharness.lab.s3_replicator import S3Replicator, parse_replication_xml

E, W = "us-east-1", "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/drharness-s3-replication"


class S3Lab:
    def __init__(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app

        from drharness.lab import net
        from drharness.lab.faults import Faults
        from drharness.lab.gateway import RegionGateway
        from drharness.lab.httpserve import serve
        from drharness.lab.interceptors import s3_replication_config_interceptor, s3_replication_status_hook

        app = DomainDispatcherApplication(create_backend_app)
        self.faults = Faults((E, W))
        self.servers = []
        port = net.free_port()
        self.servers.append(serve("127.0.0.1", port, app, "moto-s3test"))
        self.moto_url = f"http://127.0.0.1:{port}"
        self.urls: dict[str, str] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self.gateways = {r: RegionGateway(r, app, self.faults) for r in (E, W)}
        for r, gw in self.gateways.items():
            port = net.free_port()
            self.servers.append(serve("127.0.0.1", port, gw, f"gw-s3test-{r}"))
            self.urls[r] = f"http://127.0.0.1:{port}"
        self.hooks = (s3_replication_config_interceptor, s3_replication_status_hook)

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[(service, region)] = boto3.client(
                service, region_name=region, endpoint_url=self.urls[region], aws_access_key_id="lab",
                aws_secret_access_key="lab")
        return self._clients[(service, region)]

    def replicator(self, buckets: dict[str, str]) -> S3Replicator:
        """A replicator for these buckets, hooked into the gateways (not started: rounds by hand)."""
        repl = S3Replicator(self.moto_url, buckets, self.faults)
        intercept, hook = self.hooks
        for gw in self.gateways.values():
            gw.interceptors[:] = [intercept(repl)]
            gw.post[:] = [hook(repl)]
        return repl

    def close(self) -> None:
        for s in self.servers:
            s.shutdown()


@pytest.fixture(scope="module")
def s3lab() -> Iterator[S3Lab]:
    lab = S3Lab()
    yield lab
    lab.close()


def _stack(lab: S3Lab, *, select_kms: bool | None = True, replica_key_region: str = W,
           extra_rules: Callable[[dict[str, str], dict[str, str]], list[dict]] | None = None,
           ) -> tuple[S3Replicator, dict[str, str], dict[str, str]]:
    """Two versioned SSE-KMS buckets and the module's replication rule east -> west."""
    tag = uuid.uuid4().hex[:8]
    buckets = {E: f"orders-{tag}-{E}", W: f"orders-{tag}-{W}"}
    keys = {r: lab.client("kms", r).create_key(Description=f"s3 {r}")["KeyMetadata"]["Arn"] for r in (E, W)}
    repl = lab.replicator({b: r for r, b in buckets.items()})
    for r, b in buckets.items():
        s3 = lab.client("s3", r)
        s3.create_bucket(Bucket=b, **({} if r == E else {"CreateBucketConfiguration": {"LocationConstraint": r}}))
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys[r]},
            "BucketKeyEnabled": True}]})
    rule: dict[str, Any] = {
        "ID": f"to-{W}", "Status": "Enabled", "Priority": 1, "Filter": {},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": {
            "Bucket": f"arn:aws:s3:::{buckets[W]}", "StorageClass": "STANDARD",
            "EncryptionConfiguration": {"ReplicaKmsKeyID": keys[replica_key_region]},
            "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}
    if select_kms is not None:
        rule["SourceSelectionCriteria"] = {
            "SseKmsEncryptedObjects": {"Status": "Enabled" if select_kms else "Disabled"},
            "ReplicaModifications": {"Status": "Disabled"}}
    lab.client("s3", E).put_bucket_replication(Bucket=buckets[E], ReplicationConfiguration={
        "Role": ROLE, "Rules": [rule, *(extra_rules(buckets, keys) if extra_rules else [])]})
    return repl, buckets, keys


def _head(lab: S3Lab, region: str, bucket: str, key: str) -> dict | None:
    try:
        return lab.client("s3", region).head_object(Bucket=bucket, Key=key)
    except ClientError:
        return None


def test_the_module_rule_replicates_kms_objects_with_the_replica_key(s3lab: S3Lab) -> None:
    repl, buckets, keys = _stack(s3lab)
    east = s3lab.client("s3", E)
    east.put_object(Bucket=buckets[E], Key="orders/1.json", Body=b'{"id": 1}')
    assert east.head_object(Bucket=buckets[E], Key="orders/1.json")["ReplicationStatus"] == "PENDING"
    repl.step()
    src = east.head_object(Bucket=buckets[E], Key="orders/1.json")
    assert src["ReplicationStatus"] == "COMPLETED"
    replica = _head(s3lab, W, buckets[W], "orders/1.json")
    assert replica is not None, "the SSE-KMS object selected by the rule must replicate"
    assert replica["ReplicationStatus"] == "REPLICA"
    assert (replica["ServerSideEncryption"], replica["SSEKMSKeyId"]) == ("aws:kms", keys[W])
    assert repl.backlog() == 0
    # delete markers replicate (delete_marker_replication Enabled) ...
    east.delete_object(Bucket=buckets[E], Key="orders/1.json")
    repl.step()
    assert _head(s3lab, W, buckets[W], "orders/1.json") is None
    # ... and the replica is not replicated back (no ping-pong)
    assert repl.replicated == 2


def test_kms_objects_not_selected_by_the_rule_stay_without_status(s3lab: S3Lab) -> None:
    """Planted: the same stack with sse_kms_encrypted_objects Disabled (and once absent)."""
    for select in (False, None):
        repl, buckets, _ = _stack(s3lab, select_kms=select)
        east = s3lab.client("s3", E)
        east.put_object(Bucket=buckets[E], Key="kms.json", Body=b"k")  # bucket default: SSE-KMS
        east.put_object(Bucket=buckets[E], Key="sse-s3.json", Body=b"s", ServerSideEncryption="AES256")
        assert "ReplicationStatus" not in east.head_object(Bucket=buckets[E], Key="kms.json")
        repl.step()
        assert _head(s3lab, W, buckets[W], "kms.json") is None
        assert "ReplicationStatus" not in east.head_object(Bucket=buckets[E], Key="kms.json")
        assert east.head_object(Bucket=buckets[E], Key="sse-s3.json")["ReplicationStatus"] == "COMPLETED"
        replica = _head(s3lab, W, buckets[W], "sse-s3.json")
        assert replica is not None and replica["ServerSideEncryption"] == "AES256"
        assert repl.backlog() == 0


def test_a_replica_key_outside_the_destination_region_fails_the_replication(s3lab: S3Lab) -> None:
    repl, buckets, _ = _stack(s3lab, replica_key_region=E)
    east = s3lab.client("s3", E)
    east.put_object(Bucket=buckets[E], Key="wrong-key.json", Body=b"x")
    repl.step()
    assert east.head_object(Bucket=buckets[E], Key="wrong-key.json")["ReplicationStatus"] == "FAILED"
    assert _head(s3lab, W, buckets[W], "wrong-key.json") is None
    assert repl.backlog() == 0


def test_the_rule_of_highest_priority_decides(s3lab: S3Lab) -> None:
    """Under keep/ a priority-5 rule without delete marker replication wins over the module's rule."""
    def keep(buckets: dict[str, str], keys: dict[str, str]) -> list[dict]:
        return [{"ID": "keep-deletes", "Status": "Enabled", "Priority": 5, "Filter": {"Prefix": "keep/"},
                 "DeleteMarkerReplication": {"Status": "Disabled"},
                 "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                 "Destination": {"Bucket": f"arn:aws:s3:::{buckets[W]}",
                                 "EncryptionConfiguration": {"ReplicaKmsKeyID": keys[W]}}}]

    repl, buckets, _ = _stack(s3lab, extra_rules=keep)
    east = s3lab.client("s3", E)
    for key in ("keep/a", "other/a"):
        east.put_object(Bucket=buckets[E], Key=key, Body=b"x")
    repl.step()
    assert _head(s3lab, W, buckets[W], "keep/a") is not None
    for key in ("keep/a", "other/a"):
        east.delete_object(Bucket=buckets[E], Key=key)
    repl.step()
    assert _head(s3lab, W, buckets[W], "keep/a") is not None, "the delete marker under keep/ must not replicate"
    assert _head(s3lab, W, buckets[W], "other/a") is None


def test_the_document_as_put_is_read_not_motos_lossy_copy(s3lab: S3Lab) -> None:
    """The gap the replicator closes: moto reads back neither the KMS selection nor delete markers."""
    repl, buckets, _ = _stack(s3lab)
    moto = boto3.client("s3", region_name=E, endpoint_url=s3lab.moto_url, aws_access_key_id="lab",
                        aws_secret_access_key="lab")
    lossy = moto.get_bucket_replication(Bucket=buckets[E])["ReplicationConfiguration"]["Rules"][0]
    assert "SourceSelectionCriteria" not in lossy
    assert lossy["DeleteMarkerReplication"]["Status"] == "Disabled"
    kept = repl._config(buckets[E])
    assert kept is not None
    rule = kept["Rules"][0]
    assert rule["SourceSelectionCriteria"]["SseKmsEncryptedObjects"]["Status"] == "Enabled"
    assert rule["DeleteMarkerReplication"]["Status"] == "Enabled"
    assert rule["Filter"] == {} and rule["Priority"] == 1
    assert rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"].startswith(f"arn:aws:kms:{W}:")


def test_parse_replication_xml_shapes() -> None:
    raw = (b'<ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Role>r</Role>'
           b"<Rule><ID>a</ID><Priority>2</Priority><Status>Enabled</Status><Filter><And><Prefix>p/</Prefix>"
           b"<Tag><Key>k1</Key><Value>v1</Value></Tag><Tag><Key>k2</Key><Value>v2</Value></Tag></And></Filter>"
           b"<Destination><Bucket>arn:aws:s3:::b</Bucket></Destination></Rule>"
           b"<Rule><ID>b</ID><Status>Enabled</Status><Prefix>old/</Prefix>"
           b"<Destination><Bucket>arn:aws:s3:::b</Bucket></Destination></Rule></ReplicationConfiguration>")
    cfg = parse_replication_xml(raw)
    assert cfg["Role"] == "r" and [r["ID"] for r in cfg["Rules"]] == ["a", "b"]
    assert cfg["Rules"][0]["Priority"] == 2
    assert cfg["Rules"][0]["Filter"]["And"] == {"Prefix": "p/", "Tags": [{"Key": "k1", "Value": "v1"},
                                                                        {"Key": "k2", "Value": "v2"}]}
    assert cfg["Rules"][1]["Prefix"] == "old/" and "Filter" not in cfg["Rules"][1]


def test_a_paused_backlog_drains_without_listing_the_bucket(s3lab: S3Lab) -> None:
    """Writes through the gateway announce their version: neither a round nor the retry of a backlog
    lists the bucket (moto's ListObjectVersions scans the whole bucket: minutes for a drill's backlog)."""
    repl, buckets, _ = _stack(s3lab)
    east = s3lab.client("s3", E)
    east.put_object(Bucket=buckets[E], Key="gone", Body=b"x")
    repl.step()  # the first round is a full sweep
    listed: list[str | None] = []
    real = repl._versions
    repl._versions = lambda b, r, prefix=None: listed.append(prefix) or real(b, r, prefix)  # type: ignore[method-assign]
    s3lab.faults.paused_buckets.add(buckets[E])
    for i in range(20):
        east.put_object(Bucket=buckets[E], Key=f"backlog/{i}", Body=b"x")
    east.delete_object(Bucket=buckets[E], Key="gone")
    repl.step()
    assert repl.backlog() == 21  # 20 objects PENDING and the delete marker
    assert east.head_object(Bucket=buckets[E], Key="backlog/0")["ReplicationStatus"] == "PENDING"
    s3lab.faults.paused_buckets.discard(buckets[E])
    repl._last_retry.clear()
    repl.step()
    assert repl.backlog() == 0
    assert all(_head(s3lab, W, buckets[W], f"backlog/{i}") for i in range(20))
    assert _head(s3lab, W, buckets[W], "gone") is None
    assert listed == [], f"listed the bucket for {listed}"


def test_a_replica_reads_as_replica_the_moment_it_lands(s3lab: S3Lab) -> None:
    """CI once read PENDING on a fresh replica: with replication configured both ways, a HEAD between
    the replica's PUT and the replicator's ledger entry took it for a new write of the west bucket.
    Planted: the HEAD is made exactly there, right after the PUT returns."""
    repl, buckets, keys = _stack(s3lab)
    s3lab.client("s3", W).put_bucket_replication(Bucket=buckets[W], ReplicationConfiguration={
        "Role": ROLE, "Rules": [{
            "ID": f"to-{E}", "Status": "Enabled", "Priority": 1, "Filter": {},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "Destination": {"Bucket": f"arn:aws:s3:::{buckets[E]}",
                            "EncryptionConfiguration": {"ReplicaKmsKeyID": keys[E]}}}]})
    seen: list[str | None] = []
    west = repl.s3[W]
    put = west.put_object

    def put_then_look(**kw: Any) -> Any:
        out = put(**kw)
        head = _head(s3lab, W, kw["Bucket"], kw["Key"])
        seen.append(head.get("ReplicationStatus") if head else None)
        return out

    west.put_object = put_then_look  # type: ignore[method-assign]
    try:
        s3lab.client("s3", E).put_object(Bucket=buckets[E], Key="race.json", Body=b"r")
        repl.step()
    finally:
        west.put_object = put  # type: ignore[method-assign]
    assert seen == ["REPLICA"]
    assert _head(s3lab, W, buckets[W], "race.json")["ReplicationStatus"] == "REPLICA"  # type: ignore[index]
    repl.step()
    assert repl.replicated == 1, "the replica must not be replicated back"
