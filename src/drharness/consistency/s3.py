"""S3 Cross-Region Replication consistency: versions, ETags, sizes, delete markers, ReplicationStatus.

Why this shape: after a failover the secondary bucket *is* the data, so every key must have the
same current state in both buckets (same ETag and size, or deleted/absent in both) and every object
version must exist on both sides (originals on one, replicas on the other; version ids differ
between buckets, so versions are matched by content). A difference is then explained from the
source version's ``ReplicationStatus`` and the bucket's replication configuration:

- ``pending``: PENDING (or not yet stamped, younger than the grace time, with a rule covering it):
  replication is behind, nothing lost yet;
- ``failed``: FAILED; ``lost``: COMPLETED or REPLICA but the copy is gone, or never stamped long
  after the write although a rule covers it;
- ``not_replicated``: no replication rule covers the key (by configuration, but lost on failover);
- ``delete_not_replicated``: a delete marker that the rule does not replicate (or has not yet);
- ``diverged``: same versions on both sides but a different current one (concurrent writes).

Known limit: objects encrypted with SSE-KMS get a different ETag per bucket; they would show as
``changed``. Encrypt with SSE-S3, or compare those buckets by checksum instead.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drharness.consistency.aws import error_code, raise_clear
from drharness.consistency.result import StoreResult

__all__ = ["LAG_MARKER_PREFIX", "S3Side", "Version", "check_s3", "compare_buckets", "list_versions"]

LAG_MARKER_PREFIX = "drharness-lag/"  # the lag sampler's marker objects: not data, never compared
READ_TIMEOUT_S = 60  # a 1000-key version listing can take seconds
BULK_RELIST = 20  # more differing keys than this: a settle round lists both buckets again, not each key
SEVERITY = ("pending", "delete_not_replicated", "not_replicated", "diverged", "failed", "lost")  # worst last


@dataclass(frozen=True)
class S3Side:
    """One bucket: a boto3 S3 client of its region and the bucket name."""

    client: Any
    bucket: str
    region: str

    @property
    def what(self) -> str:
        return f"S3 bucket {self.bucket!r}"


@dataclass(frozen=True)
class Version:
    key: str
    version_id: str
    delete_marker: bool
    latest: bool
    etag: str | None
    size: int | None
    modified: float

    @property
    def content(self) -> tuple[str | None, int | None]:
        return self.etag, self.size


def _ts(v: Any) -> float:
    return v.timestamp() if isinstance(v, datetime) else float(v or 0)


def list_versions(side: S3Side, prefix: str = "") -> dict[str, list[Version]]:
    """Every version and delete marker per key, newest first."""
    out: dict[str, list[Version]] = {}
    try:
        pager = side.client.get_paginator("list_object_versions")
        for page in pager.paginate(Bucket=side.bucket, Prefix=prefix):
            for v in page.get("Versions", []):
                out.setdefault(v["Key"], []).append(Version(
                    v["Key"], str(v.get("VersionId")), False, bool(v.get("IsLatest")),
                    str(v.get("ETag", "")).strip('"'), int(v.get("Size", 0)), _ts(v.get("LastModified"))))
            for v in page.get("DeleteMarkers", []):
                out.setdefault(v["Key"], []).append(Version(
                    v["Key"], str(v.get("VersionId")), True, bool(v.get("IsLatest")), None, None,
                    _ts(v.get("LastModified"))))
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
        raise_clear(exc, side.what, side.region)
    for vs in out.values():
        vs.sort(key=lambda v: (not v.latest, -v.modified))
    return out


def _state(vs: list[Version] | None) -> tuple[str | None, int | None] | None:
    """The key's current state: its latest object's content, or None if deleted/absent."""
    if not vs or vs[0].delete_marker:
        return None
    return vs[0].content


def _objects(vs: list[Version] | None) -> Counter[tuple[str | None, int | None]]:
    return Counter(v.content for v in vs or [] if not v.delete_marker)


def _differs(a: list[Version] | None, b: list[Version] | None) -> str | None:
    if _state(a) != _state(b):
        return "current"
    if _objects(a) != _objects(b):
        return "versions"
    return None


# ----------------------------------------------------------------------------------------- config
def replication_config(side: S3Side) -> dict[str, Any] | None:
    try:
        return dict(side.client.get_bucket_replication(Bucket=side.bucket)["ReplicationConfiguration"])
    except Exception as exc:  # noqa: BLE001
        if error_code(exc) in ("ReplicationConfigurationNotFoundError", "NoSuchReplicationConfiguration"):
            return None
        raise_clear(exc, side.what, side.region)


def _rule_for(side: S3Side, cfg: dict[str, Any] | None, v: Version) -> dict[str, Any] | None:
    """The enabled rule of highest priority whose filter covers this version."""
    if not cfg:
        return None
    tags: dict[str, str] | None = None
    for rule in sorted(cfg.get("Rules", []), key=lambda r: -int(r.get("Priority", 0))):
        if rule.get("Status") != "Enabled":
            continue
        flt = rule.get("Filter", {}) or {}
        prefix = rule.get("Prefix", flt.get("Prefix", "")) or ""
        want: dict[str, str] = {}
        if "And" in flt:
            prefix = flt["And"].get("Prefix", prefix) or ""
            want = {t["Key"]: t["Value"] for t in flt["And"].get("Tags", [])}
        elif "Tag" in flt:
            want = {flt["Tag"]["Key"]: flt["Tag"]["Value"]}
        if not v.key.startswith(prefix):
            continue
        if want and not v.delete_marker:
            if tags is None:
                tags = _tags(side, v)
            if any(tags.get(k) != val for k, val in want.items()):
                continue
        elif want:
            continue  # delete markers carry no tags: a tag-filtered rule does not replicate them
        return dict(rule)
    return None


def _tags(side: S3Side, v: Version) -> dict[str, str]:
    try:
        out = side.client.get_object_tagging(Bucket=side.bucket, Key=v.key, VersionId=v.version_id)
    except Exception as exc:  # noqa: BLE001
        raise_clear(exc, f"{side.what} object {v.key!r}", side.region)
    return {t["Key"]: t["Value"] for t in out.get("TagSet", [])}


def _status(side: S3Side, v: Version) -> str | None:
    try:
        return side.client.head_object(Bucket=side.bucket, Key=v.key, VersionId=v.version_id).get(
            "ReplicationStatus")
    except Exception as exc:  # noqa: BLE001
        if error_code(exc) in ("404", "NoSuchKey", "NoSuchVersion", "NotFound"):
            return None
        raise_clear(exc, f"{side.what} object {v.key!r}", side.region)


# ----------------------------------------------------------------------------------------- classify
def _classify(src: S3Side, cfg: dict[str, Any] | None, v: Version, grace_s: float, now: float
              ) -> tuple[str, str]:
    """Why version ``v`` of ``src`` is missing on the other side: (class, reason)."""
    rule = _rule_for(src, cfg, v)
    young = now - v.modified < grace_s
    if v.delete_marker:
        if rule is None:
            return "not_replicated", "no replication rule covers the key"
        if (rule.get("DeleteMarkerReplication") or {}).get("Status") != "Enabled":
            return "delete_not_replicated", f"rule {rule.get('ID', '?')} does not replicate delete markers"
        return ("pending", "delete marker not replicated yet") if young else (
            "failed", f"delete marker not replicated after {grace_s:g} s")
    status = _status(src, v)
    if status == "PENDING":
        return "pending", "ReplicationStatus PENDING"
    if status == "FAILED":
        return "failed", "ReplicationStatus FAILED"
    if status == "COMPLETED":
        return "lost", "ReplicationStatus COMPLETED but the replica is missing"
    if status == "REPLICA":
        return "lost", "this is a replica whose source version is gone from the other bucket"
    if rule is None:
        why = "bucket has no replication configuration" if not cfg else "no replication rule covers the key"
        return "not_replicated", why
    if young:
        return "pending", "not stamped yet (just written)"
    return "lost", f"no ReplicationStatus {grace_s:g} s after the write although rule {rule.get('ID', '?')} covers it"


def _unreplicated(vs_x: list[Version] | None, vs_y: list[Version] | None) -> list[Version]:
    """Versions of X whose content or delete is missing on Y."""
    need = _objects(vs_x) - _objects(vs_y)
    out: list[Version] = []
    for v in vs_x or []:
        if not v.delete_marker and need[v.content] > 0:
            need[v.content] -= 1
            out.append(v)
    if vs_x and vs_x[0].delete_marker and _state(vs_y) is not None:
        y_latest = vs_y[0] if vs_y else None
        if y_latest is None or y_latest.modified <= vs_x[0].modified:
            out.append(vs_x[0])  # X deleted it after Y's current version: the delete did not reach Y
    return out


# ----------------------------------------------------------------------------------------- compare
def compare_buckets(a: S3Side, b: S3Side, *, settle_s: float = 5.0, grace_s: float = 60.0, max_keys: int = 20
                    ) -> StoreResult:
    """Compare two buckets replicating into each other (or one way); explain every difference."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="drh-s3diff") as pool:
        fa, fb = pool.submit(list_versions, a), pool.submit(list_versions, b)
        ca, cb = pool.submit(replication_config, a), pool.submit(replication_config, b)
        va, vb = fa.result(), fb.result()
        cfg = {a.region: ca.result(), b.region: cb.result()}
        keys = {k for k in va.keys() | vb.keys() if not k.startswith(LAG_MARKER_PREFIX)}
        candidates = {k for k in keys if _differs(va.get(k), vb.get(k))}
        initial = len(candidates)
        deadline = time.monotonic() + settle_s
        rounds = 0
        while candidates and time.monotonic() < deadline:
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
            rounds += 1
            fresh = _relist(pool, a, b, candidates)
            for k, (x, y) in fresh.items():
                for store, got in ((va, x), (vb, y)):
                    if got is None:
                        store.pop(k, None)
                    else:
                        store[k] = got
            candidates = {k for k in candidates if _differs(va.get(k), vb.get(k))}
        now = time.time()
        per_key: dict[str, dict[str, Any]] = {}
        futs = {k: pool.submit(_explain, a, b, cfg, va.get(k), vb.get(k), grace_s, now) for k in sorted(candidates)}
        for k, f in futs.items():
            why = f.result()
            if why is not None:
                per_key[k] = why
    classes = Counter(d["class"] for d in per_key.values())
    diffs = len(per_key)
    extra = {"buckets": {a.region: a.bucket, b.region: b.bucket}, "classes": dict(classes),
             "pending": classes.get("pending", 0), "lost": classes.get("lost", 0) + classes.get("failed", 0),
             "diff_details": [{"key": k, **d} for k, d in list(per_key.items())[:max_keys]],
             "settled": initial - diffs, "settle_rounds": rounds,
             "replication_configured": {r: c is not None for r, c in cfg.items()},
             "seconds": round(time.monotonic() - t0, 3)}
    if not diffs:
        return StoreResult("s3", True, len(keys), 0, [], "consistent",
                           f"s3: {len(keys)} keys equal in {a.bucket} ({a.region}) and {b.bucket} ({b.region})",
                           extra)
    status = "pending" if set(classes) == {"pending"} else "diff"
    summary = ", ".join(f"{n} {c}" for c, n in sorted(classes.items(), key=lambda x: SEVERITY.index(x[0])))
    detail = f"s3: {diffs} of {len(keys)} keys differ between {a.region} and {b.region} ({summary})"
    return StoreResult("s3", False, len(keys), diffs, list(per_key)[:max_keys], status, detail, extra)


