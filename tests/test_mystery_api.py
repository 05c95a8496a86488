"""Mystery calls without a PBX: request checks (422 with the reason), campaigns planned in
their window, the plugin API, transparency to agents, the CLI.  Calls themselves are tested
against Asterisk in tests/asterisk/test_mystery_calls.py."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from medlytt import auth
from medlytt.clock import utcnow
from medlytt.events import QueueConfigured
from medlytt.plugins.mystery_calls import api as mystery
from medlytt.plugins.mystery_calls import store
from medlytt.plugins.mystery_calls.schedule import DAYS, BusinessHours
from support import MEDLYTT, medlytt_env

SECTIONS = {"mystery_calls": {"queue_numbers": {"support": "500"}, "time_zone": "Europe/Oslo"}}


def token(app, name: str, role: str, agent_id: str | None = None) -> dict[str, str]:
    def create(db):
        auth.add_user(db, name, role, agent_id=agent_id)
        return auth.create_token(db, name)[1]

    return {"Authorization": f"Bearer {app.storage.run_sync(create)}"}


@pytest.fixture
async def setup(medlytt, medlytt_client):
    async with medlytt(SECTIONS) as app:
        app.publish(QueueConfigured(at=utcnow(), source="t", queue="support"))
        app.publish(QueueConfigured(at=utcnow(), source="t", queue="sales"))
        await app.settle()
        client = await medlytt_client(app, role=None)
        yield app, client, token(app, "ada", "admin")


def soon(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"queue": "nosuch"}, "queue: unknown queue 'nosuch'"),
        ({"queue": "sales"}, "queue: 'sales' has no number in [mystery_calls] queue_numbers"),
        ({"queue": "support", "number": "555"}, 'give exactly one of "queue" or "number"'),
        ({"number": "55 5"}, "number: '55 5' is not a dialable number"),
        ({"number": "555", "mode": "human"}, 'tester: mode "human" needs the tester\'s phone'),
        ({"number": "555", "script": [{"play": "hello"}]}, "script[0].play: 'hello' is not"),
        (
            {"number": "555", "script": [{"play": "sound:../../etc/passwd"}]},
            "script[0].play: 'sound:../../etc/passwd' is not",
        ),
        ({"number": "555", "script": [{"wait": 1, "dtmf": "1"}]}, "script[0]: give exactly one"),
        ({"number": "555", "after_answer": [{"dtmf": "x"}]}, "after_answer[0].dtmf: 'x'"),
        ({"number": "555", "patience_seconds": -1}, "Expected `float` >= 0"),
        ({"number": "555", "campaign": "nosuch"}, "campaign: unknown campaign 'nosuch'"),
        ({"number": "555", "colour": "red"}, "unknown field `colour`"),
    ],
)
async def test_bad_call_requests_get_422_with_the_reason(setup, body, reason):
    app, client, admin = setup
    response = await client.post("/api/mystery-calls", json=body, headers=admin)
    assert response.status == 422
    assert reason in (await response.json())["error"]
    assert app.storage.run_sync(lambda db: db[store.CALLS].count) == 0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"schedule": "61 * * * *"}, "schedule: malformed cron expression '61 * * * *'"),
        ({"schedule": "every day"}, "schedule: malformed cron expression 'every day'"),
        (
            {"ends_at": "2020-01-01T00:00:00+00:00"},
            "ends_at 2020-01-01T00:00:00+00:00 is in the past",
        ),
        ({"starts_at": soon(days=2), "ends_at": soon(days=1)}, "ends_at must be after starts_at"),
        ({"ends_at": "2030-01-01T00:00:00"}, "ends_at must include a time zone offset"),
        ({"ends_at": "9999-12-31T00:00:00+00:00"}, "is more than 366 days ahead"),
        ({"ends_at": "5000-01-01T00:00:00+00:00"}, "is more than 366 days ahead"),
        ({"business_hours": {"mun-fri": "08:00-16:00"}}, "unknown day 'mun'"),
        (
            {"business_hours": {"mon": ",".join(f"{h:02d}:00-{h:02d}:30" for h in range(7))}},
            "business_hours['mon']: at most 6 ranges a day",
        ),
        (
            {"business_hours": {"mon-fri": "12:00-16:00,08:00-11:30"}},
            "business_hours['mon-fri']: '08:00-11:30' starts before the range before it ends",
        ),
        (
            {"business_hours": {"mon-fri": "08:00-12:00", "fri": "11:00-16:00"}},
            "business_hours: two ranges of fri overlap",
        ),
        (
            {"business_hours": {f"{d}-{d}": "08:00-09:00" for d in DAYS} | {"mon,tue": "10-11"}},
            "business_hours: at most 7 entries",
        ),
        (
            {"script": [{"play": "sound:../../etc/passwd"}]},
            "script[0].play: 'sound:../../etc/passwd' is not an Asterisk media URI",
        ),
        (
            {"after_answer": [{"play": "recording:/etc/passwd"}]},
            "after_answer[0].play: 'recording:/etc/passwd' is not",
        ),
        ({"schedule": None, "calls": 1001, "ends_at": soon(days=1)}, "at `$.calls`"),
        ({"spread_seconds": 86_401}, "at `$.spread_seconds`"),
        ({"time_zone": "Europe/Oslp"}, "unknown time zone 'Europe/Oslp'"),
        ({"name": "Weekly Check"}, "name: 'Weekly Check' must be 1-63 characters"),
        ({"schedule": None}, 'give exactly one of "schedule" (cron) or "calls"'),
        ({"schedule": None, "calls": 3, "ends_at": None}, 'ends_at: "calls" spreads calls'),
        ({"queue": "nosuch"}, "queue: unknown queue 'nosuch'"),
    ],
)
async def test_bad_campaigns_get_422_with_the_reason(setup, changes, reason):
    app, client, admin = setup
    body = {"name": "weekly", "queue": "support", "schedule": "0 9 * * 1-5", **changes}
    body = {k: v for k, v in body.items() if v is not None}
    response = await client.post("/api/mystery-campaigns", json=body, headers=admin)
    assert response.status == 422, await response.text()
    assert reason in (await response.json())["error"]
    assert app.storage.run_sync(lambda db: db[store.CAMPAIGNS].count) == 0


async def test_cron_campaign_plans_its_next_call_inside_business_hours(setup):
    _, client, admin = setup
    body = {
        "name": "weekly",
        "queue": "support",
        "schedule": "0 9 * * 1-5",
        "spread_seconds": 6 * 3600,  # 09:00-15:00, clipped to the 08:00-12:00 window
        "business_hours": {"mon-fri": "08:00-12:00"},
    }
    response = await client.post("/api/mystery-campaigns", json=body, headers=admin)
    assert response.status == 201, await response.text()
    campaign = await response.json()
    (planned,) = campaign["planned"]
    due = datetime.fromisoformat(planned["due_at"])
    assert BusinessHours.parse({"mon-fri": "09:00-12:00"}, "Europe/Oslo").is_open(due)
    assert due > datetime.now(UTC)
    again = await client.post("/api/mystery-campaigns", json=body, headers=admin)
    assert again.status == 409
    listed = await (await client.get("/api/mystery-campaigns", headers=admin)).json()
    assert [c["name"] for c in listed["campaigns"]] == ["weekly"]
    stopped = await client.patch(
        "/api/mystery-campaigns/weekly", json={"active": False}, headers=admin
    )
    assert (await stopped.json())["planned"][0]["state"] == "cancelled"


async def test_plugins_ask_for_calls_in_a_window_through_the_api(setup):
    app, _, _ = setup
    ends = utcnow() + timedelta(days=14)
    campaign = await mystery.schedule_calls(
        app,
        name="after-training-agent1",
        count=3,
        ends_at=ends,
        business_hours={"mon-fri": "08:00-16:00"},
        requested_by="plugin:telefonteknikk",
        queue="support",
        patience_seconds=180,
    )
    moments = [datetime.fromisoformat(p["due_at"]) for p in campaign["planned"]]
    assert len(moments) == 3 and moments == sorted(moments)
    hours = BusinessHours.parse({"mon-fri": "08:00-16:00"}, "Europe/Oslo")
    assert all(utcnow() < m < ends and hours.is_open(m) for m in moments)
    with pytest.raises(mystery.RequestError, match="queue: unknown queue 'x'"):
        await mystery.place_call(app, requested_by="plugin:x", queue="x")
    with pytest.raises(mystery.Refused, match="needs a PBX gateway with call control"):
        await mystery.place_call(app, requested_by="plugin:x", queue="support")


async def test_without_asterisk_a_call_is_refused_with_503(setup):
    _, client, admin = setup
    response = await client.post("/api/mystery-calls", json={"queue": "support"}, headers=admin)
    assert response.status == 503
    assert "needs a PBX gateway with call control" in (await response.json())["error"]


async def test_the_kill_switch_refuses_first_and_survives_a_restart(medlytt, medlytt_client):
    async with medlytt(SECTIONS) as app:
        client = await medlytt_client(app, role=None)
        admin = token(app, "ada", "admin")
        switched = await client.put("/api/mystery-kill-switch", json={"on": True}, headers=admin)
        assert (await switched.json())["on"] is True
    async with medlytt(SECTIONS) as app:
        client = await medlytt_client(app, role=None)
        admin = {"Authorization": admin["Authorization"]}
        state = await (await client.get("/api/mystery-kill-switch", headers=admin)).json()
        assert state["on"] is True and state["changed_by"] == "ada"
        response = await client.post("/api/mystery-calls", json={"number": "555"}, headers=admin)
        assert response.status == 503
        assert (await response.json())["limit"] == "kill_switch"
        assert app.metric("medlytt_mystery_kill_switch") == 1


async def test_a_call_left_running_by_a_crash_is_closed_as_failed_at_start(medlytt):
    async with medlytt(SECTIONS) as app:
        row = {"id": "m1", "target": "number:555", "started_at": utcnow().isoformat()}
        app.storage.run_sync(lambda db: store.insert_call(db, {**row, "outcome": "running"}))
    async with medlytt(SECTIONS) as app:
        closed = app.storage.run_sync(lambda db: store.get_call(db, "m1"))
        assert closed["outcome"] == "failed"
        assert closed["reason"] == "Medlytt stopped during the call"
        assert closed["finished_at"] is not None
        # It still counts for the hourly limit of its target.
        service = app.plugin_state["mystery_calls"][0]
        assert len(service.recent["number:555"]) == 1


async def test_agents_see_their_mystery_calls_and_audio_only_once_evaluated(setup, medlytt_client):
    app, client, admin = setup
    audio = b"RIFF....WAVEfmt "  # the route serves whatever was stored

    def finished_call(db):
        store.insert_call(
            db,
            {
                "id": "m1",
                "target": "queue:support",
                "started_at": utcnow().isoformat(),
                "outcome": "answered",
                "agent_id": "PJSIP/1001",
            },
        )

    app.storage.run_sync(finished_call)
    from medlytt import save_recording

    recording_id = await save_recording(
        app,
        audio,
        source="mystery_calls",
        call_id="c1",
        agent_id="PJSIP/1001",
        session_id="m1",
        hidden_from_agent=True,
    )
    app.storage.run_sync(lambda db: store.update_call(db, "m1", {"recording_id": recording_id}))
    agent = token(app, "ingrid", "agent", agent_id="PJSIP/1001")
    other = token(app, "ola", "agent", agent_id="PJSIP/1002")

    async def seen(headers):
        rows = await (await client.get("/api/mystery-calls", headers=headers)).json()
        return [row["id"] for row in rows["mystery_calls"]]

    assert await seen(admin) == ["m1"]
    assert await seen(agent) == []
    assert (await client.get("/api/mystery-calls/m1", headers=agent)).status == 404
    assert (await client.get(f"/api/recordings/{recording_id}", headers=agent)).status == 403

    evaluated = await client.post(
        "/api/mystery-calls/m1/evaluation", json={"notes": "warm greeting"}, headers=admin
    )
    assert evaluated.status == 200
    assert await seen(agent) == ["m1"]
    assert await seen(other) == []
    assert (await (await client.get("/api/mystery-calls/m1", headers=agent)).json())[
        "notes"
    ] == "warm greeting"
    heard = await client.get(f"/api/recordings/{recording_id}", headers=agent)
    assert heard.status == 200 and await heard.read() == audio
    assert (await client.get(f"/api/recordings/{recording_id}", headers=other)).status == 403
    refused = await client.post("/api/mystery-calls", json={"number": "5"}, headers=agent)
    assert refused.status == 403
    # An evaluation id links the recording to it: kept as long as evaluated recordings.
    linked = await client.post(
        "/api/mystery-calls/m1/evaluation", json={"evaluation_id": "ev-7"}, headers=admin
    )
    assert linked.status == 200
    stored = app.storage.run_sync(
        lambda db: db.execute(
            "SELECT evaluation_id FROM recordings WHERE id = ?", [recording_id]
        ).fetchone()[0]
    )
    assert stored == "ev-7"


def test_cli_reports_the_servers_reason_and_exits_1(tmp_path):
    result = subprocess.run(
        [
            MEDLYTT,
            "mystery",
            "call",
            "--number",
            "555",
            "--url",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=medlytt_env(),
    )
    assert result.returncode == 1, result
    assert "cannot connect to Medlytt at http://127.0.0.1:9" in result.stderr
    usage = subprocess.run(
        [MEDLYTT, "mystery", "kill-switch", "maybe"],
        capture_output=True,
        text=True,
        timeout=60,
        env=medlytt_env(),
    )
    assert usage.returncode == 2 and "'maybe' is not one of" in usage.stderr


async def test_queue_entries_go_to_their_own_call_before_any_caller_number_match(setup):
    """Two mystery calls with the same caller ID: the queue entry whose linkedid is B's
    channel is B's even though A, placed earlier, could match it by caller number."""
    from medlytt.events import CallAnswered, CallQueued
    from medlytt.plugins.mystery_calls.call import MysteryCall
    from medlytt.plugins.mystery_calls.model import CallSpec
    from medlytt.plugins.mystery_calls.service import Running

    app, _, _ = setup
    service = app.plugin_state["mystery_calls"][0]

    def call(call_id: str, spec: CallSpec) -> MysteryCall:
        made = MysteryCall(
            id=call_id,
            spec=spec,
            target="t",
            number="1",
            endpoint="Local/1@x/n",
            caller_id="Mystery <4790000001>",
            campaign=None,
            requested_by="t",
            started_at=utcnow(),
        )
        service.running[call_id] = Running(made, runner=None)  # type: ignore[arg-type]
        return made

    a = call("a", CallSpec(number="555"))
    b = call("b", CallSpec(queue="support"))
    now = utcnow()
    queued = CallQueued(
        at=now, source="t", call_id=b.channel_id, queue="support", caller_id="4790000001"
    )
    service.on_event(queued)
    assert (a.call_id, b.call_id) == (None, b.channel_id)
    # A call through a trunk comes back with a new linkedid: matched by caller number.
    c = call("c", CallSpec(queue="support"))
    service.on_event(
        CallQueued(at=now, source="t", call_id="1700.42", queue="support", caller_id="4790000001")
    )
    assert a.call_id == "1700.42" and c.call_id is None  # the oldest unmatched call takes it
    service.on_event(
        CallAnswered(
            at=now,
            source="t",
            call_id=b.channel_id,
            queue="support",
            agent_id="PJSIP/1001",
            wait_seconds=3,
        )
    )
    assert b.agent_id == "PJSIP/1001" and b.queue_seconds == 3 and a.agent_id is None
    service.running.clear()


