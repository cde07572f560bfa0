"""DNS failover follows the aggregator's verdict, not only the app's /health.

Each failover record's health check is CALCULATED over (HTTP /health, CLOUDWATCH_METRIC on the
region's DNS alarm in us-west-2); the lab evaluates that alarm for real (lab/alarms.py) from what
the scheduled aggregators publish (lab/scheduler.py). Planted verdicts are published the way the
aggregator does: drharness/RegionHealthy into us-west-2's CloudWatch, through its gateway.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drharness.aggregator.core import http_get
from drharness.workload.dnsclient import TtlResolver

E, W = "us-east-1", "us-west-2"
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def publishing(target, region: str, value: float, into: str = W, every_s: float = 0.2) -> Iterator[None]:  # noqa: ANN001
    """Publish RegionHealthy=value for `region` into `into`'s CloudWatch until the block ends."""
    cw = target.client("cloudwatch", into)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                cw.put_metric_data(Namespace="drharness", MetricData=[{
                    "MetricName": "RegionHealthy", "Value": value, "Dimensions": [{"Name": "Region", "Value": region}]}])
            except Exception:  # noqa: BLE001 - the next round tries again
                pass
            stop.wait(every_s)

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    try:
        yield
    finally:
        stop.set()
        th.join(timeout=5)


def dns_region_within(target, region: str, seconds: float) -> bool:  # noqa: ANN001
    """Whether the failover name answers `region` (fresh lookups) at some point within `seconds`."""
    res = TtlResolver.for_target(target)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if res.current_region(fresh=True) == region:
            return True
        time.sleep(0.1)
    return False


def alarm_state(target, region: str) -> str:  # noqa: ANN001
    name = target.regions[region].alarms["dns_health"]
    return target.client("cloudwatch", W).describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def wait_budget(target) -> float:  # noqa: ANN001
    """Generous bound for a flip: many times detection (aggregator + alarm + health check) + TTL."""
    tm = target.timing
    return 10 * (float(tm["aggregator_period_s"]) + float(tm["alarm_period_s"]) + float(tm["health_interval_s"])
                 + float(tm["dns_ttl"])) + 10


@pytest.mark.lab
def test_unhealthy_verdict_moves_dns_while_health_is_still_200(clean_lab):
    t = clean_lab.target
    assert dns_region_within(t, E, 10)
    with publishing(t, E, 0.0):
        assert dns_region_within(t, W, wait_budget(t)), "DNS did not follow the unhealthy verdict"
        status, _, _ = http_get(t.regions[E].app_url + "/health", 3.0)
        assert status == 200  # the app's own health check still passes: only the verdict moved DNS
        assert alarm_state(t, E) == "ALARM"
        # The HTTP child stays healthy; the CALCULATED check of the record is what failed.
        checks = clean_lab.status()["health_checks"]
        http_id = clean_lab.state.regions[E]["http_health_check_id"]
        assert checks[http_id]["healthy"] is True
        assert checks[t.regions[E].health_check_id]["healthy"] is False
    # The scheduled aggregators keep publishing 1: the alarm clears and DNS comes back.
    assert dns_region_within(t, E, wait_budget(t)), "DNS did not return once the verdict was healthy"


@pytest.mark.lab
def test_healthy_verdict_keeps_dns_and_a_verdict_published_in_the_failed_region_is_not_its_input(clean_lab):
    """Both negatives in one window (each needs several detection periods of nothing happening): a
    healthy verdict with an OK alarm keeps DNS; and the judge of us-east-1 lives in us-west-2, so an
    unhealthy verdict published in us-east-1's own CloudWatch does not move DNS either."""
    t = clean_lab.target
    with publishing(t, E, 1.0), publishing(t, E, 0.0, into=E):
        assert not dns_region_within(t, W, 3 * (float(t.timing["aggregator_period_s"])
                                                + float(t.timing["alarm_period_s"])) + 2)
        assert alarm_state(t, E) == "OK"
    assert alarm_state(t, E) == "OK"


@pytest.mark.lab
def test_planted_alarm_evaluator_that_never_leaves_ok_is_caught(clean_lab):
    """Planted fault: with the lab's alarm evaluation frozen (alarms stay OK, as moto leaves them),
    the check of the first test fails: DNS does not follow the unhealthy verdict."""
    t = clean_lab.target
    clean_lab.control("/alarms", {"frozen": True})
    try:
        with publishing(t, E, 0.0):
            moved = dns_region_within(t, W, 3 * (float(t.timing["aggregator_period_s"])
                                                 + float(t.timing["alarm_period_s"]) + float(t.timing["dns_ttl"])) + 3)
            assert alarm_state(t, E) == "OK"
    finally:
        clean_lab.control("/alarms", {"frozen": False, "resync": True})
    assert not moved, "DNS moved without the alarm evaluator: the DNS test above could not fail"


@pytest.mark.lab
def test_scheduled_aggregators_publish_from_both_regions(lab):
    """The lab fires the aggregator schedules (moto Scheduler never fires) in both regions."""
    deadline = time.monotonic() + 30
    sched: dict = {}
    while time.monotonic() < deadline:
        sched = lab.status()["schedules"]
        if len(sched) == 2 and all(s["invocations"] >= 2 for s in sched.values()):
            break
        time.sleep(0.5)
    assert {k.split("/")[0] for k in sched} == {E, W}, sched
    assert all(s["invocations"] >= 2 and s["errors"] < s["invocations"] for s in sched.values()), sched


