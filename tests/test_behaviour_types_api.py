"""Behaviour types through events and the API: the mirroring signal of real talk events,
tags by the listener (who may tag which call), how each type's calls go per agent, the
metrics, the module and its form."""

from __future__ import annotations

from datetime import datetime, timedelta

from medlytt import CallAnswered, CallEnded, Event, TalkStopped
from medlytt.plugins.behaviour_types.store import CALLS
from medlytt.plugins.sales.events import SalesOutcome
from medlytt.plugins.surveys.events import SurveyFinished
from medlytt.testing import add_user_with_token

A1, B1 = "PJSIP/1001", "PJSIP/2001"
T0 = datetime.fromisoformat("2026-11-30T10:00:00+00:00")


def call(call_id: str, agent: str, pairs: list[tuple[float, float]], start: datetime = T0):
    """A queue call whose customer and agent talk in these (customer, agent) turn pairs."""
    events: list[Event] = [
        CallAnswered(
            at=start, source="t", call_id=call_id, queue="q", agent_id=agent, wait_seconds=3
        )
    ]
    t = 1.0
    for customer, answer in pairs:
        for leg, seconds in (("caller", customer), ("agent", answer)):
            t += seconds
            events.append(
                TalkStopped(
                    at=start + timedelta(seconds=t),
                    source="t",
                    call_id=call_id,
                    leg=leg,
                    duration_seconds=seconds,
                    agent_id=agent if leg == "agent" else None,
                )
            )
            t += 1
    events.append(
        CallEnded(
            at=start + timedelta(seconds=t),
            source="t",
            call_id=call_id,
            queue="q",
            agent_id=agent,
            hung_up_by="caller",
            talk_seconds=t,
        )
    )
    return events