async def test_evaluating_again_keeps_what_is_not_given_anew(setup):
    app, client, admin = setup
    row = {"id": "m2", "target": "number:555", "started_at": utcnow().isoformat()}
    app.storage.run_sync(lambda db: store.insert_call(db, {**row, "outcome": "busy"}))
    first = {"evaluation_id": "e1", "notes": "friendly"}
    await client.post("/api/mystery-calls/m2/evaluation", json=first, headers=admin)
    again = await client.post(
        "/api/mystery-calls/m2/evaluation", json={"evaluation_id": "e2"}, headers=admin
    )
    body = await again.json()
    assert (body["evaluation_id"], body["notes"]) == ("e2", "friendly")
    stop = await client.delete("/api/mystery-calls/m2", headers=admin)
    assert stop.status == 409 and "already ended (busy)" in (await stop.json())["error"]
    assert (await client.delete("/api/mystery-calls/nosuch", headers=admin)).status == 404
    switched = await client.put("/api/mystery-kill-switch", json={"on": False}, headers=admin)
    assert (await switched.json())["changed_by"] == "ada"  # who switched it off, and when


async def test_the_scheduler_places_due_calls_and_marks_missed_and_refused_ones(setup):
    """Due now: placed (here refused: no Asterisk, with the reason); due long ago (Medlytt
    was down): missed, never placed at an odd hour; a cron campaign then plans its next."""
    from medlytt.plugins.mystery_calls.campaigns import iso

    app, client, admin = setup
    _, scheduler = app.plugin_state["mystery_calls"]
    app.plugin_state["mystery_calls.task"].cancel()  # this test is the clock
    body = {"name": "burst", "number": "555", "calls": 2, "ends_at": soon(days=1)}
    assert (await client.post("/api/mystery-campaigns", json=body, headers=admin)).status == 201
    cron = {"name": "hourly", "number": "556", "schedule": "0 * * * *", "ends_at": soon(days=1)}
    assert (await client.post("/api/mystery-campaigns", json=cron, headers=admin)).status == 201
    now = utcnow()
    planned = app.storage.run_sync(lambda db: store.planned(db))
    burst = [p for p in planned if p["campaign"] == "burst"]
    (hourly,) = [p for p in planned if p["campaign"] == "hourly"]
    moved = {
        burst[0]["id"]: now - timedelta(minutes=10),
        burst[1]["id"]: now - timedelta(seconds=1),
        hourly["id"]: now - timedelta(seconds=2),
    }

    def move(db):
        for planned_id, due in moved.items():
            db.execute("UPDATE mystery_planned SET due_at = ? WHERE id = ?", [iso(due), planned_id])

    app.storage.run_sync(move)
    await scheduler.tick(now)
    rows = {r["id"]: r for r in app.storage.run_sync(lambda db: list(db["mystery_planned"].rows))}
    assert rows[burst[0]["id"]]["state"] == "missed"
    assert rows[burst[1]["id"]]["state"] == "refused"
    assert "needs a PBX gateway with call control" in rows[burst[1]["id"]]["reason"]
    assert rows[hourly["id"]]["state"] == "refused"
    following = [r for r in rows.values() if r["campaign"] == "hourly" and r["state"] == "planned"]
    assert len(following) == 1 and following[0]["due_at"] > iso(now)
    # A campaign past its end places nothing: what was planned is cancelled.
    scheduler.campaigns["hourly"].request.ends_at = now - timedelta(seconds=1)
    app.storage.run_sync(
        lambda db: db.execute(
            "UPDATE mystery_planned SET due_at = ? WHERE id = ?", [iso(now), following[0]["id"]]
        )
    )
    await scheduler.tick(now)
    ended = app.storage.run_sync(lambda db: db["mystery_planned"].get(following[0]["id"]))
    assert (ended["state"], ended["reason"]) == ("cancelled", "campaign ended")
    response = await client.post(
        "/api/mystery-calls", json={"number": "556", "campaign": "hourly"}, headers=admin
    )
    assert response.status == 409 and "ended" in (await response.json())["error"]


