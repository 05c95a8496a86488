"""Every published event becomes one journal row, also across a SIGTERM."""

import asyncio
import json
import sqlite3
import urllib.request

from medlytt.clock import utcnow
from medlytt.events import CallQueued, decode_event
from medlytt.testing import poll_until, sample_value, wait_until
from sample_plugins import recorder


def rows(db_path) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(
            "SELECT seq, type, call_id, queue, data FROM events ORDER BY seq"
        ).fetchall()


async def test_events_are_written_in_batches_and_flushed_on_stop(medlytt, tmp_path):
    settings = {"storage": {"journal_batch_size": 100, "journal_flush_seconds": 3600}}
    async with medlytt(settings, plugins=[("recorder", recorder)]) as app:
        events = [
            CallQueued(at=utcnow(), source="test", call_id=f"c{i}", queue="support")
            for i in range(150)
        ]
        for event in events[:100]:
            app.publish(event)
        # A full batch wakes the background writer at once.
        await wait_until(lambda: app.journal.written == 100, timeout=5)
        for event in events[100:]:
            app.publish(event)
        await asyncio.sleep(0.3)
        # Less than a batch waits in memory until the flush interval or the stop.
        assert (app.journal.written, app.journal.pending) == (100, 50)
    stored = rows(tmp_path / "medlytt.db")
    assert len(stored) == 150
    assert [decode_event(r[4]) for r in stored] == events
    assert stored[0][1:4] == ("call.queued", "c0", "support")


async def test_api_events_reads_the_journal(medlytt, medlytt_client):
    async with medlytt() as app:
        for i in range(5):
            app.publish(CallQueued(at=utcnow(), source="test", call_id=f"c{i}", queue="q"))
        client = await medlytt_client(app)
        body = await (await client.get("/api/events?after=2&limit=2")).json()
        assert [r["seq"] for r in body["events"]] == [3, 4]
        assert body["events"][0]["event"]["call_id"] == "c2"
        bad = await client.get("/api/events?limit=many")
        assert bad.status == 422
        assert "limit" in (await bad.json())["error"]


def test_sigterm_loses_no_event(serve, tmp_path):
    """N events published, then SIGTERM before any timed flush: N rows."""
    count = 5000
    db = tmp_path / "journal.db"
    server = serve(
        MEDLYTT_STORAGE__PATH=str(db),
        MEDLYTT_STORAGE__JOURNAL_FLUSH_SECONDS="3600",
        MEDLYTT_STORAGE__JOURNAL_BATCH_SIZE="100000",
        MEDLYTT_PLUGINS__MODULES='["sample_plugins.burst"]',
        MEDLYTT_BURST__COUNT=str(count),
        MEDLYTT_DEMO__ENABLED="false",
    )

    def published() -> float | None:
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        return sample_value(text, "medlytt_events_total", {"source": "burst"})

    def pending() -> float | None:
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as r:
            return sample_value(r.read().decode(), "medlytt_journal_pending_events")

    poll_until(lambda: published() == count, timeout=15, what=f"{count} events published")
    assert pending() == count  # nothing written yet: the flush interval is an hour away
    assert server.terminate() == 0, server.log.read_text()
    stored = rows(db)
    assert len(stored) == count
    assert {json.loads(r[4])["source"] for r in stored} == {"burst"}
