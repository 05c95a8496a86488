"""Queue metrics against a real Asterisk: every number equals Asterisk's own queue_log.

32 calls over two queues (answered with different ring and talk times, abandoned,
timed out).  The expected counts and sums are read from queue_log after the calls, never
written into the test.  The one number Medlytt cannot read from Asterisk, a timed-out
call's wait (counted from whole-second AMI stamps), equals queue_log's to the second.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict

from medlytt import events as ev
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox, place_call
from medlytt.testing import TestMedlytt, wait_until

FINAL = {"CONNECT": "answered", "ABANDON": "abandoned", "EXITWITHTIMEOUT": "timeout"}


def plan(count: int) -> list[tuple[str, dict]]:
    calls = []
    for i in range(count):
        queue = ("support", "sales")[i % 2]
        kind = ("answered", "answered", "abandoned", "timeout")[(i // 2) % 4]
        if kind == "answered":
            calls.append((queue, {"ring": 0.5 + (i % 3) * 0.5, "talk": 1 + i % 3, "patience": 60}))
        elif kind == "abandoned":
            calls.append((queue, {"ring": 6, "patience": 1 + i % 3}))
        else:
            calls.append((queue, {"answer": False, "max_wait": 1 + i % 2}))
    return calls


async def test_counters_and_histograms_equal_queue_log(
    app: TestMedlytt, asterisk_sandbox: AsteriskSandbox
):
    first_answered: dict[str, float] = {}

    async def watch_first_answer() -> None:
        """When does the answered counter first move? (for the latency check)"""
        labels = {"queue": "support", "outcome": "answered"}
        while not first_answered:
            if app.metric("medlytt_queue_calls_total", labels):
                first_answered["seen"] = time.time()
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch_first_answer())
    callids = []
    for queue, options in plan(32):
        callids.append(await asyncio.to_thread(place_call, asterisk_sandbox, queue, **options))
        await asyncio.sleep(0.25)

    def finished() -> bool:
        done = {line.callid for line in asterisk_sandbox.queue_log() if line.event in FINAL}
        completes = {
            line.callid
            for line in asterisk_sandbox.queue_log()
            if line.event.startswith("COMPLETE")
        }
        answered = {line.callid for line in asterisk_sandbox.queue_log() if line.event == "CONNECT"}
        return set(callids) <= done and answered & set(callids) <= completes

    await wait_until(finished, timeout=180, interval=0.5)
    await wait_until(lambda: not app.state.calls, timeout=10)
    await app.settle()
    watcher.cancel()

    # What Asterisk wrote, per queue and outcome.
    counts: Counter[tuple[str, str]] = Counter()
    waits: defaultdict[tuple[str, str], int] = defaultdict(int)
    talk: defaultdict[str, int] = defaultdict(int)
    ours = set(callids)
    for line in asterisk_sandbox.queue_log():
        if line.callid not in ours:
            continue
        if line.event in FINAL:
            key = (line.queue, FINAL[line.event])
            counts[key] += 1
            waits[key] += line.field_int(0) if line.event == "CONNECT" else line.field_int(2)
        elif line.event.startswith("COMPLETE"):
            talk[line.queue] += line.field_int(1)
    assert sum(counts.values()) == 32
    assert {outcome for _, outcome in counts} == {"answered", "abandoned", "timeout"}

    # A timed-out call's wait is derived from AMI stamps (whole seconds): the join's second
    # is never before app_queue's start and the exit's never before its own clock read, so
    # each wait is within one second of queue_log's either way; the metric must hold
    # exactly what Medlytt recorded, and queue_log to that second per call.
    timed_out = {
        e.call_id.removeprefix("phone-"): e  # Medlytt's call id is the caller's Linkedid
        for e in app.plugin_state["recorder"]
        if isinstance(e, ev.CallTimedOut) and e.call_id.removeprefix("phone-") in ours
    }
    logged_timeouts = {
        line.callid: line
        for line in asterisk_sandbox.queue_log()
        if line.callid in ours and line.event == "EXITWITHTIMEOUT"
    }
    assert set(timed_out) == set(logged_timeouts)
    for callid, event in timed_out.items():
        line = logged_timeouts[callid]
        assert event.queue == line.queue, (event, line)
        assert abs(event.wait_seconds - line.field_int(2)) <= 1, (event, line)

    for queue in ("support", "sales"):
        for outcome in ("answered", "abandoned", "timeout", "other"):
            labels = {"queue": queue, "outcome": outcome}
            expected = counts[(queue, outcome)]
            assert app.metric("medlytt_queue_calls_total", labels) == expected, labels
            assert app.metric("medlytt_queue_wait_seconds_count", labels) == expected, labels
            wait_sum = app.metric("medlytt_queue_wait_seconds_sum", labels)
            if outcome == "timeout":
                recorded = sum(e.wait_seconds for e in timed_out.values() if e.queue == queue)
                assert wait_sum == recorded, labels
                assert abs(wait_sum - waits[(queue, outcome)]) <= expected, labels
            else:  # Asterisk's own HoldTime: exact
                assert wait_sum == waits[(queue, outcome)], labels
        assert app.metric("medlytt_call_talk_seconds_sum", {"queue": queue}) == talk[queue]
        assert (
            app.metric("medlytt_call_talk_seconds_count", {"queue": queue})
            == counts[(queue, "answered")]
        )
        assert app.metric("medlytt_queue_calls_waiting", {"queue": queue}) == 0

    # The metric moves after the moment Asterisk stamped the event, and soon after it on
    # a loaded machine too (the latency goal itself lives in benchmarks/).
    answered = next(
        e
        for e in app.plugin_state["recorder"]
        if isinstance(e, ev.CallAnswered) and e.queue == "support"
    )
    latency = first_answered["seen"] - answered.at.timestamp()
    print(f"metric visible {latency * 1000:.1f} ms after Asterisk's event timestamp")
    assert 0 <= latency < 1.0
