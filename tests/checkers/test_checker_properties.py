"""Property tests: an incomplete history never passes; compose obeys false > unknown > true;
checkers never crash with anything but a HistoryError on arbitrary vocabulary soup."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drharness.checkers import CHECKERS, Result, check_safe, compose, merge_valid, rpo, rto
from drharness.history import Event, HistoryError, LoadedHistory

T0 = 1_764_000_000.0
VALIDS = st.sampled_from([True, False, "unknown"])
REGIONS = st.sampled_from(["us-east-1", "us-west-2", None])
STORES = st.sampled_from(["aurora", "dynamodb", "s3"])
TIMES = st.floats(0, 1000, allow_nan=False)
TYPES = st.sampled_from(["invoke", "ok", "fail", "info"])
KEYS = st.integers(0, 15).map(lambda i: f"k{i}")


def _e(t: float, process: str, type: str, f: str, value: Any, region: str | None = None) -> Event:
    return Event(T0 + t, process, type, f, value, region)  # type: ignore[arg-type]


EVENTS = st.one_of(
    st.builds(
        lambda t, ty, r, s, p: _e(
            t, p, ty, "probe", {"name": "a", "ip": "127.0.2.1", "status": s, "latency_ms": 1}, r
        ),
        TIMES,
        TYPES,
        REGIONS,
        st.sampled_from([200, 503, None]),
        st.sampled_from(["prober", "prober:2"]),
    ),
    st.builds(
        lambda t, ty, r, s, k: _e(t, f"canary:{s}", ty, "write", {"store": s, "key": k, "seq": 1}, r),
        TIMES,
        TYPES,
        REGIONS,
        STORES,
        KEYS,
    ),
    st.builds(
        lambda t, r, s, ks: _e(t, "verifier", "ok", "read-all", {"store": s, "region": r, "keys": ks}, r),
        TIMES,
        REGIONS,
        STORES,
        st.lists(KEYS, max_size=8),
    ),
    st.builds(
        lambda t, ty, r: _e(t, "nemesis", ty, "fault", {"fault": "region-isolation", "target_region": r}, r),
        TIMES,
        st.sampled_from(["invoke", "ok"]),
        REGIONS,
    ),
    st.builds(
        lambda t, ty, s: _e(t, "orchestrator", ty, "step", {"step": s}),
        TIMES,
        TYPES,
        st.sampled_from(["decision", "fence", "aurora_promotion", "dns", "warmup", "validation"]),
    ),
    st.builds(
        lambda t, r, ttl: _e(
            t, "prober", "ok", "dns", {"name": "a", "answer": "127.0.1.1", "ttl": ttl, "region": r}
        ),
        TIMES,
        REGIONS,
        st.sampled_from([10, 60, None]),
    ),
    st.builds(
        lambda t, s, lag: _e(t, "lag", "ok", "lag", {"store": s, "lag_ms": lag}),
        TIMES,
        STORES,
        st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)),
    ),
    st.builds(
        lambda t, r, h: _e(t, "aggregator", "ok", "verdict", {"region": r, "healthy": h, "root_cause": None}),
        TIMES,
        REGIONS,
        st.booleans(),
    ),
    st.builds(
        lambda t, v: _e(t, "prober", "ok", "probe", v),
        TIMES,
        st.one_of(
            st.none(), st.integers(), st.text(max_size=3), st.dictionaries(st.text(max_size=3), st.integers())
        ),
    ),
)
SOUP = st.lists(EVENTS, max_size=60).map(lambda es: sorted(es, key=lambda e: e.t))
ENDINGS = st.sampled_from(["none", "start-only", "fail-end", "info-end", "end-without-start", "torn"])


def _with_drill(events: list[Event], ending: str) -> list[Event]:
    start = [_e(-1, "harness", "invoke", "drill", {"scenario": "x"})]
    if ending == "none":
        return events
    if ending == "start-only":
        return start + events
    if ending in ("fail-end", "info-end"):
        return start + events + [_e(2000, "harness", ending.split("-")[0], "drill", None)]
    if ending == "end-without-start":
        return events + [_e(2000, "harness", "ok", "drill", None)]
    torn = LoadedHistory(start + events + [_e(2000, "harness", "ok", "drill", None)], torn_line=99)
    return torn


@given(st.lists(VALIDS, max_size=12))
def test_compose_false_beats_unknown_beats_true(valids: list[Any]) -> None:
    got = compose(Result(name=f"r{i}", valid=v) for i, v in enumerate(valids)).valid
    if any(v is False for v in valids):
        assert got is False
    elif any(v == "unknown" for v in valids) or not valids:
        assert got == "unknown"
    else:
        assert got is True


@given(st.lists(st.lists(VALIDS, min_size=1, max_size=5), min_size=1, max_size=5))
def test_compose_is_associative(groups: list[list[Any]]) -> None:
    nested = compose(compose(Result(name="r", valid=v) for v in g) for g in groups).valid
    flat = merge_valid(v for g in groups for v in g)
    assert nested == flat and (nested is True) == (flat is True)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(SOUP, ENDINGS)
def test_incomplete_soup_is_always_unknown(events: list[Event], ending: str) -> None:
    history = _with_drill(events, ending)
    for name, fn in CHECKERS.items():
        r = check_safe(fn, history, name=name)
        assert r.valid == "unknown", (name, r.detail)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(SOUP)
def test_checkers_only_ever_reject_a_history_with_history_error(events: list[Event]) -> None:
    history = _with_drill(events, "start-only")
    history.append(_e(2000, "harness", "ok", "drill", None))
    for fn in CHECKERS.values():
        try:
            r = fn(history, None)
        except HistoryError:
            continue
        assert isinstance(r, Result) and r.valid in (True, False, "unknown")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    recover_after=st.floats(1, 1200),
    lost=st.sets(st.sampled_from([f"{s}-{i}" for s in ("aurora", "dynamodb", "s3") for i in (1, 50, 99)])),
    cut=st.floats(0, 1, exclude_max=True),
    data=st.data(),
)
def test_any_strict_prefix_of_a_drill_is_unknown(
    outage: Any, recover_after: float, lost: set[str], cut: float, data: Any
) -> None:
    events = outage(recover_at=100 + recover_after, lost=lost).build()
    assert events[-1].process == "harness" and events[-1].type == "ok"
    prefix = events[: int(cut * len(events))]
    for fn in (rto.check, rpo.check):
        assert fn(prefix, None).valid == "unknown"
    assert all(check_safe(fn, prefix).valid == "unknown" for fn in CHECKERS.values())
