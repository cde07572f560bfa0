"""Benchmark: PostgreSQL table comparison, 1M rows with planted diffs; ours vs reladiff (hashdiff).

Run by hand against a running lab (``DRHARNESS_LAB_STATE`` selects it) or any PostgreSQL (--dsn):

    .venv/bin/python benchmarks/consistency_pg.py --rows 1000000 --reladiff /tmp/rd-venv/bin/reladiff

It creates ``drh_bench_a``/``drh_bench_b`` (identical, then 3 rows changed, 2 deleted, 2 inserted
in b), compares them table to table on one DSN with our bisection and with reladiff (if given),
each in its own process (time + peak RSS of that process; the PostgreSQL server's own CPU and
memory are not in the RSS figure), and checks every tool found exactly the planted keys. With a
lab it also times the primary-vs-standby check of the same 1M-row table at an LSN watermark.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from consistency_common import dump, machine, measure  # noqa: E402


def planted(rows: int) -> set[int]:
    """The keys that differ after setup(): 3 changed, 2 deleted (those that exist), 2 inserted."""
    return {k for k in (17, 250_001, 999_999, 5, 600_000) if k <= rows} | {rows + 1, rows + 2}


OURS = """
import json, sys, tracemalloc
from drharness.consistency.pg import CompareOptions, TableRef, compare_tables
dsn, a, b, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
trace = len(sys.argv) > 5 and sys.argv[5] == "trace"
if trace:
    tracemalloc.start()
d = compare_tables(TableRef(dsn, a, "a"), TableRef(dsn, b, "b"), options=CompareOptions(workers=workers, max_keys=100))
peak = round(tracemalloc.get_traced_memory()[1] / 2**20, 2) if trace else None
print(json.dumps({"status": d.status, "diffs": d.diffs, "keys": d.diff_keys, "stats": d.stats,
                  "tracemalloc_peak_mb": peak}))
"""

WATERMARK = """
import json, sys
from drharness.consistency.pg import CompareOptions, TableRef, compare_tables
p, s, t = sys.argv[1], sys.argv[2], sys.argv[3]
d = compare_tables(TableRef(p, t, "primary"), TableRef(s, t, "standby"), watermark=True,
                   options=CompareOptions(catchup_timeout_s=300))
