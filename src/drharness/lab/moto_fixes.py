"""Where moto, serving a whole lab from one process, is too slow or races: same answers, cheaper.

moto's ``ListObjectVersions`` deep-copies every version of the bucket (bodies included, each into
a new temporary file) on every call, only to set ``IsLatest`` on the copies; paginated, a listing
is quadratic. On the Terraform lab after two drills (~3k versions) one full listing took ~2.7 s and
held the GIL: the S3 replicator starved (~4 keys/s) and a drill's consistency check found 202
copies still pending. It also iterated the live key store while writers changed it (a 500 with
``'NoneType' object is not iterable``). :func:`install` swaps in the same algorithm over a snapshot
of the store, with light views carrying ``is_latest`` instead of copies.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install", "list_object_versions", "uninstall"]

_ORIGINAL: dict[str, Any] = {}


class _Listed:
    """A stored version as listed: the object's attributes, plus this listing's ``is_latest``."""

    __slots__ = ("obj", "is_latest")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.is_latest = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.obj, name)


def _snapshot(keys: dict) -> list[Any]:
    """Every version in the bucket, read without iterating the live store (list() of a dict's items
    and of a version list run in C under the GIL: a concurrent PUT or DELETE cannot interleave)."""
    out: list[Any] = []
    for _name, versions in list(dict.items(keys)):
        if versions:
            out.extend(_Listed(v) for v in list(versions))
    return out


def list_object_versions(self: Any, bucket_name: str, delimiter: str | None = None, key_marker: str | None = None,
                         max_keys: int | None = 1000, prefix: str = "", version_id_marker: str | None = None
                         ) -> tuple[list[Any], list[str], list[Any], str | None, str | None]:
    """moto 5.2's S3Backend.list_object_versions, step for step, over :func:`_snapshot`."""
    from moto.core.utils import unix_time_millis
    from moto.s3.models import FakeKey

    bucket = self.get_bucket(bucket_name)
    common_prefixes: set[str] = set()
    requested_versions: list[Any] = []
    delete_markers: list[Any] = []
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None
    all_versions = _snapshot(bucket.keys)
    all_versions.sort(key=lambda r: (r.name, -unix_time_millis(r.last_modified)))
    last_name = None
    skip_versions = True
    last_item_added: Any = None
    for version in all_versions:
        name = version.name
        version.is_latest = name != last_name
        if version.is_latest:
            last_name = name
        if skip_versions:
            if key_marker is None:
                skip_versions = False
            elif not version_id_marker:
                skip_versions = version.name < key_marker
                continue
            elif version.name == key_marker and version.version_id == version_id_marker:
                skip_versions = False
                continue
            else:
                continue
        if not name.startswith(prefix):
            continue
        is_common_prefix = False
        if delimiter and delimiter in name[len(prefix):]:
            end = len(prefix) + name[len(prefix):].index(delimiter) + len(delimiter)
            prefix_including_delimiter = name[0:end]
            if prefix_including_delimiter == key_marker:
                continue
            common_prefixes.add(prefix_including_delimiter)
            name = prefix_including_delimiter
            is_common_prefix = True
        elif last_item_added:
            name = last_item_added.name
        if max_keys is not None and len(requested_versions) + len(delete_markers) + len(common_prefixes) >= max_keys:
            next_key_marker = name
            if is_common_prefix:
                next_version_id_marker = None
            elif last_item_added is not None:
                next_version_id_marker = last_item_added.version_id
            else:
                next_version_id_marker = None
            break
        if not is_common_prefix:
            last_item_added = version
            if isinstance(version.obj, FakeKey):
                requested_versions.append(version)
            else:
                delete_markers.append(version)
    return requested_versions, sorted(common_prefixes), delete_markers, next_key_marker, next_version_id_marker


def install() -> None:
    """Idempotent; the lab daemon calls it before serving moto."""
    from moto.s3.models import S3Backend

    if "list_object_versions" not in _ORIGINAL:
        _ORIGINAL["list_object_versions"] = S3Backend.list_object_versions
        S3Backend.list_object_versions = list_object_versions  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.s3.models import S3Backend

    if "list_object_versions" in _ORIGINAL:
        S3Backend.list_object_versions = _ORIGINAL.pop("list_object_versions")  # type: ignore[method-assign]