CONVERGING = [(2, 12), (2, 10), (2, 8), (3, 6), (2, 4), (2, 3)]
DIVERGING = [(4, 4), (4, 6), (3, 8), (4, 10), (3, 12)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def world(app, medlytt_client):
    who = {
        "a1": bearer(add_user_with_token(app, "a1", "agent", teams=["a"], agent_id=A1)),
        "b1": bearer(add_user_with_token(app, "b1", "agent", teams=["b"], agent_id=B1)),
        "sup-a": bearer(add_user_with_token(app, "sup-a", "supervisor", teams=["a"])),
        "sup-b": bearer(add_user_with_token(app, "sup-b", "supervisor", teams=["b"])),
    }
    admin = await medlytt_client(app)
    switched = await admin.put("/api/teams/a/modules/behaviour-types", json={"active": True})
    assert switched.status == 200
    return admin, who


async def test_calls_are_measured_tagged_and_summed_up_per_agent(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        minute = timedelta(minutes=1)
        for event in (
            call("c1", A1, CONVERGING)
            + call("c2", A1, DIVERGING, T0 + minute)
            + call("c3", A1, CONVERGING[:2], T0 + 2 * minute)
            + call("b1-call", B1, CONVERGING, T0 + 3 * minute)  # team b: module off
        ):
            app.publish(event)
        await app.settle()
        listed = await admin.get("/api/behaviour-types")
        rows = {r["call_id"]: r for r in (await listed.json())["calls"]}
        assert set(rows) == {"c1", "c2", "c3"}
        assert [rows[c]["direction"] for c in ("c1", "c2", "c3")] == [
            "converging",
            "diverging",
            "too_short",
        ]
        assert rows["c1"]["pairs"] == 6 and rows["c1"]["slope"] < 0 < rows["c2"]["slope"]
        # The call's talk time: a second before the first turn, then each turn and a second.
        assert rows["c1"]["handle_seconds"] == 1 + sum(map(sum, CONVERGING)) + 2 * 6
        assert app.metric("medlytt_mirroring_calls_total", {"direction": "converging"}) == 1
        assert app.metric("medlytt_mirroring_calls_total", {"direction": "flat"}) == 0

        # The listener tags; a second tag replaces the first.
        for call_id, kind in (("c1", "analytical"), ("c2", "driver"), ("c3", "driver")):
            response = await admin.post(
                f"/api/behaviour-types/{call_id}", json={"type": kind}, headers=who["sup-a"]
            )
            assert response.status == 200, await response.text()
        again = await admin.post("/api/behaviour-types/c3", json={"type": "analytical"})
        assert (await again.json())["replaced"] == "driver"
        assert app.metric("medlytt_behaviour_type_calls", {"type": "analytical"}) == 2
        assert app.metric("medlytt_behaviour_type_calls", {"type": "amiable"}) == 0

        # What comes after the call: the survey and the sales outcome.
        app.publish(
            SurveyFinished(
                at=T0,
                source="t",
                survey_id="s1",
                call_id="c1",
                queue="q",
                agent_id=A1,
                result="completed",
                answers={"satisfaction": "5", "solved": "3", "nps": "no_answer"},
            )
        )
        # The sales plugin's event (docs/sales.md), as a PUT /api/calls/{id}/outcome sends it.
        for call_id, agent in (("c2", A1), ("b1-call", B1)):
            app.publish(
                SalesOutcome(
                    at=T0, source="t", call_id=call_id, agent_id=agent, queue="q", outcome="sale"
                )
            )
        await app.settle()

        summary = await admin.get("/api/behaviour-types/agents", headers=who["a1"])
        body = await summary.json()
        assert body["types"] == ["driver", "expressive", "amiable", "analytical"]
        [agent] = body["agents"]
        assert agent["agent_id"] == A1 and (agent["calls"], agent["tagged"]) == (3, 3)
        analytical, driver = agent["types"]["analytical"], agent["types"]["driver"]
        assert (analytical["calls"], analytical["share"]) == (2, 0.6667)
        assert analytical["mirroring"]["converging"] == 1
        assert analytical["mirroring"]["too_short"] == 1
        assert analytical["surveys"] == 1 and analytical["mean_survey_score"] == 4.0
        assert driver["calls"] == 1 and driver["outcomes"] == {"sale": 1}
        assert driver["mean_handle_seconds"] == rows["c2"]["handle_seconds"]
        assert agent["types"]["amiable"]["calls"] == 0
        assert agent["mirroring"] == {"converging": 1, "diverging": 1, "flat": 0, "too_short": 1}
        events = await admin.get("/api/events", params={"type": "behaviour_type.tagged"})
        assert len((await events.json())["events"]) == 4


async def test_who_may_tag_which_call(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        for event in call("c1", A1, CONVERGING) + call("b1-call", B1, CONVERGING):
            app.publish(event)
        await app.settle()
        tag = {"type": "amiable"}
        cases = [
            ("sup-b", "c1", tag, 403, f"you may not tag the calls of agent '{A1}'"),
            ("a1", "c1", tag, 403, ""),  # agents do not tag
            ("sup-a", "nope", tag, 404, "no answered call 'nope'"),
            (
                "sup-a",
                "c1",
                {"type": "purple"},
                422,
                "type must be one of driver, expressive, amiable, analytical",
            ),
            ("sup-a", "c1", {"kind": "amiable"}, 422, "unknown field `kind`"),
            ("sup-b", "b1-call", tag, 409, "not switched on for a team of agent"),
            ("sup-a", "c1", tag, 200, ""),
        ]
        for identity, call_id, sent, status, message in cases:
            response = await admin.post(
                f"/api/behaviour-types/{call_id}", json=sent, headers=who[identity]
            )
            assert response.status == status, (identity, call_id, await response.text())
            assert message in (await response.text()), (identity, call_id)


async def test_each_role_sees_its_rows(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        await admin.put("/api/teams/b/modules/behaviour-types", json={"active": True})
        for event in call("c1", A1, CONVERGING) + call("c2", B1, CONVERGING):
            app.publish(event)
        await app.settle()
        for path, key in (
            ("/api/behaviour-types", "calls"),
            ("/api/behaviour-types/agents", "agents"),
        ):
            seen = {}
            for identity in ("a1", "b1", "sup-a", "sup-b"):
                response = await admin.get(path, headers=who[identity])
                assert response.status == 200
                seen[identity] = {r["agent_id"] for r in (await response.json())[key]}
            assert seen == {"a1": {A1}, "b1": {B1}, "sup-a": {A1}, "sup-b": {B1}}, path
            refused = await admin.get(path, params={"agent": A1}, headers=who["sup-b"])
            assert refused.status == 403 and A1 in (await refused.json())["error"]
        typed = await admin.get("/api/behaviour-types", params={"type": "driver"})
        assert (await typed.json())["calls"] == []
        for params, message in (
            ({"type": " "}, "type must not be empty"),
            ({"agent": " "}, "agent must not be empty"),
            ({"limit": "0"}, "limit must be between 1 and 10000"),
            ({"colour": "red"}, "unknown query parameter 'colour'"),
        ):
            bad = await admin.get("/api/behaviour-types", params=params)
            assert bad.status == 422 and message in (await bad.json())["error"], params


async def test_the_module_its_form_and_its_settings(medlytt, medlytt_client):
    async with medlytt({"behaviour_types": {"types": ["red", "yellow", "green", "blue"]}}) as app:
        client = await medlytt_client(app)
        modules = (await (await client.get("/api/modules")).json())["modules"]
        [module] = [m for m in modules if m["id"] == "behaviour-types"]
        assert module["number"] == 5 and module["titles"]["nb"] == "Adferdstyper"
        response = await client.get("/api/forms", params={"module": "behaviour-types"})
        forms = {f["id"]: f for f in (await response.json())["forms"]}
        assert set(forms) == {"behaviour-types", "behaviour-types-nb"}

        def shape(form):
            return [
                (s["id"], [(i["id"], i["scale"]["min"], i["scale"]["max"]) for i in s["items"]])
                for s in form["sections"]
            ]

        assert shape(forms["behaviour-types"]) == shape(forms["behaviour-types-nb"])
        summary = await (await client.get("/api/behaviour-types/agents")).json()
        assert summary["types"] == ["red", "yellow", "green", "blue"]
        assert app.metric("medlytt_behaviour_type_calls", {"type": "blue"}) == 0


def test_bad_settings_are_named():
    import msgspec
    import pytest
    from medlytt.plugins.behaviour_types.settings import BehaviourTypeSettings

    for types, message in (
        ([], "types must name at least one behaviour type"),
        (["Red"], "each of types must start with a lower-case letter"),
        (["red", "red"], "types: 'red' is listed twice"),
    ):
        with pytest.raises(msgspec.ValidationError, match=message):
            msgspec.convert({"types": types}, BehaviourTypeSettings)


def test_both_modules_are_listed_by_medlytt_plugins():
    import subprocess

    from support import MEDLYTT, medlytt_env

    result = subprocess.run(
        [MEDLYTT, "plugins"], env=medlytt_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    for name in ("behaviour_types", "written"):
        assert "builtin" in lines[name]
        assert "medlytt_competence_modules" in lines[name] and "medlytt_forms" in lines[name]


async def test_a_row_about_no_agent_is_in_no_agents_distribution(medlytt, medlytt_client):
    """No code path writes a call without an agent today; if one is there (an older
    version, a hand edit), the per-agent distribution leaves it out instead of failing."""
    async with medlytt() as app:
        admin, _ = await world(app, medlytt_client)
        for event in call("c1", A1, CONVERGING):
            app.publish(event)
        await app.settle()

        def orphan(db) -> None:
            [row] = db[CALLS].rows_where("call_id = ?", ["c1"])  # read to the end first
            db[CALLS].insert({**row, "call_id": "c-none", "agent_id": None})

        await app.storage.run(orphan)
        response = await admin.get("/api/behaviour-types/agents")
        assert response.status == 200, await response.text()
        assert [a["agent_id"] for a in (await response.json())["agents"]] == [A1]
