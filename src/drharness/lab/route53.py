"""Route 53 data plane: health checkers that really probe, and a DNS server with failover routing.

moto stores zones, records and health checks but never probes and serves no DNS. The checker
probes each health check's endpoint every interval and flips after ``FailureThreshold``
consecutive results; the DNS server answers the hosted zone from moto, choosing PRIMARY or
SECONDARY by that status, with the record's TTL.

Health check types: HTTP/HTTPS/TCP (probed), CLOUDWATCH_METRIC (the alarm's state, read in the
alarm's region; no failure threshold, as in Route 53; ``InsufficientDataHealthStatus`` decides
when the alarm has no data or its region cannot be read) and CALCULATED (``HealthThreshold`` of
the children). moto drops ``AlarmIdentifier`` and ``InsufficientDataHealthStatus``: the gateway
hook :func:`health_check_extras_hook` keeps them and answers them back.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)


@dataclass
class CheckState:
    id: str
    config: dict
    healthy: bool = True
    consecutive: int = 0  # results in a row that disagree with the current status
    last_result: str = "not probed yet"
    last_checked: float = 0.0
    transitions: list[tuple[float, bool]] = field(default_factory=list)


R53_NS = "https://route53.amazonaws.com/doc/2013-04-01/"
EXTRA_FIELDS = ("AlarmIdentifier", "InsufficientDataHealthStatus")
REREAD_S = 10.0  # health checks and zones written straight to moto (not through a gateway) show up within
ALARM_POLL_S = 1.0  # how often a CLOUDWATCH_METRIC check reads its alarm (Route 53 follows alarm changes)


def _extras_from_xml(body: bytes) -> dict[str, Any]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    out: dict[str, Any] = {}
    for el in root.iter():
        tag = el.tag.split("}")[-1]
        if tag == "AlarmIdentifier":
            out["AlarmIdentifier"] = {c.tag.split("}")[-1]: (c.text or "") for c in el}
        elif tag == "InsufficientDataHealthStatus":
            out["InsufficientDataHealthStatus"] = el.text or ""
    return out


def _extras_xml(extra: dict[str, Any]) -> str:
    from xml.sax.saxutils import escape

    xml = ""
    ai = extra.get("AlarmIdentifier")
    if ai:
        xml += (f"<AlarmIdentifier><Region>{escape(ai.get('Region', ''))}</Region>"
                f"<Name>{escape(ai.get('Name', ''))}</Name></AlarmIdentifier>")
    if extra.get("InsufficientDataHealthStatus"):
        xml += f"<InsufficientDataHealthStatus>{escape(extra['InsufficientDataHealthStatus'])}</InsufficientDataHealthStatus>"
    return xml


def health_check_extras_hook(extras: dict[str, dict[str, Any]]) -> Any:
    """Gateway post-hook: keep what moto drops from CreateHealthCheck/UpdateHealthCheck
    (AlarmIdentifier, InsufficientDataHealthStatus) and put it back in every health check answer."""
    one = re.compile(r"^/2013-04-01/healthcheck/([^/]+)$")

    def hook(call: Any, resp: Response) -> Response:
        if call.service != "route53" or not call.path.startswith("/2013-04-01/healthcheck") \
                or call.path.endswith("/status") or resp.status_code >= 300:
            return resp
        m = one.match(call.path)
        if call.method == "DELETE" and m:
            extras.pop(m.group(1), None)
            return resp
        body = resp.get_data()
        if call.method == "POST":
            sent = _extras_from_xml(call.body)
            hid = m.group(1) if m else (re.search(rb"<Id>([^<]+)</Id>", body) or [b"", b""])[1].decode()
            if sent and hid:
                extras.setdefault(hid, {}).update(sent)
        if not extras:
            return resp

        def inject(hc: re.Match) -> str:
            text = hc.group(0)
            idm = re.search(r"<Id>([^<]+)</Id>", text)
            extra = extras.get(idm.group(1)) if idm else None
            if not extra or "<AlarmIdentifier>" in text:
                return text
            return text.replace("<HealthCheckConfig>", "<HealthCheckConfig>" + _extras_xml(extra), 1)

        new = re.sub(r"<HealthCheck>.*?</HealthCheck>", inject, body.decode(), flags=re.S)
        out = Response(new, status=resp.status_code, headers=dict(resp.headers))
        out.headers.pop("Content-Length", None)
        return out

    return hook


class HealthChecker:
    def __init__(self, endpoint: str, interval_override_s: float | None = None,
                 on_change: Any = None, extras: dict[str, dict[str, Any]] | None = None,
                 region_reachable: Any = None, *, alarm_state: Callable[[str, str], str | None]) -> None:
        kw: dict[str, Any] = {"endpoint_url": endpoint, "aws_access_key_id": "lab",
                              "aws_secret_access_key": "lab", "region_name": "us-east-1"}
        self.r53 = boto3.client("route53", **kw)
        self.cw: dict[str, Any] = {r: boto3.client("cloudwatch", **{**kw, "region_name": r})
                                   for r in ("us-east-1", "us-west-2")}
        self.interval_override_s = interval_override_s
        self.extras = extras if extras is not None else {}
        self.region_reachable = region_reachable or (lambda region: True)
        self.alarm_state = alarm_state  # (region, alarm name) -> its state, None when there is no such alarm
        self.checks: dict[str, CheckState] = {}
        self.on_change = on_change
        # Bumped by ``change_hook`` on every Route 53 write through a gateway: health checks and zones
        # are re-read then, and otherwise only every REREAD_S (writes made straight to moto).
        self.generation = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="r53-health", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> HealthChecker:
        self.refresh()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def refresh(self) -> None:
        seen = set()
        for hc in self.r53.list_health_checks().get("HealthChecks", []):
            seen.add(hc["Id"])
            cfg = {**hc["HealthCheckConfig"], **self.extras.get(hc["Id"], {})}
            with self._lock:
                st = self.checks.get(hc["Id"])
                if st is None:
                    self.checks[hc["Id"]] = CheckState(hc["Id"], cfg)
                else:
                    st.config = cfg
        with self._lock:
            for gone in set(self.checks) - seen:
                del self.checks[gone]

    def interval(self, st: CheckState) -> float:
        if st.config.get("Type") == "CLOUDWATCH_METRIC":
            return min(ALARM_POLL_S, self.interval_override_s or ALARM_POLL_S)
        return self.interval_override_s or float(st.config.get("RequestInterval", 30))

    def change_hook(self, call: Any, resp: Response) -> Response:
        """Gateway post-hook: a Route 53 write changed health checks or records."""
        if call.service == "route53" and call.method != "GET" and resp.status_code < 300:
            self.generation += 1
        return resp

    def _loop(self) -> None:
        last_refresh, seen = time.time(), self.generation  # start() has just read them
        while not self._stop.wait(0.05):
            now = time.time()
            if self.generation != seen or now - last_refresh > REREAD_S:
                seen = self.generation
                try:
                    self.refresh()
                except Exception:  # noqa: BLE001
                    log.exception("health check refresh failed")
                last_refresh = now
            for st in list(self.checks.values()):
                if st.config.get("Type") == "CALCULATED":
                    continue
                if now - st.last_checked >= self.interval(st):
                    st.last_checked = now
                    if st.config.get("Type") == "CLOUDWATCH_METRIC":
                        ok, why = self._alarm(st)
                        st.last_result = why
                        if ok != st.healthy:  # the alarm already did the counting: no FailureThreshold
                            self._flip(st, ok)
                        continue
                    ok, why = self.probe(st.config)
                    self._record(st, ok, why)
            for st in list(self.checks.values()):
                if st.config.get("Type") == "CALCULATED":
                    self._calculated(st)

    def probe(self, cfg: dict) -> tuple[bool, str]:
        kind = cfg.get("Type", "HTTP")
        host = cfg.get("IPAddress") or cfg.get("FullyQualifiedDomainName", "")
        port = int(cfg.get("Port", 80))
        timeout = min(2.0, self.interval_override_s or 2.0)
        try:
            if kind == "TCP":
                with socket.create_connection((host, port), timeout=timeout):
                    return True, "Success: TCP connection established"
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.request("GET", cfg.get("ResourcePath", "/"), headers={"User-Agent": "Amazon-Route53-Health-Check-Service"})
            resp = conn.getresponse()
            body = resp.read(5120)
            conn.close()
            if not 200 <= resp.status < 400:
                return False, f"Failure: HTTP Status Code {resp.status}"
            want = cfg.get("SearchString")
            if want and want.encode() not in body:
                return False, "Failure: search string not found"
            return True, f"Success: HTTP Status Code {resp.status}, OK"
        except (OSError, http.client.HTTPException) as exc:
            return False, f"Failure: {type(exc).__name__}: {exc}"

    def _alarm(self, st: CheckState) -> tuple[bool, str]:
        """The alarm's state, read in the alarm's region. No data, or a region that cannot be read,
        falls back to InsufficientDataHealthStatus (Healthy | Unhealthy | LastKnownStatus)."""
        cfg = st.config
        ident = cfg.get("AlarmIdentifier") or {}
        region, name = ident.get("Region", "us-east-1"), ident.get("Name", "")
        state, why = "INSUFFICIENT_DATA", "has insufficient data"
        if not ident:
            why = "is not configured (no AlarmIdentifier)"
        elif not self.region_reachable(region) or region not in self.cw:
            why = f"cannot be read ({region} unreachable)"
        else:
            try:
                found = self.alarm_state(region, name)
                if found:
                    state = found
                else:
                    why = "does not exist"
            except Exception as exc:  # noqa: BLE001 - unreadable is insufficient data
                why = f"cannot be read ({type(exc).__name__})"
        if state == "OK":
            return True, f"Success: alarm {name} is OK"
        if state == "ALARM":
            return False, f"Failure: alarm {name} is in ALARM"
        fallback = cfg.get("InsufficientDataHealthStatus") or "LastKnownStatus"
        ok = st.healthy if fallback == "LastKnownStatus" else fallback == "Healthy"
        return ok, f"{'Success' if ok else 'Failure'}: alarm {name} {why}; InsufficientDataHealthStatus {fallback}"

    def _record(self, st: CheckState, ok: bool, why: str) -> None:
        st.last_result = why
        if ok == st.healthy:
            st.consecutive = 0
            return
        st.consecutive += 1
        if st.consecutive >= int(st.config.get("FailureThreshold", 3)):
            self._flip(st, ok)

    def _flip(self, st: CheckState, ok: bool) -> None:
        st.healthy = ok
        st.consecutive = 0
        st.transitions.append((time.time(), ok))
        log.info("health check %s is now %s (%s)", st.id, "healthy" if ok else "unhealthy", st.last_result)
        self._publish(st)
        if self.on_change:
            self.on_change(st.id, ok)

    def _calculated(self, st: CheckState) -> None:
        children = st.config.get("ChildHealthChecks", [])
        healthy = sum(1 for c in children if self.checks.get(c, CheckState(c, {})).healthy)
        ok = healthy >= int(st.config.get("HealthThreshold", len(children)))
        st.last_result = f"{healthy} of {len(children)} child health checks healthy"
        if ok != st.healthy:
            self._flip(st, ok)

    def _publish(self, st: CheckState) -> None:
        try:
            self.cw["us-east-1"].put_metric_data(Namespace="AWS/Route53", MetricData=[{
                "MetricName": "HealthCheckStatus", "Value": 1.0 if st.healthy else 0.0,
                "Dimensions": [{"Name": "HealthCheckId", "Value": st.id}]}])
        except Exception:  # noqa: BLE001 - metrics are best effort (us-east-1 may be down)
            pass

    def is_healthy(self, check_id: str | None) -> bool:
        if not check_id:
            return True
        st = self.checks.get(check_id)
        return True if st is None else st.healthy

    def status(self) -> dict[str, Any]:
        return {cid: {"healthy": st.healthy, "last_result": st.last_result,
                      "transitions": st.transitions[-10:]} for cid, st in self.checks.items()}


class ZoneResolver(BaseResolver):
    """Answers the moto hosted zones with failover routing (simple records answered as they are)."""

    def __init__(self, endpoint: str, checker: HealthChecker) -> None:
        self.r53 = boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1",
                                aws_access_key_id="lab", aws_secret_access_key="lab")
        self.checker = checker
        self._cache: tuple[float, int, list[tuple[str, list[dict]]]] = (0.0, -1, [])
        self._lock = threading.Lock()
        self.queries = 0

    def zones(self) -> list[tuple[str, list[dict]]]:
        """The hosted zones and their records, re-read after a Route 53 write (see ``change_hook``)."""
        with self._lock:
            gen = self.checker.generation
            if gen == self._cache[1] and time.time() - self._cache[0] < REREAD_S:
                return self._cache[2]
            out = []
            for z in self.r53.list_hosted_zones()["HostedZones"]:
                rrs = self.r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]
                out.append((z["Name"].rstrip(".").lower(), rrs))
            self._cache = (time.time(), gen, out)
            return out

    def answer(self, name: str, qtype: str) -> tuple[str, list[dict]]:
        """Return (rcode, chosen record sets) for a name: 'NOERROR'|'NXDOMAIN'|'REFUSED'."""
        name = name.rstrip(".").lower()
        for zone, rrs in self.zones():
            if not (name == zone or name.endswith("." + zone)):
                continue
            named = [r for r in rrs if r["Name"].rstrip(".").lower() == name]
            if not named:
                return "NXDOMAIN", []
            typed = [r for r in named if r["Type"] == qtype]
            failover = [r for r in typed if r.get("Failover")]
            if not failover:
                return "NOERROR", typed
            primary = [r for r in failover if r["Failover"] == "PRIMARY"]
            secondary = [r for r in failover if r["Failover"] == "SECONDARY"]
            healthy_p = [r for r in primary if self.checker.is_healthy(r.get("HealthCheckId"))]
            healthy_s = [r for r in secondary if self.checker.is_healthy(r.get("HealthCheckId"))]
            # When every record is unhealthy Route 53 answers as if all were healthy (primary).
            return "NOERROR", (healthy_p or healthy_s or primary)[:1]
        return "REFUSED", []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        self.queries += 1
        reply = request.reply()
        q = request.q
        qtype = QTYPE[q.qtype]
        try:
            rcode, chosen = self.answer(str(q.qname), qtype)
        except Exception:  # noqa: BLE001 - control plane unavailable: SERVFAIL, like a broken resolver
            log.exception("dns resolve failed")
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        reply.header.rcode = getattr(RCODE, rcode)
        for rrset in chosen:
            for rr in rrset.get("ResourceRecords", []):
                if qtype == "A":
                    reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(rr["Value"]), ttl=int(rrset.get("TTL", 60))))
        return reply


class LabDNS:
    def __init__(self, host: str, port: int, resolver: ZoneResolver) -> None:
        self.resolver = resolver
        self.udp = DNSServer(resolver, address=host, port=port, logger=_QuietLogger())
        self.tcp = DNSServer(resolver, address=host, port=port, tcp=True, logger=_QuietLogger())

    def start(self) -> LabDNS:
        self.udp.start_thread()
        self.tcp.start_thread()
        return self

    def stop(self) -> None:
        for s in (self.udp, self.tcp):
            s.server.shutdown()
            s.server.server_close()


class _QuietLogger:
    def log_pass(self, *a: Any) -> None: ...
    def log_prefix(self, *a: Any) -> None: ...
    def log_recv(self, *a: Any) -> None: ...
    def log_send(self, *a: Any) -> None: ...
    def log_request(self, *a: Any) -> None: ...
    def log_reply(self, *a: Any) -> None: ...
    def log_truncated(self, *a: Any) -> None: ...
    def log_error(self, handler: Any, e: Any) -> None:
        log.warning("dns error: %s", e)
    def log_data(self, *a: Any) -> None: ...
