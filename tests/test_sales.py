"""Sales and negotiation (module 4): outcomes of answered calls through the API (who may
set which, 404 for an unknown call, a second outcome replaces the first and is audited),
the event other plugins read, the metrics, and the conversion computed on its own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from medlytt import CallAnswered, CallEnded, shipped_forms
from medlytt.plugins.sales.conversion import conversion, summary
from medlytt.plugins.sales.settings import SalesSettings
from medlytt.testing import add_user_with_token
from sample_plugins import recorder

A1, A2, B1 = "PJSIP/1001", "PJSIP/1002", "PJSIP/2001"
T0 = datetime.fromisoformat("2026-11-30T10:00:00+00:00")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def world(app: Any, medlytt_client: Any) -> tuple[Any, dict[str, dict[str, str]]]:
    """Teams a (A1, A2, their supervisor, a CRM user) and b (B1, its supervisor); the module
    on for team a; calls answered by each agent."""
    who = {
        "a1": add_user_with_token(app, "a1", "agent", teams=["a"], agent_id=A1),
        "a2": add_user_with_token(app, "a2", "agent", teams=["a"], agent_id=A2),
        "b1": add_user_with_token(app, "b1", "agent", teams=["b"], agent_id=B1),
        "sup-a": add_user_with_token(app, "sup-a", "supervisor", teams=["a"]),
        "sup-b": add_user_with_token(app, "sup-b", "supervisor", teams=["b"]),
        "crm": add_user_with_token(app, "crm", "supervisor", teams=["a"]),
    }
    admin = await medlytt_client(app)
    for module in ("sales", "behaviour-types"):
        switched = await admin.put(f"/api/teams/a/modules/{module}", json={"active": True})
        assert switched.status == 200, await switched.text()
    calls = [("a1-x", A1, "sales"), ("a1-y", A1, "sales"), ("a1-z", A1, "support")]
    calls += [("a2-x", A2, "sales"), ("b1-x", B1, "sales")]
    for n, (call_id, agent, queue) in enumerate(calls):
        app.publish(
            CallAnswered(
                at=T0 + timedelta(minutes=n),
                source="t",
                call_id=call_id,
                queue=queue,
                agent_id=agent,
                wait_seconds=2,
            )
        )
    await app.settle()
    return admin, {name: bearer(token) for name, token in who.items()}


async def put(client: Any, call_id: str, body: Any, headers: Any = None) -> Any:
    return await client.put(f"/api/calls/{call_id}/outcome", json=body, headers=headers or {})


async def test_who_may_set_an_outcome(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        sale = {"outcome": "sale", "value": 499.0}
        for call_id, caller, status in (
            ("a1-x", "a1", 201),  # the agent, own call
            ("a2-x", "a1", 403),  # another agent's call
            ("a1-y", "sup-a", 201),  # the agent's supervisor
            ("a1-y", "sup-b", 403),  # another team's supervisor
            ("a2-x", "crm", 201),  # the CRM's user: a supervisor of team a
            ("b1-x", "crm", 403),
            ("b1-x", "b1", 409),  # team b does not have the module on
            ("unknown-call", "a1", 404),
            ("unknown-call", "admin", 404),
        ):
            response = await put(admin, call_id, sale, who.get(caller))
            assert response.status == status, (call_id, caller, await response.text())
        refused = await put(admin, "a2-x", sale, who["a1"])
        assert "PJSIP/1002" in (await refused.json())["error"]
        missing = await put(admin, "unknown-call", sale)
        assert "no answered call 'unknown-call'" in (await missing.json())["error"]
        # Reading follows the same rules.
        assert (await admin.get("/api/calls/a1-x/outcome", headers=who["a1"])).status == 200
        assert (await admin.get("/api/calls/a1-x/outcome", headers=who["b1"])).status == 403
        assert (await admin.get("/api/calls/nope/outcome")).status == 404


async def test_bad_outcomes_are_named(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, _ = await world(app, medlytt_client)
        for body, message in (
            ({"outcome": "maybe"}, "outcome must be one of sale, agreement, no_sale"),
            ({"outcome": "no_sale"}, "a no_sale needs a reason"),
            ({"outcome": "no_sale", "reason": "bored"}, "got 'bored'"),
            ({"outcome": "no_sale", "reason": "other", "value": 1}, "value is for a sale"),
            ({"outcome": "sale", "reason": "other"}, "reason is for a no_sale"),
            ({"outcome": "sale", "value": -5}, "value must be a number of 0 or more"),
            ({"outcome": "sale", "colour": "red"}, "colour"),
            ({}, "outcome"),
        ):
            response = await put(admin, "a1-x", body)
            assert response.status == 422, body
            assert message in (await response.json())["error"], body
        outcomes = await (await admin.get("/api/sales/outcomes")).json()
        assert outcomes["outcomes"] == []


async def test_a_second_outcome_replaces_the_first_and_is_audited(medlytt, medlytt_client):
    async with medlytt(plugins=[("recorder", recorder)]) as app:
        admin, who = await world(app, medlytt_client)
        # The call has ended: its agent and queue now come from the event journal.
        app.publish(
            CallEnded(
                at=T0 + timedelta(minutes=5),
                source="t",
                call_id="a1-x",
                queue="sales",
                agent_id=A1,
                hung_up_by="agent",
                talk_seconds=300,
            )
        )
        await app.settle()
        assert "a1-x" not in app.state.calls
        first = await put(admin, "a1-x", {"outcome": "sale", "value": 300}, who["a1"])
        assert first.status == 201 and (await first.json())["replaced"] is None
        second = await put(
            admin, "a1-x", {"outcome": "no_sale", "reason": "wants_to_think"}, who["crm"]
        )
        assert second.status == 200, await second.text()
        assert (await second.json())["replaced"] == "sale"
        body = await (await admin.get("/api/calls/a1-x/outcome", headers=who["sup-a"])).json()
        current = body["outcome"]
        assert (current["outcome"], current["reason"], current["value"]) == (
            "no_sale",
            "wants_to_think",
            None,
        )
        assert (current["set_by"], current["queue"], current["agent_id"]) == ("crm", "sales", A1)
        history = body["history"]
        assert [(h["by"], h["old_outcome"], h["new_outcome"]) for h in history] == [
            ("a1", None, "sale"),
            ("crm", "sale", "no_sale"),
        ]
        assert (history[1]["old_value"], history[1]["new_reason"]) == (300, "wants_to_think")
        assert history[0]["at"] <= history[1]["at"] and current["set_at"] == history[1]["at"]
        # One call, counted once, with its current outcome.
        listed = await (await admin.get("/api/sales/outcomes")).json()
        assert [(r["call_id"], r["outcome"]) for r in listed["outcomes"]] == [("a1-x", "no_sale")]
        # The event the behaviour-types plugin (and anyone) reads, with its promised fields.
        await app.settle()
        events = [e for e in app.plugin_state["recorder"] if e.type == "sales.outcome"]
        assert [(e.call_id, e.agent_id, e.queue, e.outcome, e.replaced) for e in events] == [
            ("a1-x", A1, "sales", "sale", None),
            ("a1-x", A1, "sales", "no_sale", "sale"),
        ]
        behaviour = await (await admin.get("/api/behaviour-types", params={"agent": A1})).json()
        assert {r["call_id"]: r["outcome"] for r in behaviour["calls"]}.get("a1-x") == "no_sale"
        assert (
            app.metric("medlytt_sales_outcomes_total", {"queue": "sales", "outcome": "sale"}) == 1
        )
        assert (
            app.metric("medlytt_sales_outcomes_total", {"queue": "sales", "outcome": "no_sale"})
            == 1
        )
        assert app.metric("medlytt_sales_calls", {"queue": "sales", "outcome": "sale"}) is None
        assert app.metric("medlytt_sales_calls", {"queue": "sales", "outcome": "no_sale"}) == 1


async def test_conversion_per_agent_and_queue_as_each_role_sees_it(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        for call_id, body in (
            ("a1-x", {"outcome": "sale", "value": 100}),
            ("a1-y", {"outcome": "no_sale", "reason": "not_urgent"}),
            ("a1-z", {"outcome": "agreement"}),
            ("a2-x", {"outcome": "no_sale", "reason": "other"}),
        ):
            assert (await put(admin, call_id, body)).status == 201
        body = await (await admin.get("/api/sales/conversion")).json()
        agents = {a["agent_id"]: a for a in body["agents"]}
        assert (agents[A1]["calls"], agents[A1]["conversion"], agents[A1]["sale_rate"]) == (
            3,
            round(2 / 3, 4),
            round(1 / 3, 4),
        )
        assert (agents[A2]["calls"], agents[A2]["conversion"]) == (1, 0.0)
        queues = {q["queue"]: q for q in body["queues"]}
        assert (queues["sales"]["calls"], queues["sales"]["conversion"]) == (3, round(1 / 3, 4))
        assert queues["support"]["conversion"] == 1.0
        assert queues["sales"]["no_sale_reasons"] == {"not_urgent": 1, "other": 1}
        pairs = {(r["agent_id"], r["queue"]): r["conversion"] for r in body["agent_queues"]}
        assert pairs == {(A1, "sales"): 0.5, (A1, "support"): 1.0, (A2, "sales"): 0.0}
        assert body["total"]["value"] == 100.0
        # Filters, and each role's rows.
        one = await (await admin.get("/api/sales/conversion", params={"queue": "support"})).json()
        assert [a["agent_id"] for a in one["agents"]] == [A1]
        later = (T0 + timedelta(minutes=1)).isoformat()
        since = await (await admin.get("/api/sales/conversion", params={"since": later})).json()
        assert since["total"]["calls"] == 3  # a1-x was answered before
        own = await (await admin.get("/api/sales/conversion", headers=who["a2"])).json()
        assert [a["agent_id"] for a in own["agents"]] == [A2]
        assert [q["calls"] for q in own["queues"]] == [1]
        other = await (await admin.get("/api/sales/conversion", headers=who["sup-b"])).json()
        assert other["agents"] == [] and other["total"]["conversion"] is None
        for params, status, message in (
            ({"agent": A1}, 403, "PJSIP/1001"),
            ({"since": "yesterday"}, 422, "since must be an ISO 8601"),
            ({"queue": ""}, 422, "queue must not be empty"),
            ({"colour": "red"}, 422, "unknown query parameter 'colour'"),
        ):
            response = await admin.get(
                "/api/sales/conversion", params=params, headers=who["a2"] if status == 403 else {}
            )
            assert response.status == status, params
            assert message in (await response.json())["error"]


def rows(*spec: tuple[str, str, str, float | None]) -> list[dict[str, Any]]:
    return [
        {
            "agent_id": a,
            "queue": q,
            "outcome": o,
            "value": v,
            "reason": "other" if o == "no_sale" else None,
        }
        for a, q, o, v in spec
    ]


def test_conversion_counts_each_call_once_by_its_outcome():
    data = rows(
        ("x", "q1", "sale", 10.0),
        ("x", "q1", "no_sale", None),
        ("x", "q2", "agreement", None),
        ("x", "q2", "no_sale", None),
        ("y", "q1", "sale", 5.5),
        ("y", "q1", "sale", None),
        ("y", "q1", "no_sale", None),
    )
    result = conversion(data)
    assert result["total"] == {
        "calls": 7,
        "sale": 3,
        "agreement": 1,
        "no_sale": 3,
        "conversion": round(4 / 7, 4),
        "sale_rate": round(3 / 7, 4),
        "value": 15.5,
        "no_sale_reasons": {"other": 3},
    }
    by_agent = {a["agent_id"]: (a["calls"], a["conversion"]) for a in result["agents"]}
    assert by_agent == {"x": (4, 0.5), "y": (3, round(2 / 3, 4))}
    by_queue = {q["queue"]: (q["calls"], q["conversion"], q["sale_rate"]) for q in result["queues"]}
    assert by_queue == {"q1": (5, 0.6, 0.6), "q2": (2, 0.5, 0.0)}
    assert [(r["agent_id"], r["queue"], r["calls"]) for r in result["agent_queues"]] == [
        ("x", "q1", 2),
        ("x", "q2", 2),
        ("y", "q1", 3),
    ]
    assert summary([])["conversion"] is None and summary([])["calls"] == 0


def test_bad_settings_are_named():
    for reasons, message in (
        ([], "no_sale_reasons must name at least one reason"),
        (["Price"], "each of no_sale_reasons must start with a lower-case letter"),
        (["price", "price"], "'price' is listed twice"),
    ):
        with pytest.raises(msgspec.ValidationError, match=message):
            msgspec.convert({"no_sale_reasons": reasons}, SalesSettings)


def test_the_johari_form_in_both_languages():
    forms = {f.id: f for f in shipped_forms("medlytt.plugins.sales")}
    en, nb = forms["sales-johari"], forms["sales-johari-nb"]
    assert (en.module, nb.module, en.language, nb.language) == ("sales", "sales", "en", "nb")
    assert en.item_ids() == nb.item_ids()
    # The window's four pairs: can / can't, will / won't, urgent / not, important / not.
    assert en.item_ids()[:4] == ["can", "will", "urgent", "important"]


def test_both_modules_are_listed_by_medlytt_plugins():
    import subprocess

    from support import MEDLYTT, medlytt_env

    result = subprocess.run(
        [MEDLYTT, "plugins"], env=medlytt_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    for name in ("attitude", "sales"):
        assert "builtin" in lines[name]
        assert "medlytt_competence_modules" in lines[name] and "medlytt_forms" in lines[name]
