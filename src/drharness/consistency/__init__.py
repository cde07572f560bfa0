"""Cross-region consistency of the three stores, replication lag, and the DynamoDB LWW test.

Entry points:

- ``check(target, stores)`` -> ``{store: StoreResult}`` (``ok``, ``compared``, ``diffs``,
  ``diff_keys`` ... for the drill report); ``exit_code(results)`` is 1 when any store is not ok.
- ``pg.compare_tables((dsn_a, table_a), (dsn_b, table_b))`` for any two PostgreSQL tables.
- ``lag.LagMonitor`` / ``lag.watch`` / ``lag.cloudwatch_lag`` for replication lag.
- ``conflict.run_conflict_test`` + ``lww.check`` (pure) for last-writer-wins.

This package talks only SQL and boto3 to the addresses in a ``drharness.target.Target``, so it runs
unchanged against the local lab and AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from drharness.consistency.ddb import check_dynamodb
from drharness.consistency.pg import CompareOptions, TableDiff, TableRef, check_aurora, compare_tables
from drharness.consistency.result import StoreResult
from drharness.consistency.s3 import check_s3
from drharness.errors import BadInput, DrHarnessError

__all__ = [
    "STORES",
    "CompareOptions",
    "StoreResult",
    "TableDiff",
    "TableRef",
    "check",
    "check_aurora",
    "check_dynamodb",
    "check_s3",
    "compare_tables",
    "exit_code",
    "parse_stores",
    "report_section",
]

STORES: Final = ("aurora", "dynamodb", "s3")


def parse_stores(text: str | Sequence[str] | None) -> list[str]:
    """``"aurora,s3"`` -> ``["aurora", "s3"]``; unknown names are bad input (exit 2)."""
    if text is None:
        return list(STORES)
    names = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    unknown = [s for s in names if s not in STORES]
    if unknown or not names:
        raise BadInput(f"unknown store(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(STORES)}")
    return list(dict.fromkeys(names))


def check(target: Any, stores: Sequence[str] | str | None = None, *, tables: Sequence[str] | None = None,
          catchup_timeout_s: float = 30.0, settle_s: float = 5.0, max_keys: int = 20,
          capture_errors: bool = False) -> dict[str, StoreResult]:
    """Compare primary and secondary region of each store (in parallel).

    A store that cannot be checked (unknown table/bucket, access denied, region unreachable)
    raises its BadInput/EnvironmentProblem, or with ``capture_errors`` becomes a result with
    ``status="error"`` and ``ok=False`` (what a drill report wants): never a false "consistent".
    """
    names = parse_stores(stores)
    opts = CompareOptions(max_keys=max_keys, catchup_timeout_s=catchup_timeout_s)
    jobs = {
        "aurora": lambda: check_aurora(target, tables, opts),
        "dynamodb": lambda: check_dynamodb(target, settle_s=settle_s, max_keys=max_keys),
        "s3": lambda: check_s3(target, settle_s=settle_s, max_keys=max_keys),
    }
    results: dict[str, StoreResult] = {}
    errors: list[tuple[str, DrHarnessError]] = []
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="drh-consistency") as pool:
        futs = {n: pool.submit(jobs[n]) for n in names}
        for n, f in futs.items():
            try:
                results[n] = f.result()
            except DrHarnessError as exc:
                errors.append((n, exc))
                results[n] = StoreResult(n, False, 0, None, status="error", detail=f"{n}: {exc}",
                                         extra={"exit_code": exc.exit_code})
    if errors and not capture_errors:
        store, first = errors[0]
        if len(errors) == 1:
            raise first
        raise type(first)("; ".join(f"{n}: {e}" for n, e in errors))
    return results


def exit_code(results: Mapping[str, StoreResult]) -> int:
    """0 when every store is consistent, 1 otherwise (diff, pending, not caught up ...), or the
    worst error's code (2 bad input, 3 environment) when a store could not be checked."""
    errors = [int(r.extra.get("exit_code", 1)) for r in results.values() if r.status == "error"]
    if errors:
        return max(errors)
    return 0 if results and all(r.ok for r in results.values()) else 1


def report_section(results: Mapping[str, StoreResult]) -> dict[str, dict[str, Any]]:
    """The drill report's ``consistency`` block (DESIGN §6): ``{store: {ok, compared, diffs, ...}}``."""
    return {n: r.to_dict() for n, r in results.items()}
