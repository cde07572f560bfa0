"""history.py: the JSONL writer, the validating loader and Jepsen op pairing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from drharness.history import (
    NULL_HISTORY,
    Event,
    History,
    HistoryError,
    MemoryHistory,
    NullHistory,
    drill_status,
    is_complete,
    load_history,
    ops_for,
    pair_ops,
    role_of,
)


def _line(**kw: object) -> str:
    base = {"t": 1.0, "process": "prober", "type": "invoke", "f": "probe", "value": None, "region": None}
    base.update(kw)
    return json.dumps(base)


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


# ------------------------------------------------------------------------------------------ writer


def test_roundtrip_through_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "history.jsonl"
    with History(path) as h:
        drill = h.drill_start({"scenario": "region-outage"})
        op = h.invoke("canary", "write", {"store": "aurora", "key": "aurora-1", "seq": 1}, "us-east-1")
        h.complete(op, "ok")
        h.append("lag", "ok", "lag", {"store": "aurora", "lag_ms": 12.5})
        h.drill_end(drill)
    events = load_history(path)
    assert [e.index for e in events] == list(range(5))
    assert [(e.process, e.type, e.f) for e in events] == [
        ("harness", "invoke", "drill"),
        ("canary", "invoke", "write"),
        ("canary", "ok", "write"),
        ("lag", "ok", "lag"),
        ("harness", "ok", "drill"),
    ]
    # completion restates the invoke's value and region (Jepsen)
    assert events[2].value == {"store": "aurora", "key": "aurora-1", "seq": 1}
    assert events[2].region == "us-east-1"
    assert events.complete and not events.torn and is_complete(events)
    assert all(t2 >= t1 for t1, t2 in zip([e.t for e in events], [e.t for e in events][1:], strict=False))


def test_each_line_is_one_json_object(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with History(path, fsync=True) as h:
        h.append("nemesis", "invoke", "fault", {"fault": "region-isolation"}, "us-east-1")
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["value"] == {"fault": "region-isolation"}


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    h = History(path)
    big = "x" * 5000  # larger than a stdio buffer: still one line

    def worker(n: int) -> None:
        for i in range(150):
            op = h.invoke(f"prober:{n}", "probe", {"name": "a", "pad": big})
            h.complete(op, "ok" if i % 3 else "info")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.close()
    events = load_history(path)
    assert len(events) == 8 * 150 * 2
    ops = pair_ops(events)
    assert len(ops) == 8 * 150 and all(op.completion is not None for op in ops)


def test_a_second_writer_process_style_appends_to_same_file(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with History(path) as a, History(path) as b:
        a.append("prober", "ok", "dns", {"answer": "1"})
        b.append("canary", "ok", "write", {"key": "k"})
    assert len(load_history(path)) == 2


def test_clock_stepping_back_keeps_file_order_monotonic() -> None:
    times = iter([10.0, 9.0, 11.0])
    h = MemoryHistory(clock=lambda: next(times))
    for _ in range(3):
        h.append("lag", "ok", "lag", {"store": "s3", "lag_ms": 1})
    assert [e.t for e in h.events] == [10.0, 10.0, 11.0]


def test_complete_rules() -> None:
    h = MemoryHistory()
    op = h.invoke("prober", "probe", {"name": "a"})
    with pytest.raises(ValueError, match="completion type"):
        h.complete(op, "invoke")  # type: ignore[arg-type]
    h.complete(op, "ok", {"name": "a", "ip": "1.2.3.4", "status": 200, "latency_ms": 3}, "us-west-2")
    assert op.done and h.events[-1].region == "us-west-2"
    with pytest.raises(ValueError, match="already completed"):
        h.complete(op, "fail")


def test_op_context_logs_info_on_exception_or_missing_completion() -> None:
    h = MemoryHistory()
    with pytest.raises(TimeoutError), h.op("canary", "write", {"store": "s3", "key": "s3-1", "seq": 1}):
        raise TimeoutError("PUT timed out")
    assert h.events[-1].type == "info"
    assert h.events[-1].value["error"] == "TimeoutError: PUT timed out"
    with h.op("canary", "write", {"store": "s3", "key": "s3-2", "seq": 2}):
        pass
    assert h.events[-1].type == "info"
    with h.op("canary", "write", {"store": "s3", "key": "s3-3", "seq": 3}) as op:
        h.complete(op, "ok")
    assert h.events[-1].type == "ok"


def test_bad_values_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with History(path) as h:
        with pytest.raises(TypeError):
            h.append("canary", "ok", "write", {"key": object()})
        with pytest.raises(ValueError):
            h.append("lag", "ok", "lag", {"lag_ms": float("nan")})
        with pytest.raises(HistoryError, match="'type'"):
            h.append("lag", "done", "lag")  # type: ignore[arg-type]
        with pytest.raises(HistoryError, match="'process'"):
            h.append("", "ok", "lag")
    assert path.read_bytes() == b""


def test_null_and_memory_histories() -> None:
    assert isinstance(NULL_HISTORY, NullHistory)
    op = NULL_HISTORY.invoke("prober", "probe", {"name": "a"})
    NULL_HISTORY.complete(op, "ok")
    m = MemoryHistory()
    m.append("lag", "ok", "lag", {"store": "s3", "lag_ms": 1})
    assert m.events[0].index == 0


def test_appending_to_a_torn_file_does_not_glue_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", _line() + "\n" + '{"t": 2, "proc')
    with History(path) as h:
        h.append("lag", "ok", "lag", {"store": "s3", "lag_ms": 1})
    with pytest.raises(HistoryError) as err:
        load_history(path)
    assert err.value.line == 2  # the torn line is reported where it is, not merged into line 3


# ------------------------------------------------------------------------------------------ loader


def test_torn_last_line_is_an_error_by_default_naming_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", _line() + "\n" + _line(type="ok") + "\n" + '{"t": 3, "process": "pro')
    with pytest.raises(HistoryError) as err:
        load_history(path)
    assert err.value.line == 3
    assert "truncated last line" in str(err.value) and str(path) + ":3" in str(err.value)


def test_torn_last_line_tolerated_marks_history_incomplete(tmp_path: Path) -> None:
    good = [
        _line(process="harness", f="drill"),
        _line(process="harness", f="drill", type="ok", t=2.0),
    ]
    path = _write(tmp_path / "h.jsonl", "\n".join(good) + "\n" + '{"t": 3, "pro')
    events = load_history(path, allow_torn_tail=True)
    assert len(events) == 2 and events.torn and events.torn_line == 3
    assert not events.complete
    status = drill_status(events)
    assert not status.complete and "torn at line 3" in (status.reason or "")


def test_torn_tail_of_nul_bytes_is_tolerated(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", (_line() + "\n").encode() + b"\x00" * 64)
    events = load_history(path, allow_torn_tail=True)
    assert len(events) == 1 and events.torn_line == 2


def test_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", _line() + "\n" + _line(type="ok"))
    events = load_history(path)
    assert len(events) == 2 and not events.torn


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"t": 1, "process": "p", "f": "x"}), "missing field(s): type"),
        (_line(type="done"), "field 'type' must be one of"),
        (_line(t="yesterday"), "field 't'"),
        (_line(t=True), "field 't'"),
        (_line(t=float("inf")).replace("Infinity", "1e999"), "field 't'"),
        (_line(process=""), "field 'process'"),
        (_line(f=3), "field 'f'"),
        (_line(region=5), "field 'region'"),
    ],
)
def test_corrupt_line_raises_with_line_number(tmp_path: Path, bad: str, needle: str) -> None:
    path = _write(tmp_path / "h.jsonl", _line() + "\n" + bad + "\n" + _line(type="ok") + "\n")
    for allow in (False, True):  # a corrupt line in the middle is never forgiven
        with pytest.raises(HistoryError) as err:
            load_history(path, allow_torn_tail=allow)
        assert err.value.line == 2
        assert needle in str(err.value)
        assert str(err.value).startswith(f"{path}:2: ")


def test_corrupt_last_line_with_newline_is_not_a_torn_write(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", _line() + "\n" + "{garbage\n")
    with pytest.raises(HistoryError) as err:
        load_history(path, allow_torn_tail=True)
    assert err.value.line == 2


def test_non_utf8_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", (_line() + "\n").encode() + b'{"t": 1, "process": "\xff"}\n')
    with pytest.raises(HistoryError, match="not UTF-8") as err:
        load_history(path)
    assert err.value.line == 2


def test_missing_file_and_blank_lines(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no such history file"):
        load_history(tmp_path / "nope.jsonl")
    path = _write(tmp_path / "h.jsonl", "\n" + _line() + "\n   \n" + _line(type="ok") + "\n")
    events = load_history(path)
    assert [e.index for e in events] == [0, 1]


# ------------------------------------------------------------------------------------------ pairing


def _ev(t: float, process: str, type: str, f: str, value: object = None, region: str | None = None) -> Event:
    return Event(t, process, type, f, value, region)  # type: ignore[arg-type]


def test_pairing_by_process_and_f() -> None:
    events = [
        _ev(1, "prober", "invoke", "probe", {"name": "a"}),
        _ev(1.1, "canary", "invoke", "write", {"key": "k1"}),
        _ev(1.2, "prober", "ok", "dns", {"answer": "127.0.2.1"}),  # bare observation mid-probe
        _ev(1.3, "canary", "info", "write", {"key": "k1"}),
        _ev(1.4, "prober", "ok", "probe", {"name": "a", "status": 200}, "us-west-2"),
        _ev(2, "prober:2", "invoke", "probe", {"name": "a"}),
    ]
    ops = pair_ops(events)
    assert [(op.process, op.f, op.type) for op in ops] == [
        ("prober", "probe", "ok"),
        ("canary", "write", "info"),
        ("prober", "dns", "ok"),
        ("prober:2", "probe", "info"),
    ]
    probe = ops[0]
    assert probe.region == "us-west-2" and probe.latency == pytest.approx(0.4)
    assert probe.value == {"name": "a", "status": 200} and probe.invoke_value == {"name": "a"}
    assert ops[2].invoke is None and ops[2].t == 1.2
    assert ops[3].completion is None and ops[3].t_end is None  # no completion = unknown outcome
    assert [op.process for op in ops_for(events, "prober", "probe")] == ["prober", "prober:2"]
    assert role_of("canary:aurora") == "canary"


def test_reinvoke_while_outstanding_leaves_first_as_info() -> None:
    events = [
        _ev(1, "canary", "invoke", "write", {"key": "k1"}),
        _ev(2, "canary", "invoke", "write", {"key": "k2"}),
        _ev(3, "canary", "ok", "write", {"key": "k2"}),
    ]
    ops = pair_ops(events)
    assert [(op.invoke_value["key"], op.type) for op in ops] == [("k1", "info"), ("k2", "ok")]


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ([], "no drill start"),
        ([_ev(1, "harness", "invoke", "drill")], "never ended"),
        ([_ev(1, "harness", "invoke", "drill"), _ev(2, "harness", "fail", "drill")], "ended with 'fail'"),
        ([_ev(2, "harness", "ok", "drill")], "without a drill start"),
        (
            [
                _ev(1, "harness", "invoke", "drill"),
                _ev(2, "harness", "ok", "drill"),
                _ev(3, "harness", "invoke", "drill"),
            ],
            "never ended",
        ),
    ],
)
def test_drill_status_incomplete(events: list[Event], reason: str) -> None:
    status = drill_status(events)
    assert not status.complete and reason in (status.reason or "")


def test_drill_status_complete() -> None:
    status = drill_status([_ev(1, "harness", "invoke", "drill"), _ev(9, "harness", "ok", "drill")])
    assert status.complete and status.start == 1 and status.end == 9 and status.reason is None
