"""Resolve the failover name like a well-behaved client: through the target's resolver, cached
for exactly the record's TTL. RTO is measured through this, so DNS caching is part of it."""

from __future__ import annotations

import threading
import time

import dns.exception
import dns.rdatatype
import dns.resolver

from drharness.history import NULL_HISTORY, BaseHistory
from drharness.target import Target


class TtlResolver:
    def __init__(self, name: str, host: str | None, port: int = 53, history: BaseHistory = NULL_HISTORY,
                 process: str = "prober", region_of: dict[str, str] | None = None) -> None:
        self.name = name
        self.history = history
        self.process = process
        self.region_of = region_of or {}
        self._r = dns.resolver.Resolver(configure=host is None)
        if host is not None:
            self._r.nameservers = [host]
            self._r.port = port
        self._r.lifetime = 2.0
        self._r.cache = None
        self._answer: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.queries = 0
        self._chain_region: dict[str, str] = {}  # answer IP -> region whose host the chain named

    @classmethod
    def for_target(cls, target: Target, history: BaseHistory = NULL_HISTORY, process: str = "prober") -> TtlResolver:
        """The target's failover name through its resolver, answers mapped to the regions they serve."""
        region_of = {t.host: r for r, t in target.regions.items() if t.host}
        return cls(target.dns.name, target.dns.resolver_host, target.dns.resolver_port, history, process,
                   region_of)

    def resolve(self, fresh: bool = False) -> str | None:
        """The cached answer until its TTL runs out; then ask again (None if the resolver fails).
        ``fresh``: ask now, as a controller watching the authoritative answer does."""
        with self._lock:
            now = time.time()
            if not fresh and self._answer is not None and now < self._expires:
                return self._answer
            try:
                ans = self._r.resolve(self.name, "A")
            except (dns.exception.DNSException, OSError):
                return self._answer  # stale-while-error, as stub resolvers commonly do
            self.queries += 1
            ip = ans[0].to_text()
            ttl = int(ans.rrset.ttl) if ans.rrset is not None else 0
            self._expires = now + ttl
            self._note_chain(ip, ans)
            if ip != self._answer:
                self.history.append(self.process, "ok", "dns", {
                    "name": self.name, "answer": ip, "ttl": ttl, "region": self.region_for(ip)})
            self._answer = ip
            return ip

    def _note_chain(self, ip: str, ans: dns.resolver.Answer) -> None:
        """On AWS the failover name is a CNAME (or alias) to a regional host, not a lab IP: remember
        which region's host the chain went through, so the IP maps to the region that served it."""
        if ip in self.region_of:
            return
        names = {str(ans.canonical_name).rstrip(".").lower()}
        for rrset in ans.response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME:
                names |= {r.target.to_text().rstrip(".").lower() for r in rrset}
        for host, region in list(self.region_of.items()):
            if host.rstrip(".").lower() in names:
                self._chain_region[ip] = region
                return
        # An alias answers A records directly: resolve each region's host and compare addresses.
        for host, region in list(self.region_of.items()):
            if not host or host.replace(".", "").isdigit():
                continue
            try:
                if ip in {r.to_text() for r in self._r.resolve(host, "A")}:
                    self._chain_region[ip] = region
                    return
            except (dns.exception.DNSException, OSError):
                continue

    def region_for(self, ip: str | None) -> str | None:
        if not ip:
            return None
        return self.region_of.get(ip) or self._chain_region.get(ip)

    def current_region(self, fresh: bool = False) -> str | None:
        return self.region_for(self.resolve(fresh))