def test_an_unknown_time_zone_in_the_config_is_refused_naming_the_key(tmp_path):
    from medlytt.app import load_plugins
    from medlytt.config import ConfigError
    from medlytt.testing import make_config

    config = make_config({"mystery_calls": {"time_zone": "Europe/Oslp"}}, db_path=tmp_path / "m")
    with pytest.raises(ConfigError, match="mystery_calls: time_zone 'Europe/Oslp' is not a time"):
        load_plugins(config)


async def test_a_stored_campaign_over_the_limits_is_not_loaded_and_plans_nothing(medlytt, caplog):
    """Saved before business_hours were bounded (2,760 ranges once planned for minutes on
    the event loop): at start it is named in the log and left out, its planned call is
    cancelled when due instead of being placed."""
    from medlytt.plugins.mystery_calls.campaigns import iso

    crowded = {
        day: ",".join(
            f"{m // 60:02d}:{m % 60:02d}-{m // 60:02d}:{m % 60 + 1:02d}"
            for m in range(0, 788, 2)
            if m % 60 < 59
        )
        for day in DAYS
    }
    spec = {"name": "crowded", "number": "555", "calls": 1000, "ends_at": soon(days=365)}
    async with medlytt(SECTIONS) as app:

        def saved_long_ago(db):
            row = {
                "name": "crowded",
                "spec": json.dumps({**spec, "business_hours": crowded}),
                "active": 1,
                "created_at": iso(utcnow()),
                "created_by": "ada",
            }
            store.save_campaign(db, row, [iso(utcnow() - timedelta(seconds=1))])

        app.storage.run_sync(saved_long_ago)
    with caplog.at_level("ERROR"):
        async with medlytt(SECTIONS) as app:
            _, scheduler = app.plugin_state["mystery_calls"]
            app.plugin_state["mystery_calls.task"].cancel()  # this test is the clock
            assert "crowded" not in scheduler.campaigns
            await scheduler.tick(utcnow())
            (row,) = app.storage.run_sync(lambda db: list(db["mystery_planned"].rows))
            assert (row["state"], row["reason"]) == ("cancelled", "campaign stopped")
    assert "mystery campaign crowded not loaded, recreate it: business_hours['mon']" in caplog.text