def test_plan_check_budget_includes_the_verdict_alarm(tmp_path, capsys):
    """plan check: the Route 53 term is the later of the HTTP check and the verdict alarm's evaluation.
    Planted: 3 one-minute periods on the DNS alarm (180 s) exceed the HTTP check (90 s) and the RTO."""
    import json

    from drharness.plancheck.check import check_env

    doc = check_env(REPO / "infra" / "environments" / "prod-us-west-2").to_dict()
    term = next(x for x in doc["rto"]["terms"] if x["name"] == "detection.route53_health_check")
    assert "dns_health" in term["source"] and term["seconds"] == 90
    shutil.copytree(REPO / "infra" / "modules", tmp_path / "modules")
    shutil.copytree(REPO / "infra" / "environments" / "prod-us-west-2", tmp_path / "environments" / "prod",
                    ignore=shutil.ignore_patterns(".terraform*"))
    var = tmp_path / "modules" / "multi-region" / "variables.tf"
    text = var.read_text()
    block = text.index('variable "dns_health_alarm_evaluation_periods"')
    end = text.index("default     = 1", block)
    var.write_text(text[:end] + "default     = 3" + text[end + len("default     = 1"):])
    planted = check_env(tmp_path / "environments" / "prod").to_dict()
    term = next(x for x in planted["rto"]["terms"] if x["name"] == "detection.route53_health_check")
    assert term["seconds"] == 180, json.dumps(term)
    assert planted["rto"]["ok"] is False


# ---- the validation step over HTTPS (the aws path: https app URLs behind the failover name) ----------
def _pki(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a leaf certificate for `name` (files: ca.pem, leaf.pem, leaf.key)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drharness test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = (tmp_path / f"{name}-ca.pem", tmp_path / f"{name}.pem", tmp_path / f"{name}.key")
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return files


@contextmanager
def tls_app(cert: Path, key: Path, region: str = W) -> Iterator[int]:
    """A tiny HTTPS 'regional app' on 127.0.0.1: POST /orders -> 201, GET -> 200, X-Region set."""
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("X-Region", region)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer(201)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(200)

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


NAME = "app.drharness.test"


def test_validation_request_works_over_https_to_the_resolved_address(tmp_path, monkeypatch):
    from drharness.aggregator.core import connection_to, request

    ca, cert, key = _pki(tmp_path, NAME)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    with tls_app(cert, key) as port:
        conn = connection_to("127.0.0.1", f"https://{NAME}:{port}", NAME)
        status, headers, _ = request(conn, "POST", "/orders", "{}", {"Host": NAME})
        conn.close()
    assert status == 201 and headers.get("X-Region") == W


@pytest.mark.parametrize("served_name, trusted", [("other.example", True), (NAME, False)],
                         ids=["wrong-name", "untrusted-ca"])
def test_validation_over_https_fails_clearly_on_a_bad_certificate(tmp_path, monkeypatch, served_name, trusted):
    """Planted: a certificate for another name, or from an untrusted CA, is a clear failure, not a retry."""
    from drharness.aggregator.core import CertificateProblem, connection_to, request

    ca, cert, key = _pki(tmp_path, served_name)
    other_ca = _pki(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path, "unrelated.test")[0]
    monkeypatch.setenv("SSL_CERT_FILE", str(ca if trusted else other_ca))
    with tls_app(cert, key) as port:
        conn = connection_to("127.0.0.1", f"https://{NAME}:{port}", NAME)
        with pytest.raises(CertificateProblem, match="does not verify"):
            request(conn, "POST", "/orders", "{}", {"Host": NAME})


# ---- the app's database password from Secrets Manager (refapp/secrets.py) ----------------------------
def test_app_conninfo_takes_the_password_from_the_regional_secret(monkeypatch):
    import boto3
    import psycopg.conninfo
    from moto import mock_aws

    from drharness.refapp import secrets
    from drharness.refapp.handler import db_conninfo

    secrets.clear_cache()
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=E)
        arn = sm.create_secret(Name="drharness/aurora/master", AddReplicaRegions=[{"Region": W}],
                               SecretString='{"username": "postgres", "password": "s3cr3t"}')["ARN"]
        env = {"REGION": W, "DB_DSN": "host=db.example port=5432 dbname=orders",
               "DB_SECRET_ARN": arn.replace(f":{E}:", f":{W}:")}  # the replica in the app's own region
        info = psycopg.conninfo.conninfo_to_dict(db_conninfo(env))
        assert info["password"] == "s3cr3t" and info["user"] == "postgres" and info["host"] == "db.example"
        # Cached: a new pooled connection costs no API call (nor breaks while Secrets Manager is down).
        sm.remove_regions_from_replication(SecretId=arn, RemoveReplicaRegions=[W])
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        assert psycopg.conninfo.conninfo_to_dict(db_conninfo(env))["password"] == "s3cr3t"
        # Planted: no such secret -> one clear error naming it, not a password-less connection.
        secrets.clear_cache()
        missing = {**env, "DB_SECRET_ARN": "drharness/does-not-exist"}
        with pytest.raises(secrets.SecretUnavailable, match="drharness/does-not-exist"):
            db_conninfo(missing)
    # Without a secret configured the DSN is used as it is (the lab's trust-auth PostgreSQL may do so).
    assert db_conninfo({"REGION": W, "DB_DSN": "host=x dbname=y"}) == "host=x dbname=y"
    secrets.clear_cache()
