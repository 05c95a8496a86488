"""Queue intervals: traffic per queue per interval, stored by adding, served per day."""

import asyncio
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from medlytt import events as ev
from medlytt.app import load_plugins
from medlytt.config import ConfigError
from medlytt.events import AgentState
from medlytt.plugins.queue_intervals.intervals import day_intervals
from medlytt.testing import make_config

DAY = "2025-03-03"
SRC = "test"


def at(hhmmss: str, day: str = DAY) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmmss}+00:00")


def traffic(queue: str = "support") -> list[ev.Event]:
    def answered(t, call_id, wait, agent="A1"):
        return ev.CallAnswered(
            at=at(t), source=SRC, call_id=call_id, queue=queue, agent_id=agent, wait_seconds=wait
        )

    def ended(t, call_id, talk, agent="A1"):
        return ev.CallEnded(
            at=at(t),
            source=SRC,
            call_id=call_id,
            queue=queue,
            agent_id=agent,
            hung_up_by="caller",
            talk_seconds=talk,
        )

    def agent(t, state):
        return ev.AgentStateChanged(at=at(t), source=SRC, agent_id="A1", state=state)

    return [
        ev.QueueConfigured(at=at("09:00:00"), source=SRC, queue=queue),
        # c2: 10:05 arrival, answered after 9 s, 100 s talk, no wrap-up.
        ev.CallQueued(at=at("10:05:00"), source=SRC, call_id="c2", queue=queue),
        answered("10:05:09", "c2", 9),
        ended("10:06:49", "c2", 100),
        agent("10:06:49", AgentState.AVAILABLE),
        # c1: arrives 10:14:59, answered 10:15:30: counted in 10:00, with its talk and wrap-up.
        ev.CallQueued(at=at("10:14:59"), source=SRC, call_id="c1", queue=queue),
        answered("10:15:30", "c1", 31),
        agent("10:15:30", AgentState.ON_CALL),
        ended("10:20:30", "c1", 300),
        agent("10:20:30", AgentState.WRAP_UP),
        agent("10:21:00", AgentState.AVAILABLE),
        # c3 abandons and c4 times out, both arrived in 10:15 and left in 10:30.
        ev.CallQueued(at=at("10:20:00"), source=SRC, call_id="c3", queue=queue),
        ev.CallAbandoned(
            at=at("10:31:00"), source=SRC, call_id="c3", queue=queue, wait_seconds=660
        ),
        ev.CallQueued(at=at("10:29:00"), source=SRC, call_id="c4", queue=queue),
        ev.CallTimedOut(at=at("10:40:00"), source=SRC, call_id="c4", queue=queue, wait_seconds=660),
        # c5's arrival was never seen: its answer counts in the answer's own interval.
        answered("11:02:00", "c5", 5, agent="A2"),
    ]


async def get_day(client, queue="support", day=DAY):
    response = await client.get(f"/api/queues/{queue}/intervals", params={"date": day})
    assert response.status == 200, await response.text()
    return await response.json()


def by_start(body):
    return {row["start"]: row for row in body["intervals"]}


def zero(start, end):
    return {
        "start": start,
        "end": end,
        "offered": 0,
        "answered": 0,
        "abandoned": 0,
        "timeout": 0,
        "mean_wait_seconds": None,
        "aht_seconds": None,
    }


async def test_counts_land_in_the_interval_of_arrival(medlytt, medlytt_client):
    async with medlytt() as app:
        for event in traffic():
            app.publish(event)
        await app.settle()
        body = await get_day(await medlytt_client(app))

    assert (body["queue"], body["date"], body["timezone"]) == ("support", DAY, "UTC")
    assert body["interval_minutes"] == 15
    rows = body["intervals"]
    assert len(rows) == 96
    assert rows[0]["start"] == f"{DAY}T00:00:00+00:00"
    assert rows[0]["end"] == f"{DAY}T00:15:00+00:00"
    assert rows[-1]["end"] == "2025-03-04T00:00:00+00:00"
    assert [r["start"] for r in rows] == sorted(r["start"] for r in rows)
    rows = by_start(body)
    assert rows[f"{DAY}T10:00:00+00:00"] == {
        "start": f"{DAY}T10:00:00+00:00",
        "end": f"{DAY}T10:15:00+00:00",
        "offered": 2,
        "answered": 2,
        "abandoned": 0,
        "timeout": 0,
        "mean_wait_seconds": 20.0,  # (9 + 31) / 2
        "aht_seconds": 215.0,  # (100 + 300 talk + 30 wrap-up) / 2 handled
    }
    quarter = rows[f"{DAY}T10:15:00+00:00"]
    assert (quarter["offered"], quarter["abandoned"], quarter["timeout"]) == (2, 1, 1)
    assert quarter["answered"] == 0 and quarter["mean_wait_seconds"] is None
    assert rows[f"{DAY}T10:30:00+00:00"] == zero(f"{DAY}T10:30:00+00:00", f"{DAY}T10:45:00+00:00")
    eleven = rows[f"{DAY}T11:00:00+00:00"]
    assert (eleven["offered"], eleven["answered"], eleven["mean_wait_seconds"]) == (0, 1, 5.0)
    busy = {start for start, row in rows.items() if row != zero(row["start"], row["end"])}
    assert busy == {f"{DAY}T10:00:00+00:00", f"{DAY}T10:15:00+00:00", f"{DAY}T11:00:00+00:00"}