def _relist(pool: ThreadPoolExecutor, a: S3Side, b: S3Side, keys: Iterable[str]
            ) -> dict[str, tuple[list[Version] | None, list[Version] | None]]:
    ks = list(keys)
    if len(ks) > BULK_RELIST:
        # Two listings instead of two per key: fewer requests on AWS, and on moto (whose prefix listing
        # scans the whole bucket) a settle round over a drill's backlog took ~40 s instead of ~0.3 s.
        fa1, fb1 = pool.submit(list_versions, a), pool.submit(list_versions, b)
        la, lb = fa1.result(), fb1.result()
        return {k: (la.get(k), lb.get(k)) for k in ks}
    fa = [pool.submit(list_versions, a, k) for k in ks]
    fb = [pool.submit(list_versions, b, k) for k in ks]
    return {k: (x.result().get(k), y.result().get(k)) for k, x, y in zip(ks, fa, fb, strict=True)}


def _arrived(dst: S3Side, v: Version) -> bool:
    """``v``'s content is in ``dst`` now. Called after ``v``'s status was read: a COMPLETED seen
    before this listing with the copy still absent from it is a loss; present, it was a race between
    the (older) listing and the (newer) status, i.e. replication finished while the check ran."""
    if v.delete_marker:
        return False
    return v.content in _objects(list_versions(dst, v.key).get(v.key))


