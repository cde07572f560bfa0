"""The Aurora password of the regional app, from Secrets Manager (never from the environment).

The function's environment names the secret (``DB_SECRET_ARN``; Terraform's module also sets
``DRHARNESS_DB_SECRET_ARN``), in its own region: the secondary reads the replica Secrets Manager
keeps there, so a failover never reaches back into the lost region. The value is cached for
``CACHE_TTL_S`` like the AWS caching client does, so a new pooled connection costs no API call
and a short Secrets Manager outage does not take the database away; a fetch that fails raises
:class:`SecretUnavailable`, which names the secret.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["CACHE_TTL_S", "SecretUnavailable", "clear_cache", "conninfo_with_secret", "db_credentials",
           "secret_id"]

CACHE_TTL_S = 3600.0
_cache: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


class SecretUnavailable(RuntimeError):
    """The database secret could not be read (missing, no permission, Secrets Manager down)."""


def secret_id(env: Mapping[str, str]) -> str | None:
    return env.get("DB_SECRET_ARN") or env.get("DRHARNESS_DB_SECRET_ARN") or None


def clear_cache() -> None:
    """Forget cached secrets (after a rotation, or in tests)."""
    with _lock:
        _cache.clear()


def db_credentials(sid: str, region: str, endpoint: str | None = None) -> dict[str, Any]:
    """The secret's JSON document (``username``, ``password``, ...), cached for CACHE_TTL_S."""
    key = (sid, region, endpoint or "")
    now = time.time()
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < CACHE_TTL_S:
            return hit[1]
    kw: dict[str, Any] = {"region_name": region,
                          "config": Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2})}
    if endpoint:
        kw["endpoint_url"] = endpoint
    try:
        raw = boto3.client("secretsmanager", **kw).get_secret_value(SecretId=sid)["SecretString"]
        doc = json.loads(raw)
    except Exception as exc:  # noqa: BLE001 - every cause is one clear failure naming the secret
        raise SecretUnavailable(f"database secret {sid} in {region} unreadable: {type(exc).__name__}: "
                                f"{str(exc)[:160]}") from None
    if not isinstance(doc, dict) or not doc.get("password"):
        raise SecretUnavailable(f"database secret {sid} in {region} has no 'password'")
    with _lock:
        _cache[key] = (now, doc)
    return doc


def conninfo_with_secret(env: Mapping[str, str]) -> str:
    """``DB_DSN`` with the secret's password (and its username when the DSN names none).
    Without a secret configured, ``DB_DSN`` as it is."""
    dsn = env["DB_DSN"]
    sid = secret_id(env)
    if not sid:
        return dsn
    region = env.get("REGION") or env.get("AWS_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    doc = db_credentials(sid, region, env.get("AWS_ENDPOINT_URL"))
    extra: dict[str, Any] = {"password": str(doc["password"])}
    if "user" not in conninfo_to_dict(dsn) and doc.get("username"):
        extra["user"] = str(doc["username"])
    return make_conninfo(dsn, **extra)