async def test_a_day_without_traffic_is_all_zeros(medlytt, medlytt_client):
    async with medlytt({"queue_intervals": {"interval_minutes": 30}}) as app:
        for event in traffic():
            app.publish(event)
        await app.settle()
        body = await get_day(await medlytt_client(app), day="2025-03-04")
    assert body["interval_minutes"] == 30
    assert len(body["intervals"]) == 48
    assert all(row == zero(row["start"], row["end"]) for row in body["intervals"])


async def test_bad_date_and_unknown_queue_are_json_errors(medlytt, medlytt_client):
    async with medlytt() as app:
        app.publish(ev.QueueConfigured(at=at("09:00:00"), source=SRC, queue="support"))
        await app.settle()
        client = await medlytt_client(app)
        for bad in ("03/03/2025", "2025-02-30", "20250303", "yesterday"):
            response = await client.get("/api/queues/support/intervals", params={"date": bad})
            assert response.status == 422, bad
            body = await response.json()
            assert body["status"] == 422
            assert "date" in body["error"] and "YYYY-MM-DD" in body["error"]
        response = await client.get("/api/queues/nosuch/intervals", params={"date": DAY})
        assert response.status == 404
        assert "nosuch" in (await response.json())["error"]
        # Without ?date= the answer is today's, in the configured zone.
        response = await client.get("/api/queues/support/intervals")
        assert response.status == 200
        today = datetime.now(UTC).date().isoformat()
        assert (await response.json())["date"] == today


async def test_intervals_follow_the_configured_time_zone(medlytt, medlytt_client):
    async with medlytt({"queue_intervals": {"timezone": "Europe/Oslo"}}) as app:
        app.publish(
            ev.CallQueued(at=at("22:50:00", "2026-06-01"), source=SRC, call_id="c", queue="q")
        )
        await app.settle()
        body = await get_day(await medlytt_client(app), queue="q", day="2026-06-02")
    assert body["timezone"] == "Europe/Oslo"
    rows = by_start(body)
    assert body["intervals"][0]["start"] == "2026-06-02T00:00:00+02:00"
    assert rows["2026-06-02T00:45:00+02:00"]["offered"] == 1
    assert rows["2026-06-02T00:45:00+02:00"]["end"] == "2026-06-02T01:00:00+02:00"
    assert sum(row["offered"] for row in body["intervals"]) == 1


async def test_counts_survive_a_restart_and_add_up(medlytt, medlytt_client):
    async with medlytt({"queue_intervals": {"flush_seconds": 3600}}) as app:
        for event in traffic():
            app.publish(event)
        await app.settle()
    # Nothing was flushed by the timer: the clean stop wrote everything.
    async with medlytt() as app:
        client = await medlytt_client(app)
        before = by_start(await get_day(client))  # known from stored rows alone
        assert before[f"{DAY}T10:00:00+00:00"]["offered"] == 2
        for event in traffic():
            app.publish(event)
        await app.settle()
        after = by_start(await get_day(client))
    ten = after[f"{DAY}T10:00:00+00:00"]
    assert (ten["offered"], ten["answered"]) == (4, 4)
    assert (ten["mean_wait_seconds"], ten["aht_seconds"]) == (20.0, 215.0)
    quarter = after[f"{DAY}T10:15:00+00:00"]
    assert (quarter["offered"], quarter["abandoned"], quarter["timeout"]) == (4, 2, 2)


async def test_pending_counts_are_written_every_flush_seconds(medlytt):
    async with medlytt({"queue_intervals": {"flush_seconds": 0.05}}) as app:
        app.publish(ev.CallQueued(at=at("08:00:00"), source=SRC, call_id="c", queue="q"))
        await app.settle()

        def stored(db):
            return [(r["interval_start"], r["offered"]) for r in db["queue_intervals"].rows]

        rows = []
        for _ in range(250):  # no request asks for a flush: only the timer writes
            rows = await app.storage.run(stored)
            if rows:
                break
            await asyncio.sleep(0.02)
        assert rows == [(f"{DAY}T08:00:00+00:00", 1)]


@pytest.mark.parametrize(
    ("zone", "day", "rows", "first", "last"),
    [
        ("Europe/Oslo", "2026-03-29", 92, "00:00:00+01:00", "23:45:00+02:00"),
        ("Europe/Oslo", "2026-10-25", 100, "00:00:00+02:00", "23:45:00+01:00"),
        ("Asia/Kolkata", "2026-06-01", 96, "00:00:00+05:30", "23:45:00+05:30"),
    ],
)
def test_daylight_saving_days_have_more_or_fewer_intervals(zone, day, rows, first, last):
    starts = day_intervals(date.fromisoformat(day), ZoneInfo(zone), 15)
    assert len(starts) == rows == len({s.isoformat() for s in starts})
    assert (starts[0].isoformat(), starts[-1].isoformat()) == (f"{day}T{first}", f"{day}T{last}")


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"interval_minutes": 7}, "interval_minutes"),
        ({"interval_minutes": 120}, "interval_minutes"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"flush_seconds": 0}, "flush_seconds"),
        ({"interval_minuets": 15}, "interval_minuets"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, section, key):
    config = make_config({"queue_intervals": section}, db_path=tmp_path / "medlytt.db")
    with pytest.raises(ConfigError) as info:
        load_plugins(config)
    assert "queue_intervals" in str(info.value)
    assert key in str(info.value)


def test_good_settings_are_accepted(tmp_path):
    config = make_config(
        {"queue_intervals": {"interval_minutes": "20", "timezone": "America/St_Johns"}},
        db_path=tmp_path / "medlytt.db",
    )
    _, configs = load_plugins(config)
    settings = configs["queue_intervals"]
    assert (settings.interval_minutes, settings.timezone) == (20, "America/St_Johns")
