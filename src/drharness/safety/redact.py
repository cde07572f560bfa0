"""Redaction of secrets from everything the harness writes (history, reports, audit log).

Why a text-level pass as well as a key-level one: a secret can hide inside any string (a DSN in an
error message, a Lambda environment dumped into an orchestrator step's data), so besides masking
values under secret-looking keys, every string is scrubbed of the *known* secret values (collected
from the environment and registered by whoever loads credentials) and of DSN/URL password syntax.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "RedactingFilter", "install_log_redaction", "is_secret_name", "known_secrets", "redact",
           "redact_log_text", "redact_text", "register"]

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


_cache: tuple[int, int, list[str]] = (0, -1, [])


def _environ_fingerprint() -> int:
    """Changes whenever the process environment does (~1 us, against ~80 us to re-scan it): history
    lines are written many times a second, and a secret exported a moment ago must already be masked."""
    data = getattr(os.environ, "_data", None)
    return hash(tuple(data.items())) if isinstance(data, dict) else hash(tuple(os.environ.items()))


def known_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Registered values plus the values of secret-named environment variables, longest first."""
    global _cache
    if environ is None:
        key = _environ_fingerprint()
        if _cache[0] == key and _cache[1] == len(_registered):
            return _cache[2]
        vals = _collect(os.environ)
        _cache = (key, len(_registered), vals)
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


# ---- logs -----------------------------------------------------------------------------------------
# What botocore's DEBUG logs print: the session token as a header (dict repr, canonical request line,
# presigned query), the request signature, and response bodies (JSON or XML) with secret-named fields.
_LOG_TOKEN = re.compile(r"(?i)(x-amz-security-token(?:['\"]?\s*:\s*b?['\"]?|=|:))([^'\"\s&,}]{1,4096})")
_LOG_SIGNATURE = re.compile(r"(?i)(signature['\"]?\s*[=:]\s*(?:b?['\"])?\s*)([0-9a-f]{16,128})")
_SECRET_WORD = r"(?:password|passwd|passphrase|secret|token|credential|private_?key|api_?key)"
_LOG_JSON_FIELD = re.compile(r"(?i)([\"'][\w-]{0,60}" + _SECRET_WORD + r"[\w-]{0,60}[\"']\s*:\s*b?[\"'])"
                             r"((?:[^\"'\\]|\\.){1,8192})")
_LOG_XML_FIELD = re.compile(r"(?i)(<(\w{0,60}" + _SECRET_WORD + r"\w{0,60})>)([^<]{1,8192})(</\2>)")


def redact_log_text(text: str) -> str:
    """``redact_text`` plus the syntax secrets take in debug logs (headers, signatures, API bodies).

    Why only for logs: history and report lines are JSON read back by the checkers; masking every
    secret-looking field by pattern there would change data (``secret_arn``), while in a log line a
    masked ``SecretId`` costs nothing."""
    text = redact_text(text)
    lowered = text.lower()
    if "security-token" in lowered:
        text = _LOG_TOKEN.sub(lambda m: m.group(1) + MASK, text)
    if "signature" in lowered:
        text = _LOG_SIGNATURE.sub(lambda m: m.group(1) + MASK, text)
    if re.search(_SECRET_WORD, lowered):
        text = _LOG_JSON_FIELD.sub(lambda m: m.group(1) + MASK, text)
        text = _LOG_XML_FIELD.sub(lambda m: m.group(1) + MASK + m.group(4), text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record a handler emits, its traceback included.

    Installed on handlers, not loggers: a logger's filter never sees the records its children
    (botocore.endpoint, urllib3) propagate to it, a handler's sees them all."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's problem, not a leak
            return True
        clean = redact_log_text(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_log_text(record.stack_info)
        return True


def install_log_redaction(*logger_names: str) -> int:
    """Add a ``RedactingFilter`` to every handler of these loggers ("" is the root); returns how many
    handlers carry one afterwards."""
    n = 0
    for name in logger_names or ("",):
        for handler in logging.getLogger(name or None).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
            n += 1
    return n
