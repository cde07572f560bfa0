"""PostgreSQL / Aurora consistency: checksums computed inside the database, bisected to the keys.

Why this shape: a table of millions of rows cannot be pulled across regions to be compared. Each
side computes an order-independent checksum of a key range (row count + the exact sum of per-row
64-bit hashes of the row's text form) in one statement; equal ranges are done, differing ranges are split at key boundaries
taken from the data (works for any primary key: text, uuid, composite ...) until they are small
enough to compare key by key. Only differing ranges ever leave the database.

Primary vs standby is compared at a *watermark*: the primary's ``pg_current_wal_lsn()`` read at the
start must be replayed by the standby (bounded wait), else the answer is ``not_caught_up`` and
nothing is compared. Because the primary may keep writing, every candidate difference is then
confirmed by a sandwich: read the primary (P1), take its LSN, wait until the standby replayed it,
read the standby (S), read the primary again (P2). A key differs only if P1 == P2 != S; if P1 != P2
the key is still changing and is reported ``unsettled``. So neither a false diff nor a false
"consistent" comes out of writes racing the check.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from drharness.consistency.result import StoreResult, jsonable_key
from drharness.errors import BadInput, EnvironmentProblem

__all__ = [
    "CatchUp",
    "CompareOptions",
    "TableDiff",
    "TableMeta",
    "TableRef",
    "check_aurora",
    "compare_tables",
    "describe_dsn",
    "discover_tables",
    "load_meta",
    "wait_caught_up",
]

Key = tuple[Any, ...]
Checksum = tuple[int, Decimal]
_T = TypeVar("_T")
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")

# Session settings that make ``ROW(...)::text`` identical on both sides whatever the server defaults.
_SESSION_SQL = ("SET TIME ZONE 'UTC'; SET extra_float_digits = 3; SET DateStyle = 'ISO, YMD'; "
                "SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'")


@dataclass(frozen=True)
class TableRef:
    """One side of a comparison: a DSN and a table name (``name`` or ``schema.name``)."""

    dsn: str
    table: str
    label: str = ""  # names the side in messages, e.g. "us-east-1"

    @property
    def name(self) -> str:
        return self.label or describe_dsn(self.dsn)


@dataclass(frozen=True)
class CompareOptions:
    """Tuning knobs; the defaults suit tables from a few rows to tens of millions."""

    max_keys: int = 20  # diff keys reported
    bisect_factor: int = 16  # sub-ranges per split
    leaf_rows: int = 2000  # ranges this small are compared key by key
    workers: int = 4  # concurrent queries per side
    catchup_timeout_s: float = 30.0
    confirm_rounds: int = 3
    statement_timeout_s: float = 600.0
    connect_timeout_s: float = 5.0


@dataclass(frozen=True)
class TableMeta:
    """What the catalog says about a table: the primary key drives the bisection."""

    schema: str
    name: str
    pk: tuple[str, ...]
    pk_types: tuple[str, ...]  # format_type without typmod: casts never truncate a boundary value
    columns: tuple[str, ...]  # sorted by name, so physical column order does not matter
    est_rows: float = -1.0  # pg_class.reltuples (-1 = never analyzed)

    @property
    def int_key(self) -> bool:
        """A single integer key is split arithmetically (min/max from the index, no key scan)."""
        return len(self.pk) == 1 and self.pk_types[0] in ("smallint", "integer", "bigint")

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)


@dataclass
class CatchUp:
    """The watermark wait: did the standby replay what the primary had written when we started?"""

    ok: bool
    target_lsn: str
    replay_lsn: str | None
    bytes_behind: int | None
    waited_s: float


@dataclass
class TableDiff:
    """The answer for one table."""

    table: str
    status: str
    compared: int
    diffs: int | None
    diff_keys: list[Any] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    unsettled: int = 0
    detail: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "consistent"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "compared": self.compared, "diffs": self.diffs, "diff_keys": self.diff_keys,
                "status": self.status, "kinds": self.kinds, "unsettled": self.unsettled,
                "detail": self.detail, "stats": self.stats}


@dataclass(frozen=True)
class _Range:
    lo: Key | None  # inclusive
    hi: Key | None  # exclusive


class _NotReplicating(Exception):
    """The 'standby' is not in recovery: there is no replication to wait for."""


# ----------------------------------------------------------------------------------------- connections
def describe_dsn(dsn: str) -> str:
    """host:port/dbname for messages (never the password)."""
    try:
        d = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparsable DSN>"
    return f"{d.get('host', 'localhost')}:{d.get('port', 5432)}/{d.get('dbname', d.get('user', ''))}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _connect(dsn: str, who: str, opts: CompareOptions) -> psycopg.Connection:
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, int(opts.connect_timeout_s)),
                               application_name="drharness-consistency")
    except psycopg.OperationalError as exc:
        raise EnvironmentProblem(f"{who}: cannot connect to PostgreSQL at {describe_dsn(dsn)}: "
                                 f"{_first_line(exc)}") from None
    conn.execute(_SESSION_SQL)
    conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(int(opts.statement_timeout_s * 1000))))
    return conn


class _Side:
    """A small connection pool for one side; queries map PostgreSQL errors to clear messages."""

    def __init__(self, ref: TableRef, opts: CompareOptions) -> None:
        self.ref = ref
        self.opts = opts
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._sem = threading.BoundedSemaphore(max(1, opts.workers))
        self.queries = 0

    @contextmanager
    def conn(self) -> Iterator[psycopg.Connection]:
        with self._sem:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = _connect(self.ref.dsn, self.ref.name, self.opts)
            try:
                yield conn
            finally:
                if not conn.closed and not conn.broken:
                    with self._lock:
                        self._idle.append(conn)

    def query(self, q: sql.Composable | str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; a hot standby may cancel it for a recovery conflict: retry that."""
        for attempt in range(4):
            try:
                with self.conn() as conn:
                    self.queries += 1
                    return conn.execute(q, params).fetchall()  # type: ignore[arg-type]
            except psycopg.errors.SerializationFailure:
                if attempt == 3:
                    raise EnvironmentProblem(f"{self.ref.name}: queries on {self.ref.table} keep being "
                                             "cancelled by recovery conflicts (hot standby)") from None
                time.sleep(0.2 * (attempt + 1))
            except psycopg.errors.InsufficientPrivilege as exc:
                raise EnvironmentProblem(f"{self.ref.name}: permission denied reading {self.ref.table} at "
                                         f"{describe_dsn(self.ref.dsn)}: {_first_line(exc)}") from None
            except psycopg.errors.QueryCanceled as exc:
                raise EnvironmentProblem(f"{self.ref.name}: a checksum query on {self.ref.table} was cancelled "
                                         f"({_first_line(exc)}); statement timeout is "
                                         f"{self.opts.statement_timeout_s:g} s") from None
            except psycopg.OperationalError as exc:
                raise EnvironmentProblem(f"{self.ref.name}: lost PostgreSQL at {describe_dsn(self.ref.dsn)}: "
                                         f"{_first_line(exc)}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            for c in self._idle:
                c.close()
            self._idle.clear()


# ----------------------------------------------------------------------------------------- catalog
_META_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relkind, has_table_privilege(c.oid, 'SELECT'), c.reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(%s)
"""
_PK_SQL = """
SELECT a.attname, format_type(a.atttypid, NULL)
FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY k.ord
"""
_COLS_SQL = "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped"
_TABLES_SQL = """
SELECT n.nspname, c.relname,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_'
ORDER BY 1, 2
"""


def load_meta(conn: psycopg.Connection, table: str, who: str) -> TableMeta:
    """Primary key and columns from the catalog; unknown tables and tables without a key are refused."""
    try:
        row = conn.execute(_META_SQL, (table,)).fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise EnvironmentProblem(f"{who}: permission denied reading the catalog for {table!r}: "
                                 f"{_first_line(exc)}") from None
    except psycopg.Error as exc:
        raise BadInput(f"{who}: {table!r} is not a valid table name: {_first_line(exc)}") from None
    if row is None:
        raise BadInput(f"{who}: table {table!r} not found in {describe_dsn(_dsn_of(conn))}")
    oid, schema, name, relkind, can_select, est_rows = row
    display = f"{schema}.{name}"
    if relkind not in ("r", "p", "m", "f"):
        raise BadInput(f"{who}: {display} is not a table (relkind {relkind!r}): compare its base table")
    pk = conn.execute(_PK_SQL, (oid,)).fetchall()
    if not pk:
        raise BadInput(f"{who}: table {display} has no primary key: rows cannot be matched across regions "
                       "without one (add a PRIMARY KEY, or leave the table out)")
    if not can_select:
        raise EnvironmentProblem(f"{who}: permission denied: no SELECT privilege on {display}")
    cols = sorted(r[0] for r in conn.execute(_COLS_SQL, (oid,)).fetchall())
    return TableMeta(schema, name, tuple(r[0] for r in pk), tuple(r[1] for r in pk), tuple(cols), float(est_rows))


def _dsn_of(conn: psycopg.Connection) -> str:
    info = conn.info
    return f"host={info.host} port={info.port} dbname={info.dbname}"


def qualname(schema: str, name: str) -> str:
    """``schema.name``, quoting only the parts that need it (so ``to_regclass`` finds it again)."""
    def q(part: str) -> str:
        return part if _PLAIN.fullmatch(part) else '"' + part.replace('"', '""') + '"'
    return f"{q(schema)}.{q(name)}"


def discover_tables(conn: psycopg.Connection) -> tuple[list[str], list[str]]:
    """User tables of the database: (with a primary key, without one), as ``schema.name``."""
    keyed: list[str] = []
    unkeyed: list[str] = []
    for schema, name, has_pk in conn.execute(_TABLES_SQL).fetchall():
        (keyed if has_pk else unkeyed).append(qualname(schema, name))
    return keyed, unkeyed


# ----------------------------------------------------------------------------------------- watermark
def _lsn_diff(conn: psycopg.Connection, target: str) -> tuple[bool, str | None, int | None]:
    row = conn.execute("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                       "pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())::bigint", (target,)).fetchone()
    assert row is not None
    return bool(row[0]), row[1], None if row[2] is None else int(row[2])


def wait_caught_up(primary: psycopg.Connection, standby: psycopg.Connection, timeout_s: float,
                   poll_s: float = 0.02, target_lsn: str | None = None) -> CatchUp:
    """Wait (bounded) until the standby replayed the primary's current WAL position."""
    t0 = time.monotonic()
    if target_lsn is None:
        row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        target_lsn = str(row[0])
    while True:
        in_recovery, replay, behind = _lsn_diff(standby, target_lsn)
        if not in_recovery:
            raise _NotReplicating("the standby is not in recovery (it was promoted, or is another primary)")
        waited = time.monotonic() - t0
        if behind is not None and behind <= 0:
            return CatchUp(True, target_lsn, replay, 0, waited)
        if waited >= timeout_s:
            return CatchUp(False, target_lsn, replay, behind, waited)
        time.sleep(min(poll_s * (1 + waited), 0.2))


# ----------------------------------------------------------------------------------------- SQL
def _keys(meta: TableMeta) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(k) for k in meta.pk)


