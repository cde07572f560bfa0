"""The DynamoDB replicator sleeps while idle and wakes on a write through a gateway.

No lab: the replication round is replaced by a recorder, so what is tested is the loop's schedule.
"""

from __future__ import annotations

import threading
import time

from werkzeug.wrappers import Response

from drharness.lab.ddb_replicator import DynamoDBReplicator, ddb_write_hook
from drharness.lab.faults import Faults
from drharness.lab.gateway import ApiCall

REGIONS = ("us-east-1", "us-west-2")


def _replicator(busy: list[bool]) -> tuple[DynamoDBReplicator, list[float]]:
    repl = DynamoDBReplicator("http://127.0.0.1:9", REGIONS, "orders", Faults(REGIONS), poll_s=0.01,
                              idle_poll_s=30.0)
    rounds: list[float] = []
    ran = threading.Event()

    def step() -> bool:
        rounds.append(time.monotonic())
        ran.set()
        return busy.pop(0) if busy else False

    repl.step = step  # type: ignore[method-assign]
    repl._ran = ran  # type: ignore[attr-defined]
    return repl, rounds


def _call(action: str) -> ApiCall:
    return ApiCall("us-east-1", "dynamodb", "us-east-1", action, "POST", "/", {}, b"")


def test_an_idle_replicator_waits_for_a_write_and_a_write_wakes_it() -> None:
    repl, rounds = _replicator([])
    repl._thread.start()
    try:
        deadline = time.monotonic() + 5
        while len(rounds) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(rounds) == 1  # the first round, after poll_s
        time.sleep(0.3)
        assert len(rounds) == 1, "idle: no round before idle_poll_s (30 s) unless woken"
        hook = ddb_write_hook(repl)
        hook(_call("GetItem"), Response(status=200))
        time.sleep(0.3)
        assert len(rounds) == 1, "a read does not wake it"
        hook(_call("PutItem"), Response(status=400))
        time.sleep(0.3)
        assert len(rounds) == 1, "a refused write does not wake it"
        hook(_call("PutItem"), Response(status=200))
        deadline = time.monotonic() + 5
        while len(rounds) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(rounds) == 2, "a write through a gateway wakes the replicator"
    finally:
        repl.stop()


def test_a_busy_round_keeps_polling_without_a_wake() -> None:
    repl, rounds = _replicator([True, True, False])  # records seen twice, then idle
    repl._thread.start()
    try:
        deadline = time.monotonic() + 5
        while len(rounds) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(rounds) == 3
        time.sleep(0.3)
        assert len(rounds) == 3
    finally:
        repl.stop()
