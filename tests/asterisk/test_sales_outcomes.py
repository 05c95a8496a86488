"""Sales and negotiation (module 4) on real calls: three concurrent sandbox calls, two into
the ``sales`` queue and one into ``support``, answered by the sandbox's agents; their
outcomes, posted by the agent, a CRM's user and an admin, give the conversion per agent and
queue; an unknown call is 404 and a second outcome replaces the first with its history."""

from __future__ import annotations

from typing import Any

from medlytt.gateways.asterisk.sandbox import AsteriskSandbox, place_call
from medlytt.testing import TestMedlytt, add_user_with_token, wait_until

AGENT = "Local/{}@agents/n"
TEAM = "sellers"


def answered_by(app: TestMedlytt, call_id: str) -> tuple[str, str] | None:
    """(agent id, queue) of the sandbox call's answer, once Medlytt has seen it."""
    for event in app.plugin_state.get("recorder", []):
        if event.type == "call.answered" and event.call_id == call_id:
            return event.agent_id, event.queue
    return None


async def test_outcomes_of_sandbox_calls_give_the_conversion_per_agent_and_queue(
    app: TestMedlytt, asterisk_sandbox: AsteriskSandbox, medlytt_client: Any
):
    tokens = {
        name: add_user_with_token(app, name, "agent", teams=[TEAM], agent_id=AGENT.format(name))
        for name in ("agent1", "agent2", "agent3", "agent4")
    }
    tokens["crm"] = add_user_with_token(app, "crm", "supervisor", teams=[TEAM])
    admin = await medlytt_client(app)
    switched = await admin.put(f"/api/teams/{TEAM}/modules/sales", json={"active": True})
    assert switched.status == 200, await switched.text()
    calls = {
        "won": f"phone-{place_call(asterisk_sandbox, 'sales', ring=0.5, talk=4)}",
        "lost": f"phone-{place_call(asterisk_sandbox, 'sales', ring=0.5, talk=4)}",
        "agreed": f"phone-{place_call(asterisk_sandbox, 'support', ring=0.5, talk=4)}",
    }
    await wait_until(
        lambda: all(answered_by(app, cid) for cid in calls.values()),
        timeout=15,
        what="the three calls answered",
    )
    who = {name: answered_by(app, cid) for name, cid in calls.items()}
    assert who["won"] is not None and who["lost"] is not None and who["agreed"] is not None
    assert {who["won"][1], who["lost"][1], who["agreed"][1]} == {"sales", "support"}
    assert who["won"][0] != who["lost"][0]  # two agents of the sales queue, one call each

    def headers(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    def agent_name(agent_id: str) -> str:
        return agent_id.split("/")[1].split("@")[0]

    # The agent sets their own sale; the CRM's user corrects the second call; an admin the third.
    won_by, lost_by = (agent_name(who[n][0]) for n in ("won", "lost"))
    for call, body, caller, status in (
        ("won", {"outcome": "sale", "value": 1200}, won_by, 201),
        ("won", {"outcome": "sale"}, lost_by, 403),  # not the other agent's call
        ("lost", {"outcome": "sale"}, lost_by, 201),
        ("lost", {"outcome": "no_sale", "reason": "cannot_afford"}, "crm", 200),
        ("agreed", {"outcome": "agreement"}, None, 201),
    ):
        response = await admin.put(
            f"/api/calls/{calls[call]}/outcome",
            json=body,
            headers=headers(caller) if caller else {},
        )
        assert response.status == status, (call, caller, await response.text())
    unknown = await admin.put("/api/calls/phone-no-such-call/outcome", json={"outcome": "sale"})
    assert unknown.status == 404

    audited = await (await admin.get(f"/api/calls/{calls['lost']}/outcome")).json()
    assert [(h["by"], h["old_outcome"], h["new_outcome"]) for h in audited["history"]] == [
        (lost_by, None, "sale"),
        ("crm", "sale", "no_sale"),
    ]
    assert audited["outcome"]["reason"] == "cannot_afford"

    body = await (await admin.get("/api/sales/conversion")).json()
    agents = {a["agent_id"]: (a["calls"], a["conversion"]) for a in body["agents"]}
    assert agents == {who["won"][0]: (1, 1.0), who["lost"][0]: (1, 0.0), who["agreed"][0]: (1, 1.0)}
    queues = {
        q["queue"]: (q["calls"], q["sale"], q["no_sale"], q["conversion"]) for q in body["queues"]
    }
    assert queues == {"sales": (2, 1, 1, 0.5), "support": (1, 0, 0, 1.0)}
    assert body["total"]["value"] == 1200.0
    # The agent of the lost call sees their own conversion only.
    own = await (await admin.get("/api/sales/conversion", headers=headers(lost_by))).json()
    assert [(a["agent_id"], a["conversion"]) for a in own["agents"]] == [(who["lost"][0], 0.0)]
