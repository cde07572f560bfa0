"""Planted secrets (test helper, not shipped: planting calls lambda:UpdateFunctionConfiguration,
which the drill runner must never be granted) and the scan that proves no artifact holds them (docs/SECURITY.md §4).

Why one module: the drill runner's test, the plain ``chaos run`` test and the Allure test plant the
same kinds of secret (environment credentials, a DSN password in the lab config, a token in the app
Lambda's environment) and search every byte of what they wrote the same way; a leak found by one
scan is then looked for by all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["DSN_PASSWORD", "LAMBDA_TOKEN", "PLANTED_ENV", "all_planted", "lab_state_with_dsn_password",
           "planted_lambda_env", "scan"]

PLANTED_ENV = {
    "AWS_SECRET_ACCESS_KEY": "PLANTEDawsSecretKey0123456789abcdefghijkl",
    "AWS_SESSION_TOKEN": "PLANTEDsessionToken-FwoGZXIvYXdzEJr",
    "DRHARNESS_SLACK_TOKEN": "xoxb-PLANTED-slack-token-1234",
}
DSN_PASSWORD = "PLANTEDdsnPassw0rd"
LAMBDA_TOKEN = "PLANTEDlambdaApiToken42"


def all_planted() -> list[str]:
    return [*PLANTED_ENV.values(), DSN_PASSWORD, LAMBDA_TOKEN]


def scan(paths: Iterable[Path], secrets: list[str]) -> tuple[int, list[str]]:
    """Files scanned and (file, secret) hits: every byte of every file, text or binary. A secret is
    also looked for as JSON escapes it (a journal or report holds it inside a JSON string)."""
    needles = {s: {s.encode(), json.dumps(s)[1:-1].encode()} for s in secrets}
    hits, n = [], 0
    for root in paths:
        root = Path(root)
        if not root.exists():
            continue
        for f in ([root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())):
            n += 1
            data = f.read_bytes()
            hits += [f"{f}: {s[:12]}..." for s, forms in needles.items() if any(x in data for x in forms)]
    return n, hits


def lab_state_with_dsn_password(state_file: Path, dest: Path) -> Path:
    """A copy of the lab's ``lab.json`` whose DSNs carry ``password=DSN_PASSWORD`` (the lab ignores it)."""
    state = json.loads(Path(state_file).read_text())
    for info in state["regions"].values():
        info["pg_dsn"] += f" password={DSN_PASSWORD}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(state))
    return dest


@contextmanager
def planted_lambda_env(target: Any, token: str = LAMBDA_TOKEN) -> Iterator[None]:
    """``API_TOKEN`` in the app Lambda's environment in every region (the orchestrator's drift check
    reads it), put back afterwards."""
    saved: dict[str, dict[str, str]] = {}
    try:
        for r in target.regions:
            lam = target.client("lambda", r)
            fn = target.regions[r].function
            env = lam.get_function_configuration(FunctionName=fn).get("Environment", {}).get("Variables", {})
            saved[r] = env
            lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {**env, "API_TOKEN": token}})
        yield
    finally:
        for r, env in saved.items():
            target.client("lambda", r).update_function_configuration(FunctionName=target.regions[r].function,
                                                                     Environment={"Variables": env})
