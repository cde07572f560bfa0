"""Result, compose, check_safe, opts coercion, check_all, timeline, and the import rule."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import drharness.checkers as checkers_pkg
from drharness.checkers import CHECKERS, Result, check_all, check_safe, compose, merge_valid, rto, timeline
from drharness.checkers.base import coerce_opts
from drharness.history import load_history


def _r(valid: Any, name: str = "x", detail: str = "") -> Result:
    return Result(name=name, valid=valid, detail=detail)


@pytest.mark.parametrize(
    ("valids", "expected"),
    [
        ([True, True], True),
        ([True, "unknown"], "unknown"),
        (["unknown", False, True], False),
        ([False], False),
        ([], "unknown"),
    ],
)
def test_compose_precedence(valids: list[Any], expected: Any) -> None:
    c = compose(_r(v, f"c{i}", "why") for i, v in enumerate(valids))
    assert c.valid == expected and (c.valid is True) == (expected is True)
    assert [x["name"] for x in c.figures["checks"]] == [f"c{i}" for i in range(len(valids))]


def test_compose_detail_names_the_non_passing_checks() -> None:
    c = compose([_r(True, "rto"), _r(False, "rpo", "lost aurora-3"), _r("unknown", "dns", "no flip")])
    assert c.detail == "rpo: fail (lost aurora-3); dns: unknown (no flip)"


def test_result_rejects_non_verdicts() -> None:
    for bad in (1, 0, "true", None, 0.0):
        with pytest.raises(ValueError):
            _r(bad)
        with pytest.raises(ValueError):
            merge_valid([bad])  # type: ignore[list-item]
    assert _r("unknown").to_dict()["verdict"] == "unknown"
    assert _r(True).verdict == "pass" and _r(False).verdict == "fail"


def test_check_safe_maps_exceptions_to_unknown() -> None:
    def boom(history: Any, opts: Any) -> Result:
        raise ZeroDivisionError("division by zero")

    r = check_safe(boom, [])
    assert r.valid == "unknown" and r.name == "boom" and "ZeroDivisionError" in r.detail
    r = check_safe(lambda h, o: "yes", [], name="liar")  # type: ignore[arg-type, return-value]
    assert r.valid == "unknown" and r.name == "liar"
    assert check_safe(rto.check, []).name == "rto"


def test_coerce_opts() -> None:
    assert coerce_opts(None, rto.RtoOpts) == rto.RtoOpts()
    assert coerce_opts({"slo_s": 5}, rto.RtoOpts).slo_s == 5
    o = rto.RtoOpts(min_probes=7)
    assert coerce_opts(o, rto.RtoOpts) is o
    with pytest.raises(ValueError, match="slo"):
        coerce_opts({"slo": 5}, rto.RtoOpts)
    with pytest.raises(TypeError):
        coerce_opts(5, rto.RtoOpts)


def test_check_all_on_a_history_file_written_by_the_real_writer(outage: Any, tmp_path: Path) -> None:
    path = outage().write_jsonl(tmp_path / "history.jsonl")
    events = load_history(path)
    results = check_all(events, {"rto": {"new_region": "us-west-2", "floor_seconds": 60}})
    assert set(results) == set(CHECKERS) == {"rto", "rpo", "replication_lag", "availability", "dns"}
    assert all(r.valid is True for r in results.values()), {n: r.detail for n, r in results.items()}
    assert compose(results.values()).valid is True
    with pytest.raises(ValueError, match="unknown checker"):
        check_all(events, {"rtoo": {}})


def test_timeline_rows_and_phases(outage: Any, t0: float) -> None:
    events = outage().build()
    rows = timeline.timeline(events)
    assert rows[0].kind == "drill" and rows[0].name == "region-outage"
    faults = [r for r in rows if r.kind == "fault"]
    assert len(faults) == 1 and faults[0].region == "us-east-1" and faults[0].start == t0 + 100
    assert [r.name for r in rows if r.kind == "step"][:3] == ["preflight", "decision", "fence"]
    ph = timeline.phases(events, start=t0 + 100, new_region="us-west-2", old_region="us-east-1")
    assert ph["dns"].start == t0 + 160 and ph["dns"].end == t0 + 180
    assert ph["detection"].to_dict(t0 + 100)["end_offset_s"] == 15.0


def test_step_retries_span_until_first_ok(hb: Any, t0: float) -> None:
    b = hb().drill_start(0).step("aurora_promotion", 10, 20, "fail").step("aurora_promotion", 21, 40)
    b.step("aurora_promotion", 500, 510).drill_end(600)  # a later failback promotion is not merged
    span = timeline.step_spans(b.build())["aurora_promotion"]
    assert (span.start, span.end, span.outcome) == (t0 + 10, t0 + 40, "ok")


def test_checkers_import_only_history_and_checkers() -> None:
    root = Path(checkers_pkg.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("drharness"):
                    assert name == "drharness.history" or name.startswith("drharness.checkers"), (
                        path.name,
                        name,
                    )