print(json.dumps({"status": d.status, "diffs": d.diffs, "compared": d.compared, "stats": d.stats}))
"""


def setup(dsn: str, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        have = c.execute("SELECT to_regclass('drh_bench_a') IS NOT NULL").fetchone()
        n = c.execute("SELECT count(*) FROM drh_bench_a").fetchone()[0] if have and have[0] else -1  # type: ignore[index]
        if n != rows:
            c.execute("DROP TABLE IF EXISTS drh_bench_a, drh_bench_b")
            c.execute("CREATE TABLE drh_bench_a (id bigint PRIMARY KEY, customer text, amount numeric(12,2), "
                      "payload jsonb, created_at timestamptz)")
            c.execute("INSERT INTO drh_bench_a SELECT g, 'customer-' || (g %% 9973), (g %% 100000) / 100.0, "
                      "jsonb_build_object('sku', 'sku-' || (g %% 501), 'qty', g %% 7, 'note', repeat('n', 20)), "
                      "'2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, %s) g", (rows,))
        c.execute("DROP TABLE IF EXISTS drh_bench_b")
        c.execute("CREATE TABLE drh_bench_b (LIKE drh_bench_a INCLUDING ALL)")
        c.execute("INSERT INTO drh_bench_b SELECT * FROM drh_bench_a")
        c.execute("UPDATE drh_bench_b SET amount = amount + 1 WHERE id = 17")
        c.execute("UPDATE drh_bench_b SET payload = payload || '{\"qty\": 99}' WHERE id = 250001")
        c.execute("UPDATE drh_bench_b SET customer = 'someone-else' WHERE id = 999999")
        c.execute("DELETE FROM drh_bench_b WHERE id IN (5, 600000)")
        c.execute("INSERT INTO drh_bench_b SELECT g, 'new', 1, '{}', now() FROM generate_series(%s::bigint, %s::bigint) g",
                  (rows + 1, rows + 2))
        c.execute("VACUUM ANALYZE drh_bench_a")
        c.execute("VACUUM ANALYZE drh_bench_b")


def uri(dsn: str) -> str:
    d = psycopg.conninfo.conninfo_to_dict(dsn)
    pw = f":{d['password']}" if d.get("password") else ""
    return f"postgresql://{d.get('user', 'postgres')}{pw}@{d.get('host', 'localhost')}:{d.get('port', 5432)}/" \
           f"{d.get('dbname', 'postgres')}"


def reladiff_keys(stdout: str) -> set[int]:
    """Keys from reladiff --json lines (``["-", ["17", ...]]``; rich may wrap the rest of a line)."""
    return {int(m.group(1)) for m in re.finditer(r'^\["[+-]",\s*\["([^"]+)"', stdout, re.MULTILINE)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dsn", default=None, help="default: the lab's primary")
    ap.add_argument("--reladiff", default=None, help="path to a reladiff executable (its own venv)")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    standby = None
    if a.dsn is None:
        from drharness.target import from_lab

        t = from_lab()
        a.dsn = t.regions[t.primary_region].pg_dsn
        standby = t.regions[t.secondary_region].pg_dsn
    setup(a.dsn, a.rows)
    want = planted(a.rows)
    runs: list[dict[str, Any]] = []
    py = sys.executable

    def record(label: str, argv: list[str], parse: Any) -> None:
        for i in range(a.repeat):
            r = measure(label, argv)
            found = parse(r.stdout) if r.returncode == 0 else None
            runs.append({"tool": label, "try": i + 1, "seconds": round(r.seconds, 2),
                         "peak_rss_mb": round(r.peak_rss_mb, 1), "rc": r.returncode,
                         "found_planted": found == want if found is not None else None,
                         "found": sorted(found) if found is not None and found != want else None,
                         "stderr": r.stderr[-400:] if r.returncode else None})
            print(dump(runs[-1]), file=sys.stderr)

    def ours_keys(out: str) -> set[int]:
        return {int(k) for k in json.loads(out.strip().splitlines()[-1])["keys"]}

    record("drharness (4 workers/side)", [py, "-c", OURS, a.dsn, "drh_bench_a", "drh_bench_b", "4"], ours_keys)
    record("drharness (1 worker/side)", [py, "-c", OURS, a.dsn, "drh_bench_a", "drh_bench_b", "1"], ours_keys)
    # Python heap peak (tracemalloc slows the run: its time is not the figure)
    r = measure("drharness tracemalloc", [py, "-c", OURS, a.dsn, "drh_bench_a", "drh_bench_b", "4", "trace"])
    doc = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
    runs.append({"tool": "drharness (4 workers/side) under tracemalloc", "seconds": round(r.seconds, 2),
                 "peak_rss_mb": round(r.peak_rss_mb, 1), "tracemalloc_peak_mb": doc.get("tracemalloc_peak_mb"),
                 "found_planted": {int(k) for k in doc.get("keys", [])} == want if doc else None})
    print(dump(runs[-1]), file=sys.stderr)
    if a.reladiff:
        u = uri(a.dsn)
        cols = ["-c", "customer", "-c", "amount", "-c", "payload", "-c", "created_at"]
        record("reladiff hashdiff -j4", [a.reladiff, u, "drh_bench_a", u, "drh_bench_b", "-k", "id", *cols,
                                         "-a", "hashdiff", "-j", "4", "--json"], reladiff_keys)
        record("reladiff hashdiff -j1", [a.reladiff, u, "drh_bench_a", u, "drh_bench_b", "-k", "id", *cols,
                                         "-a", "hashdiff", "--json"], reladiff_keys)
        record("reladiff joindiff (in-db)", [a.reladiff, u, "drh_bench_a", "drh_bench_b", "-k", "id", *cols,
                                             "-a", "joindiff", "--json"], reladiff_keys)
    if standby:
        for i in range(a.repeat):
            r = measure("watermark", [py, "-c", WATERMARK, a.dsn, standby, "drh_bench_a"])
            doc = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {"error": r.stderr[-400:]}
            runs.append({"tool": "drharness primary vs standby (LSN watermark, consistent)", "try": i + 1,
                         "seconds": round(r.seconds, 2), "peak_rss_mb": round(r.peak_rss_mb, 1), **doc})
            print(dump(runs[-1]), file=sys.stderr)
    print(dump({"machine": machine(), "rows": a.rows, "planted": sorted(want), "runs": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