def _explain(a: S3Side, b: S3Side, cfg: dict[str, dict[str, Any] | None], vs_a: list[Version] | None,
             vs_b: list[Version] | None, grace_s: float, now: float, *, relisted: bool = False
             ) -> dict[str, Any] | None:
    """The worst class over the versions missing on either side, with the reasons; None when a fresh
    look finds the key settled after all."""
    reasons: list[dict[str, Any]] = []
    for src, dst, x, y in ((a, b, vs_a, vs_b), (b, a, vs_b, vs_a)):
        for v in _unreplicated(x, y):
            cls, why = _classify(src, cfg[src.region], v, grace_s, now)
            if cls == "lost" and _arrived(dst, v):
                if not relisted:  # the listing was stale: look at this key again, both sides, now
                    fresh_a, fresh_b = list_versions(a, v.key).get(v.key), list_versions(b, v.key).get(v.key)
                    if not _differs(fresh_a, fresh_b):
                        return None
                    return _explain(a, b, cfg, fresh_a, fresh_b, grace_s, time.time(), relisted=True)
                cls, why = "pending", "the copy arrived while the check ran"
            reasons.append({"class": cls, "from": src.region, "to": dst.region, "version_id": v.version_id,
                            "delete_marker": v.delete_marker, "reason": why})
    if not reasons:  # e.g. the same content as different latest versions: order differs
        reasons.append({"class": "diverged", "reason": "both buckets hold the same versions but a different "
                        "current one (concurrent writes in both regions ordered differently)"})
    worst = max(reasons, key=lambda r: SEVERITY.index(r["class"]))
    kind = "current" if _state(vs_a) != _state(vs_b) else "versions"
    return {"class": worst["class"], "kind": kind, "reasons": reasons[:5]}


def check_s3(target: Any, *, settle_s: float = 5.0, grace_s: float = 60.0, max_keys: int = 20) -> StoreResult:
    """The primary region's bucket vs the secondary region's bucket."""
    p, s = target.primary_region, target.secondary_region

    def side(r: str) -> S3Side:
        return S3Side(target.client("s3", r, read_timeout=READ_TIMEOUT_S, attempts=3), target.regions[r].bucket, r)

    return compare_buckets(side(p), side(s), settle_s=settle_s, grace_s=grace_s, max_keys=max_keys)
