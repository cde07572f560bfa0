"""S3 Cross-Region Replication from the buckets' own replication configuration.

moto stores the configuration and replicates nothing. This reads it (rules, prefix/tag filters,
delete marker replication, destination), copies new versions, and keeps a ledger of
``ReplicationStatus`` (PENDING, COMPLETED, FAILED on the source; REPLICA on the copy) that the
region gateway returns on GET/HEAD, as S3 does.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from drharness.lab.faults import Faults

log = logging.getLogger(__name__)

Ledger = dict[tuple[str, str, str], str]  # (bucket, key, version) -> status


def _rule_matches(rule: dict, key: str, tags: dict[str, str]) -> bool:
    if rule.get("Status") != "Enabled":
        return False
    flt = rule.get("Filter", {})
    prefix = rule.get("Prefix", flt.get("Prefix", ""))
    if "And" in flt:
        prefix = flt["And"].get("Prefix", prefix)
        want = {t["Key"]: t["Value"] for t in flt["And"].get("Tags", [])}
    elif "Tag" in flt:
        want = {flt["Tag"]["Key"]: flt["Tag"]["Value"]}
    else:
        want = {}
    return key.startswith(prefix or "") and all(tags.get(k) == v for k, v in want.items())


class S3Replicator:
    def __init__(self, endpoint: str, bucket_regions: dict[str, str], faults: Faults,
                 poll_s: float = 0.2) -> None:
        self.bucket_regions = bucket_regions  # bucket -> region
        self.faults = faults
        self.poll_s = poll_s
        kw: dict[str, Any] = {"endpoint_url": endpoint, "aws_access_key_id": "lab",
                              "aws_secret_access_key": "lab"}
        regions = set(bucket_regions.values())
        self.s3 = {r: boto3.client("s3", region_name=r, **kw) for r in regions}
        self.raw_configs: dict[str, bytes] = {}  # bucket -> replication configuration as PUT (gateway)
        self.ledger: Ledger = {}
        self.pending: set[tuple[str, str, str]] = set()
        self.replicas: set[tuple[str, str, str]] = set()
        self.first_seen: dict[tuple[str, str, str], float] = {}
        self.latencies_ms: list[tuple[float, str, float]] = []
        self.replicated = 0
        self.errors = 0
        self._cfg_cache: dict[str, tuple[float, dict | None]] = {}
        self._dirty: dict[str, set[str]] = {}  # bucket -> keys written since the last round
        self._last_sweep = 0.0
        self._last_retry: dict[str, float] = {}  # bucket -> when its pending versions were last retried
        self.sweep_s = 5.0  # a full listing now and then catches anything not announced
        self._lock = threading.Lock()
        self._dirty_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="s3-repl", daemon=True)

    def start(self) -> S3Replicator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.step()
            except Exception:  # noqa: BLE001
                self.errors += 1
                log.exception("s3 replicator step failed")

    def _config(self, bucket: str) -> dict | None:
        try:
            cfg = self.s3[self.bucket_regions[bucket]].get_bucket_replication(Bucket=bucket)[
                "ReplicationConfiguration"]
        except ClientError:
            return None
        raw = self.raw_configs.get(bucket)
        if raw:  # moto loses DeleteMarkerReplication; the document as PUT is the truth
            import xml.etree.ElementTree as ET

            root = ET.fromstring(raw)
            ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
            dmr = {(r.findtext(f"{ns}ID") or str(i)): r.findtext(f"{ns}DeleteMarkerReplication/{ns}Status")
                   for i, r in enumerate(root.findall(f"{ns}Rule"))}
            for i, rule in enumerate(cfg.get("Rules", [])):
                status = dmr.get(rule.get("ID") or str(i))
                if status:
                    rule["DeleteMarkerReplication"] = {"Status": status}
        return cfg

    def mark_dirty(self, bucket: str, key: str) -> None:
        """Called by the gateway on every object write, so a round only looks at what changed."""
        if bucket in self.bucket_regions:
            with self._dirty_lock:
                self._dirty.setdefault(bucket, set()).add(key)

    def step(self) -> None:
        with self._lock:
            sweep = time.time() - self._last_sweep >= self.sweep_s
            if sweep:
                self._last_sweep = time.time()
            with self._dirty_lock:
                dirty, self._dirty = self._dirty, {}
            for bucket, region in self.bucket_regions.items():
                keys = dirty.get(bucket, set())
                if self.faults.data_plane_down(region) or \
                        (not keys and not sweep and not self._has_pending(bucket)):
                    if keys:  # not now: keep them for the next round
                        with self._dirty_lock:
                            self._dirty.setdefault(bucket, set()).update(keys)
                    continue
                cfg = self._config_cached(bucket)
                if not cfg:
                    continue
                if sweep:
                    self._replicate_bucket(bucket, region, cfg)
                    continue
                # Only what changed, plus what is still pending (retried at most once a second):
                # re-listing a whole bucket every round while a backlog waits is what made a
                # backlog of a few dozen objects drain slowly on large buckets.
                if time.time() - self._last_retry.get(bucket, 0.0) >= 1.0:
                    self._last_retry[bucket] = time.time()
                    keys = keys | {k for (b, k, _) in self.pending if b == bucket}
                for key in sorted(keys):
                    self._replicate_bucket(bucket, region, cfg, prefix=key)

    def _has_pending(self, bucket: str) -> bool:
        return any(b == bucket for (b, _, _) in self.pending)

    def _set(self, ident: tuple[str, str, str], status: str) -> None:
        self.ledger[ident] = status
        if status == "PENDING":
            self.pending.add(ident)
        else:
            self.pending.discard(ident)

    def _versions(self, bucket: str, region: str, prefix: str | None = None) -> list[dict]:
        out: list[dict] = []
        pager = self.s3[region].get_paginator("list_object_versions")
        kw = {"Prefix": prefix} if prefix is not None else {}
        for page in pager.paginate(Bucket=bucket, **kw):
            out += [dict(v, IsDeleteMarker=False) for v in page.get("Versions", [])]
            out += [dict(v, IsDeleteMarker=True) for v in page.get("DeleteMarkers", [])]
        out.sort(key=lambda v: v["LastModified"])
        return out

    def _replicate_bucket(self, bucket: str, region: str, cfg: dict, prefix: str | None = None) -> None:
        for v in self._versions(bucket, region, prefix):
            if prefix is not None and v["Key"] != prefix:
                continue
            ident = (bucket, v["Key"], v["VersionId"])
            if ident in self.replicas or self.ledger.get(ident) in ("COMPLETED", "REPLICA", "FAILED"):
                continue
            if ident in self.ledger and self.ledger[ident] != "PENDING":
                continue
            self.first_seen.setdefault(ident, time.time())
            tags: dict[str, str] = {}
            if not v["IsDeleteMarker"]:
                try:
                    tags = {t["Key"]: t["Value"] for t in self.s3[region].get_object_tagging(
                        Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"]).get("TagSet", [])}
                except ClientError:
                    continue  # the version vanished (deleted): nothing to replicate
            rule = next((r for r in sorted(cfg["Rules"], key=lambda r: -r.get("Priority", 0))
                         if _rule_matches(r, v["Key"], tags)), None)
            if rule is None:
                continue
            if v["IsDeleteMarker"] and rule.get("DeleteMarkerReplication", {}).get("Status") != "Enabled":
                continue
            dest = rule["Destination"]["Bucket"].split(":::")[-1]
            dest_region = self.bucket_regions.get(dest)
            if not v["IsDeleteMarker"]:
                self._set(ident, "PENDING")
            if dest_region is None:
                self._set(ident, "FAILED")
                continue
            if bucket in self.faults.paused_buckets or self.faults.link_cut(region, dest_region):
                continue
            try:
                self._copy(bucket, region, v, dest, dest_region, ident)
            except ClientError as exc:
                # One bad version must not stall the bucket. Gone before we copied it: FAILED, as S3
                # reports a replication it cannot complete; anything else is retried next round.
                self.errors += 1
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchVersion", "404",
                                                                 "NoSuchBucket"):
                    self._set(ident, "FAILED")
                log.warning("s3 replication of %s failed: %s", ident, exc)

    def _copy(self, bucket: str, region: str, v: dict, dest: str, dest_region: str,
              ident: tuple[str, str, str]) -> None:
        s3_dst = self.s3[dest_region]
        if v["IsDeleteMarker"]:
            out = s3_dst.delete_object(Bucket=dest, Key=v["Key"])
            self._set(ident, "COMPLETED")
        else:
            obj = self.s3[region].get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
            out = s3_dst.put_object(
                Bucket=dest, Key=v["Key"], Body=obj["Body"].read(),
                ContentType=obj.get("ContentType", "binary/octet-stream"),
                Metadata=obj.get("Metadata", {}),
            )
            self._set(ident, "COMPLETED")
        new_version = out.get("VersionId")
        if new_version:
            rep = (dest, v["Key"], new_version)
            self.replicas.add(rep)
            if not v["IsDeleteMarker"]:
                self._set(rep, "REPLICA")
        self.replicated += 1
        start = max(self.first_seen.get(ident, time.time()), v["LastModified"].timestamp())
        self.latencies_ms.append((time.time(), dest_region, (time.time() - start) * 1000.0))
        del self.latencies_ms[:-5000]

    def status_of(self, bucket: str, key: str, version: str) -> str | None:
        """As S3 reports it: PENDING from the moment a version is written under a matching rule."""
        status = self.ledger.get((bucket, key, version))
        if status is None and (bucket, key, version) not in self.replicas:
            cfg = self._config_cached(bucket)
            if cfg and any(_rule_matches(r, key, {}) for r in cfg.get("Rules", [])):
                return "PENDING"
        return status

    def _config_cached(self, bucket: str) -> dict | None:
        now = time.time()
        hit = self._cfg_cache.get(bucket)
        if hit and now - hit[0] < 2.0:
            return hit[1]
        cfg = self._config(bucket) if bucket in self.bucket_regions else None
        self._cfg_cache[bucket] = (now, cfg)
        return cfg

    def backlog(self) -> int:
        return len(self.pending)

    def status(self) -> dict[str, Any]:
        recent = [ms for _, _, ms in self.latencies_ms[-200:]]
        return {
            "buckets": self.bucket_regions,
            "paused": sorted(self.faults.paused_buckets),
            "replicated": self.replicated,
            "backlog": self.backlog(),
            "errors": self.errors,
            "latency_ms_last": recent[-1] if recent else None,
        }