def _row_hash(meta: TableMeta) -> sql.Composable:
    """64-bit hash of the row's text form, columns in name order (hashtextextended: ~2x faster than md5)."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in meta.columns)
    return sql.SQL("hashtextextended(ROW({})::text, 0)").format(cols)


def _where(meta: TableMeta, rng: _Range) -> tuple[sql.Composable, list[Any]]:
    params: list[Any] = []
    parts: list[sql.Composable] = []
    cols = sql.SQL("({})").format(_keys(meta))
    for bound, op in ((rng.lo, ">="), (rng.hi, "<")):
        if bound is None:
            continue
        vals = sql.SQL("({})").format(sql.SQL(", ").join(sql.SQL("%s::" + t) for t in meta.pk_types))
        parts.append(sql.SQL("{} {} {}").format(cols, sql.SQL(op), vals))
        params.extend(bound)
    return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")), params


def _checksum(side: _Side, meta: TableMeta, rng: _Range) -> Checksum:
    where, params = _where(meta, rng)
    q = sql.SQL("SELECT count(*), coalesce(sum({h}), 0) FROM {t} WHERE {w}").format(
        h=_row_hash(meta), t=meta.ident, w=where)
    row = side.query(q, params)[0]
    return int(row[0]), Decimal(row[1])


def _boundaries(side: _Side, meta: TableMeta, rng: _Range, step: int) -> list[Key]:
    where, params = _where(meta, rng)
    q = sql.SQL("SELECT {k} FROM (SELECT {k}, row_number() OVER (ORDER BY {k}) AS drh__rn FROM {t} WHERE {w}) s "
                "WHERE drh__rn > 1 AND mod(drh__rn - 1, {step}) = 0 ORDER BY drh__rn").format(
        k=_keys(meta), t=meta.ident, w=where, step=sql.Literal(step))
    return [tuple(r) for r in side.query(q, params)]


def _minmax(side: _Side, meta: TableMeta, rng: _Range) -> tuple[int | None, int | None]:
    where, params = _where(meta, rng)
    q = sql.SQL("SELECT min({k}), max({k}) FROM {t} WHERE {w}").format(k=_keys(meta), t=meta.ident, w=where)
    row = side.query(q, params)[0]
    return row[0], row[1]


def _int_edges(lo: int, hi_excl: int, parts: int) -> list[Key]:
    """Interior boundaries cutting [lo, hi_excl) into ``parts`` ranges of equal width."""
    width = hi_excl - lo
    n = min(parts, width)
    if n <= 1:
        return []
    return [(v,) for v in sorted({lo + (width * i) // n for i in range(1, n)})]


def _leaf(side: _Side, meta: TableMeta, rng: _Range) -> dict[Key, int]:
    where, params = _where(meta, rng)
    q = sql.SQL("SELECT {k}, {h} FROM {t} WHERE {w}").format(k=_keys(meta), h=_row_hash(meta), t=meta.ident,
                                                             w=where)
    n = len(meta.pk)
    return {tuple(r[:n]): r[n] for r in side.query(q, params)}


def _first_keys(side: _Side, meta: TableMeta, rng: _Range, limit: int) -> list[Key]:
    where, params = _where(meta, rng)
    q = sql.SQL("SELECT {k} FROM {t} WHERE {w} ORDER BY {k} LIMIT {n}").format(
        k=_keys(meta), t=meta.ident, w=where, n=sql.Literal(limit))
    return [tuple(r) for r in side.query(q, params)]


# ----------------------------------------------------------------------------------------- compare
@dataclass
class _Candidates:
    """Differences found by the bisection, before confirmation."""

    keys: dict[_Range, dict[Key, str]] = field(default_factory=dict)  # range -> key -> kind
    bulk: dict[_Range, tuple[int, int]] = field(default_factory=dict)  # one-sided big ranges: counts
    compared: int = 0
    levels: int = 0
    ranges_checked: int = 0


def _kind(a: int | None, b: int | None) -> str | None:
    if a == b:
        return None
    if a is None:
        return "only_in_b"
    return "only_in_a" if b is None else "changed"


class _Comparer:
    def __init__(self, a: _Side, b: _Side, ma: TableMeta, mb: TableMeta, opts: CompareOptions,
                 pool: ThreadPoolExecutor) -> None:
        self.a, self.b, self.ma, self.mb, self.o, self.pool = a, b, ma, mb, opts, pool

    def bisect(self, start: Sequence[_Range]) -> _Candidates:
        found = _Candidates()
        work = list(start)
        while work:
            found.levels += 1
            found.ranges_checked += len(work)
            sums = [(self.pool.submit(_checksum, self.a, self.ma, r), self.pool.submit(_checksum, self.b, self.mb, r))
                    for r in work]
            leaves: list[_Range] = []
            splits: list[tuple[_Range, Future[list[Key]]]] = []
            for rng, (fa, fb) in zip(work, sums, strict=True):
                ca, cb = fa.result(), fb.result()
                if ca == cb:
                    found.compared += ca[0]
                    continue
                big = max(ca[0], cb[0])
                if big <= self.o.leaf_rows:
                    leaves.append(rng)
                elif min(ca[0], cb[0]) == 0:
                    found.bulk[rng] = (ca[0], cb[0])
                    found.compared += big
                else:
                    splits.append((rng, self.pool.submit(self.split, rng, ca[0] >= cb[0], big)))
            leaf_maps = [(rng, self.pool.submit(_leaf, self.a, self.ma, rng), self.pool.submit(_leaf, self.b, self.mb, rng))
                         for rng in leaves]
            for rng, fla, flb in leaf_maps:
                la, lb = fla.result(), flb.result()
                found.compared += len(la.keys() | lb.keys())
                kinds = {k: kd for k in la.keys() | lb.keys() if (kd := _kind(la.get(k), lb.get(k)))}
                if kinds:
                    found.keys[rng] = kinds
            work = []
            for rng, fut in splits:
                bounds = fut.result()
                edges: list[Key | None] = [rng.lo, *bounds, rng.hi]
                work += [_Range(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)]
        return found

    def split(self, rng: _Range, a_bigger: bool, rows: int) -> list[Key]:
        """Interior boundaries for ``rng``: arithmetic for an integer key, else every n-th key of the
        side with more rows (a window over the index range)."""
        if self.ma.int_key:
            # called inside a pool task: query directly (a nested submit could starve the pool)
            ends = [v for v in (*_minmax(self.a, self.ma, rng), *_minmax(self.b, self.mb, rng)) if v is not None]
            if not ends:
                return []
            return _int_edges(int(min(ends)), int(max(ends)) + 1, self.o.bisect_factor)
        side, meta = (self.a, self.ma) if a_bigger else (self.b, self.mb)
        return _boundaries(side, meta, rng, max(1, math.ceil(rows / self.o.bisect_factor)))

    def start(self) -> list[_Range]:
        """First level: an integer-keyed table that is not tiny is split right away, so a consistent
        table costs one parallel pass instead of a whole-table checksum per side."""
        whole = _Range(None, None)
        if not self.ma.int_key or 0 <= max(self.ma.est_rows, self.mb.est_rows) <= self.o.leaf_rows:
            return [whole]
        edges: list[Key | None] = [None, *self.split(whole, True, 0), None]
        return [_Range(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)]

    def bulk_keys(self, rng: _Range, counts: tuple[int, int], limit: int) -> list[Key]:
        side, meta = (self.a, self.ma) if counts[0] else (self.b, self.mb)
        return _first_keys(side, meta, rng, limit)


def _sort_keys(keys: list[Key]) -> list[Key]:
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=repr)


def compare_tables(a: TableRef, b: TableRef, *, watermark: bool = False,
                   options: CompareOptions | None = None) -> TableDiff:
    """Compare ``a.table`` at ``a.dsn`` with ``b.table`` at ``b.dsn``.

    ``watermark=True``: ``a`` is a primary and ``b`` its streaming standby; compare only once the
    standby replayed the primary's position at start, and confirm every difference (see module doc).
    Otherwise the two tables are compared as they are (e.g. two tables in one database).
    """
    o = options or CompareOptions()
    t0 = time.monotonic()
    sa, sb = _Side(a, o), _Side(b, o)
    try:
        with sa.conn() as ca, sb.conn() as cb:
            ma = load_meta(ca, a.table, a.name)
            catch: CatchUp | None = None
            if watermark:
                try:
                    catch = wait_caught_up(ca, cb, o.catchup_timeout_s)
                except _NotReplicating as exc:
                    return TableDiff(ma.display, "not_replicating", 0, None,
                                     detail=f"{b.name}: {exc}; no watermark to compare at")
            if catch is not None and not catch.ok:
                mb = ma  # not caught up: the standby's catalog may not even have the table yet
            else:
                mb = load_meta(cb, b.table, b.name)  # read after the watermark: a new table has replicated
        if ma.pk != mb.pk:
            raise BadInput(f"{ma.display} ({a.name}) and {mb.display} ({b.name}) have different primary keys: "
                           f"{list(ma.pk)} vs {list(mb.pk)}")
        if ma.columns != mb.columns:
            only_a = sorted(set(ma.columns) - set(mb.columns))
            only_b = sorted(set(mb.columns) - set(ma.columns))
            return TableDiff(ma.display, "schema_differs", 0, None,
                             detail=f"columns only in {a.name}: {only_a}; only in {b.name}: {only_b}")
        stats: dict[str, Any] = {}
        if catch is not None:
            stats["watermark"] = {"primary_lsn": catch.target_lsn, "standby_replay_lsn": catch.replay_lsn,
                                  "waited_s": round(catch.waited_s, 3)}
            if not catch.ok:
                return TableDiff(ma.display, "not_caught_up", 0, None, stats=stats, detail=(
                    f"{b.name} did not replay {a.name}'s WAL position {catch.target_lsn} within "
                    f"{o.catchup_timeout_s:g} s (replayed {catch.replay_lsn}, {catch.bytes_behind} bytes behind): "
                    "not compared, so neither consistent nor a diff"))
        with ThreadPoolExecutor(max_workers=2 * max(1, o.workers), thread_name_prefix="drh-pgdiff") as pool:
            cmp = _Comparer(sa, sb, ma, mb, o, pool)
            found = cmp.bisect(cmp.start())
            if watermark:
                confirmed, bulk_ok, unsettled, note = _confirm(cmp, found, o)
            else:
                confirmed = {k: kd for m in found.keys.values() for k, kd in m.items()}
                bulk_ok, unsettled, note = dict(found.bulk), {}, ""
            keys = _sort_keys(list(confirmed))
            kinds: dict[str, int] = {}
            for kd in confirmed.values():
                kinds[kd] = kinds.get(kd, 0) + 1
            diffs = len(confirmed)
            for rng, counts in bulk_ok.items():
                side_kind = "only_in_a" if counts[0] else "only_in_b"
                kinds[side_kind] = kinds.get(side_kind, 0) + max(counts)
                diffs += max(counts)
                if len(keys) < o.max_keys:
                    keys += cmp.bulk_keys(rng, counts, o.max_keys - len(keys))
        stats.update(levels=found.levels, ranges_checked=found.ranges_checked,
                     queries=sa.queries + sb.queries, seconds=round(time.monotonic() - t0, 3))
        n_unsettled = sum(unsettled.values())
        if diffs:
            status = "diff"
        elif n_unsettled:
            status = "unsettled"
        else:
            status = "consistent"
        detail = _detail(ma.display, a.name, b.name, found.compared, diffs, kinds, n_unsettled) + note
        return TableDiff(ma.display, status, found.compared, diffs if status != "unsettled" else None,
                         [jsonable_key(k) for k in keys[: o.max_keys]], kinds, n_unsettled, detail, stats)
    finally:
        sa.close()
        sb.close()


def _detail(table: str, an: str, bn: str, compared: int, diffs: int, kinds: dict[str, int], unsettled: int) -> str:
    if not diffs and not unsettled:
        return f"{table}: {compared} rows equal in {an} and {bn}"
    words = {"changed": "changed", "only_in_a": f"only in {an}", "only_in_b": f"only in {bn}"}
    parts = [f"{n} {words[k]}" for k, n in sorted(kinds.items())]
    if unsettled:
        parts.append(f"{unsettled} still changing (unsettled: re-run when writes stop)")
    return f"{table}: {diffs} of {compared} rows differ ({', '.join(parts)})"


def _confirm(cmp: _Comparer, found: _Candidates, o: CompareOptions
             ) -> tuple[dict[Key, str], dict[_Range, tuple[int, int]], dict[str, int], str]:
    """Sandwich-confirm candidates against a moving primary: P1, LSN, standby replays it, S, P2."""
    pending = {rng: dict(m) for rng, m in found.keys.items()}
    bulk = dict(found.bulk)
    confirmed: dict[Key, str] = {}
    bulk_ok: dict[_Range, tuple[int, int]] = {}
    note = ""
    for _ in range(max(1, o.confirm_rounds)):
        if not pending and not bulk:
            break
        p1 = {r: cmp.pool.submit(_leaf, cmp.a, cmp.ma, r) for r in pending}
        p1b = {r: cmp.pool.submit(_checksum, cmp.a, cmp.ma, r) for r in bulk}
        p1_leaf = {r: f.result() for r, f in p1.items()}
        p1_sum = {r: f.result() for r, f in p1b.items()}
        with cmp.a.conn() as ca, cmp.b.conn() as cb:
            try:
                catch = wait_caught_up(ca, cb, o.catchup_timeout_s)
            except _NotReplicating as exc:
                note = f"; standby stopped replicating during confirmation ({exc})"
                break
        if not catch.ok:
            note = (f"; standby fell behind during confirmation ({catch.bytes_behind} bytes after "
                    f"{catch.waited_s:.1f} s)")
            break
        s_leaf = {r: cmp.pool.submit(_leaf, cmp.b, cmp.mb, r) for r in pending}
        s_sum = {r: cmp.pool.submit(_checksum, cmp.b, cmp.mb, r) for r in bulk}
        s_leaf_r = {r: f.result() for r, f in s_leaf.items()}
        s_sum_r = {r: f.result() for r, f in s_sum.items()}
        p2 = {r: cmp.pool.submit(_leaf, cmp.a, cmp.ma, r) for r in pending}
        p2b = {r: cmp.pool.submit(_checksum, cmp.a, cmp.ma, r) for r in bulk}
        still: dict[_Range, dict[Key, str]] = {}
        for rng, cands in pending.items():
            before, std, after = p1_leaf[rng], s_leaf_r[rng], p2[rng].result()
            for key in cands:
                if before.get(key) != after.get(key):
                    still.setdefault(rng, {})[key] = cands[key]
                elif (kd := _kind(before.get(key), std.get(key))) is not None:
                    confirmed[key] = kd
        still_bulk: dict[_Range, tuple[int, int]] = {}
        for rng in bulk:
            before_s, std_s, after_s = p1_sum[rng], s_sum_r[rng], p2b[rng].result()
            if before_s != after_s:
                still_bulk[rng] = bulk[rng]
            elif std_s != before_s:
                if min(before_s[0], std_s[0]) == 0:
                    bulk_ok[rng] = (before_s[0], std_s[0])
                else:  # replication progressed into the range: re-examine it key by key next round
                    sub = cmp.bisect([rng])
                    for r, m in sub.keys.items():
                        still[r] = {**still.get(r, {}), **m}
                    still_bulk.update(sub.bulk)
        pending, bulk = still, still_bulk
    unsettled = {"keys": sum(len(m) for m in pending.values()), "rows": sum(max(c) for c in bulk.values())}
    return confirmed, bulk_ok, unsettled, note


# ----------------------------------------------------------------------------------------- the store
def _role(dsn: str, region: str, o: CompareOptions) -> bool:
    """True when the region's PostgreSQL is in recovery (a standby)."""
    conn = _connect(dsn, f"aurora {region}", o)
    try:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        return bool(row and row[0])
    finally:
        conn.close()


