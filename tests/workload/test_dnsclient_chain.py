"""On AWS the failover name is a CNAME or an alias to a regional host; the TTL resolver must still
say which region served an answer (the lab answers an IP per region, which hides this case)."""

from __future__ import annotations

import socket

import pytest
from dnslib import CNAME, QTYPE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from drharness.workload.dnsclient import TtlResolver

EAST_HOST = "abc123.execute-api.us-east-1.amazonaws.com"
WEST_HOST = "def456.execute-api.us-west-2.amazonaws.com"
IPS = {EAST_HOST: "127.0.0.11", WEST_HOST: "127.0.0.22"}


class Zone(BaseResolver):
    """failover.example.test answers through a CNAME (mode cname) or as an alias A record (mode alias)."""

    def __init__(self) -> None:
        self.serving = EAST_HOST
        self.mode = "cname"

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        q = str(request.q.qname).rstrip(".")
        if q == "failover.example.test":
            if self.mode == "cname":
                reply.add_answer(RR(q, QTYPE.CNAME, rdata=CNAME(self.serving), ttl=0))
                reply.add_answer(RR(self.serving, QTYPE.A, rdata=A(IPS[self.serving]), ttl=0))
            else:
                reply.add_answer(RR(q, QTYPE.A, rdata=A(IPS[self.serving]), ttl=0))
        elif q in IPS:
            reply.add_answer(RR(q, QTYPE.A, rdata=A(IPS[q]), ttl=0))
        return reply


@pytest.fixture
def zone():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    z = Zone()
    server = DNSServer(z, port=port, address="127.0.0.1")
    server.start_thread()
    yield z, port
    server.stop()


@pytest.mark.parametrize("mode", ["cname", "alias"])
def test_answers_map_to_the_region_whose_host_served_them(zone, mode):
    z, port = zone
    z.mode = mode
    r = TtlResolver("failover.example.test", "127.0.0.1", port,
                    region_of={EAST_HOST: "us-east-1", WEST_HOST: "us-west-2"})
    assert r.current_region(fresh=True) == "us-east-1"
    z.serving = WEST_HOST
    assert r.current_region(fresh=True) == "us-west-2"


def test_an_answer_no_region_serves_maps_to_none(zone):
    """Planted: the failover name points somewhere else entirely; never guess a region."""
    z, port = zone
    z.mode = "alias"
    r = TtlResolver("failover.example.test", "127.0.0.1", port, region_of={WEST_HOST: "us-west-2"})
    assert r.current_region(fresh=True) is None