async def test_at_most_max_active_campaigns_run_at_once(setup):
    from medlytt.plugins.mystery_calls.campaigns import MAX_ACTIVE_CAMPAIGNS

    app, client, admin = setup
    _, scheduler = app.plugin_state["mystery_calls"]
    app.plugin_state["mystery_calls.task"].cancel()
    body = {"number": "555", "calls": 1, "ends_at": soon(days=1)}
    for n in range(MAX_ACTIVE_CAMPAIGNS):
        await mystery.schedule_calls(
            app,
            name=f"c{n}",
            count=1,
            ends_at=utcnow() + timedelta(days=1),
            requested_by="t",
            number="555",
        )
    refused = await client.post(
        "/api/mystery-campaigns", json={**body, "name": "one-more"}, headers=admin
    )
    assert refused.status == 409, await refused.text()
    assert (await refused.json())["limit"] == "max_active_campaigns"
    stopped = await client.patch("/api/mystery-campaigns/c0", json={"active": False}, headers=admin)
    assert stopped.status == 200
    again = await client.post(
        "/api/mystery-campaigns", json={**body, "name": "one-more"}, headers=admin
    )
    assert again.status == 201, await again.text()
    assert len(scheduler.campaigns) == MAX_ACTIVE_CAMPAIGNS + 1