def check_aurora(target: Any, tables: Sequence[str] | None = None,
                 options: CompareOptions | None = None) -> StoreResult:
    """Writer vs reader of the Aurora global database, table by table, at an LSN watermark.

    ``tables`` default: every user table with a primary key (tables without one are listed as
    skipped, never counted as consistent). Asking for a table without a key is an error.
    """
    o = options or CompareOptions()
    regions = [target.primary_region, target.secondary_region]
    roles = {r: _role(target.regions[r].pg_dsn, r, o) for r in regions}
    writers = [r for r in regions if not roles[r]]
    if len(writers) != 1:
        what = "both regions accept writes (split brain or replication removed)" if len(writers) == 2 else \
            "no region accepts writes (both are standbys)"
        return StoreResult("aurora", False, 0, None, status="not_replicating",
                           detail=f"aurora: {what}: no primary/standby pair to compare",
                           extra={"roles": {r: "standby" if roles[r] else "writer" for r in regions}})
    writer = writers[0]
    reader = next(r for r in regions if r != writer)
    skipped: list[dict[str, str]] = []
    if tables is None:
        conn = _connect(target.regions[writer].pg_dsn, f"aurora {writer}", o)
        try:
            keyed, unkeyed = discover_tables(conn)
        finally:
            conn.close()
        tables = keyed
        skipped = [{"table": t, "reason": "no primary key"} for t in unkeyed]
    per_table: dict[str, TableDiff] = {}
    for table in tables:
        per_table[table] = compare_tables(TableRef(target.regions[writer].pg_dsn, table, f"aurora {writer}"),
                                          TableRef(target.regions[reader].pg_dsn, table, f"aurora {reader}"),
                                          watermark=True, options=o)
    return _store_result(per_table, writer, reader, skipped, o)


