"""PostgreSQL consistency against the lab's real primary/standby pair and standalone tables."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from drharness.consistency import CompareOptions, TableRef, check_aurora, compare_tables
from drharness.errors import BadInput, EnvironmentProblem

pytestmark = pytest.mark.lab

SMALL = CompareOptions(leaf_rows=64, bisect_factor=4, catchup_timeout_s=10)


def _exec(dsn: str, *stmts: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        for s in stmts:
            c.execute(s)  # type: ignore[arg-type]


@pytest.fixture
def pair(clean_lab) -> Iterator[tuple[str, str, str]]:  # noqa: ANN001
    """Two identical 5000-row tables in the primary database (dsn, table_a, table_b)."""
    dsn = clean_lab.target.regions[clean_lab.target.primary_region].pg_dsn
    a, b = f"drh_a_{uuid.uuid4().hex[:6]}", f"drh_b_{uuid.uuid4().hex[:6]}"
    for t in (a, b):
        _exec(dsn, f"CREATE TABLE {t} (id int PRIMARY KEY, v text, j jsonb, ts timestamptz)",
              f"INSERT INTO {t} SELECT g, 'v' || g, jsonb_build_object('g', g), "
              f"'2026-01-01'::timestamptz + g * interval '1 min' FROM generate_series(1, 5000) g")
    yield dsn, a, b
    _exec(dsn, f"DROP TABLE IF EXISTS {a}, {b}")


def test_bisection_finds_exactly_the_planted_keys(pair: tuple[str, str, str]) -> None:
    dsn, a, b = pair
    same = compare_tables(TableRef(dsn, a, "a"), TableRef(dsn, b, "b"), options=SMALL)
    assert same.ok and same.compared == 5000 and same.diffs == 0
    _exec(dsn, f"UPDATE {b} SET v = 'changed' WHERE id IN (7, 2500)",
          f"UPDATE {b} SET j = '{{\"g\": -1}}' WHERE id = 4999",
          f"DELETE FROM {b} WHERE id IN (1, 3333)",
          f"INSERT INTO {b} VALUES (6001, 'new', null, now()), (0, 'zero', null, now())")
    d = compare_tables(TableRef(dsn, a, "a"), TableRef(dsn, b, "b"), options=SMALL)
    assert d.status == "diff" and not d.ok
    assert d.diff_keys == [0, 1, 7, 2500, 3333, 4999, 6001]
    assert d.kinds == {"changed": 3, "only_in_a": 2, "only_in_b": 2}
    assert d.stats["levels"] >= 3  # it really bisected (5000 rows, leaves of 64)


def test_composite_primary_key(clean_lab) -> None:  # noqa: ANN001
    dsn = clean_lab.target.regions[clean_lab.target.primary_region].pg_dsn
    a, b = "drh_ca", "drh_cb"
    try:
        for t in (a, b):
            _exec(dsn, f"DROP TABLE IF EXISTS {t}",
                  f"CREATE TABLE {t} (tenant text, n int, payload text, PRIMARY KEY (tenant, n))",
                  f"INSERT INTO {t} SELECT 't' || (g % 7), g, md5(g::text) FROM generate_series(1, 3000) g")
        _exec(dsn, f"UPDATE {b} SET payload = 'x' WHERE tenant = 't3' AND n = 1151",
              f"DELETE FROM {b} WHERE tenant = 't0' AND n = 7")
        d = compare_tables(TableRef(dsn, a), TableRef(dsn, b), options=SMALL)
        assert d.diff_keys == [["t0", 7], ["t3", 1151]]
        assert d.kinds == {"changed": 1, "only_in_a": 1}
    finally:
        _exec(dsn, f"DROP TABLE IF EXISTS {a}, {b}")


def test_bad_tables_get_one_clear_message(clean_lab) -> None:  # noqa: ANN001
    dsn = clean_lab.target.regions[clean_lab.target.primary_region].pg_dsn
    _exec(dsn, "DROP TABLE IF EXISTS drh_nopk", "CREATE TABLE drh_nopk (x int)")
    try:
        with pytest.raises(BadInput, match="drh_nopk has no primary key"):
            compare_tables(TableRef(dsn, "drh_nopk", "a"), TableRef(dsn, "orders", "b"))
        with pytest.raises(BadInput, match="table 'no_such_table' not found"):
            compare_tables(TableRef(dsn, "no_such_table", "a"), TableRef(dsn, "orders", "b"))
        with pytest.raises(BadInput, match="no primary key"):
            check_aurora(clean_lab.target, ["drh_nopk"])
        # discovered, it is listed as skipped, never counted as consistent
        res = check_aurora(clean_lab.target)
        assert {"table": "public.drh_nopk", "reason": "no primary key"} in res.extra["skipped"]
        assert "public.drh_nopk" not in res.extra["tables"]
    finally:
        _exec(dsn, "DROP TABLE IF EXISTS drh_nopk")


def test_permission_denied_names_the_table(clean_lab) -> None:  # noqa: ANN001
    dsn = clean_lab.target.regions[clean_lab.target.primary_region].pg_dsn
    _exec(dsn, "DROP ROLE IF EXISTS drh_noread", "CREATE ROLE drh_noread LOGIN")
    try:
        weak = dsn.replace("user=postgres", "user=drh_noread")
        with pytest.raises(EnvironmentProblem, match="no SELECT privilege on public.orders"):
            compare_tables(TableRef(weak, "orders", "a"), TableRef(dsn, "orders", "b"))
    finally:
        _exec(dsn, "DROP ROLE IF EXISTS drh_noread")


def test_primary_and_standby_consistent_after_replication(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    _exec(t.regions[t.primary_region].pg_dsn,
          "INSERT INTO orders (id, payload, region) SELECT 'c-' || g, '{}'::jsonb, 'us-east-1' "
          "FROM generate_series(1, 300) g ON CONFLICT DO NOTHING")
    res = check_aurora(t, ["orders"])
    assert res.ok, res.detail
    assert res.compared >= 300 and res.diffs == 0
    assert res.extra["writer"] == t.primary_region and res.extra["reader"] == t.secondary_region
    assert res.extra["tables"]["orders"]["stats"]["watermark"]["primary_lsn"]
    _exec(t.regions[t.primary_region].pg_dsn, "DELETE FROM orders WHERE id LIKE 'c-%'")


def test_link_cut_reports_not_caught_up_never_ok(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    clean_lab.fault(t.primary_region, isolated=True)
    _exec(t.regions[t.primary_region].pg_dsn,
          "INSERT INTO orders (id, payload, region) SELECT 'cut-' || g, '{}'::jsonb, 'us-east-1' "
          "FROM generate_series(1, 50) g")
    t0 = time.monotonic()
    res = check_aurora(t, ["orders"], CompareOptions(catchup_timeout_s=1.0))
    assert time.monotonic() - t0 < 10
    assert not res.ok
    assert res.status == "not_caught_up" and res.diffs is None
    assert "did not replay" in res.detail
    _exec(t.regions[t.primary_region].pg_dsn, "DELETE FROM orders WHERE id LIKE 'cut-%'")


def test_writes_racing_the_check_are_never_a_false_diff(clean_lab) -> None:  # noqa: ANN001
    """A writer keeps updating and inserting on the primary during the check: candidates it causes
    must be settled by the LSN sandwich (consistent or unsettled), never reported as diffs."""
    t = clean_lab.target
    dsn = t.regions[t.primary_region].pg_dsn
    _exec(dsn, "DROP TABLE IF EXISTS drh_race",
          "CREATE TABLE drh_race (id int PRIMARY KEY, n int)",
          "INSERT INTO drh_race SELECT g, 0 FROM generate_series(1, 20000) g")
    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(dsn, autocommit=True) as c:
            i = 0
            while not stop.is_set():
                i += 1
                c.execute("UPDATE drh_race SET n = n + 1 WHERE id = %s", ((i * 7919) % 20000 + 1,))
                c.execute("INSERT INTO drh_race VALUES (%s, 0)", (20000 + i,))

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    try:
        statuses = set()
        for _ in range(3):
            res = compare_tables(TableRef(dsn, "drh_race", "primary"),
                                 TableRef(t.regions[t.secondary_region].pg_dsn, "drh_race", "standby"),
                                 watermark=True, options=CompareOptions(leaf_rows=200, catchup_timeout_s=10))
            statuses.add(res.status)
            assert res.status in ("consistent", "unsettled"), res.detail
            assert not res.diffs
    finally:
        stop.set()
        th.join(5)
        _exec(dsn, "DROP TABLE IF EXISTS drh_race")
    after = compare_tables(TableRef(dsn, "orders", "primary"),
                           TableRef(t.regions[t.secondary_region].pg_dsn, "orders", "standby"), watermark=True)
    assert after.ok


def test_unreachable_region_is_an_environment_problem(clean_lab) -> None:  # noqa: ANN001
    t = clean_lab.target
    clean_lab.fault(t.secondary_region, mode="unreachable")
    with pytest.raises(EnvironmentProblem, match=f"aurora {t.secondary_region}: cannot connect"):
        check_aurora(t, ["orders"], CompareOptions(connect_timeout_s=1))
