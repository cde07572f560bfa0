"""Redaction of secrets from everything the harness writes (history, reports, audit log).

Why a text-level pass as well as a key-level one: a secret can hide inside any string (a DSN in an
error message, a Lambda environment dumped into an orchestrator step's data), so besides masking
values under secret-looking keys, every string is scrubbed of the *known* secret values (collected
from the environment and registered by whoever loads credentials) and of DSN/URL password syntax.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "is_secret_name", "known_secrets", "redact", "redact_text", "register"]

MASK = "[REDACTED]"
MIN_SECRET_LEN = 8  # shorter values ("lab", "testing") would mask ordinary words; they are dummies anyway
_SECRET_NAME = re.compile(r"(password|passwd|passphrase|secret|token|credential|private[_-]?key|api[_-]?key|"
                          r"authorization)", re.IGNORECASE)
_NOT_SECRET_NAME = re.compile(r"(access_key_id|_arn$|_count$|_name$)", re.IGNORECASE)
# password=... in a libpq DSN (key/value or URI query), and user:password@ in any URL.
_DSN_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;\"',]+)")
# Bounded repeats and a scheme that starts a word: linear time on long lines (a 5 KB run of letters
# made the unbounded form quadratic).
_URL_USERINFO = re.compile(r"(?i)((?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,30}://[^/\s:@\"']{1,256}:)([^@\s/\"']{1,256})(@)")

_lock = threading.Lock()
_registered: set[str] = set()


def is_secret_name(name: str) -> bool:
    """A mapping key or environment variable name whose value must never be written out."""
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def register(*values: str | None) -> None:
    """Add secret values known to this process (a target's credentials, a DSN password)."""
    with _lock:
        _registered.update(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LEN)


def dsn_passwords(dsn: str) -> list[str]:
    """The password(s) in a libpq DSN, key/value or URI form, so they can be registered."""
    out = [m.group(2).strip("'") for m in _DSN_PASSWORD.finditer(dsn)]
    out += [m.group(2) for m in _URL_USERINFO.finditer(dsn)]
    return out


_cache: tuple[float, int, list[str]] = (0.0, -1, [])
CACHE_S = 1.0  # history lines are written many times a second: re-read the environment at most this often


def known_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Registered values plus the values of secret-named environment variables, longest first."""
    global _cache
    if environ is None:
        now = time.monotonic()
        if now - _cache[0] < CACHE_S and _cache[1] == len(_registered):
            return _cache[2]
        vals = _collect(os.environ)
        _cache = (now, len(_registered), vals)
        return vals
    return _collect(environ)


def _collect(env: Any) -> list[str]:
    vals = {v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_SECRET_LEN}
    for k, v in env.items():
        if "DSN" in k.upper() or "DATABASE_URL" in k.upper():
            vals.update(p for p in dsn_passwords(v) if len(p) >= MIN_SECRET_LEN)
    with _lock:
        vals |= _registered
    return sorted(vals, key=len, reverse=True)


def _variants(secret: str) -> Iterable[str]:
    yield secret
    escaped = json.dumps(secret)[1:-1]  # as it appears inside a JSON string
    if escaped != secret:
        yield escaped


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """Mask known secret values and DSN/URL passwords in one string (JSON text stays valid JSON)."""
    for s in known_secrets() if secrets is None else secrets:
        for v in _variants(s):
            if v in text:
                text = text.replace(v, MASK)
    if "password" in text.lower():
        text = _DSN_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    if "://" in text:
        text = _URL_USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    return text


def redact(obj: Any, secrets: list[str] | None = None) -> Any:
    """A copy of a JSON-like object with secret-named keys masked and every string scrubbed."""
    secrets = known_secrets() if secrets is None else secrets
    if isinstance(obj, dict):
        return {k: (MASK if isinstance(k, str) and is_secret_name(k) and v not in (None, "", [], {})
                    and not isinstance(v, bool | int | float) else redact(v, secrets))
                for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact(v, secrets) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj, secrets)
    return obj