_STATUS_RANK = {"consistent": 0, "unsettled": 1, "diff": 2, "schema_differs": 3, "not_caught_up": 4,
                "not_replicating": 5}


def _store_result(per_table: dict[str, TableDiff], writer: str, reader: str, skipped: list[dict[str, str]],
                  o: CompareOptions) -> StoreResult:
    status = max((d.status for d in per_table.values()), key=_STATUS_RANK.__getitem__, default="consistent")
    compared = sum(d.compared for d in per_table.values())
    known = [d.diffs for d in per_table.values()]
    diffs = None if any(x is None for x in known) else sum(x for x in known if x is not None)
    keys: list[Any] = []
    for name, d in per_table.items():
        keys += [{"table": name, "key": k} for k in d.diff_keys]
    if not per_table:
        detail = "aurora: no table with a primary key to compare"
        return StoreResult("aurora", False, 0, None, status="error", detail=detail,
                           extra={"writer": writer, "reader": reader, "tables": {}, "skipped": skipped})
    bad = [d.detail for d in per_table.values() if not d.ok]
    detail = "; ".join(bad) if bad else f"aurora: {compared} rows in {len(per_table)} table(s) equal " \
                                         f"({writer} writer vs {reader} reader, at the writer's LSN)"
    if skipped:
        detail += f"; skipped (no primary key): {', '.join(s['table'] for s in skipped)}"
    return StoreResult("aurora", status == "consistent", compared, diffs, keys[: o.max_keys], status, detail,
                       {"writer": writer, "reader": reader,
                        "tables": {n: d.to_dict() for n, d in per_table.items()}, "skipped": skipped})
